"""The Whoosh backend: an embedded index in a folder, read through pooled searchers.

`WhooshBackend.view()` hands out a view of the live generation. Each view holds a pooled
Whoosh searcher; when a commit or a generation swap lands (two stat calls tell), the next
view opens the new one, so no caller ever reopens by hand. Whoosh objects stay in here and
in `kb.whoosh_rank`.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from kb import layout
from kb.engine import Plan, Ranked, Stored
from kb.errors import IndexMissing
from kb.facets import DocTable
from kb.lru import LRU
from kb.ranking import Ranking
from kb.schema import facet_key
from kb.whoosh_rank import TEXT_FIELDS, compile_plan, rank, weighting

T = TypeVar("T")
KEEP = 1000  # sections kept in rank order: enough for any page's groups; the rest only count
POSITIONS_BYTES = 32 << 20  # per snapshot: word positions of the terms phrase bonuses used lately
BODY_DF_ENTRIES = 200_000  # body document frequencies remembered per snapshot
STORED_BYTES = 24 << 20  # per snapshot: recently shown sections' stored fields


class _Stale(Exception):
    """A snapshot met a newer commit than the one it was opened on."""


class Snapshot:
    """One committed state of the index, with its searcher pool and lazily built tables."""

    def __init__(self, path: Path, token: tuple[str, int], weighting: BM25F) -> None:
        self.path = path
        self.token = token
        self.ix = whoosh_index.open_dir(str(path))
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
                raise _Stale
        return s

    def release(self, s: Searcher) -> None:
        """Return a searcher to the pool (or close it once the snapshot is retired)."""
        with self._lock:
            if self._closed:
                s.close()
            else:
                self._pool.append(s)

    def stored_fields(self, s: Searcher, docnum: int) -> Stored:
        """A section's stored fields, through the snapshot's cache."""
        blob = self.stored.get(docnum)
        if blob is not None:
            return cast(Stored, pickle.loads(blob))
        f: Stored = s.stored_fields(docnum)
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
            self._docs = _doc_table(s)
        return self._docs

    def close(self) -> None:
        """Retire the snapshot: close pooled searchers now, the ones in use when released."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for s in pool:
            s.close()


class WhooshView:
    """A `kb.engine.View` over one snapshot, through one pooled searcher."""

    def __init__(self, snap: Snapshot, s: Searcher, ranking: Ranking) -> None:
        self.snap = snap
        self.s = s
        self.ranking = ranking
        self.token = f"{snap.token[0]}:{snap.token[1]}:{snap.generation}"

    def section_count(self) -> int:
        """Live sections in this generation."""
        return int(self.s.doc_count())

    def known(self, stem: str) -> bool:
        """Whether any text field holds the stem."""
        return any(self.s.doc_frequency(f, stem) for f in TEXT_FIELDS)

    def document_frequencies(self, stems: list[str]) -> dict[str, int]:
        """Body document frequencies, from the term index."""
        return {st: int(self.s.doc_frequency("body", st)) for st in stems}

    def vocabulary(self) -> Mapping[str, int]:
        """The spelling vocabulary saved beside this generation."""
        return layout.read_json(self.snap.path / layout.VOCAB, {})

    def docs(self) -> DocTable:
        """The doc table, built on first use from the term index."""
        return self.snap.docs(self.s)

    def rank(self, plan: Plan, ranking: Ranking, depth: int) -> Ranked:
        """Every match scored; the best `4 x depth` (at least 1,000) kept in order."""
        hits, matched = rank(self.s, self.snap, compile_plan(plan, ranking), ranking, max(4 * depth, KEEP))
        return Ranked(hits=hits, total=len(matched), matched=matched)

    def stored(self, docnums: Iterable[int]) -> dict[int, Stored]:
        """Stored fields by document number."""
        return {d: self.snap.stored_fields(self.s, d) for d in docnums}

    def article_sections(self, article_id: str) -> list[Stored]:
        """The article's sections' stored fields, in page order."""
        return sorted((self.s.stored_fields(d) for d in self.s.document_numbers(article_id=article_id)),
                      key=lambda f: f["order"])

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Articles of the best body matches of an OR of the stems."""
        results = self.s.search(Q.Or([Q.Term("body", t) for t in stems]), limit=limit)
        return list(dict.fromkeys(hit["article_id"] for hit in results))

    def all_stored(self) -> Iterator[Stored]:
        """Every live section's stored fields."""
        return (f for _, f in self.s.reader().iter_docs())

    def memo(self, name: str, build: Callable[[], T]) -> T:
        """A per-snapshot value, built once (a race builds it twice, harmlessly)."""
        memos = self.snap.memos
        if name not in memos:
            memos[name] = build()
        return memos[name]


class WhooshBackend:
    """The embedded backend: the index folder of `kb.layout`, opened once per process, thread-safe."""

    def __init__(self, index_dir: Path, ranking: Ranking) -> None:
        self.index_dir = index_dir
        self.ranking = ranking
        self._weighting = weighting(ranking)
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        """The index folder."""
        return str(self.index_dir)

    @contextmanager
    def view(self) -> Iterator[WhooshView]:
        """The live snapshot through one of its searchers, retrying across a commit that lands meanwhile."""
        for attempt in range(5):
            try:
                snap = self._snapshot(force=attempt > 0)
                s = snap.acquire()
            except (_Stale, FileNotFoundError):  # a commit or a swap removed what we were opening
                continue
            try:
                yield WhooshView(snap, s, self.ranking)
            finally:
                snap.release(s)
            return
        raise IndexMissing(f"the index in {self.index_dir} keeps changing under the reader; try again")

    def _snapshot(self, force: bool = False) -> Snapshot:
        token = layout.generation_token(self.index_dir)
        snap = self._snap
        if snap is not None and snap.token == token and not force:
            return snap
        with self._lock:
            if self._snap is not None and self._snap.token == token and (not force or self._snap is not snap):
                return self._snap
            if token is None:
                raise IndexMissing(f"no index in {self.index_dir}: build one with `kb index PATH --index "
                                   f"{self.index_dir}`")
            gen = layout.current_generation(self.index_dir)
            assert gen is not None
            try:
                fresh = Snapshot(gen, token, self._weighting)
            except FileNotFoundError as e:  # a swap removed the generation while we opened it
                raise _Stale from e
            old, self._snap = self._snap, fresh
        if old is not None:
            old.close()
        return fresh


def _doc_table(s: Searcher) -> DocTable:
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

