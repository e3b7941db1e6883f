"""One committed state of a Whoosh index: its searcher pool and the tables that belong to it.

A `Snapshot` opens one generation's index at one Whoosh commit. What is read from its segments
(postings, field lengths, stored fields, doc-table columns, frequencies, word positions) lives
in the process's `SegmentCaches` and outlives the commit; what depends on the whole state
(scored postings, deletions, the doc table, filter masks) is kept here, rebuilt from those
parts; the statistics scores use (idf, average lengths) and the feedback distributions built on
them belong to an `Epoch` (`kb.engines.whoosh.epoch`), which a snapshot may take over from the
last. The reader (`kb.engines.whoosh.reader`) retires a snapshot when a commit or a generation
swap lands.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import pickle
import threading
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np
from whoosh import query as Q
from whoosh.filedb.filestore import FileStorage
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from kb.engines.whoosh.doctable import Part, join, segment_docs
from kb.engines.whoosh.epoch import Epoch, carry
from kb.engines.whoosh.reopen import open_searcher
from kb.engines.whoosh.segments import SegmentCaches, Slot, WordCounts, slots
from kb.engines.whoosh.warmup import warm_segments
from kb.facets import DocTable
from kb.lru import LRU

POSITIONS_BYTES = 32 << 20  # per snapshot: word positions of the terms phrase bonuses used lately
STATS_FIELDS = ("title", "heading", "body")  # the fields whose average lengths scores use
BODY_DF_ENTRIES = 200_000  # (field, term) document frequencies remembered per snapshot
Fields = dict[str, Any]  # a section's stored fields as Whoosh returns them (`kb.documents.to_record`'s)


class Stale(Exception):
    """A snapshot met a newer commit than the one it was opened on."""


class Snapshot:
    """One committed state of the index, with its searcher pool and lazily built tables."""

    def __init__(self, path: Path, token: tuple[str, int], weighting: BM25F,
                 segments: SegmentCaches | None = None, drift: float = 0.0,
                 donors: list[Searcher] | None = None) -> None:
        self.path = path
        self._donors = donors or []  # idle searchers of the previous commit, their readers to reuse (`reopen`)
        self.drift = drift  # `Ranking.stats_drift`: how far the state may move from its epoch's
        self.segments = segments if segments is not None else SegmentCaches()
        self.slots: tuple[Slot, ...] = ()  # the generation's segments, known at the first acquire
        self._starts: list[int] = []
        self._deleted: dict[int, np.ndarray] = {}  # slot number -> its deleted local documents, sorted
        self.token = token
        # Read, not memory-mapped: a segment file truncated under a mapping kills the process with
        # SIGBUS, where a read raises an error the reader can answer (kb.engines.whoosh.reader).
        self.ix = FileStorage(str(path), supports_mmap=False, readonly=True).open_index()
        # the segments' files as written: they never change (`cut_short`); files a writer is still
        # writing into this folder belong to no committed segment and are left out
        self.sizes = _segment_sizes(path, {seg.segment_id() + "." for seg in self.ix._segments()})
        self.weighting = weighting
        self._pool: list[Searcher] = []
        self.generation: int | None = None  # the Whoosh commit every pooled searcher reads
        self._lock = threading.Lock()
        self._closed = False
        self._docs: DocTable | None = None
        self._filters: dict[str, np.ndarray] = {}
        self.memos: dict[str, Any] = {}
        self._building: dict[str, threading.Lock] = {}
        self.inherit: Epoch | None = None  # the previous snapshot's statistics, kept if this state fits them
        self._epoch: Epoch | None = None
        # (field, term) -> its sections and their BM25 scores, as compact arrays (12 bytes a posting)
        self.postings: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self.postings_size = 0
        self.scored: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # term -> its BM25F parts (`bm25f`)
        self.scored_size = 0
        self._df: dict[tuple[str, str], int] = {}
        # (field, term) -> its word positions in each of its sections (the phrase bonus reads them)
        self.positions: LRU[tuple[str, str], tuple[bytes, bytes]] = LRU(
            POSITIONS_BYTES, lambda p: 100 + len(p[0]) + len(p[1]))

    def acquire(self) -> Searcher:
        """A pooled searcher of this snapshot's generation; raises _Stale if a commit slipped in."""
        with self._lock:
            s = self._pool.pop() if self._pool else None
            donor = self._donors.pop() if s is None and self._donors else None
        if s is None:
            s = open_searcher(self.ix, self.weighting, donor)
            gen = s.reader().generation()
            with self._lock:
                if self.generation is None:
                    self.slots = slots(s, self.path.name)
                    self._starts = [slot.offset for slot in self.slots]
                    self.generation = gen
            if gen != self.generation:  # a commit the cheap token check missed: start a new snapshot
                s.close()
                raise Stale
        return s

    def take_idle(self) -> list[Searcher]:
        """Hand over the pooled searchers no request holds (to the next commit's snapshot, which
        reuses their unchanged segments' readers); the ones in use are closed when released."""
        with self._lock:
            idle, self._pool = self._pool, []
            idle += self._donors
            self._donors = []
        return idle

    def release(self, s: Searcher) -> None:
        """Return a searcher to the pool (or close it once the snapshot is retired)."""
        with self._lock:
            if self._closed:
                s.close()
            else:
                self._pool.append(s)

    def epoch(self, s: Searcher) -> Epoch:
        """The statistics this snapshot scores with: its predecessor's while it fits them (`epoch`)."""
        found = self._epoch
        if found is None:
            with self.building("epoch"):
                found = self._epoch
                if found is None:
                    found = self._epoch = carry(self.inherit, self.path.name, s, STATS_FIELDS, self.drift)
                    self.inherit = None
        return found

    def building(self, name: str) -> threading.Lock:
        """The lock held while one per-snapshot table is built: after a commit every request thread
        wants the same tables at once, and one builds while the others wait rather than all building."""
        return self._building.setdefault(name, threading.Lock())

    @property
    def last_epoch(self) -> Epoch | None:
        """The epoch a successor may take over (its own, or the one it was handed and never needed)."""
        return self._epoch or self.inherit

    def locate(self, docnum: int) -> tuple[int, int]:
        """The slot number of the segment holding a document, and its number there."""
        i = bisect.bisect_right(self._starts, docnum) - 1
        return i, docnum - self.slots[i].offset

    def subs(self, s: Searcher) -> list[tuple[Searcher, int]]:
        """A searcher's per-segment searchers with their offsets, in `slots` order."""
        return [(s, 0)] if s.is_atomic() else list(s.subsearchers)

    def deleted(self, i: int, sub: Searcher) -> np.ndarray:
        """The deleted documents of the i-th segment in this state (segment-local numbers, sorted)."""
        found = self._deleted.get(i)
        if found is None:
            gone: frozenset[int] = getattr(sub.reader(), "deleted_docs_set", frozenset())  # an empty index's reader has none
            found = self._deleted[i] = np.array(sorted(gone), np.int64)
        return found

    def stored_fields(self, s: Searcher, docnum: int) -> Fields:
        """A section's stored fields, through the per-segment cache: pickled bytes are a tenth of
        Whoosh's read (a block unzipped, then unpickled), and nothing Python's cycle collector walks."""
        i, local = self.locate(docnum)
        key = (self.slots[i].key, local)
        blob = self.segments.stored.get(key)
        if blob is not None:
            return cast(Fields, pickle.loads(blob))
        f: Fields = s.stored_fields(docnum)
        self.segments.stored.put(key, pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL))
        return f

    def section_terms(self, s: Searcher, docnum: int) -> WordCounts:
        """A section's title and body words with their counts, in first-seen order (cached per segment)."""
        i, local = self.locate(docnum)
        return self.segments.section_terms(self.slots[i], local, lambda: self.stored_fields(s, docnum))

    def body_frequency(self, s: Searcher, term: str) -> int:
        """How many sections' bodies hold a term (feedback asks for every word of a section)."""
        found = self._df.get(("body", term))
        return found if found is not None else self.doc_frequency(s, "body", term)

    def doc_frequency(self, s: Searcher, fieldname: str, term: str) -> int:
        """How many sections hold a term in a field, deleted ones included (Whoosh's count), summed
        over the segments' cached counts."""
        key = (fieldname, term)
        found = self._df.get(key)
        if found is None:
            if len(self._df) >= BODY_DF_ENTRIES:
                self._df.clear()
            found = self._df[key] = sum(
                self.segments.frequency(slot, sub, fieldname, term)
                for slot, (sub, _) in zip(self.slots, self.subs(s), strict=True))
        return found

    def warm(self, s: Searcher, fields: tuple[str, ...]) -> None:
        """Read ahead what most searches touch: every segment's document frequencies and lengths
        of the text fields, and its sections' stored fields and word counts while the caches have
        room (a new segment's only, after a commit)."""
        warm_segments(self.segments, [(slot, sub) for slot, (sub, _) in zip(self.slots, self.subs(s), strict=True)],
                      fields)

    def filter_mask(self, s: Searcher, q: Q.Query) -> np.ndarray:
        """Which sections a filter query allows (a boolean vector), cached per snapshot."""
        key = repr(q)
        found = self._filters.get(key)
        if found is None:
            if len(self._filters) > 1000:
                self._filters.clear()
            found = np.zeros(s.doc_count_all(), bool)
            found[list(s.docs_for_query(q))] = True
            self._filters[key] = found
        return found

    def docs(self, s: Searcher) -> DocTable:
        """The doc table, assembled on first use from the segments' cached columns."""
        if self._docs is None:
            with self.building("docs"):
                if self._docs is None:
                    self._docs = self._doc_table(s)
        return self._docs

    def _doc_table(self, s: Searcher) -> DocTable:
        """The segments' parts of the doc table (each built once per segment), joined for this state."""
        parts = []
        for i, (slot, (sub, _)) in enumerate(zip(self.slots, self.subs(s), strict=True)):
            docs = self.segments.docs(slot, partial(segment_docs, sub.reader()))
            parts.append(Part(docs, slot.offset, self.deleted(i, sub)))
        return join(parts)

    def close(self) -> None:
        """Retire the snapshot: close pooled searchers now, the ones in use when released."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
            pool += self._donors
            self._donors = []
        for s in pool:
            s.close()


def _segment_sizes(path: Path, prefixes: set[str]) -> dict[str, int]:
    """The size of each file of the given segments (`MAIN_<id>.`) in a generation's folder."""
    found = {}
    for entry in os.scandir(path):
        if entry.name[:entry.name.find(".") + 1] in prefixes:
            with contextlib.suppress(FileNotFoundError):
                found[entry.name] = entry.stat().st_size
    return found


def cut_short(snap: Snapshot) -> str | None:
    """Why a snapshot's segment files are damaged when one is now shorter or longer than it was
    when the snapshot opened (a segment is written once and never changed); None when none is.
    A file gone is not counted: a commit's merge removes segments (its new state is a new snapshot)."""
    for name, size in snap.sizes.items():
        try:
            now = os.stat(snap.path / name).st_size
        except FileNotFoundError:
            continue
        if now != size:
            return f"{snap.path.name} cannot be read ({name} is {now:,} bytes, written as {size:,})"
    return None
