"""The Typesense backend: the same knowledge base on a replicated Typesense cluster.

A view reads the `state` document of the meta collection (one small request) to learn the
live collection and its generation; per-generation tables (the doc table, known stems,
spelling vocabulary, suggestions) are built once and shared by every thread. Ranking is
two-step: Typesense finds candidates (its text match over the pre-analysed stems, every query
word and synonym preferred but none required), then `scoring` ranks them with the Whoosh
path's BM25F. Synonyms are expanded above the engine, at query time, as for Whoosh, so the
collection has none of its own. Snippets, grouping, spelling and the exact-heading bonus stay
in `kb.search`. Typesense objects never leave `kb.engines.typesense`.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from kb.config import Settings
from kb.documents import StoredSection, facet_key
from kb.engines.base import Plan, Ranked
from kb.engines.typesense import client as tc
from kb.engines.typesense import scoring
from kb.engines.typesense.query import facets, required_parts, search_params
from kb.errors import BackendUnavailable, IndexMissing
from kb.facets import DocTable
from kb.ranking import Ranking

T = TypeVar("T")
MAX_PAGE = 250  # Typesense's largest page
STORED_EXCLUDE = "title_s,heading_s,body_s,source_key,article_key,title_n,heading_n,body_n"
CANDIDATES = 250  # sections Typesense hands to `scoring` per query (more for deep pages)
ANALYSED_CACHE = 50_000  # sections' analysed text kept per process (a few KB each)
STORED_CACHE = 20_000  # sections' display fields kept per process
RARE_SEARCHES = 8  # the rarest query words whose every section becomes a candidate
STATE_TTL_S = 1.0  # how long a reader trusts the live state it read (its own process's writes: at once)


@dataclass(frozen=True)
class _Tables:
    """What one export of a generation's key fields gives: the doc table and the mean field lengths."""

    docs: DocTable
    mean_lengths: dict[str, float]


class _Generation:
    """Per-generation tables shared by every view of one live state."""

    def __init__(self, collection: str, token: str) -> None:
        self.collection = collection
        self.token = token
        self.memos: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.positions: dict[str, int] = {}  # Typesense id -> section number
        self.ids: list[str] = []


class TypesenseView:
    """A `kb.engines.base.View` of one generation of the live collection."""

    def __init__(self, backend: TypesenseBackend, gen: _Generation) -> None:
        self.backend = backend
        self.gen = gen
        self.token = gen.token

    @property
    def _coll(self) -> Any:
        return self.backend.client.collections[self.gen.collection]

    def memo(self, name: str, build: Callable[[], T]) -> T:
        """A per-generation value shared by every thread, built once (a race builds it twice, harmlessly)."""
        memos = self.gen.memos
        if name not in memos:
            value = build()
            memos.setdefault(name, value)
        return memos[name]

    def section_count(self) -> int:
        """Sections in this generation, from the doc table."""
        return len(self.docs().article)

    def known(self, stem: str) -> bool:
        """Whether any text field holds the stem (cached per generation)."""
        df = self._df([stem])
        return any(df.get((f, stem), 0) for f in scoring.FIELDS)

    def document_frequencies(self, stems: list[str]) -> dict[str, int]:
        """Body document frequencies, fifty stems to a request (cached per generation)."""
        df = self._df(stems)
        return {st: df.get(("body", st), 0) for st in stems}

    def vocabulary(self) -> Mapping[str, int]:
        """The spelling vocabulary the writer saved in the meta collection."""
        doc = self.backend.meta_doc(f"vocab:{self.gen.collection}")
        return tc.loads(doc.get("data") if doc else None, {})

    def docs(self) -> DocTable:
        """The doc table, from one export of the collection's key fields."""
        return self._tables().docs

    def _tables(self) -> _Tables:
        return self.memo("tables", self._export_tables)

    def _export_tables(self) -> _Tables:
        raw = self._coll.documents.export({"include_fields": "id,article_id,kind,category,tag,order,meta,"
                                                             "title_n,heading_n,body_n"})
        rows = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        lengths = {f: sum(r.get(f + "_n", 0) for r in rows) / max(1, len(rows)) for f in scoring.FIELDS}
        rows.sort(key=lambda r: (r["article_id"], r["order"]))
        self.gen.ids = [r["id"] for r in rows]
        self.gen.positions = {r["id"]: i for i, r in enumerate(rows)}
        first: dict[str, int] = {}
        display: dict[str, str] = {}
        urls: dict[str, str] = {}
        for i, r in enumerate(rows):
            if r["article_id"] not in first:
                first[r["article_id"]] = i
                meta = r.get("meta") or {}
                urls[str(meta.get("url", "")).rstrip("/")] = r["article_id"]
                for name in (*meta.get("categories", ()), *meta.get("tags", ())):
                    display.setdefault(facet_key(name), name)
        table = DocTable(tuple(r["article_id"] for r in rows), tuple(r["kind"] for r in rows),
                         tuple(tuple(r.get("category", ())) for r in rows), tuple(tuple(r.get("tag", ())) for r in rows),
                         display, first, urls)
        return _Tables(table, lengths)

    def rank(self, plan: Plan, ranking: Ranking, depth: int) -> Ranked:
        """Typesense finds the candidates; `scoring` ranks them with the Whoosh path's BM25F.

        Candidates are the best sections by Typesense's own match (every query word preferred,
        none required) plus every section holding a rare query word (at most a page of them),
        so a rare word's sections are never cut off by common words' matches.
        """
        tables = self._tables()
        table = tables.docs
        params = search_params(plan, ranking)
        if params is None:
            return Ranked()
        df = self._df({st for w in plan.words for v in (w.stems, *w.synonyms) for st in v}
                      | {st for p in plan.phrases for st in p})
        want = min(max(depth, CANDIDATES), 1000)
        searches = [dict(params, page=p, per_page=MAX_PAGE) for p in range(1, (want - 1) // MAX_PAGE + 2)]
        searches[0].update(facet_by="category,tag,kind", max_facet_values=20)
        if len(plan.words) > 1:
            extra = " ".join(part for part in required_parts(plan))
            held = {st: sum(df.get((f, st), 0) for f in scoring.FIELDS)
                    for w in plan.words for v in (w.stems, *w.synonyms) for st in v}
            rare = sorted((n, st) for st, n in held.items() if 0 < n <= MAX_PAGE)[:RARE_SEARCHES]
            searches += [dict(params, q=f"{st} {extra}".strip(), drop_tokens_threshold=0, per_page=MAX_PAGE)
                         for _, st in rare]
        results = self._multi(searches)
        if "error" in results[0]:
            raise IndexMissing(f"Typesense could not search {self.gen.collection}: {results[0]['error']}")
        order: dict[int, None] = {}
        for res in results:
            for h in res.get("hits", ()):
                pos = self.gen.positions.get(h["document"]["id"])
                if pos is not None:  # None: written after this generation's table was built
                    order[pos] = None
        candidates = self._analysed(list(order))
        stats = scoring.Stats(len(table.article), tables.mean_lengths, df)
        if plan.words or plan.phrases:
            hits = scoring.rank(plan, ranking, stats, list(candidates.items()))
            if ranking.prf_docs > 0 and ranking.prf_weight > 0 and plan.words and stats.sections >= \
                    ranking.prf_min_sections:
                hits = self._feedback(plan, ranking, stats, hits, candidates)
        else:
            hits = [(1.0, d) for d in candidates]
        return Ranked(hits=hits, total=max(int(results[0].get("found", 0)), len(hits)),
                      facets=facets(results[0].get("facet_counts", ()), table))

    def _analysed(self, positions: list[int]) -> dict[int, scoring.Analysed]:
        """The candidates' analysed text, from a per-generation cache; misses in one request."""
        cache: dict[int, scoring.Analysed] = self.memo("analysed", dict)
        for pos, doc in self._fetch(cache, positions, ANALYSED_CACHE, {"include_fields": "id,title_s,heading_s,body_s"}):
            cache[pos] = scoring.Analysed.of({f: doc.get(f + "_s", "").split() for f in scoring.FIELDS})
        return {d: cache[d] for d in positions if d in cache}

    def _fetch(self, cache: dict[int, Any], positions: list[int], bound: int, fields: dict[str, str]
               ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The sections among `positions` that `cache` lacks, fetched by id in one request (the
        cache is emptied first when they would take it past `bound`)."""
        missing = [d for d in positions if d not in cache and d < len(self.gen.ids)]
        if not missing:
            return
        if len(cache) + len(missing) > bound:
            cache.clear()
        chunks = [missing[i:i + MAX_PAGE] for i in range(0, len(missing), MAX_PAGE)]
        found = self._multi([{"q": "*", "filter_by": "id:[" + ",".join(self.gen.ids[d] for d in chunk) + "]",
                              "per_page": MAX_PAGE, **fields} for chunk in chunks])
        for res in found:
            for h in res.get("hits", ()):
                pos = self.gen.positions.get(h["document"]["id"])
                if pos is not None:
                    yield pos, h["document"]

    def _feedback(self, plan: Plan, ranking: Ranking, stats: scoring.Stats, hits: list[tuple[float, int]],
                  candidates: dict[int, scoring.Analysed]) -> list[tuple[float, int]]:
        """RM3 over the candidates: the top sections' telling terms re-score the rest."""
        top = [(s, candidates[d]) for s, d in hits[:ranking.prf_docs]]
        vocab = {t for _, doc in top for name in ("title", "body") for t in doc.counts[name]}
        df = self._df(vocab)
        body_df = {t: df.get(("body", t), 0) for t in vocab}
        terms = scoring.feedback_terms(ranking, plan, top, body_df, stats.sections)
        if not terms:
            return hits
        return scoring.add_feedback(ranking, stats, hits, candidates, terms)

    def _df(self, stems: Iterable[str]) -> dict[tuple[str, str], int]:
        """(field, stem) -> sections holding it, for these stems and any seen before (cached per generation)."""
        df: dict[tuple[str, str], int] = self.memo("df", dict)
        if len(df) > 300_000:
            df.clear()
        missing = [(f, st) for st in dict.fromkeys(stems) for f in scoring.FIELDS if (f, st) not in df]
        if missing:
            found = self._multi([{"q": st, "query_by": f + "_s", "per_page": 0, "num_typos": 0, "prefix": "false",
                                  "drop_tokens_threshold": 0} for f, st in missing])
            for (f, st), res in zip(missing, found, strict=True):
                df[(f, st)] = int(res.get("found", 0))
        return df

    def _multi(self, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several searches of the live collection, fifty to a request (Typesense's limit)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(searches), 50):
            chunk = [dict(s, collection=self.gen.collection) for s in searches[i:i + 50]]
            out += self.backend.client.multi_search.perform({"searches": chunk}, {})["results"]
        return out

    def stored(self, docnums: Iterable[int]) -> dict[int, StoredSection]:
        """Display fields by section number, from the per-generation cache, misses in one request."""
        wanted = list(docnums)
        # pickled: bytes are nothing for Python's cycle collector to walk, as the Whoosh reader's
        cache: dict[int, bytes] = self.memo("stored", dict)
        for pos, doc in self._fetch(cache, wanted, STORED_CACHE, {"exclude_fields": STORED_EXCLUDE}):
            cache[pos] = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
        return {d: tc.from_document(pickle.loads(cache[d])) for d in wanted if d in cache}

    def article_sections(self, article_id: str) -> list[StoredSection]:
        """The article's sections, by a filter on its key, in page order."""
        res = self._coll.documents.search({"q": "*", "filter_by": f"article_key:={tc.key(article_id)}",
                                           "sort_by": "order:asc", "per_page": MAX_PAGE,
                                           "exclude_fields": STORED_EXCLUDE})
        return [tc.from_document(h["document"]) for h in res.get("hits", ())]

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Articles of the best body matches of the stems, any of them."""
        res = self._coll.documents.search({"q": " ".join(stems), "query_by": "body_s", "num_typos": 0,
                                           "prefix": "false", "drop_tokens_threshold": 1000,
                                           "per_page": min(limit, MAX_PAGE), "include_fields": "article_id"})
        return list(dict.fromkeys(h["document"]["article_id"] for h in res.get("hits", ())))

    def all_stored(self) -> Iterator[StoredSection]:
        """Every section (one export)."""
        raw = self._coll.documents.export({"exclude_fields": STORED_EXCLUDE})
        return (tc.from_document(orjson.loads(line)) for line in raw.splitlines() if line.strip())


class TypesenseBackend:
    """The Typesense cluster named by the settings; thread-safe, opened once per process."""

    def __init__(self, settings: Settings, ranking: Ranking) -> None:
        self.settings = settings
        self.client = tc.client(settings)
        self._gen: _Generation | None = None
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._writes = -1

    def describe(self) -> str:
        """The nodes and the collection."""
        return f"Typesense {','.join(self.settings.typesense_nodes)} (collection {self.settings.typesense_collection})"

    def token(self) -> str | None:
        """The live state's generation (read at most once a second), None when there is no index."""
        try:
            with self.view() as v:
                return v.token
        except IndexMissing:
            return None

    def damage(self) -> str | None:
        """The cluster keeps its own replicas whole: a state that answers is the live one."""
        return None

    def meta_doc(self, doc_id: str) -> dict[str, Any] | None:
        """A document of the meta collection, or None when there is none."""
        try:
            return tc.get_document(self.client, tc.meta_name(self.settings), doc_id)
        except tc.transport_errors() as e:  # every node failed
            raise BackendUnavailable(f"{self.describe()} did not answer: {e}") from e

    @contextmanager
    def view(self) -> Iterator[TypesenseView]:
        """The live state, read at most once a second (a request to the cluster saved on every search);
        a commit made by this process is seen at once, one made elsewhere within `STATE_TTL_S`."""
        gen = self._gen
        commits = tc.LOCAL_COMMITS.count
        if gen is None or time.monotonic() - self._read_at > STATE_TTL_S or self._writes != commits:
            writes = commits
            state = self.meta_doc(tc.STATE)
            if not state:
                raise IndexMissing(f"no index in {self.describe()}: build one with `kb index PATH` "
                                   "and KB_BACKEND=typesense")
            token = f"{state['collection']}:{state['generation']}"
            with self._lock:
                if self._gen is None or self._gen.token != token:
                    self._gen = _Generation(state["collection"], token)
                gen = self._gen
                self._read_at, self._writes = time.monotonic(), writes
        try:
            yield TypesenseView(self, gen)
        except tc.transport_errors() as e:  # every node failed (the client has tried each in turn)
            raise BackendUnavailable(f"{self.describe()} did not answer: {e}") from e
