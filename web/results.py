"""The results page's display fields, computed here so the template only lays them out.

Links (facet toggles, filter removal, pagination, article views) are built from the one
`SearchArgs` the data function read, so every link keeps the rest of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from flask import g, url_for
from markupsafe import Markup

from kb.documents import facet_key
from kb.models import Expansion, FacetValue, Group, Hit, SearchPage
from web.links import site_host, site_href
from web.params import SearchArgs

LEAD_LABEL = "Introduction"  # a lead hit's heading: the article's title is already shown above it
# Where in an article a section is, in the reader's words (the `kind` filter).
KIND_LABELS = {"lead": "Introductions", "section": "Article text", "faq": "FAQ answers"}
FACETS = (("categories", "category", "Category"), ("tags", "tag", "Tag"), ("kinds", "kind", "Found in"))
PAGE_WINDOW = 2
ECHO_CHARS = 120  # the query as repeated in the results heading; the search box keeps all of it
EXPANSIONS_SHOWN = 6


@dataclass(frozen=True)
class HitView:
    """One section of an article among the results: its heading opens it in the local view."""

    breadcrumb: str
    badge: str | None
    snippet: Markup
    href: str
    source_href: str | None  # the section on the source site, when the article has one
    missing: tuple[str, ...] = ()  # the query's words this section lacks ("Missing: tinnitus")


@dataclass(frozen=True)
class GroupView:
    """An article among the results with its best sections."""

    title: str
    href: str
    site: str  # the source site's host, "" when the article has no site URL
    categories: str
    modified: str | None
    modified_iso: str | None
    hits: list[HitView]
    more: int
    more_href: str


@dataclass(frozen=True)
class Link:
    """A labelled link; `active` marks the current page or an applied filter."""

    label: str
    href: str
    count: int | None = None
    active: bool = False


@dataclass(frozen=True)
class FacetBlock:
    """One facet (category, tag or kind) with its values as toggling links."""

    title: str
    param: str
    values: list[Link]


@dataclass(frozen=True)
class Answer:
    """The best hit shown as an answer card when it is a FAQ entry."""

    question: str
    answer: list[Markup]
    article_href: str
    source_href: str | None
    title: str
    article_id: str
    anchor: str


@dataclass(frozen=True)
class Echo:
    """The query as the results heading repeats it: cut when long (the box keeps it whole)."""

    text: str
    cut: bool


@dataclass(frozen=True)
class Expansions:
    """The synonyms searched too, each once, the first few by name."""

    shown: list[Expansion]
    more: int


def display_date(value: str | None) -> str | None:
    """An ISO date or datetime as "3 Apr 2024" (unparseable values are shown as they are)."""
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value[:32]
    return f"{d.day} {d:%b %Y}"


def search_href(args: SearchArgs, **changes: object) -> str:
    """The results page for these args with some parameters changed."""
    qs = args.query_string(**changes)
    return _url("pages.search") + ("?" + qs if qs else "")


def article_href(article_id: str, q: str, anchor: str | None = None) -> str:
    """The local article view, with the query to highlight and the section to land on.

    Built as `url_for` builds it (query and anchor quoted alike), from the path it built once per
    request: a results page links each article up to four times and itself dozens of times."""
    href = _url("pages.article", article_id=article_id)
    if q:
        href += _query_part(q)
    if anchor:
        href += "#" + quote(anchor, safe=_ANCHOR_SAFE)
    return href


@lru_cache(maxsize=1024)
def _query_part(q: str) -> str:
    return "?" + urlencode({"q": q}, safe=_QUERY_SAFE)


_QUERY_SAFE = "!$'()*,/:;?@"  # what Werkzeug leaves unquoted in a built URL's query
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"  # and Flask in its anchor


def _url(endpoint: str, **values: Any) -> str:
    """`url_for(endpoint, **values)`, remembered for the rest of the request."""
    cache: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = g.setdefault("_urls", {})
    key = (endpoint, tuple(values.items()))
    found = cache.get(key)
    if found is None:
        found = cache[key] = url_for(endpoint, **values)
    return found


def hit_view(hit: Hit, q: str) -> HitView:
    """Display fields of a hit."""
    lead = hit.kind == "lead" or not (hit.breadcrumb or hit.heading)
    crumb = LEAD_LABEL if lead else " › ".join(hit.breadcrumb) or hit.heading
    # A lead opens the article at its top, title in view (the lead starts right under it).
    return HitView(breadcrumb=crumb, badge="FAQ" if hit.kind == "faq" else None,
                   snippet=Markup(hit.snippet_html),  # made safe in kb.snippets: only <mark>
                   href=article_href(hit.article_id, q, None if lead else hit.anchor),
                   source_href=site_href(hit.deep_link), missing=hit.missing_terms)


def group_view(group: Group, q: str, answered: Answer | None = None) -> GroupView | None:
    """Display fields of an article among the results, without the section the answer card
    already shows (None when that was its only one)."""
    hits = [h for h in group.hits
            if answered is None or (h.article_id, h.anchor) != (answered.article_id, answered.anchor)]
    if not hits:
        return None
    site = site_href(group.url)
    return GroupView(title=group.title, href=article_href(group.article_id, q), site=site_host(site) if site else "",
                     categories=", ".join(group.categories), modified=display_date(group.modified),
                     modified_iso=group.modified, hits=[hit_view(h, q) for h in hits], more=group.more,
                     more_href=article_href(group.article_id, q))


def echo(query: str) -> Echo:
    """The query for the results heading: at most ECHO_CHARS, cut at a word."""
    if len(query) <= ECHO_CHARS:
        return Echo(query, False)
    cut = query[:ECHO_CHARS]
    return Echo((cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip() + "…", True)


def expansions(page: SearchPage) -> Expansions:
    """The synonyms the search added, repeats dropped, the first EXPANSIONS_SHOWN by name."""
    unique = list(dict.fromkeys(page.expanded_terms))
    return Expansions(unique[:EXPANSIONS_SHOWN], max(0, len(unique) - EXPANSIONS_SHOWN))


def _toggle(current: tuple[str, ...], value: str) -> tuple[tuple[str, ...], bool]:
    key = facet_key(value)
    kept = tuple(v for v in current if facet_key(v) != key)
    active = len(kept) != len(current)
    return (kept if active else (*current, value)), active


def facet_blocks(args: SearchArgs, page: SearchPage) -> list[FacetBlock]:
    """The facets with counts; each value links to the results with it toggled on or off."""
    blocks = []
    for attr, param, title in FACETS:
        values: tuple[FacetValue, ...] = getattr(page.facets, attr)
        current: tuple[str, ...] = getattr(args, attr)
        links = []
        for fv in values:
            toggled, active = _toggle(current, fv.value)
            label = KIND_LABELS.get(fv.value, fv.value) if param == "kind" else fv.value
            links.append(Link(label, search_href(args, **{param: toggled, "page": 1}), fv.count, active))
        if links:
            blocks.append(FacetBlock(title, param, links))
    return blocks


def active_filters(args: SearchArgs) -> list[Link]:
    """The filters in force, each linking to the same search without it."""
    out = []
    for attr, param, title in FACETS:
        current: tuple[str, ...] = getattr(args, attr)
        for value in current:
            kept = tuple(v for v in current if v != value)
            label = KIND_LABELS.get(value, value) if param == "kind" else value
            out.append(Link(f"{title}: {label}", search_href(args, **{param: kept, "page": 1}), active=True))
    return out


def clear_filters_href(args: SearchArgs) -> str:
    """The same search with every filter removed."""
    return search_href(args, category=(), tag=(), kind=(), page=1)


def last_page_href(args: SearchArgs, page: SearchPage) -> str | None:
    """Where a request for a page past the last one goes: the last page (None when in range)."""
    return search_href(args, page=page.pages) if page.page > page.pages else None


def pagination(args: SearchArgs, page: SearchPage) -> tuple[Link | None, list[Link | None], Link | None]:
    """(previous, numbered pages with None for a gap, next) links; empty when there is one page."""
    last = page.pages
    if last <= 1:
        return None, [], None
    shown = sorted({1, last, *range(max(1, page.page - PAGE_WINDOW), min(last, page.page + PAGE_WINDOW) + 1)})
    numbers: list[Link | None] = []
    prev_n = 0
    for n in shown:
        if n - prev_n > 1:
            numbers.append(None)
        numbers.append(Link(str(n), search_href(args, page=n), active=n == page.page))
        prev_n = n
    prev = Link("Previous", search_href(args, page=page.page - 1)) if page.page > 1 else None
    nxt = Link("Next", search_href(args, page=page.page + 1)) if page.page < last else None
    return prev, numbers, nxt


def json_twin(args: SearchArgs) -> str:
    """The API URL that returns this page's data as JSON."""
    items = [*args.query_items(), ("group", args.group or "none")]
    return url_for("api.search") + "?" + urlencode(items)


def best_faq(page: SearchPage) -> Hit | None:
    """The best hit of the first page when it is a FAQ entry (shown as an answer card)."""
    if page.page != 1 or not page.groups or not page.groups[0].hits:
        return None
    best = page.groups[0].hits[0]
    return best if best.kind == "faq" else None


def answer_card(page: SearchPage, q: str, answer: list[Markup] | None) -> Answer | None:
    """The answer card when the best hit of the first page is a FAQ entry."""
    best = best_faq(page)
    if best is None:
        return None
    return Answer(question=best.heading, answer=answer or [Markup(best.snippet_html)],
                  article_href=article_href(best.article_id, q, best.anchor),
                  source_href=site_href(best.deep_link), title=best.title,
                  article_id=best.article_id, anchor=best.anchor)
