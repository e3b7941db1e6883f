"""One committed state of a Whoosh index: its searcher pool and the caches that belong to it.

A `Snapshot` opens one generation's index at one Whoosh commit. Its searchers, postings,
field lengths, stored fields and filter masks are valid for exactly that state; the reader
(`kb.engines.whoosh.reader`) retires it when a commit or a generation swap lands.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
from whoosh import query as Q
from whoosh.filedb.filestore import FileStorage
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from kb.documents import facet_key
from kb.facets import DocTable
from kb.lru import LRU

POSITIONS_BYTES = 32 << 20  # per snapshot: word positions of the terms phrase bonuses used lately
BODY_DF_ENTRIES = 200_000  # body document frequencies remembered per snapshot
STORED_BYTES = 24 << 20  # per snapshot: recently shown sections' stored fields
Fields = dict[str, Any]  # a section's stored fields as Whoosh returns them (`kb.documents.to_record`'s)


class Stale(Exception):
    """A snapshot met a newer commit than the one it was opened on."""


class Snapshot:
    """One committed state of the index, with its searcher pool and lazily built tables."""

    def __init__(self, path: Path, token: tuple[str, int], weighting: BM25F) -> None:
        self.path = path
        self.token = token
        # Read, not memory-mapped: a segment file truncated under a mapping kills the process with
        # SIGBUS, where a read raises an error the reader can answer (kb.engines.whoosh.reader).
        self.ix = FileStorage(str(path), supports_mmap=False, readonly=True).open_index()
        self.weighting = weighting
        self._pool: list[Searcher] = []
        self.generation: int | None = None  # the Whoosh commit every pooled searcher reads
        self._lock = threading.Lock()
        self._closed = False
        self._docs: DocTable | None = None
        self._filters: dict[str, np.ndarray] = {}
        self.memos: dict[str, Any] = {}
        self.feedback: dict[int, dict[str, float]] = {}  # docnum -> term distribution (see whoosh_rank)
        # (field, term) -> its sections and their BM25 scores, as compact arrays (12 bytes a posting)
        self.postings: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self.postings_size = 0
        # docnum -> its stored fields pickled: a tenth of Whoosh's read (a block unzipped, then
        # unpickled), and bytes, which Python's cycle collector never has to walk
        self.stored: LRU[int, bytes] = LRU(STORED_BYTES, len)
        self._body_df: dict[str, int] = {}
        self._lengths: dict[tuple[int, str], np.ndarray] = {}  # (segment offset, field) -> lengths
        # (field, term) -> its word positions in each of its sections (the phrase bonus reads them)
        self.positions: LRU[tuple[str, str], tuple[bytes, bytes]] = LRU(
            POSITIONS_BYTES, lambda p: 100 + len(p[0]) + len(p[1]))

    def acquire(self) -> Searcher:
        """A pooled searcher of this snapshot's generation; raises _Stale if a commit slipped in."""
        with self._lock:
            s = self._pool.pop() if self._pool else None
        if s is None:
            s = self.ix.searcher(weighting=self.weighting)
            gen = s.reader().generation()
            with self._lock:
                if self.generation is None:
                    self.generation = gen
            if gen != self.generation:  # a commit the cheap token check missed: start a new snapshot
                s.close()
                raise Stale
        return s

    def release(self, s: Searcher) -> None:
        """Return a searcher to the pool (or close it once the snapshot is retired)."""
        with self._lock:
            if self._closed:
                s.close()
            else:
                self._pool.append(s)

    def stored_fields(self, s: Searcher, docnum: int) -> Fields:
        """A section's stored fields, through the snapshot's cache."""
        blob = self.stored.get(docnum)
        if blob is not None:
            return cast(Fields, pickle.loads(blob))
        f: Fields = s.stored_fields(docnum)
        self.stored.put(docnum, pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL))
        return f

    def field_lengths(self, sub: Searcher, offset: int, fieldname: str) -> np.ndarray:
        """Every section's length in a field as the scorer reads it, for one segment (cached)."""
        key = (offset, fieldname)
        found = self._lengths.get(key)
        if found is None:
            length = sub.doc_field_length
            found = self._lengths[key] = np.fromiter(
                (length(d, fieldname, 1) for d in range(sub.doc_count_all())), np.float64, count=sub.doc_count_all())
        return found

    def body_frequency(self, s: Searcher, term: str) -> int:
        """How many sections' bodies hold a term, remembered (feedback asks for every word of a
        section, and a Whoosh lookup costs tens of microseconds)."""
        found = self._body_df.get(term)
        if found is None:
            if len(self._body_df) >= BODY_DF_ENTRIES:
                self._body_df.clear()
            found = self._body_df[term] = int(s.doc_frequency("body", term))
        return found

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
        """The doc table, built on first use from the term index."""
        if self._docs is None:
            self._docs = doc_table(s)
        return self._docs

    def close(self) -> None:
        """Retire the snapshot: close pooled searchers now, the ones in use when released."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for s in pool:
            s.close()


def doc_table(s: Searcher) -> DocTable:
    """Walk the term index (not the stored text) into plain per-document columns."""
    reader = s.reader()
    n = reader.doc_count_all()
    article = [""] * n
    kind = ["section"] * n
    cats: list[tuple[str, ...]] = [()] * n
    tags: list[tuple[str, ...]] = [()] * n

    def postings(fieldname: str) -> Iterator[tuple[str, list[int]]]:
        for term in reader.field_terms(fieldname):
            yield term, [d for d in reader.postings(fieldname, term).all_ids() if not reader.is_deleted(d)]

    first: dict[str, int] = {}
    for aid, ids in postings("article_id"):
        for d in ids:
            article[d] = aid
        if ids:
            first[aid] = min(ids)
    for k, ids in postings("kind"):
        for d in ids:
            kind[d] = k
    for column, fieldname in ((cats, "category"), (tags, "tag")):
        for key, ids in postings(fieldname):
            for d in ids:
                column[d] = (*column[d], key)
    display: dict[str, str] = {}
    urls: dict[str, str] = {}
    for aid, d in first.items():
        meta = reader.stored_fields(d)["meta"]
        urls[meta["url"].rstrip("/")] = aid
        for name in (*meta["categories"], *meta["tags"]):
            display.setdefault(facet_key(name), name)
    return DocTable(tuple(article), tuple(kind), tuple(cats), tuple(tags), display, first, urls)

