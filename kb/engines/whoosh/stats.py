"""Whole-index statistics for scoring, from the segments' cached counts instead of term lookups.

After a commit every term's idf changes (the document count does), but the counts it is made
of are per segment and mostly cached (`kb.engines.whoosh.segments`). `bm25_constants` gives the
idf, K1, B and average length exactly as Whoosh's `BM25FScorer` sets them, through the
weighting's own `idf` (the scoring maths stay in `kb.engines.whoosh.rank`), asking it for
document frequencies that `IndexStats` sums from those caches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from whoosh.scoring import BM25F
from whoosh.searching import Searcher

if TYPE_CHECKING:
    from kb.engines.whoosh.snapshot import Snapshot


class IndexStats:
    """What a weighting's `idf(searcher, field, term)` reads of a searcher: the whole index's counts."""

    def __init__(self, s: Searcher, snap: Snapshot) -> None:
        self.s = s
        self.snap = snap

    def get_parent(self) -> IndexStats:
        """The top-level searcher (this one)."""
        return self

    def doc_frequency(self, fieldname: str, text: str) -> int:
        """Sections holding the term in the field, deleted ones included (as Whoosh counts)."""
        return self.snap.doc_frequency(self.s, fieldname, text)

    def doc_count_all(self) -> int:
        """Sections in the index, deleted ones included (as Whoosh counts)."""
        return int(self.s.doc_count_all())


def bm25_constants(s: Searcher, snap: Snapshot, fieldname: str, term: str
                   ) -> tuple[float, float, float, float] | None:
    """(idf, K1, B, average field length) as `BM25F.scorer` gives its `BM25FScorer`; None for a
    weighting or a field it would not score that way."""
    w = s.weighting
    if not isinstance(w, BM25F) or type(w).scorer is not BM25F.scorer or not s.schema[fieldname].scorable:
        return None
    idf = float(w.idf(IndexStats(s, snap), fieldname, term))
    b = w._field_B.get(fieldname, w.B)
    return idf, w.K1, b, s.avg_field_length(fieldname) or 1
