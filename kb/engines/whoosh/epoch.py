"""Whole-index statistics that consecutive snapshots share while the index changes little.

BM25F scores depend on the whole index: its number of sections, each field's average length
and each term's document frequency. Recomputed exactly at every commit, they make every term's
scores and every feedback section's term distribution new again, so under one edit every half
second a server re-scored nearly every query from scratch, at twice the CPU of a warm search.

Engines built on Lucene live with statistics that lag: Elasticsearch scores each shard with its
own, deleted documents included, until a merge. kb bounds the lag instead. A snapshot takes
over its predecessor's `Epoch` while the sections added and removed since the epoch began are
at most `Ranking.stats_drift` (1%) of its count, in the same generation. Otherwise it starts a new epoch with exact
statistics. So a static index, a small site where one article is more than 1% of the sections,
and a full rebuild are scored exactly. On a large site under steady edits, scores lag by at most
that 1% of sections. A term that is new to the epoch gets its idf from the epoch's section
count and its document frequency at first use. Which sections match is never affected: it is
read from the live segments.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from whoosh.searching import Searcher

IDF_ENTRIES = 500_000
FEEDBACK_ENTRIES = 50_000

_ids = itertools.count(1)


@dataclass
class Epoch:
    """The statistics scores use, fixed when the epoch began, and what is memoised on them."""

    id: int
    generation: str
    n: int  # sections when it began, deleted ones included (Whoosh's doc_count_all, as idf uses)
    live: int  # live sections when it began
    avg: dict[str, float]  # field -> average length
    idf: dict[str, float] = field(default_factory=dict)  # term -> BM25F idf
    # (field, term) -> per-field BM25 constants (idf, k1, b, average length): the phrase bonus's
    constants: dict[tuple[str, str], tuple[float, float, float, float]] = field(default_factory=dict)
    # (segment key, local document) -> the section's feedback term distribution
    feedback: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)

    def fits(self, generation: str, n: int, live: int, drift: float) -> bool:
        """Whether a state of the index is close enough to this epoch's to keep its statistics."""
        return generation == self.generation and abs(n - self.n) + abs(live - self.live) <= drift * self.n

    def term_idf(self, term: str, df: int) -> float:
        """A term's idf, from its document frequency when the epoch first scored it."""
        found = self.idf.get(term)
        if found is None:
            if len(self.idf) >= IDF_ENTRIES:
                self.idf.clear()
            found = self.idf[term] = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
        return found

    def field_constants(self, key: tuple[str, str], build: Callable[[], tuple[float, float, float, float] | None]
                        ) -> tuple[float, float, float, float] | None:
        """A field's BM25 constants for a term, as `build()` gives them when the epoch first asks."""
        found = self.constants.get(key)
        if found is None:
            found = build()
            if found is not None:
                if len(self.constants) >= IDF_ENTRIES:
                    self.constants.clear()
                self.constants[key] = found
        return found

    def remember(self, key: tuple[str, int], dist: dict[str, float]) -> None:
        """Keep a section's feedback distribution for the rest of the epoch (bounded)."""
        if len(self.feedback) >= FEEDBACK_ENTRIES:
            self.feedback.clear()
        self.feedback[key] = dist


def begin(generation: str, s: Searcher, fields: tuple[str, ...]) -> Epoch:
    """A new epoch with the exact statistics of a searcher's state."""
    return Epoch(next(_ids), generation, s.doc_count_all(), s.doc_count(),
                 {f: s.avg_field_length(f) or 1.0 for f in fields})


def carry(previous: Epoch | None, generation: str, s: Searcher, fields: tuple[str, ...], drift: float) -> Epoch:
    """The previous snapshot's epoch when the state still fits it (`drift`: `Ranking.stats_drift`), else a new one."""
    if previous is not None and previous.fits(generation, s.doc_count_all(), s.doc_count(), drift):
        return previous
    return begin(generation, s, fields)
