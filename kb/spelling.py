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


def max_edits(word: str) -> int:
    """How many typos a word of this length may carry."""
    n = len(word)
    return 0 if n < 5 else 1 if n < 9 else 2


class Corrector:
    """Suggests the closest known word for an unknown one."""

    def __init__(self, vocab: Mapping[str, int], extra: Iterable[str] = ()) -> None:
        counts = dict(vocab)
        for name in extra:
            counts[name] = max(counts.get(name, 0), 1) + 1000  # medicine names win ties
        self._words = tuple(counts)  # a tuple of strings: nothing for the cycle collector to walk
        self._counts = counts

    def correct(self, word: str) -> str | None:
        """The best correction of a folded word, or None when nothing is close enough."""
        edits = max_edits(word)
        if edits == 0 or not self._words or not word.isalpha():
            return None
        found = process.extract(word, self._words, scorer=Levenshtein.distance,
                                score_cutoff=edits, limit=20)
        if not found:
            return None
        # fewest edits first, then the same first letter, then the most frequent word
        best = min(found, key=lambda f: (f[1], f[0][0] != word[0], -self._counts.get(f[0], 0)))
        return None if best[0] == word else str(best[0])
