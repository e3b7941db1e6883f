"""Per-segment caches that outlive commits, as Lucene keeps per-segment readers and caches.

A Whoosh segment never changes once written, except for which of its documents are deleted.
So what is read from one (a term's postings and frequencies, field lengths, stored fields,
the article, kind, categories and tags of each document, a section's words) is kept here,
keyed by the segment, for as long as the segment is live: a commit that adds one small
segment, or deletes a few documents, leaves everything cached for the other segments valid.
Only what depends on the whole index (document counts, idf, average lengths, deletions) is
recomputed per snapshot (`kb.engines.whoosh.snapshot`), from these parts.

Everything here is by segment-local document number, before deletions; a snapshot maps
them to its own numbers (`Slot.offset`) and drops its deleted documents.
"""

from __future__ import annotations

import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from kb import text
from kb.documents import Outline, from_record, outline
from kb.engines.whoosh import blocks as w3blocks
from kb.lru import LRU

T = TypeVar("T")

RAW_BYTES = 64 << 20  # per process: terms' postings (ids and frequencies), 16 bytes a posting
PSEUDO_BYTES = 48 << 20  # per process: terms' BM25F pseudo-frequencies per segment and epoch
WordCounts = tuple[tuple[str, ...], tuple[int, ...]]  # a section's distinct words, and their counts
STORED_BYTES = 24 << 20  # per process: recently read sections' stored fields, pickled
TERMS_BYTES = 24 << 20  # per process: recently read sections' word counts (feedback reads them)
POSITIONS_BYTES = 32 << 20  # per process: terms' word positions (the phrase bonus reads them)
SMALL_SEGMENT = 500  # documents: a segment this small has a field's frequencies read in one pass
DF_ENTRIES = 500_000  # per process: (segment, field, term) document frequencies
Raw = tuple[np.ndarray, np.ndarray]  # a term's segment-local document numbers (int64) and frequencies
EMPTY: Raw = (np.zeros(0, np.int64), np.zeros(0))


@dataclass(frozen=True)
class Slot:
    """Where one segment sits in a snapshot: its cache key, first document number and size."""

    key: str
    offset: int
    count: int


def slots(s: Searcher, generation: str) -> tuple[Slot, ...]:
    """The segments of a searcher, in document-number order (a key no other generation shares)."""
    subs = [(s, 0)] if s.is_atomic() else list(s.subsearchers)
    out = []
    for sub, offset in subs:
        segment = sub.reader().segment()
        key = f"{generation}/{segment.segment_id()}" if segment is not None else f"{generation}/{id(sub)}"
        out.append(Slot(key, offset, sub.doc_count_all()))
    return tuple(out)


def raw_matcher(r: IndexReader, fieldname: str, term: str) -> Any:
    """A term's matcher over a segment, deleted documents included (the cache outlives deletions)."""
    return r._terms.matcher(fieldname, r._text_to_bytes(fieldname, term), r.schema[fieldname].format)


class SegmentCaches:
    """What is read from segments, by segment key, for the whole process (thread-safe: a race
    reads the same thing twice). Segments no longer live are dropped by `retain`."""

    def __init__(self) -> None:
        self.raw: LRU[tuple[str, str, str], Raw] = LRU(RAW_BYTES, lambda v: 100 + v[0].nbytes + v[1].nbytes)
        # (segment, term, epoch, field weights and b) -> BM25F pseudo-frequencies of its documents
        self.pseudo: LRU[tuple[str, str, int, tuple[float, ...]], Raw] = LRU(
            PSEUDO_BYTES, lambda v: 100 + v[0].nbytes + v[1].nbytes)
        # (segment, field, term, epoch) -> one field's BM25 scores of its documents (the phrase bonus)
        self.scored: LRU[tuple[str, str, str, int], Raw] = LRU(
            PSEUDO_BYTES // 2, lambda v: 100 + v[0].nbytes + v[1].nbytes)
        # (segment, term, epoch, shape, deleted count, offset) -> its BM25F part in a snapshot
        self.parts: LRU[tuple[object, ...], Raw] = LRU(PSEUDO_BYTES, lambda v: 100 + v[0].nbytes + v[1].nbytes)
        self.stored: LRU[tuple[str, int], bytes] = LRU(STORED_BYTES, lambda b: 50 + len(b))
        # two flat tuples, not a pair per word: a quarter of the memory, so the warm-up holds 4x the sections
        self.terms: LRU[tuple[str, int], WordCounts] = LRU(TERMS_BYTES, lambda t: 150 + 16 * len(t[0]))
        self._lengths: dict[tuple[str, str], np.ndarray] = {}
        self._docs: dict[str, object] = {}  # segment -> its part of the doc table
        # by segment first, so that forgetting a segment is one deletion, not a copy of every entry
        self._heads: dict[str, dict[int, tuple[str, str]]] = {}
        self._outlines: dict[str, tuple[Outline | None, ...]] = {}
        self._df: dict[str, dict[tuple[str, str], int]] = {}
        self._tables: dict[tuple[str, str], dict[str, int]] = {}  # (segment, field) -> term -> df
        self._extents: dict[tuple[str, str], dict[str, w3blocks.Extent]] = {}  # ... -> where its postings are
        self.positions: LRU[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = LRU(
            POSITIONS_BYTES, lambda p: 100 + p[0].nbytes + p[1].nbytes)
        self.warmed: set[str] = set()  # segments `kb.engines.whoosh.warmup` has read ahead
        self._live: set[str] = set()
        self._lock = threading.Lock()

    def retain(self, keys: Iterable[str]) -> None:
        """Forget the whole-segment tables of segments other than these (merged away or replaced);
        the bounded caches let theirs age out."""
        keep = set(keys)
        # list(...) copies each table in one step: readers add entries without the lock meanwhile
        with self._lock:
            if keep == self._live:
                return
            self._live = keep
            self._lengths = {k: v for k, v in list(self._lengths.items()) if k[0] in keep}
            self._docs = {k: v for k, v in list(self._docs.items()) if k in keep}
            self._outlines = {k: v for k, v in list(self._outlines.items()) if k in keep}
            for table in (self._heads, self._df):
                for gone in [k for k in list(table) if k not in keep]:
                    table.pop(gone, None)
            self._tables = {k: v for k, v in list(self._tables.items()) if k[0] in keep}
            self._extents = {k: v for k, v in list(self._extents.items()) if k[0] in keep}
            self.warmed = self.warmed & keep

    def postings(self, slot: Slot, sub: Searcher, fieldname: str, term: str) -> Raw | None:
        """A term's postings in one segment, deleted documents included; None when the index is not
        laid out as this expects (the caller then walks Whoosh's matcher)."""
        key = (slot.key, fieldname, term)
        found = self.raw.get(key)
        if found is not None:
            return found
        if not self.holds(slot, sub, fieldname, term):
            return self.raw.put(key, EMPTY)
        r = sub.reader()
        where = self._extent(slot, fieldname, term)
        if where is not None:  # the frequency table's pass noted where: one read, no term look-up or matcher
            return self.raw.put(key, w3blocks.read(r._terms._postfile, where))
        m = raw_matcher(r, fieldname, term)
        if type(m) is not W3LeafMatcher:
            return None
        blocks: list[tuple[np.ndarray, np.ndarray]] = []
        while m.is_active():
            m._read_ids()
            m._read_weights()
            blocks.append((np.asarray(m._ids, np.int64), np.asarray(m._weights, np.float64)))
            m._next_block()
        if not blocks:
            return self.raw.put(key, EMPTY)
        return self.raw.put(key, (np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])))

    def _extent(self, slot: Slot, fieldname: str, term: str) -> w3blocks.Extent | None:
        """Where a term's postings are in a segment's postings file, when its frequency table was read."""
        return self._extents.get((slot.key, fieldname), {}).get(term)

    @staticmethod
    def small(slot: Slot) -> bool:
        """Whether a segment is small enough to have its frequency tables read whole (what a commit adds)."""
        return slot.count <= SMALL_SEGMENT

    def holds(self, slot: Slot, sub: Searcher, fieldname: str, term: str) -> bool:
        """Whether a segment has a term in a field: from its frequency table when read (always for
        a small segment, what a commit adds), else one look-up in its term file."""
        table = self._tables.get((slot.key, fieldname))
        if table is None and self.small(slot):
            table = self.field_frequencies(slot, sub, fieldname)
        if table is not None:
            return term in table
        return (fieldname, term) in sub.reader()

    def frequency(self, slot: Slot, sub: Searcher, fieldname: str, term: str) -> int:
        """How many of the segment's documents hold a term, deleted ones included (Whoosh's count).
        From the field's whole table once read (`field_frequencies`; a small segment, what a commit
        adds, has it read at once), else one lookup, remembered."""
        table = self._tables.get((slot.key, fieldname))
        if table is None and self.small(slot):
            table = self.field_frequencies(slot, sub, fieldname)
        if table is not None:
            return table.get(term, 0)
        known = self._df.setdefault(slot.key, {})
        found = known.get((fieldname, term))
        if found is None:
            if len(known) >= DF_ENTRIES:
                known.clear()
            found = known[(fieldname, term)] = int(sub.doc_frequency(fieldname, term))
        return found

    def field_frequencies(self, slot: Slot, sub: Searcher, fieldname: str) -> dict[str, int]:
        """Every term of a field in one segment with its document frequency, read in one pass."""
        key = (slot.key, fieldname)
        table = self._tables.get(key)
        if table is None:
            table, where = {}, {}
            for t, ti in sub.reader().iter_field(fieldname):
                word = t.decode("utf-8")
                table[word] = ti.doc_frequency()
                found = w3blocks.extent(ti)
                if found is not None:
                    where[word] = found
            self._extents[key] = where
            self._tables[key] = table
        return table

    def word_positions(self, slot: Slot, sub: Searcher, fieldname: str, term: str
                       ) -> tuple[np.ndarray, np.ndarray] | None:
        """A term's word positions in each document of a segment holding it (deleted ones included),
        as int32 (offsets, flat) in the order of `postings`; None when not laid out as expected."""
        key = (slot.key, fieldname, term)
        found = self.positions.get(key)
        if found is not None:
            return found
        offsets, flat = array("i", [0]), array("i")
        r = sub.reader()
        where = self._extent(slot, fieldname, term)
        if where is not None:  # as for `postings`: one read, no term look-up or matcher
            return self.positions.put(key, w3blocks.positions(r._terms._postfile, where))
        if self.holds(slot, sub, fieldname, term):
            m = raw_matcher(r, fieldname, term)
            if type(m) is not W3LeafMatcher:
                return None
            while m.is_active():
                flat.extend(m.value_as("positions"))
                offsets.append(len(flat))
                m.next()
        return self.positions.put(key, (np.array(offsets, np.int32), np.array(flat, np.int32)))

    def lengths(self, slot: Slot, sub: Searcher, fieldname: str) -> np.ndarray:
        """Every document's length in a field as the scorer reads it, for one segment."""
        key = (slot.key, fieldname)
        found = self._lengths.get(key)
        if found is None:
            length = sub.doc_field_length
            n = sub.doc_count_all()
            found = self._lengths[key] = np.fromiter((length(d, fieldname, 1) for d in range(n)), np.float64, count=n)
        return found

    def docs(self, slot: Slot, build: Callable[[], T]) -> T:
        """The segment's part of the doc table (`kb.engines.whoosh.doctable` builds it), built once."""
        found = self._docs.get(slot.key)
        if found is None:
            found = self._docs[slot.key] = build()
        return cast(T, found)

    def outlines(self, slot: Slot, sub: Searcher) -> tuple[Outline | None, ...]:
        """Every section's outline by local number (None for one deleted when first read), read once per segment."""
        found = self._outlines.get(slot.key)
        if found is None:
            by_local: list[Outline | None] = [None] * slot.count
            for local, fields in sub.reader().iter_docs():
                by_local[local] = outline(from_record(fields))
            found = self._outlines[slot.key] = tuple(by_local)
        return found

    def heading_keys(self, slot: Slot, local: int, read: Any) -> tuple[str, str]:
        """A section's heading and article title as exact-match keys (`read()` gives its stored
        fields), made once per segment."""
        known = self.heads(slot)
        found = known.get(local)
        if found is None:
            found = known[local] = heading_key(read())
        return found

    def heads(self, slot: Slot) -> dict[int, tuple[str, str]]:
        """The heading keys made so far for a segment's sections, by local number."""
        return self._heads.setdefault(slot.key, {})

    def section_terms(self, slot: Slot, local: int, fields: Any) -> WordCounts:
        """A section's title and body words and their counts, in first-seen order (`fields()`
        gives its stored fields when they have to be read)."""
        key = (slot.key, local)
        found = self.terms.get(key)
        if found is None:
            f = fields()
            counts = Counter(text.terms(f.get("title", "") + " \n " + f.get("body", "")))
            found = self.terms.put(key, (tuple(counts), tuple(counts.values())))
        return found


def heading_key(fields: dict[str, Any]) -> tuple[str, str]:
    """A section's heading and article title as `text.normalize_phrase` keys, from its stored fields."""
    return text.normalize_phrase(fields["meta"]["heading"]), text.normalize_phrase(fields["title"])
