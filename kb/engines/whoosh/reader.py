"""The Whoosh backend: an embedded index in a folder, read through pooled searchers.

`WhooshBackend.view()` hands out a view of the live generation. Each view holds a pooled
Whoosh searcher; when a commit or a generation swap lands (two stat calls tell), the next
view opens the new one, so no caller ever reopens by hand. Whoosh objects never leave
`kb.engines.whoosh`: sections go out as `kb.documents.StoredSection`s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from whoosh import query as Q
from whoosh.searching import Searcher

from kb.config import Settings
from kb.documents import StoredSection, from_record
from kb.engines.base import Plan, Ranked
from kb.engines.whoosh import layout
from kb.engines.whoosh.rank import compile_plan, rank, weighting
from kb.engines.whoosh.schema import TEXT_FIELDS
from kb.engines.whoosh.snapshot import Snapshot, Stale
from kb.errors import IndexMissing
from kb.facets import DocTable
from kb.ranking import Ranking

T = TypeVar("T")
KEEP = 1000  # sections kept in rank order: enough for any page's groups; the rest only count


class WhooshView:
    """A `kb.engines.base.View` over one snapshot, through one pooled searcher."""

    counting = "every-match"  # totals and facets over every section `rank` scored

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

    def stored(self, docnums: Iterable[int]) -> dict[int, StoredSection]:
        """Sections by document number, their fields read through the snapshot's cache."""
        return {d: from_record(self.snap.stored_fields(self.s, d)) for d in docnums}

    def article_sections(self, article_id: str) -> list[StoredSection]:
        """The article's sections, in page order."""
        found = (from_record(self.s.stored_fields(d)) for d in self.s.document_numbers(article_id=article_id))
        return sorted(found, key=lambda f: f.order)

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Articles of the best body matches of an OR of the stems."""
        results = self.s.search(Q.Or([Q.Term("body", t) for t in stems]), limit=limit)
        return list(dict.fromkeys(hit["article_id"] for hit in results))

    def all_stored(self) -> Iterator[StoredSection]:
        """Every live section."""
        return (from_record(f) for _, f in self.s.reader().iter_docs())

    def memo(self, name: str, build: Callable[[], T]) -> T:
        """A per-snapshot value, built once (a race builds it twice, harmlessly)."""
        memos = self.snap.memos
        if name not in memos:
            memos[name] = build()
        return memos[name]


class WhooshBackend:
    """The embedded backend: the index folder of `layout`, opened once per process, thread-safe."""

    def __init__(self, settings: Settings, ranking: Ranking) -> None:
        self.index_dir = settings.index_dir
        self.ranking = ranking
        self._weighting = weighting(ranking)
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        """The index folder."""
        return str(self.index_dir)

    def token(self) -> str | None:
        """The live state's fingerprint (two stat calls), None when there is no index."""
        found = layout.generation_token(self.index_dir)
        return None if found is None else f"{found[0]}\0{found[1]}"

    @contextmanager
    def view(self) -> Iterator[WhooshView]:
        """The live snapshot through one of its searchers, retrying across a commit that lands meanwhile."""
        for attempt in range(5):
            try:
                snap = self._snapshot(force=attempt > 0)
                s = snap.acquire()
            except (Stale, FileNotFoundError):  # a commit or a swap removed what we were opening
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
                raise Stale from e
            old, self._snap = self._snap, fresh
        if old is not None:
            old.close()
        return fresh
