"""The search facade: open once, then search(), article(), related(), suggest().

`KnowledgeBase.open(...)` is shared by every thread of a process. Everything the reader sees
above the engine happens here, the same for every backend: query parsing, spelling
correction, synonyms, the exact-heading bonus, grouping by article, facets, snippets and the
result types. The engine (Whoosh by default, Typesense with `KB_BACKEND=typesense`) only
ranks and stores, behind `kb.engine`. Every result is a `kb.models` dataclass.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb import text
from kb.config import Settings
from kb.engine import Backend, Plan, Stored, View, Word
from kb.errors import ArticleNotFound
from kb.facets import DocTable
from kb.hits import GROUP_HITS, group_by_article, make_hit, snippet_sources
from kb.models import (
    Article,
    Expansion,
    Facets,
    Group,
    RelatedArticle,
    RelatedLink,
    SearchPage,
    Suggestion,
)
from kb.query import ParsedQuery, parse
from kb.ranking import Ranking
from kb.schema import facet_key, section_from_stored
from kb.spelling import Corrector
from kb.suggest import SuggestList
from kb.synonyms import load

EXACT_DEPTH = 50  # how far down an exact title or heading match is looked for


def open_backend(settings: Settings, ranking: Ranking) -> Backend:
    """The engine the settings name: Whoosh in `index_dir` (default) or a Typesense cluster."""
    if settings.backend == "typesense":
        from kb.typesense_engine import TypesenseBackend

        return TypesenseBackend(settings)
    from kb.whoosh_engine import WhooshBackend

    return WhooshBackend(settings.index_dir, ranking)


class KnowledgeBase:
    """The knowledge base: thread-safe, opened once per process."""

    def __init__(self, settings: Settings, ranking: Ranking | None = None, backend: Backend | None = None) -> None:
        self.settings = settings
        self.index_dir = settings.index_dir
        self.ranking = ranking or Ranking()
        self.synonyms = load(settings.synonyms_file)
        self.backend = backend or open_backend(settings, self.ranking)

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

    def token(self) -> str:
        """Identifies the live committed state; changes with every commit (for HTTP caching)."""
        with self.backend.view() as v:
            return v.token

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
            plan, marks, corrected, expansions = self._plan(parsed, v, categories, tags, kinds, exact)
            if plan.empty:
                ranked: list[tuple[float, int]] = []
                total, engine_facets, matched = 0, None, None
            else:
                depth = max(EXACT_DEPTH, page * per_page * (GROUP_HITS if group == "article" else 1))
                answer = v.rank(plan, self.ranking, depth)
                ranked, total, engine_facets = self._exact_first(v, plan, answer.hits), answer.total, answer.facets
                matched = answer.matched
            docs = v.docs()
            every = matched if matched is not None else [d for _, d in ranked]
            facets = Facets()
            if facets_on:
                facets = engine_facets if engine_facets is not None else docs.facets(every)
            if group == "article":
                groups, total, chosen = group_by_article(docs, ranked, docs.article_counts(every), page, per_page)
            else:
                groups = None
                chosen = ranked[(page - 1) * per_page: page * per_page]
            stored = v.stored(d for _, d in chosen)
            sources = snippet_sources(v, stored) if snippets_on else {}
            hits = {d: make_hit(stored[d], score, sources.get(d), marks) for score, d in chosen}
        page_hits = tuple(hits[d] for _, d in chosen) if groups is None else ()
        out_groups = None
        if groups is not None:
            out_groups = tuple(
                Group(article_id=g[0].article_id, title=g[0].title, url=g[0].url, categories=g[0].categories,
                      modified=g[0].modified, score=g[0].score, hits=tuple(g), more=more)
                for g, more in ((tuple(hits[d] for _, d in members), more) for members, more in groups))
            page_hits = tuple(h for g in out_groups for h in g.hits)
        return SearchPage(query=parsed.cleaned, corrected_query=corrected, expanded_terms=expansions,
                          total=total, page=page, per_page=per_page,
                          took_ms=(time.perf_counter() - started) * 1000, hits=page_hits, groups=out_groups,
                          facets=facets, notices=parsed.notices)

    def _known(self, v: View, word: str) -> bool:
        stems = text.terms(word)
        if not stems or word in self.synonyms:
            return True
        return all(v.known(st) for st in stems)

    def _plan(self, parsed: ParsedQuery, v: View, categories: Sequence[str], tags: Sequence[str],
              kinds: Sequence[str], exact: bool = False
              ) -> tuple[Plan, frozenset[str], str | None, tuple[Expansion, ...]]:
        """The engine-neutral plan, the stems snippets mark, the corrected query and the synonyms used."""
        corrected_text = parsed.cleaned
        corrected = False
        words: list[str] = []
        for w in reversed(parsed.words):  # right to left keeps earlier offsets valid
            folded = text.fold(w.text)
            if not exact and not folded.isdigit() and not self._known(v, folded):
                fix = self._corrector(v).correct(folded)
                if fix is not None:
                    corrected_text = corrected_text[:w.start] + fix + corrected_text[w.end:]
                    corrected = True
                    folded = fix
            words.append(folded)
        words.reverse()

        marks: set[str] = set()
        expansions: list[Expansion] = []
        planned: list[Word] = []
        for word in words:
            own = text.terms(word)
            if not own:
                continue
            marks.update(own)
            syns: list[tuple[str, ...]] = []
            for name in self.synonyms.expand(word):
                syn_terms = text.terms(name)
                if syn_terms and all(v.known(t) for t in syn_terms):
                    syns.append(tuple(syn_terms))
                    expansions.append(Expansion(term=name, source=word))
                    marks.update(syn_terms)
            known = any(v.known(t) for t in (*own, *(t for st in syns for t in st)))
            planned.append(Word(text=word, stems=tuple(own), synonyms=tuple(syns), known=known))

        phrases = tuple(tuple(pt) for pt in map(text.terms, parsed.phrases) if pt)
        fielded = tuple((f, tuple(ft)) for f, ft in ((f, text.terms(value)) for f, value in parsed.fielded) if ft)
        for part in (*phrases, *(ft for _, ft in fielded)):
            marks.update(part)
        excluded = tuple(tuple(t) for t in map(text.terms, parsed.excluded) if t)

        by_field: dict[str, list[str]] = {"category": list(categories), "tag": list(tags), "kind": list(kinds)}
        for fieldname, value in parsed.filters:
            by_field[fieldname].append(value)
        filters = []
        for fieldname, values in by_field.items():
            keys = [v_.strip().lower() if fieldname == "kind" else facet_key(v_) for v_ in values if v_.strip()]
            if keys:
                filters.append((fieldname, tuple(dict.fromkeys(keys))))
        plan = Plan(words=tuple(planned), phrases=phrases, fielded=fielded, excluded=excluded,
                    filters=tuple(filters), key=" ".join(words))
        return (plan, frozenset(marks), corrected_text if corrected else None, tuple(expansions))

    def _exact_first(self, v: View, plan: Plan, ranked: list[tuple[float, int]]) -> list[tuple[float, int]]:
        """Sections whose heading or article title is exactly the query rank first."""
        if not (self.ranking.exact_bonus and ranked and plan.key):
            return ranked
        keys: dict[int, tuple[str, str]] = v.memo("heading_keys", dict)
        head = ranked[:EXACT_DEPTH]
        missing = [d for _, d in head if d not in keys]
        if missing:
            for d, fields in v.stored(missing).items():
                keys[d] = _heading_keys(fields)
        boosted = [i for i, (_, d) in enumerate(head) if plan.key in keys[d]]
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
        first = stored[0]
        meta, art = first["meta"], first.get("article") or {}
        return Article(article_id=article_id, title=first["title"], url=meta["url"],
                       categories=tuple(meta["categories"]), tags=tuple(meta["tags"]),
                       published=art.get("published"), modified=meta["modified"],
                       description=art.get("description", ""), lang=art.get("lang", ""),
                       related=tuple(RelatedLink(**r) for r in art.get("related", ())),
                       sections=tuple(section_from_stored(f) for f in stored))

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
        doc table, the spelling corrector and the suggestion list (a third of a second at 10k
        sections, and a server's first readers should not pay it)."""
        with self.backend.view() as v:
            v.docs()
            self._corrector(v)
            self._suggestions(v)

    def _corrector(self, v: View) -> Corrector:
        return v.memo("corrector", lambda: Corrector(v.vocabulary(), self.synonyms.names()))

    def _suggestions(self, v: View) -> SuggestList:
        return v.memo("suggest", lambda: SuggestList.build(((0, f) for f in v.all_stored()), self.synonyms.names()))


def _related_entry(v: View, docs: DocTable, aid: str, reason: Any) -> RelatedArticle:
    f = v.stored([docs.first_doc(aid)])[docs.first_doc(aid)]
    return RelatedArticle(article_id=aid, title=f["title"], url=f["meta"]["url"], reason=reason)


def _heading_keys(fields: Stored) -> tuple[str, str]:
    """A section's heading and title as comparison keys, for exact-match bonuses."""
    return text.normalize_phrase(fields["meta"]["heading"]), text.normalize_phrase(fields["title"])


def _idf(df: int, n: int) -> float:
    return math.log(1 + n / (1 + df))
