"""The search facade: open once, then search(), article(), related(), suggest().

`KnowledgeBase.open(...)` is shared by every thread of a process. Everything the reader sees
above the engine happens here, the same for every backend: query parsing, spelling
correction, synonyms, the exact-heading bonus, grouping by article, facets, snippets and the
result types (the query's plan is made by `kb.planner`). The engine (Whoosh by default,
Typesense with `KB_BACKEND=typesense`) only ranks and stores, behind `kb.engines.base`.
Every result is a `kb.models` dataclass.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from kb import text
from kb.config import Settings
from kb.documents import article_from
from kb.engines.base import Backend, Plan, Scored, View
from kb.engines.registry import open_backend
from kb.errors import ArticleNotFound
from kb.facets import DocTable
from kb.hits import (
    GROUP_HITS,
    group_by_article,
    make_group,
    make_hit,
    snippet_sources,
    source_cache,
    warm_sources,
)
from kb.models import Article, Facets, RelatedArticle, SearchPage, Suggestion
from kb.planner import Filters, Planner
from kb.query import loosen, parse
from kb.ranking import Ranking
from kb.spelling import Corrector
from kb.suggest import SuggestList
from kb.synonyms import load
from kb.words import dictionary

EXACT_DEPTH = 50  # how far down an exact title or heading match is looked for
FEW_RESULTS = 5  # below this many matches, a real word the index lacks gets a "Did you mean"
T = TypeVar("T")
LAG_S = 10.0  # how long a suggestion list or spelling corrector built before a commit may still answer after it


class KnowledgeBase:
    """The knowledge base: thread-safe, opened once per process."""

    def __init__(self, settings: Settings, ranking: Ranking | None = None, backend: Backend | None = None) -> None:
        self.settings = settings
        self.index_dir = settings.index_dir
        self.ranking = ranking or Ranking()
        self.synonyms = load(settings.synonyms_file)
        self.backend = backend or open_backend(settings, self.ranking)
        self.planner = Planner(self.synonyms, self._corrector)
        self._latest: dict[str, _Held[Any]] = {}  # name -> the latest state's own table of that name
        self._sources = source_cache()  # bodies analysed for snippets, whatever the generation
        self._sources_warmed = False

    @classmethod
    def open(cls, index_dir: Path | str | None = None, settings: Settings | None = None,
             ranking: Ranking | None = None) -> KnowledgeBase:
        """Open the knowledge base in `index_dir` (or the one `settings` name)."""
        settings = settings or Settings()
        if index_dir is not None:
            settings = settings.with_(index_dir=Path(index_dir))
        kb = cls(settings, ranking)
        with kb.backend.view():  # fail early with a clear message when there is no index
            pass
        return kb

    def damage(self) -> str | None:
        """Why the live index cannot be read while an older state answers searches; None when it can."""
        return self.backend.damage()

    def token(self) -> str | None:
        """Identifies the live committed state, cheaply; changes with every commit (for HTTP caching).
        None when there is no index."""
        return self.backend.token()

    # -- stats --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """How big the knowledge base is: articles and sections."""
        with self.backend.view() as v:
            return {"articles": v.docs().article_count(), "sections": v.section_count()}

    # -- search -------------------------------------------------------------------------

    def search(self, query: str, *, page: int = 1, per_page: int = 10, categories: Sequence[str] = (),
               tags: Sequence[str] = (), kinds: Sequence[str] = (), group: str | None = None,
               snippets_on: bool = True, facets_on: bool = True, exact: bool = False) -> SearchPage:
        """Search sections; any string at all gives a page of results or an empty one.

        `exact` turns spelling correction off ("search instead for ...").
        """
        started = time.perf_counter()
        page, per_page = max(1, int(page)), max(1, min(100, int(per_page)))
        parsed = parse(query, self.settings.max_query_chars)
        with self.backend.view() as v:
            planned = self.planner.plan(parsed, v, Filters(categories, tags, kinds), exact)
            plan = planned.plan
            rule, complete = "any-words", None
            if plan.empty:
                ranked: list[Scored] = []
                total, engine_facets, matched = 0, None, None
            else:
                depth = max(EXACT_DEPTH, page * per_page * (GROUP_HITS if group == "article" else 1))
                answer = v.rank(plan, self.ranking, depth)
                if not answer.total and parsed.phrases:  # a phrase nobody wrote: fall back to its words
                    parsed = loosen(parsed)
                    planned = self.planner.plan(parsed, v, Filters(categories, tags, kinds), exact)
                    plan = planned.plan
                    answer = v.rank(plan, self.ranking, depth)
                ranked, total, engine_facets = self._exact_first(v, plan, answer.hits), answer.total, answer.facets
                matched, rule, complete = answer.matched, answer.rule, answer.complete
            docs = v.docs()
            every = matched if matched is not None else [d for _, d in ranked]
            facets = Facets()
            if facets_on:
                if group == "article":  # counted in the unit the results come in
                    facets = docs.facets(every, per_article=True)
                else:
                    facets = engine_facets if engine_facets is not None else docs.facets(every)
            grouped = None
            if group == "article":
                grouped = group_by_article(docs, ranked, docs.article_counts(every), page, per_page)
                total, chosen = grouped.total, list(grouped.shown)
            else:
                chosen = ranked[(page - 1) * per_page: page * per_page]
            stored = v.stored(d for _, d in chosen)
            sources = snippet_sources(self._sources, stored) if snippets_on else {}
            wanted = [w for w in plan.words if w.stems and not w.optional]
            hits = {d: make_hit(stored[d], score, sources.get(d), planned.marks, wanted) for score, d in chosen}
        groups = None
        if grouped is None:
            page_hits = tuple(hits[d] for _, d in chosen)
        else:
            groups = tuple(make_group(tuple(hits[d] for _, d in slot.members), slot.more)
                           for slot in grouped.articles)
            page_hits = tuple(h for g in groups for h in g.hits)
        return SearchPage(query=parsed.cleaned, corrected_query=planned.corrected,
                          expanded_terms=planned.expansions, total=total, page=page, per_page=per_page,
                          took_ms=(time.perf_counter() - started) * 1000, hits=page_hits, groups=groups,
                          facets=facets, notices=parsed.notices, counted=v.counting, rule=rule, complete=complete,
                          suggestion=planned.suggestion if total < FEW_RESULTS else None)

    def _exact_first(self, v: View, plan: Plan, ranked: list[Scored]) -> list[Scored]:
        """Sections whose article title is exactly the query rank first, then sections headed with
        exactly the query in an article about it."""
        if not (self.ranking.exact_bonus and ranked and plan.key):
            return ranked
        head = ranked[:EXACT_DEPTH]
        keys = v.heading_keys(d for _, d in head)
        # an article titled with the query first; a section headed with it only when its article's
        # title names some of the query too ("Baclofen" under "Spinal cord injury" is not the topic)
        stems = set(plan.stems)
        boosted = [i for i, (_, d) in enumerate(head) if d in keys and (
            plan.key == keys[d][1] or (plan.key == keys[d][0] and not stems.isdisjoint(text.terms(keys[d][1]))))]
        boosted.sort(key=lambda i: plan.key != keys[head[i][1]][1])  # titles before headings, stably
        if not boosted:
            return ranked
        top = ranked[0][0]
        chosen = set(boosted)
        return [(ranked[i][0] + top, ranked[i][1]) for i in boosted] + [x for i, x in enumerate(ranked)
                                                                          if i not in chosen]

    # -- articles -----------------------------------------------------------------------

    def article(self, article_id: str) -> Article:
        """The article as indexed; raises ArticleNotFound."""
        with self.backend.view() as v:
            stored = v.article_sections(article_id)
        if not stored:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        return article_from(stored)

    def related(self, article_id: str, limit: int = 5) -> list[RelatedArticle]:
        """Articles related to one: its own "See also" links, then shared tags, then similar text."""
        article = self.article(article_id)
        out: list[RelatedArticle] = []
        seen = {article_id}
        with self.backend.view() as v:
            docs = v.docs()
            for link in article.related:
                target = docs.article_by_url(link.url)
                if target in seen or any(r.url == link.url for r in out):
                    continue
                if target:
                    seen.add(target)
                out.append(RelatedArticle(article_id=target, title=link.title, url=link.url, reason="see-also"))
            for aid in docs.sharing_tags(article.tags):
                if aid not in seen and len(out) < limit:
                    seen.add(aid)
                    out.append(_related_entry(v, docs, aid, "tags"))
            if len(out) < limit:
                words = Counter(t for sec in article.sections for t in text.terms(sec.text))
                n = max(1, v.section_count())
                df = v.document_frequencies(list(words))
                key_terms = sorted(words, key=lambda t: -words[t] * _idf(df[t], n))[:12]
                if key_terms:
                    for aid in v.similar(key_terms, 50):
                        if aid not in seen and len(out) < limit:
                            seen.add(aid)
                            out.append(_related_entry(v, docs, aid, "similar"))
        return out[:limit]

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Titles, headings and medicine names that start with what the reader has typed."""
        with self.backend.view() as v:
            return self._suggestions(v).match(prefix[: self.settings.max_query_chars], limit)

    def warm(self) -> None:
        """Build now what the first searches of the live generation would otherwise wait for: the
        word list, the doc table, the spelling corrector, the suggestion list, what the engine reads
        ahead, and (once a process, while the cache has room) the sections' bodies analysed for
        snippets: a server's first readers should not pay for them."""
        dictionary()  # the English word list spelling consults (read once a process)
        with self.backend.view() as v:
            v.docs()
            v.warm()
            self._corrector(v)
            self._suggestions(v)
            if not self._sources_warmed:  # once a process: the cache is by body, whatever the commit
                self._sources_warmed = True
                warm_sources(self._sources, v.all_stored())

    def _corrector(self, v: View) -> Corrector:
        """The spelling corrector (`_lagging`): its vocabulary file is rewritten by every commit."""
        def build() -> Corrector:
            last = self._latest.get("corrector")  # its answers carry over (`Corrector.following`)
            return Corrector.following(last.value if last else None, v.vocabulary(), self.synonyms.names())

        return self._lagging(v, "corrector", build)

    def _suggestions(self, v: View) -> SuggestList:
        """The suggestion list (`_lagging`): a build reads every section's outline."""
        return self._lagging(v, "suggest", lambda: SuggestList.build(v.outlines(), self.synonyms.names()))

    def _lagging(self, v: View, name: str, build: Callable[[], T]) -> T:
        """This state's table `name`, or one built for a state at most `LAG_S` older: a commit every
        half second must not rebuild each of them in every process each time. The warmer rebuilds
        it once the lag is spent, so an edit's words and titles are suggested within `LAG_S` more."""
        held: _Held[T] = v.memo(name, lambda: self._carried(name, build))
        if not held.own and time.monotonic() - held.built >= LAG_S:
            built = time.monotonic()
            held.value, held.built, held.own = build(), built, True
            self._latest[name] = held
        return held.value

    def _carried(self, name: str, build: Callable[[], T]) -> _Held[T]:
        last = self._latest.get(name)
        if last is not None and time.monotonic() - last.built < LAG_S:
            return _Held(last.value, last.built, own=False)
        built = time.monotonic()
        held = self._latest[name] = _Held(build(), built, own=True)
        return held


class _Held(Generic[T]):
    """A state's table: its own (`own`), or carried from an older state's, built at `built`."""

    __slots__ = ("built", "own", "value")

    def __init__(self, value: T, built: float, own: bool) -> None:
        self.value, self.built, self.own = value, built, own


def _related_entry(v: View, docs: DocTable, aid: str, reason: Any) -> RelatedArticle:
    f = v.stored([docs.first_doc(aid)])[docs.first_doc(aid)]
    return RelatedArticle(article_id=aid, title=f.title, url=f.url, reason=reason)




def _idf(df: int, n: int) -> float:
    return math.log(1 + n / (1 + df))
