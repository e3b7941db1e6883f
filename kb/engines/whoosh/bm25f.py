"""BM25F over title, heading and body: one saturation per term, not one per field.

Per-field BM25 summed over fields (what Whoosh's `BM25F` scorer does) saturates each field on
its own, so a word in a short title and again in the body counts nearly twice, and short
title-only records outrank the abstracts that discuss the topic. BM25F (Robertson, Zaragoza &
Taylor 2004) first adds the fields' length-normalised frequencies, weighted, into one pseudo
frequency, then saturates once with the idf of the term over the whole section:

    tf~ = sum_f w_f * tf_f / (1 - b_f + b_f * len_f / avglen_f)
    score = idf * tf~ * (k1 + 1) / (tf~ + k1),  idf = log(1 + (N - df + .5) / (df + .5))

A field weight then says how much one occurrence there is worth, without doubling the cap.
Raw frequencies come from the segments' cached postings; the BM25F scores, which depend on the
whole index (idf, average lengths), are cached per snapshot.
"""

from __future__ import annotations

from array import array

import numpy as np
from whoosh.searching import Searcher

from kb.engines.whoosh.epoch import Epoch
from kb.engines.whoosh.segments import EMPTY, Raw, SegmentCaches, Slot, raw_matcher
from kb.engines.whoosh.snapshot import Snapshot
from kb.ranking import Ranking

FIELDS = ("title", "heading", "body")
CACHE_ENTRIES = 4_000_000  # postings kept per snapshot (about 50 MB)
Frequencies = tuple[np.ndarray, np.ndarray, np.ndarray]  # section numbers, term frequencies, field lengths


Parts = list[tuple[np.ndarray, np.ndarray]]  # per segment: sections (ascending, int32) and their scores
_NO_PART = (np.zeros(0, np.int32), np.zeros(0))  # a segment without the term (shared, never changed)


def term_scores(s: Searcher, snap: Snapshot, term: str, r: Ranking) -> Parts:
    """A term's sections and their BM25F scores over the three fields, one part per segment that
    holds it (each section in one part; adding a term to every section's score is a vector
    operation per part), cached per snapshot.

    A segment's part is kept per segment, epoch (`kb.engines.whoosh.epoch`: fixed idf and average
    lengths) and number of its deleted sections, so after a commit that adds a small segment
    only that segment's part is computed: the others are taken as they were."""
    cached = snap.scored.get(term)
    if cached is not None:
        return cached
    epoch = snap.epoch(s)
    shape = (r.title_weight, r.heading_weight, r.body_weight, r.title_b, r.heading_b, r.b)
    idf = epoch.idf.get(term)
    live: list[tuple[tuple[object, ...], np.ndarray, np.ndarray, int]] = []  # parts to compute
    parts: Parts = []
    for i, (slot, (sub, offset)) in enumerate(zip(snap.slots, snap.subs(s), strict=True)):
        deleted = snap.deleted(i, sub)
        key = (slot.key, term, epoch.id, shape, len(deleted), offset)
        part = snap.segments.parts.get(key) if idf is not None else None
        if part is not None:
            if len(part[0]):
                parts.append(part)
            continue
        ids, pseudo = _segment_pseudo(snap.segments, slot, sub, term, epoch, shape)
        if len(ids) and len(deleted):
            keep = ~np.isin(ids, deleted)
            ids, pseudo = ids[keep], pseudo[keep]
        live.append((key, ids, pseudo, offset))
    if live:
        if idf is None:  # the epoch's first sight of the term: its idf from the live sections holding it
            df = sum(len(ids) for _, ids, _, _ in live)
            if not df:
                return _keep(snap, term, [])
            idf = epoch.term_idf(term, df)
        for where, ids, pseudo, offset in live:
            if not len(ids):  # most terms miss the small segments commits add: no arithmetic on nothing
                snap.segments.parts.put(where, _NO_PART)
                continue
            part = ((ids + offset).astype(np.int32), idf * pseudo * (r.k1 + 1) / (pseudo + r.k1))
            snap.segments.parts.put(where, part)
            if len(ids):
                parts.append(part)
    return _keep(snap, term, parts)


def _keep(snap: Snapshot, term: str, parts: Parts) -> Parts:
    if snap.scored_size > CACHE_ENTRIES:
        snap.scored.clear()
        snap.scored_size = 0
    snap.scored[term] = parts
    snap.scored_size += sum(len(p[0]) for p in parts) + 1
    return parts


def _segment_pseudo(segments: SegmentCaches, slot: Slot, sub: Searcher, term: str, epoch: Epoch,
                    shape: tuple[float, ...]) -> Raw:
    """One segment's documents holding a term (local numbers, deleted ones included) and their
    BM25F pseudo-frequency: the fields' length-normalised frequencies, weighted and added."""
    if segments.small(slot) and not any(segments.holds(slot, sub, f, term) for f in FIELDS):
        return EMPTY  # most terms are not in the small segment a commit adds: no cache entry for them
    key = (slot.key, term, epoch.id, shape)
    found = segments.pseudo.get(key)
    if found is not None:
        return found
    weights, bs = shape[:3], shape[3:]
    parts_ids, parts_tf = [], []
    for field, w, b in zip(FIELDS, weights, bs, strict=True):
        raw = segments.postings(slot, sub, field, term)
        ids, tf = raw if raw is not None else _walk(sub, field, term)
        if not len(ids) or not w:
            continue
        fl = segments.lengths(slot, sub, field)[ids]
        parts_ids.append(ids)
        parts_tf.append(w * tf / (1 - b + b * fl / epoch.avg[field]))
    if not parts_ids:
        return segments.pseudo.put(key, EMPTY)
    docs, pseudo = parts_ids[0], parts_tf[0]
    if len(parts_ids) > 1:  # one field alone has ids ascending and distinct already
        docs, inverse = np.unique(np.concatenate(parts_ids), return_inverse=True)
        pseudo = np.bincount(inverse, weights=np.concatenate(parts_tf)).astype(np.float64, copy=False)
    return segments.pseudo.put(key, (docs.astype(np.int64), pseudo))


def frequencies(s: Searcher, snap: Snapshot, fieldname: str, term: str) -> Frequencies:
    """A term's sections in one field, its frequency in each and each section's field length,
    from the segments' cached postings and lengths (`kb.engines.whoosh.segments`: a commit leaves
    the older segments' entries valid), less this state's deleted sections."""
    all_ids, all_tf, all_fl = [], [], []
    for i, (slot, (sub, offset)) in enumerate(zip(snap.slots, snap.subs(s), strict=True)):
        raw = snap.segments.postings(slot, sub, fieldname, term)
        ids, tf = raw if raw is not None else _walk(sub, fieldname, term)
        if not len(ids):
            continue
        deleted = snap.deleted(i, sub)
        if len(deleted):
            keep = ~np.isin(ids, deleted)
            ids, tf = ids[keep], tf[keep]
        all_fl.append(snap.segments.lengths(slot, sub, fieldname)[ids])
        all_ids.append(ids + offset)
        all_tf.append(tf)
    if not all_ids:
        return np.zeros(0, np.int32), np.zeros(0), np.zeros(0)
    return (np.concatenate(all_ids).astype(np.int32), np.concatenate(all_tf), np.concatenate(all_fl))


def _walk(sub: Searcher, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """One segment's postings of a term through Whoosh's matcher (an index of another codec)."""
    r = sub.reader()
    one_ids: array[int] = array("q")
    one_tf: array[float] = array("d")
    if (fieldname, term) in r:
        m = raw_matcher(r, fieldname, term)
        while m.is_active():
            one_ids.append(m.id())
            one_tf.append(m.weight())
            m.next()
    return np.array(one_ids, np.int64), np.array(one_tf, np.float64)
