"""Cached postings and what is computed from them: the phrase bonus and the head of a ranking.

A (field, term)'s sections and their BM25F scores are read from Whoosh once per snapshot into
compact arrays (12 bytes a posting, bounded); the first pass, feedback and the phrase bonus all
sum from them instead of walking Whoosh's matchers.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from whoosh.searching import Searcher

if TYPE_CHECKING:
    from kb.whoosh_engine import Snapshot

POSTINGS_CACHE_ENTRIES = 4_000_000  # about 50 MB of cached postings per process


PHRASE_FIELDS = ("heading", "body")
PHRASE_SLOP = 3


def phrase_bonus(s: Searcher, snap: Snapshot, stems: Sequence[str], candidates: list[int], weight: float
                  ) -> dict[int, float]:
    """The bonus of `Q.Phrase(field, stems, slop=3, boost=weight)` over heading and body, for the
    candidates only: what the engine's phrase query scores (the phrase's terms' BM25, times the
    weight) where the words occur in order and close, without walking every section that
    holds them all (a third of a query's time before).
    """
    bonus: dict[int, float] = {}
    ordered = sorted(candidates)
    for field in PHRASE_FIELDS:
        lists = {t: postings(s, snap, field, t) for t in dict.fromkeys(stems)}
        if any(not len(ids) for ids, _ in lists.values()):
            continue
        holding: dict[int, float] = {}
        for d in ordered:  # the candidates holding every word, with the words' summed scores
            total = 0.0
            for t in stems:
                ids, scs = lists[t]
                i = int(np.searchsorted(ids, d))
                if i == len(ids) or ids[i] != d:
                    break
                total += float(scs[i])
            else:
                holding[d] = total
        if not holding:
            continue
        positions: dict[str, dict[int, list[int]]] = {}
        for t in lists:
            m, found = s.postings(field, t), {}
            for d in holding:
                if m.is_active() and m.id() < d:
                    m.skip_to(d)
                if m.is_active() and m.id() == d:
                    found[d] = m.value_as("positions")
            positions[t] = found
        for d, total in holding.items():
            if near([positions[t].get(d, []) for t in stems], PHRASE_SLOP):
                bonus[d] = bonus.get(d, 0.0) + total * weight
    return bonus


def near(positions: list[list[int]], slop: int) -> bool:
    """Whoosh's ordered SpanNear2 (mindist 1): each next word starts after the span so far ends,
    at most `slop` positions later; the span then grows to it."""
    spans = {(p, p) for p in positions[0]}
    for later in positions[1:]:
        grown = set()
        for start, end in spans:
            for p in later:
                if p < start:
                    continue
                dist = 0 if p <= end else p - end
                if 1 <= dist <= slop:
                    grown.add((start, max(end, p)))
        spans = grown
        if not spans:
            return False
    return bool(spans)


def top(scores: np.ndarray, matched: np.ndarray, n: int) -> list[tuple[float, int]]:
    """The `n` best (score, section) pairs among `matched`, best first, ties by section number.
    Only the sections at or above the n-th best score are sorted."""
    vals = scores[matched]
    if n < len(matched):
        threshold = np.partition(vals, len(vals) - n)[len(vals) - n]
        keep = vals >= threshold
        matched, vals = matched[keep], vals[keep]
    order = np.lexsort((matched, -vals))[:n]
    return list(zip(vals[order].tolist(), matched[order].tolist(), strict=True))


def postings(s: Searcher, snap: Snapshot, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """A term's sections in one field with their BM25 scores, cached per snapshot (bounded), as
    numpy arrays: adding a term to every section's score is then one vector operation."""
    key = (fieldname, term)
    cached = snap.postings.get(key)
    if cached is None:
        if snap.postings_size > POSTINGS_CACHE_ENTRIES:
            snap.postings.clear()
            snap.postings_size = 0
        ids: array[int] = array("i")
        scores: array[float] = array("d")
        if key in s.reader():
            m = s.postings(fieldname, term)
            while m.is_active():
                ids.append(m.id())
                scores.append(m.score())
                m.next()
        cached = snap.postings[key] = (np.frombuffer(ids, dtype=np.int32) if ids else np.zeros(0, np.int32),
                                       np.frombuffer(scores, dtype=np.float64) if scores else np.zeros(0))
        snap.postings_size += len(ids) + 1
    return cached
