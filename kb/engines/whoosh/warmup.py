"""Reading a segment ahead, once, so that a server's first searches find it decoded.

A first-seen query reads, in every segment, its words' postings and field lengths, then the
top sections' stored fields and word counts (hits, the exact-title rule, RM3's feedback), then
the feedback terms' postings. The warm-up reads all of that before the first request (and, in
the background, for each segment a commit adds): every segment's document frequencies and
lengths of the text fields; every live section's heading keys; and, while each cache has room
(`WARM_SHARE` of its budget, so queries keep the rest), the sections' stored fields and word
counts, and (on the first pass only) the terms' postings, the most frequent terms first (they
cost most to read on first use). Everything goes into the per-segment caches (`kb.engines.whoosh.segments`), so it
outlives commits.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

from whoosh.searching import Searcher

from kb.engines.whoosh import blocks as w3blocks
from kb.engines.whoosh.segments import SegmentCaches, Slot, heading_key

WARM_SHARE = 0.75  # the share of a cache's budget the warm-up may fill (queries keep the rest)


def warm_segments(caches: SegmentCaches, segments: Iterable[tuple[Slot, Searcher]], fields: Iterable[str]) -> None:
    """Read a snapshot's segments ahead (a no-op for a segment read before). Postings only on the
    process's first pass, before a server answers: a segment a commit adds later is small, and one
    a merge makes is read as queries need it, so no background pass decodes a whole segment's
    postings while the server is answering (measured: it cost the edits runs a tenth of their
    throughput)."""
    fields = tuple(fields)
    postings = not caches.postings_read_ahead
    for slot, sub in segments:
        warm_segment(caches, slot, sub, fields, postings=postings)
    caches.postings_read_ahead = True


def warm_segment(caches: SegmentCaches, slot: Slot, sub: Searcher, fields: Iterable[str], *,
                 postings: bool = True) -> None:
    """Read one segment ahead (a no-op for a segment read before); its postings too if `postings`."""
    if slot.key in caches.warmed:
        return
    caches.warmed.add(slot.key)  # first: a segment that fails to read is not read again every pass
    fields = tuple(fields)
    for fieldname in fields:
        caches.field_frequencies(slot, sub, fieldname)
        caches.lengths(slot, sub, fieldname)
    _sections(caches, slot, sub)
    if postings:
        _postings(caches, slot, sub, fields)


def _sections(caches: SegmentCaches, slot: Slot, sub: Searcher) -> None:
    """Every live section's heading keys, and while the caches have room its stored fields and
    word counts."""
    r = sub.reader()
    stored, terms = caches.stored, caches.terms
    heads = caches.heads(slot)
    room = True
    for local in range(slot.count):
        if r.is_deleted(local) or local in heads:
            continue
        room = room and stored.used <= WARM_SHARE * stored.budget and terms.used <= WARM_SHARE * terms.budget
        kept = stored.get((slot.key, local))
        if kept is not None:
            f = pickle.loads(kept)  # noqa: S301  (what this cache pickled itself)
        else:
            f = r.stored_fields(local)
            if room:
                stored.put((slot.key, local), pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL))
                caches.section_terms(slot, local, lambda f=f: f)
        heads[local] = heading_key(f)


def _postings(caches: SegmentCaches, slot: Slot, sub: Searcher, fields: tuple[str, ...]) -> None:
    """The fields' postings while the cache has room, the most frequent terms first."""
    raw, postfile = caches.raw, sub.reader()._terms._postfile
    todo: list[tuple[int, str, str, w3blocks.Extent]] = []
    for fieldname in fields:
        table, where = caches.field_frequencies(slot, sub, fieldname), caches.extents(slot, sub, fieldname)
        todo += [(df, fieldname, term, where[term]) for term, df in table.items() if term in where]
    todo.sort(key=lambda x: -x[0])
    for _, fieldname, term, extent in todo:
        if raw.used > WARM_SHARE * raw.budget:
            break
        if raw.get((slot.key, fieldname, term)) is None:
            raw.put((slot.key, fieldname, term), w3blocks.read(postfile, extent))
