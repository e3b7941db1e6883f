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

import math
from array import array

import numpy as np
from whoosh.searching import Searcher

from kb.engines.whoosh.segments import raw_matcher
from kb.engines.whoosh.snapshot import Snapshot
from kb.ranking import Ranking

FIELDS = ("title", "heading", "body")
CACHE_ENTRIES = 4_000_000  # postings kept per snapshot (about 50 MB)
Frequencies = tuple[np.ndarray, np.ndarray, np.ndarray]  # section numbers, term frequencies, field lengths


def term_scores(s: Searcher, snap: Snapshot, term: str, r: Ranking) -> tuple[np.ndarray, np.ndarray]:
    """A term's sections (ascending) and their BM25F scores over the three fields, cached per snapshot."""
    key = ("\x00bm25f", term)
    cached = snap.postings.get(key)
    if cached is not None:
        return cached
    weights = {"title": r.title_weight, "heading": r.heading_weight, "body": r.body_weight}
    bs = {"title": r.title_b, "heading": r.heading_b, "body": r.b}
    parts_ids, parts_tf = [], []
    for field in FIELDS:
        ids, tf, fl = frequencies(s, snap, field, term)
        if not len(ids) or not weights[field]:
            continue
        avg = s.avg_field_length(field) or 1.0
        parts_ids.append(ids)
        parts_tf.append(weights[field] * tf / (1 - bs[field] + bs[field] * fl / avg))
    if not parts_ids:
        found = (np.zeros(0, np.int32), np.zeros(0))
    else:
        sections: np.ndarray = parts_ids[0]
        pseudo: np.ndarray = parts_tf[0]
        if len(parts_ids) > 1:  # one field alone has ids ascending and distinct already
            sections, inverse = np.unique(np.concatenate(parts_ids), return_inverse=True)
            pseudo = np.bincount(inverse, weights=np.concatenate(parts_tf))
        n, df = s.doc_count_all(), len(sections)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        found = (sections.astype(np.int32), idf * pseudo * (r.k1 + 1) / (pseudo + r.k1))
    if snap.postings_size > CACHE_ENTRIES:
        snap.postings.clear()
        snap.postings_size = 0
    snap.postings[key] = found
    snap.postings_size += len(found[0]) + 1
    return found


def frequencies(s: Searcher, snap: Snapshot, fieldname: str, term: str) -> Frequencies:
    """A term's sections in one field, its frequency in each and each section's field length,
    from the segments' cached postings and lengths (`kb.engines.whoosh.segments`: a commit leaves
    the older segments' entries valid), less this state's deleted sections."""
    if (fieldname, term) not in s.reader():
        return np.zeros(0, np.int32), np.zeros(0), np.zeros(0)
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
