"""From ranked section numbers to a page's hits: snippets, `Hit`s and the grouping by article.

What every search does after ranking, whatever the backend: take the page's sections (or, grouped,
each article's best few), read their text for snippets through the generation's cache, and mark
the query's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kb import snippets, text
from kb.documents import StoredSection
from kb.engines.base import QueryTerm, Scored
from kb.facets import ArticleCounts, DocTable
from kb.lru import LRU
from kb.models import Group, Hit

GROUP_HITS = 3  # an article's best sections shown under it
SNIPPET_SOURCES_BYTES = 24 << 20  # per process: bodies analysed for snippets, most recent kept


@dataclass(frozen=True)
class ArticleSlot:
    """An article on a grouped page: its best matching sections, best first, and how many more matched."""

    members: tuple[Scored, ...]
    more: int


@dataclass(frozen=True)
class GroupedPage:
    """A page of results grouped by article."""

    articles: tuple[ArticleSlot, ...]
    total: int  # how many articles matched
    shown: tuple[Scored, ...]  # the sections the page shows, in order


SourceCache = LRU[str, tuple[Any, ...]]  # a body -> its analysis, as a plain tuple


def source_cache() -> SourceCache:
    """The cache `snippet_sources` reads through: bodies' analyses, most recent kept (bounded)."""
    return LRU(SNIPPET_SOURCES_BYTES, lambda t: snippets.Source._make(t).size())  # the key is the body it holds


def warm_sources(cache: SourceCache, sections: Iterable[StoredSection], share: float = 0.75) -> None:
    """Analyse sections' bodies ahead, while the cache is under `share` of its budget: what the
    snippets of a first-seen query's hits need."""
    for f in sections:
        if cache.used > share * cache.budget:
            return
        if cache.get(f.body) is None:
            cache.put(f.body, tuple(snippets.analyse(f.body)))


def snippet_sources(cache: SourceCache, stored: dict[int, StoredSection]) -> dict[int, snippets.Source]:
    """The sections' bodies read for snippets, through a cache keyed by the body itself: a body is
    analysed once whatever the query or the commit, so a section shown again costs only the marking."""
    # kept as plain tuples: the cycle collector stops walking those (never a NamedTuple's)
    out = {}
    for d, f in stored.items():
        src = cache.get(f.body)
        if src is None:
            src = cache.put(f.body, tuple(snippets.analyse(f.body)))
        out[d] = snippets.Source._make(src)
    return out


def make_hit(f: StoredSection, score: float, source: snippets.Source | None, stems: frozenset[str],
             wanted: Sequence[QueryTerm] = ()) -> Hit:
    """A section's hit: its stored fields, its score, its snippet marked for the stems, and which
    of the `wanted` words (the query's, question words left out) it holds and lacks."""
    html, segs = snippets.render(source, stems) if source is not None else ("", ())
    matched, missing = _coverage(f, wanted, source)
    return Hit(article_id=f.article_id, title=f.title, url=f.url, heading=f.heading, breadcrumb=f.breadcrumb,
               kind=f.kind, anchor=f.anchor, deep_link=f.deep_link, snippet_html=html, snippet=segs, score=score,
               categories=f.categories, tags=f.tags, modified=f.modified, matched_terms=matched,
               missing_terms=missing)


def _coverage(f: StoredSection, wanted: Sequence[QueryTerm], source: snippets.Source | None
              ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The wanted words a section holds (in its title, headings or body, or as a synonym) and lacks;
    the body's terms come from its snippet analysis when there is one (read once per body)."""
    if not wanted:
        return (), ()
    held = set(text.terms(" \n ".join((f.title, *f.breadcrumb, f.heading))))
    held.update(source.terms if source is not None else text.terms(f.body))
    matched: list[str] = []
    missing: list[str] = []
    for w in wanted:
        found = held.issuperset(w.stems) or any(held.issuperset(syn) for syn in w.synonyms)
        (matched if found else missing).append(w.text)
    return tuple(dict.fromkeys(matched)), tuple(dict.fromkeys(missing))


def make_group(hits: tuple[Hit, ...], more: int) -> Group:
    """An article's group: its metadata and score are its best hit's."""
    best = hits[0]
    return Group(article_id=best.article_id, title=best.title, url=best.url, categories=best.categories,
                 modified=best.modified, score=best.score, hits=hits, more=more)


def group_by_article(docs: DocTable, ranked: list[Scored], counts: ArticleCounts, page: int, per_page: int
                     ) -> GroupedPage:
    """The page's articles with their best sections, how many articles matched, and the sections shown.

    `ranked` is the head of the ranking, best first; `counts` is every matching article's section count."""
    article = docs.article
    order: dict[str, list[Scored]] = {}
    wanted = page * per_page
    incomplete = 0  # articles taken that still lack some of their best sections
    for score, d in ranked:  # best first: stop once the page's articles have their best sections
        aid = article[d]
        members = order.get(aid)
        if members is None:
            if len(order) >= wanted:
                if not incomplete:
                    break
                continue
            members = order[aid] = []
            incomplete += 1
        if len(members) < GROUP_HITS:
            members.append((score, d))
            if len(members) == min(GROUP_HITS, counts[aid]):
                incomplete -= 1
    groups = list(order.items())[(page - 1) * per_page: page * per_page]
    slots = tuple(ArticleSlot(tuple(members), counts[aid] - len(members)) for aid, members in groups)
    return GroupedPage(slots, len(counts), tuple(m for slot in slots for m in slot.members))
