"""Reading a segment ahead, once, so that a server's first searches find it read.

A first-seen query reads, in every segment, its words' document frequencies and field lengths,
then the top sections' stored fields and word counts (hits, the exact-title rule, RM3's
feedback). The warm-up reads that before the first request (and, in the background, for each
segment a commit adds): every segment's document frequencies and lengths of the text fields;
every live section's heading keys; and, while each cache has room (`WARM_SHARE` of its budget,
so queries keep the rest), the sections' stored fields and word counts. Everything goes into
the per-segment caches (`kb.engines.whoosh.segments`), so it outlives commits.

Decoding every term's postings ahead as well was tried (2026-12-06): first-seen p50 -20 % and
p99 -45 % in process, but the edits runs' throughput ratio fell (medians 0.85 and 0.81 against
0.90 and 0.89, four of fourteen runs under 0.8), so it is not done; see `benchmarks/PERF.md`.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable

from whoosh.searching import Searcher

from kb.engines.whoosh.segments import SegmentCaches, Slot, heading_key

WARM_SHARE = 0.75  # the share of a cache's budget the warm-up may fill (queries keep the rest)


def warm_segments(caches: SegmentCaches, segments: Iterable[tuple[Slot, Searcher]], fields: Iterable[str]) -> None:
    """Read a snapshot's segments ahead (a no-op for a segment read before)."""
    fields = tuple(fields)
    for slot, sub in segments:
        warm_segment(caches, slot, sub, fields)


def warm_segment(caches: SegmentCaches, slot: Slot, sub: Searcher, fields: Iterable[str]) -> None:
    """Read one segment ahead (a no-op for a segment read before)."""
    if slot.key in caches.warmed:
        return
    caches.warmed.add(slot.key)  # first: a segment that fails to read is not read again every pass
    for fieldname in fields:
        caches.field_frequencies(slot, sub, fieldname)
        caches.lengths(slot, sub, fieldname)
    _sections(caches, slot, sub)


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

