"""Text analysis shared by the index, the query and the snippets: one definition of a "term".

Words are split at letter/digit boundaries so dose forms match either way (`10mg` = `10 mg`),
lower-cased, accent-folded, stop words dropped and stemmed with the Porter stemmer (PyStemmer,
the C Snowball implementation, cached). The index analyzer (`kb.engines.whoosh.schema`), the query builder
and the snippet maker all call these functions, so they can never disagree.

The per-word caches are plain dicts of strings rather than `functools.lru_cache`: a dict that
holds only strings is invisible to Python's cycle collector, while an LRU's links are walked
by every full collection (a tenth of a second, with the server's caches warm).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import TypeVar

import Stemmer

# Letters (any script) or digits, optionally with one decimal part: "10mg" -> "10", "mg".
WORD_RE = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)?")

# Lucene's English stop words (as Anserini uses them) plus a few question words.
STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with"]
)

_stemmer = Stemmer.Stemmer("porter")
_stemmer.maxCacheSize = 0  # off: `stem` below caches, in a dict the cycle collector skips

R = TypeVar("R")


def memo(limit: int) -> Callable[[Callable[[str], R]], Callable[[str], R]]:
    """Cache a function of one word in a dict, emptied when it reaches `limit` entries."""
    def wrap(fn: Callable[[str], R]) -> Callable[[str], R]:
        cache: dict[str, R] = {}

        def cached(word: str) -> R:
            try:
                return cache[word]
            except KeyError:
                pass
            if len(cache) >= limit:
                cache.clear()
            value = cache[word] = fn(word)
            return value

        cached.__doc__ = fn.__doc__
        return cached
    return wrap


@memo(200_000)
def fold(word: str) -> str:
    """Lower-case and strip accents: "Café" -> "cafe"."""
    word = word.lower()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@memo(200_000)
def stem(word: str) -> str:
    """The Porter stem of an already folded word."""
    return str(_stemmer.stemWord(word))


@memo(500_000)
def term(raw: str) -> str | None:
    """The index term of one word as written, or None for a stop word (cached: words repeat)."""
    w = fold(raw)
    return None if w in STOP_WORDS else stem(w)


def words(text: str) -> list[str]:
    """The folded words of a text, stop words included, in order."""
    return [fold(m.group()) for m in WORD_RE.finditer(text)]


def spans(text: str) -> Iterator[tuple[int, int, str, str | None]]:
    """Each word as (start, end, folded word, stem or None for a stop word)."""
    for m in WORD_RE.finditer(text):
        w = fold(m.group())
        yield m.start(), m.end(), w, (None if w in STOP_WORDS else stem(w))


def terms(text: str) -> list[str]:
    """The index terms of a text: folded, stop words removed, stemmed."""
    out = []
    for raw in WORD_RE.findall(text):  # one cached look-up a word (`term`), not two
        t = term(raw)
        if t is not None:
            out.append(t)
    return out


def term_positions(text: str) -> dict[str, list[int]]:
    """Each index term of a text with its word positions, in first-seen order; stop words keep
    their slot (the positions `spans` gives, so phrase positions stay honest)."""
    found: dict[str, list[int]] = {}
    for pos, raw in enumerate(WORD_RE.findall(text)):
        t = term(raw)
        if t is not None:
            at = found.get(t)
            if at is None:
                found[t] = [pos]
            else:
                at.append(pos)
    return found


@memo(100_000)  # headings and titles repeat across sections, queries and commits
def normalize_phrase(text: str) -> str:
    """A comparison key for headings and queries: folded words joined by one space."""
    return " ".join(words(text))
