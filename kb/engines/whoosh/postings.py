"""Cached postings and what is computed from them: the phrase bonus and the head of a ranking.

A (field, term)'s sections and their BM25F scores are read from Whoosh once per snapshot into
compact arrays (12 bytes a posting, bounded); the first pass, feedback and the phrase bonus all
sum from them instead of walking Whoosh's matchers.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np
from whoosh.searching import Searcher

from kb.engines.whoosh.snapshot import Snapshot
from kb.engines.whoosh.stats import bm25_constants

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
    ordered = np.array(sorted(candidates), np.int32)
    for field in PHRASE_FIELDS:
        lists = {t: postings(s, snap, field, t) for t in dict.fromkeys(stems)}
        if any(not len(ids) for ids, _ in lists.values()):
            continue
        # the candidates holding every word, with the words' scores summed in the query's order
        every = np.ones(len(ordered), bool)
        totals = np.zeros(len(ordered))
        for t in stems:
            ids, scs = lists[t]
            at = np.minimum(np.searchsorted(ids, ordered), len(ids) - 1)
            every &= ids[at] == ordered
            totals += np.where(every, scs[at], 0.0)
        if not every.any():
            continue
        found: dict[str, list[memoryview]] = {}  # per word: its positions in each holding candidate
        for t in lists:
            packed_offsets, packed = positions(s, snap, field, t)
            offsets, flat = memoryview(packed_offsets).cast("i"), memoryview(packed).cast("i")
            at = np.searchsorted(lists[t][0], ordered[every]).tolist()
            found[t] = [flat[offsets[i]:offsets[i + 1]] for i in at]
        for k, (d, total) in enumerate(zip(ordered[every].tolist(), totals[every].tolist(), strict=True)):
            if near([found[t][k] for t in stems], PHRASE_SLOP):
                bonus[d] = bonus.get(d, 0.0) + total * weight
    return bonus


def near(positions: Sequence[Sequence[int]], slop: int) -> bool:
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
    numpy arrays: adding a term to every section's score is then one vector operation. Built from
    the segments' cached postings, so after a commit only the scoring is redone."""
    key = (fieldname, term)
    cached = snap.postings.get(key)
    if cached is None:
        if snap.postings_size > POSTINGS_CACHE_ENTRIES:
            snap.postings.clear()
            snap.postings_size = 0
        found = _read_blocks(s, snap, fieldname, term)
        if found is None:
            found = _walk(s, fieldname, term) if key in s.reader() else (np.zeros(0, np.int32), np.zeros(0))
        cached = snap.postings[key] = found
        snap.postings_size += len(found[0]) + 1
    return cached


def _walk(s: Searcher, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings and scores through Whoosh's matcher, one posting at a time."""
    ids: array[int] = array("i")
    scores: array[float] = array("d")
    m = s.postings(fieldname, term)
    while m.is_active():
        ids.append(m.id())
        scores.append(m.score())
        m.next()
    # copies that own their memory: a view of the arrays would keep two more objects per
    # term for the cycle collector to walk on every full collection
    return np.array(ids, dtype=np.int32), np.array(scores, dtype=np.float64)


def _read_blocks(s: Searcher, snap: Snapshot, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The same postings and scores as `_walk`, from each segment's cached ids and frequencies
    scored with numpy: Whoosh's BM25 formula, operation for operation, with the epoch's idf and
    average length (`kb.engines.whoosh.epoch`), less this state's deletions. A segment's scores
    are kept per epoch, so after a commit only the new segment's are computed. None when the
    index is not laid out as this expects (then `_walk`)."""
    epoch = snap.epoch(s)
    all_ids, all_scores = [], []
    for i, (slot, (sub, offset)) in enumerate(zip(snap.slots, snap.subs(s), strict=True)):
        if snap.segments.small(slot) and not snap.segments.holds(slot, sub, fieldname, term):
            continue
        key = (slot.key, fieldname, term, epoch.id)
        scored = snap.segments.scored.get(key)
        if scored is None:
            raw = snap.segments.postings(slot, sub, fieldname, term)
            if raw is None:
                return None
            ids, tf = raw
            if len(ids):
                # idf and the average length are the whole index's: the same for every segment
                constants = epoch.field_constants((fieldname, term),
                                                  lambda: bm25_constants(s, snap, fieldname, term))
                if constants is None:
                    return None
                idf, k1, b, avgfl = constants
                fl = snap.segments.lengths(slot, sub, fieldname)[ids]
                tf = idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl)))
            scored = snap.segments.scored.put(key, (ids, tf))
        ids, scores = scored
        if not len(ids):
            continue
        deleted = snap.deleted(i, sub)
        if len(deleted):
            keep = ~np.isin(ids, deleted)
            ids, scores = ids[keep], scores[keep]
        all_ids.append((ids + offset).astype(np.int32))
        all_scores.append(scores)
    if not all_ids:
        return np.zeros(0, np.int32), np.zeros(0)
    return np.concatenate(all_ids), np.concatenate(all_scores)


def positions(s: Searcher, snap: Snapshot, fieldname: str, term: str) -> tuple[bytes, bytes]:
    """A term's word positions in every section holding it, cached per snapshot (bounded), as
    packed C ints (offsets, flat): the positions in the i-th section of `postings(...)` are
    `flat[offsets[i]:offsets[i + 1]]`. Built from the segments' cached positions, less this
    state's deleted sections."""
    key = (fieldname, term)
    cached = snap.positions.get(key)
    if cached is None:
        found = _segment_positions(s, snap, fieldname, term)
        cached = snap.positions.put(key, found if found is not None else _walk_positions(s, fieldname, term))
    return cached


def _segment_positions(s: Searcher, snap: Snapshot, fieldname: str, term: str) -> tuple[bytes, bytes] | None:
    offsets, flats = [np.zeros(1, np.int64)], []
    base = 0
    for i, (slot, (sub, _)) in enumerate(zip(snap.slots, snap.subs(s), strict=True)):
        raw = snap.segments.postings(slot, sub, fieldname, term)
        found = snap.segments.word_positions(slot, sub, fieldname, term)
        if raw is None or found is None:
            return None
        offs, flat = found
        if len(offs) == 1:
            continue
        deleted = snap.deleted(i, sub)
        if len(deleted):  # drop the deleted sections' runs of positions
            live = ~np.isin(raw[0], deleted)
            starts = offs[:-1][live].astype(np.int64)
            lengths = offs[1:][live] - starts
            ends = np.cumsum(lengths)
            flat = flat[np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if len(ends) else 0)]
            offs = np.concatenate([np.zeros(1, np.int64), ends])
        offsets.append(offs[1:].astype(np.int64) + base)
        flats.append(flat)
        base += len(flat)
    flat_all = np.concatenate(flats) if flats else np.zeros(0, np.int32)
    return np.concatenate(offsets).astype(np.int32).tobytes(), flat_all.astype(np.int32).tobytes()


def _walk_positions(s: Searcher, fieldname: str, term: str) -> tuple[bytes, bytes]:
    offsets, flat = array("i", [0]), array("i")
    if (fieldname, term) in s.reader():
        m = s.postings(fieldname, term)
        while m.is_active():
            flat.extend(m.value_as("positions"))
            offsets.append(len(flat))
            m.next()
    return offsets.tobytes(), flat.tobytes()
