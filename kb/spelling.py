"""Spelling correction of query words that the index does not know.

Candidates are the index's own unstemmed words (`vocab.json`, written by the indexer) and
the medicine names of the synonym files. As Meilisearch does, a word of 5-8 letters may be
corrected by one edit and a word of 9 or more by two; shorter words and words the index
knows are never changed. Edit distance runs in C (rapidfuzz) over the whole vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MEMO_ENTRIES = 20_000  # corrections remembered per vocabulary
MAX_CHANGED = 500  # words a commit may change before a new vocabulary's corrector starts afresh


def max_edits(word: str) -> int:
    """How many typos a word of this length may carry."""
    n = len(word)
    return 0 if n < 5 else 1 if n < 9 else 2


class Corrector:
    """Suggests the closest known word for an unknown one."""

    def __init__(self, vocab: Mapping[str, int], extra: Iterable[str] = ()) -> None:
        extra = tuple(extra)
        self._vocab, self._extra = vocab, frozenset(extra)
        counts = dict(vocab)
        for name in extra:
            counts[name] = max(counts.get(name, 0), 1) + 1000  # medicine names win ties
        self._words = tuple(counts)  # a tuple of strings: nothing for the cycle collector to walk
        self._counts = counts
        self._memo: dict[str, str | None] = {}  # word -> its correction (a scan of every word: ~0.7 ms)

    @classmethod
    def following(cls, previous: Corrector | None, vocab: Mapping[str, int], extra: Iterable[str] = ()) -> Corrector:
        """A corrector for a new vocabulary that keeps the previous one's answers it cannot change.

        A commit changes a few words' counts at most; an answer can only change when a word
        within the edit distance of the corrected one was added, removed or recounted (the
        count breaks ties), so the others are kept rather than scanned for again."""
        extra = tuple(extra)
        if previous is not None and previous._vocab is vocab and previous._extra == frozenset(extra):
            return previous  # the same vocabulary (the reader hands back one object while its file is unchanged)
        fresh = cls(vocab, extra)
        if previous is None or not previous._memo:
            return fresh
        old, new = previous._counts, fresh._counts
        changed = list({w for w, _ in new.items() ^ old.items()})  # added, removed or recounted (in C)
        if len(changed) > MAX_CHANGED:
            return fresh
        for word, fix in list(previous._memo.items()):
            if not changed or not process.extractOne(word, changed, scorer=Levenshtein.distance,
                                                     score_cutoff=max_edits(word)):
                fresh._memo[word] = fix
        return fresh

    def correct(self, word: str) -> str | None:
        """The best correction of a folded word, or None when nothing is close enough."""
        edits = max_edits(word)
        if edits == 0 or not self._words or not word.isalpha():
            return None
        if word in self._memo:
            return self._memo[word]
        found = process.extract(word, self._words, scorer=Levenshtein.distance,
                                score_cutoff=edits, limit=20)
        fix = None
        if found:
            # fewest edits first, then the same first letter, then the most frequent word
            best = min(found, key=lambda f: (f[1], f[0][0] != word[0], -self._counts.get(f[0], 0)))
            fix = None if best[0] == word else str(best[0])
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        self._memo[word] = fix
        return fix
