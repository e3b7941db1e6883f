"""Parse stage, metadata: one pass over the whole page, then the article's facts.

`scan` visits every element once and keeps what later steps need: `<head>` metadata,
JSON-LD, `<h1>`s, `<time>`s, category/tag links, every id on the page and the candidate
content containers. `read_metadata` turns that into the article's id, title, URL,
categories, tags, dates, description and language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from indexer.anchors import browser_url, href_host
from indexer.article_ids import article_id_for
from indexer.clean import class_text, in_page_chrome
from indexer.element_text import element_text, norm
from indexer.jsonld import LinkedData, read_linked_data
from indexer.title import TitleSources, choose_title

# Containers of the article text, most specific first: (tier, how it is recognised).
CONTENT_CLASSES = frozenset({
    "entry-content", "post-content", "article-content", "article-body", "article__body",
    "article__content", "post-body", "post__content", "entry__content", "td-post-content",
    "single-post-content", "blog-post-content", "post-entry", "post-full-content", "gh-content",
    "story-body", "c-article-body", "field--name-body", "rich-text",
})  # fmt: skip
# What marks the element holding one whole post, when it is not an <article>.
_ENTRY_CLASSES = frozenset({"hentry", "h-entry", "type-post", "post-outer"})
TIER_ITEMPROP, TIER_CLASS, TIER_ARTICLE, TIER_ROLE_MAIN, TIER_MAIN = range(5)

_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_HEADLINE_CLASS = re.compile(r"title|headline", re.I)


@dataclass
class PageScan:
    """What the single pass over the document found (bs4 objects never leave `indexer`)."""

    lang: str = ""
    title_tag: str = ""
    metas: dict[str, list[str]] = field(default_factory=dict)
    canonical: str = ""
    ld_blocks: list[str] = field(default_factory=list)
    h1s: list[Tag] = field(default_factory=list)
    headings: list[Tag] = field(default_factory=list)  # h1-h3 and headline-classed elements
    times: list[Tag] = field(default_factory=list)
    rel_links: list[Tag] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    candidates: list[tuple[int, Tag]] = field(default_factory=list)
    link_hosts: Counter[str] = field(default_factory=Counter)  # hosts the page's absolute links name
    body: Tag | None = None

    def home_host(self, url: str) -> str:
        """The site's host: the page URL's, else the one its absolute links name most."""
        host = urlsplit(url).netloc.lower()
        if host or not self.link_hosts:
            return host
        return self.link_hosts.most_common(1)[0][0]

    def meta(self, *keys: str) -> str:
        """The first non-empty content among these meta names/properties."""
        for key in keys:
            for value in self.metas.get(key, ()):
                if value.strip():
                    return norm(value)
        return ""


def scan(soup: BeautifulSoup) -> PageScan:
    """Visit every element once and collect metadata, ids and content candidates."""
    page = PageScan()
    for el in soup.descendants:
        if type(el) is not Tag:
            continue
        name = el.name
        attrs = el.attrs
        if attrs:
            ident = attrs.get("id")
            if isinstance(ident, str) and ident:
                page.ids.add(ident)
            classes = attrs.get("class")
            if classes and not CONTENT_CLASSES.isdisjoint(classes):
                page.candidates.append((TIER_CLASS, el))
            if attrs.get("itemprop") == "articleBody":
                page.candidates.append((TIER_ITEMPROP, el))
            if attrs.get("role") == "main":
                page.candidates.append((TIER_ROLE_MAIN, el))
            if classes and _HEADLINE_CLASS.search(classes if isinstance(classes, str) else " ".join(classes)):
                page.headings.append(el)
        if name == "meta":
            key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
            content = attrs.get("content")
            if isinstance(key, str) and isinstance(content, str):
                page.metas.setdefault(key.strip().lower(), []).append(content)
        elif name == "a":
            href = attrs.get("href")
            if isinstance(href, str) and "//" in href:
                page.link_hosts[href_host(href)] += 1
            rel = attrs.get("rel")
            if rel and ("tag" in rel or "category" in rel):
                page.rel_links.append(el)
            anchor_name = attrs.get("name")
            if isinstance(anchor_name, str) and anchor_name:
                page.ids.add(anchor_name)
        elif name == "link":
            rel = attrs.get("rel")
            if rel and "canonical" in rel and not page.canonical and isinstance(attrs.get("href"), str):
                page.canonical = str(attrs["href"]).strip()
        elif name == "script":
            kind = attrs.get("type")
            if isinstance(kind, str) and "ld+json" in kind.lower():
                page.ld_blocks.append(el.get_text())
        elif name == "h1":
            page.h1s.append(el)
            page.headings.append(el)
        elif name in ("h2", "h3"):
            page.headings.append(el)
        elif name == "time":
            page.times.append(el)
        elif name == "article":
            page.candidates.append((TIER_ARTICLE, el))
        elif name == "main":
            page.candidates.append((TIER_MAIN, el))
        elif name == "title":
            # The page's <title>, wherever a broken page put it (but not an SVG's <title>).
            if not page.title_tag and el.find_parent("svg") is None:
                page.title_tag = norm(el.get_text())
        elif name == "html":
            if not page.lang and isinstance(attrs.get("lang"), str):
                page.lang = str(attrs["lang"]).strip()
        elif name == "body" and page.body is None:
            page.body = el
    return page


@dataclass(frozen=True)
class Metadata:
    """The article's facts, as plain data."""

    article_id: str
    title: str
    url: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    published: str | None
    modified: str | None
    description: str
    lang: str
    faq: tuple[tuple[str, str], ...]


def iso_date(value: str) -> str | None:
    """The value if it is an ISO 8601 date or date-time (normalised if space-separated), else None."""
    v = value.strip()
    if not _ISO_DATE.fullmatch(v):
        return None
    try:
        parsed = date.fromisoformat(v) if len(v) == 10 else datetime.fromisoformat(v.replace(" ", "T", 1))
    except ValueError:
        return None
    return v if len(v) == 10 or "T" in v else parsed.isoformat()


def _dedupe(values: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        v = norm(value)
        if v and v.casefold() not in seen:
            seen[v.casefold()] = v
    return tuple(seen.values())


def article_scope(container: Tag) -> Tag | None:
    """The element holding the whole post (an `<article>`, an h-entry, a schema.org
    BlogPosting) around the content container, itself included, if there is one."""
    node: Tag | None = container
    while node is not None:
        if node.name == "article":
            return node
        attrs = node.attrs
        if attrs:
            classes = attrs.get("class")
            kind = attrs.get("itemtype")
            if (classes and not _ENTRY_CLASSES.isdisjoint(classes)) or (
                isinstance(kind, str) and ("Article" in kind or "BlogPosting" in kind)
            ):
                return node
        node = node.parent
    return None


def _inside(el: Tag, scope: Tag) -> bool:
    node = el.parent
    while node is not None:
        if node is scope:
            return True
        node = node.parent
    return False


def _in_article(el: Tag, scope: Tag | None) -> bool:
    return _inside(el, scope) if scope is not None else not in_page_chrome(el)


def title_h1(page: PageScan, container: Tag, spare: AbstractSet[int] = frozenset()) -> Tag | None:
    """The article's own `<h1>`: in its `<article>` (or the container), not in page chrome."""
    scope = article_scope(container) or container
    for h1 in page.h1s:
        if _inside(h1, scope) and element_text(h1) and not in_page_chrome(h1, spare=spare):
            return h1
    return None


def _dates(page: PageScan, scope: Tag | None, ld: LinkedData) -> tuple[str | None, str | None]:
    published = [page.meta("article:published_time", "datepublished", "og:published_time")]
    modified = [page.meta("article:modified_time", "datemodified", "og:updated_time")]
    unmarked: list[str] = []
    for t in page.times:
        value = t.get("datetime")
        if not isinstance(value, str) or not _in_article(t, scope):
            continue
        marks = f"{class_text(t)} {t.get('itemprop') or ''}".lower()
        if "updated" in marks or "modified" in marks:
            modified.append(value)
        elif "published" in marks or "entry-date" in marks:
            published.append(value)
        else:
            unmarked.append(value)
    published.append(ld.published)
    modified.append(ld.modified)
    published.extend(unmarked[:1])  # last resort: the article's first <time datetime>
    return _first_date(published), _first_date(modified)


def _first_date(candidates: list[str]) -> str | None:
    return next((d for v in candidates if v and (d := iso_date(v))), None)


def read_metadata(
    page: PageScan, container: Tag, title_el: Tag | None, *, source: str, fallback_url: str,
    spare: AbstractSet[int] = frozenset(),
) -> Metadata:
    """The article's id, title, URL, categories, tags, dates, description and language."""
    ld = read_linked_data(page.ld_blocks)
    og_url = browser_url(page.meta("og:url"), fallback_url) or "" if page.meta("og:url") else ""
    canonical = (browser_url(page.canonical, og_url or fallback_url) or "") if page.canonical else ""
    site_name = page.meta("og:site_name")
    scope = article_scope(container)
    sources = TitleSources(
        h1=element_text(title_el) if title_el is not None else "",
        h1_in_article=title_el is not None and scope is not None and _inside(title_el, scope),
        og_title=page.meta("og:title"),
        headline=ld.headline,
        doc_title=page.title_tag,
        site_name=site_name,
    )
    title = choose_title(sources, page.headings, page.h1s, spare)
    categories = [*page.metas.get("article:section", []), *ld.sections]
    tags = [*page.metas.get("article:tag", []), *ld.keywords]
    for a in page.rel_links:
        if not _in_article(a, scope):
            continue
        rel = a.get_attribute_list("rel")
        (categories if "category" in rel else tags).append(element_text(a))
    published, modified = _dates(page, scope, ld)
    lang = page.lang or page.meta("og:locale").replace("_", "-")
    return Metadata(
        article_id=article_id_for(canonical or og_url, source),
        title=title,
        url=canonical or og_url or fallback_url,
        categories=_dedupe(categories),
        tags=_dedupe(tags),
        published=published,
        modified=modified,
        description=page.meta("description", "og:description") or ld.description,
        lang=lang,
        faq=tuple(ld.faq),
    )
