"""The article page's display fields: sections with their heading levels, a nested table of
contents, the query's words marked, and related articles as links.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from flask import url_for
from markupsafe import Markup

from kb.models import Article, RelatedArticle, Section
from web.highlight import highlight, paragraphs
from web.links import safe_href

REASONS = {"see-also": "See also", "tags": "Same topic", "similar": "Similar"}


@dataclass
class TocNode:
    """An entry of the table of contents and the entries under it."""

    anchor: str
    heading: str
    depth: int
    children: list[TocNode] = field(default_factory=list)


@dataclass(frozen=True)
class SectionView:
    """A section ready to render: anchor, heading element level, marked heading and paragraphs."""

    anchor: str
    level: int
    heading: Markup | None
    kind: str
    paragraphs: list[Markup]


@dataclass(frozen=True)
class RelatedView:
    """A related article: a local link when it is indexed, else its source."""

    title: str
    href: str
    local: bool
    reason: str


def depth(section: Section) -> int:
    """How deep a section sits: 0 for the lead, else the length of its breadcrumb."""
    return 0 if section.kind == "lead" else max(1, len(section.breadcrumb))


def section_views(article: Article, stems: Collection[str]) -> list[SectionView]:
    """Each section with an h2..h6 heading by depth (the page's h1 is the title); the lead has none."""
    out = []
    for s in article.sections:
        d = depth(s)
        heading = None if d == 0 or not s.heading else highlight(s.heading, stems)
        out.append(SectionView(anchor=s.anchor, level=min(6, d + 1), heading=heading, kind=s.kind,
                               paragraphs=paragraphs(s.text, stems)))
    return out


def table_of_contents(article: Article) -> list[TocNode]:
    """The headed sections as a tree, nested by breadcrumb depth."""
    roots: list[TocNode] = []
    stack: list[TocNode] = []
    for s in article.sections:
        d = depth(s)
        if d == 0 or not s.heading:
            continue
        node = TocNode(s.anchor, s.heading, d)
        while stack and stack[-1].depth >= d:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def related_views(related: list[RelatedArticle]) -> list[RelatedView]:
    """Related articles as links: to the local view when indexed, else to the source page."""
    out = []
    for r in related:
        local = r.article_id is not None
        href = url_for("pages.article", article_id=r.article_id) if r.article_id is not None else safe_href(r.url)
        out.append(RelatedView(title=r.title, href=href, local=local, reason=REASONS.get(r.reason, r.reason)))
    return out
