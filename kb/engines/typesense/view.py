"""A view of one generation of the live Typesense collection, read from one node.

Every search request filters on the view's generation (`client.visible`), so a commit landing
mid-search changes nothing the search sees, and goes to one node that has applied that
generation (`replicas`), another such node when it fails. Per-generation tables (the doc table,
known stems, spelling vocabulary, suggestions) are built once and shared by every thread, carried
over from the previous generation when they can be (`tables`); sections' analysed text and
display fields are cached by document id across generations (a version's id names content that
never changes). Ranking is two-step: Typesense finds candidates (its text match over the
pre-analysed stems, every query word and synonym preferred but none required), then `scoring`
ranks them with the Whoosh path's BM25F.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from kb import text
from kb.documents import Outline, StoredSection, outline
from kb.engines.base import Plan, Ranked
from kb.engines.typesense import client as tc
from kb.engines.typesense import scoring, tables
from kb.engines.typesense.generation import Generation
from kb.engines.typesense.meta import GRACE_S, read_vocabulary
from kb.engines.typesense.query import COUNTING, MAX_PAGE, candidate_searches, facets, search_params
from kb.engines.typesense.replicas import Replicas
from kb.errors import IndexMissing
from kb.facets import DocTable
from kb.ranking import Ranking

T = TypeVar("T")
STORED_EXCLUDE = "title_s,heading_s,body_s,source_key,article_key,title_n,heading_n,body_n,gen_from,gen_to"
CANDIDATES = 250  # sections Typesense hands to `scoring` per query (more for deep pages)
ANALYSED_CACHE = 50_000  # sections' analysed text kept per process (a few KB each)
STORED_CACHE = 20_000  # sections' display fields kept per process


class Source(Protocol):
    """What a view reads through: the backend's nodes and its per-process caches by document id."""

    replicas: Replicas
    analysed: dict[str, scoring.Analysed]
    stored: dict[str, bytes]

    def prefer(self, url: str) -> None:
        """Read from this node from now on."""


class TypesenseView:
    """A `kb.engines.base.View` of one generation of the live collection, read from one node."""

    counting = COUNTING

    def __init__(self, backend: Source, gen: Generation, url: str) -> None:
        self.backend = backend
        self.gen = gen
        self.token = gen.token
        self.url = url

    def _call(self, request: Callable[[Any], T]) -> T:
        """A request to this view's node; on failure, to another node that has applied this generation."""
        return self.backend.replicas.call(self.gen.state, self.url, request, self._switch)

    def _switch(self, url: str) -> None:
        self.url = url
        self.backend.prefer(url)

    def _docs_of(self, client: Any) -> Any:
        return client.collections[self.gen.collection].documents

    def _visible(self, extra: str = "") -> str:
        return tc.with_filter(extra, self.gen.state.generation)

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
        """The spelling vocabulary the writer saved in the meta collection, as of this generation."""
        meta, gen = self.backend.replicas.meta, self.gen.state.generation
        return self._call(lambda c: read_vocabulary(c, meta, self.gen.collection, gen)).counts

    def docs(self) -> DocTable:
        """The doc table, from one export of the generation's key fields."""
        return self._tables().docs

    def warm(self) -> None:
        """Nothing to read ahead: the node keeps its own caches."""

    def _tables(self) -> tables.Tables:
        memos = self.gen.memos
        if "tables" not in memos:
            with self.gen.tables_lock:  # built once per generation, however many threads ask
                if "tables" not in memos:
                    memos["tables"] = self._carried() or self._call(
                        lambda c: tables.export(c, self.gen.collection, self.gen.state.generation))
                    self.gen.base = None  # the previous generation can go
        result: tables.Tables = memos["tables"]
        return result

    def _carried(self) -> tables.Tables | None:
        """This generation's tables from the previous one's and the commits' change (document
        frequencies too), when the previous one is recent enough that no version it saw has been
        deleted since (`meta.GRACE_S`); None when they cannot be carried over."""
        base, state = self.gen.base, self.gen.state
        if base is None or "tables" not in base.memos or time.monotonic() - base.seen > GRACE_S / 2:
            return None
        old: tables.Tables = base.memos["tables"]
        diff = self._call(lambda c: tables.change(c, state.collection, old.generation, state.generation))
        new = tables.advance(old, diff, state.generation)
        if state.sections >= 0 and len(new.rows) != state.sections:
            return None  # not what the writer counted: export it whole
        self.gen.memos["df"] = diff.adjust(dict(base.memos.get("df", {})))
        return new

    def rank(self, plan: Plan, ranking: Ranking, depth: int) -> Ranked:
        """Typesense finds the candidates; `scoring` ranks them with the Whoosh path's BM25F.

        Candidates are the best sections by Typesense's own match (every query word preferred,
        none required) plus every section holding a rare query word (at most a page of them),
        so a rare word's sections are never cut off by common words' matches.
        """
        tabs = self._tables()
        params = search_params(plan, ranking)
        if params is None:
            return Ranked()
        params["filter_by"] = self._visible(params["filter_by"])
        df = self._df({st for w in plan.words for v in (w.stems, *w.synonyms) for st in v}
                      | {st for p in plan.phrases for st in p})
        results = self._multi(candidate_searches(plan, params, df, min(max(depth, CANDIDATES), 1000)))
        if "error" in results[0]:
            raise IndexMissing(f"Typesense could not search {self.gen.collection}: {results[0]['error']}")
        order: dict[int, None] = {}
        for res in results:
            for h in res.get("hits", ()):
                pos = tabs.positions.get(h["document"]["id"])
                if pos is not None:
                    order[pos] = None
        candidates = self._analysed(list(order))
        stats = scoring.Stats(len(tabs.ids), tabs.mean_lengths, df)
        complete = None
        if plan.words or plan.phrases:
            hits, matched = scoring.rank(plan, ranking, stats, list(candidates.items()))
            if ranking.prf_docs > 0 and ranking.prf_weight > 0 and plan.words and stats.sections >= \
                    ranking.prf_min_sections:
                hits = self._feedback(plan, ranking, stats, hits, candidates)
            hits = scoring.tiered(plan, ranking, hits, matched)
            n = sum(scoring.groups(plan, ranking)[1])
            complete = sum(1 for m in matched.values() if m == n)  # among the candidates
        else:
            hits = [(1.0, d) for d in candidates]
        return Ranked(hits=hits, total=max(int(results[0].get("found", 0)), len(hits)),
                      facets=facets(results[0].get("facet_counts", ()), tabs.docs), complete=complete,
                      rule="all-words" if scoring.all_words(plan, ranking) else "any-words")

    def _analysed(self, positions: list[int]) -> dict[int, scoring.Analysed]:
        """The candidates' analysed text, cached by document id; misses in one request."""
        ids = self._tables().ids
        cache: dict[str, scoring.Analysed] = self.backend.analysed
        fresh = {doc["id"]: scoring.Analysed.of({f: doc.get(f + "_s", "").split() for f in scoring.FIELDS})
                 for doc in self._fetch(cache, [ids[p] for p in positions], ANALYSED_CACHE,
                                        {"include_fields": "id,title_s,heading_s,body_s"})}
        cache.update(fresh)
        out = {}
        for p in positions:
            found = fresh.get(ids[p]) or cache.get(ids[p])
            if found is not None:
                out[p] = found
        return out

    def _fetch(self, cache: Mapping[str, Any], wanted: list[str], bound: int, fields: dict[str, str]
               ) -> list[dict[str, Any]]:
        """The documents among `wanted` that `cache` lacks, fetched by id (the cache is emptied first
        when they would take it past `bound`)."""
        missing = [i for i in wanted if i not in cache]
        if not missing:
            return []
        if len(cache) + len(missing) > bound and isinstance(cache, dict):
            cache.clear()
        chunks = [missing[i:i + MAX_PAGE] for i in range(0, len(missing), MAX_PAGE)]
        found = self._multi([{"q": "*", "filter_by": "id:[" + ",".join(chunk) + "]", "per_page": MAX_PAGE,
                              **fields} for chunk in chunks])
        return [h["document"] for res in found for h in res.get("hits", ())]

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
        if "df" not in self.gen.memos:
            self._tables()  # may carry the previous generation's over
        df: dict[tuple[str, str], int] = self.memo("df", dict)
        if len(df) > 300_000:
            df.clear()
        missing = [(f, st) for st in dict.fromkeys(stems) for f in (*scoring.FIELDS, "*") if (f, st) not in df]
        if missing:
            # "*": sections holding the stem in any field (BM25F's idf)
            found = self._multi([{"q": st, "query_by": "title_s,heading_s,body_s" if f == "*" else f + "_s",
                                  "per_page": 0, "num_typos": 0, "prefix": "false",
                                  "drop_tokens_threshold": 0, "filter_by": self._visible()} for f, st in missing])
            for (f, st), res in zip(missing, found, strict=True):
                df[(f, st)] = int(res.get("found", 0))
        return df

    def _multi(self, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several searches of the live collection, fifty to a request (Typesense's limit)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(searches), 50):
            body = {"searches": [dict(s, collection=self.gen.collection) for s in searches[i:i + 50]]}

            def perform(c: Any, body: dict[str, Any] = body) -> dict[str, Any]:
                answer: dict[str, Any] = c.multi_search.perform(body, {})
                return answer

            out += self._call(perform)["results"]
        return out

    def heading_keys(self, docnums: Iterable[int]) -> dict[int, tuple[str, str]]:
        """Some sections' heading and title as exact-match keys, from their display fields."""
        return {d: (text.normalize_phrase(st.heading), text.normalize_phrase(st.title))
                for d, st in self.stored(docnums).items()}

    def stored(self, docnums: Iterable[int]) -> dict[int, StoredSection]:
        """Display fields by section number, cached by document id, misses in one request."""
        ids = self._tables().ids
        wanted = [d for d in docnums if 0 <= d < len(ids)]
        # pickled: bytes are nothing for Python's cycle collector to walk, as the Whoosh reader's
        cache: dict[str, bytes] = self.backend.stored
        fresh = {doc["id"]: pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
                 for doc in self._fetch(cache, [ids[d] for d in wanted], STORED_CACHE,
                                        {"exclude_fields": STORED_EXCLUDE})}
        cache.update(fresh)
        out = {}
        for d in wanted:
            raw = fresh.get(ids[d]) or cache.get(ids[d])
            if raw is not None:
                out[d] = tc.from_document(pickle.loads(raw))
        return out

    def article_sections(self, article_id: str) -> list[StoredSection]:
        """The article's sections, by a filter on its key, in page order."""
        params = {"q": "*", "filter_by": self._visible(f"article_key:={tc.key(article_id)}"),
                  "sort_by": "order:asc", "per_page": MAX_PAGE, "exclude_fields": STORED_EXCLUDE}
        res = self._call(lambda c: self._docs_of(c).search(params))
        return [tc.from_document(h["document"]) for h in res.get("hits", ())]

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Articles of the best body matches of the stems, any of them."""
        params = {"q": " ".join(stems), "query_by": "body_s", "num_typos": 0, "prefix": "false",
                  "drop_tokens_threshold": 1000, "per_page": min(limit, MAX_PAGE), "include_fields": "article_id",
                  "filter_by": self._visible()}
        res = self._call(lambda c: self._docs_of(c).search(params))
        return list(dict.fromkeys(h["document"]["article_id"] for h in res.get("hits", ())))

    def outlines(self) -> Iterator[Outline]:
        """Every section's outline (one export)."""
        return (outline(st) for st in self.all_stored())

    def all_stored(self) -> Iterator[StoredSection]:
        """Every section (one export)."""
        rows = self._call(lambda c: tc.export_rows(c, self.gen.collection, {"exclude_fields": STORED_EXCLUDE,
                                                                            "filter_by": self._visible()}))
        return (tc.from_document(row) for row in rows)
