"""The article page's display fields: sections with their heading levels, a nested table of
contents, the query's words marked, and related articles as links.

A section's lists and tables (`Section.blocks`) are rendered as lists and tables; a section
stored without blocks shows its lines as paragraphs. A heading whose section has no text of its
own (an "FAQ" heading over its questions) is not a stored section, but it is in its subsections'
breadcrumbs: it is shown again here, as a heading at its level before the first of them, so the
page keeps the outline the source had.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from flask import url_for
from markupsafe import Markup

from kb.models import Article, Block, BlockKind, RelatedArticle, Section
from web.highlight import highlight
from web.links import site_href

REASONS = {"see-also": "See also", "tags": "Same topic", "similar": "Similar"}


@dataclass
class TocNode:
    """An entry of the table of contents and the entries under it."""

    anchor: str
    heading: str
    depth: int
    children: list[TocNode] = field(default_factory=list)


@dataclass(frozen=True)
class BlockView:
    """A paragraph (`items` holds its one line), a list (its items) or a table (`head`, `rows`), marked."""

    kind: BlockKind
    items: list[Markup] = field(default_factory=list)
    head: list[Markup] = field(default_factory=list)
    rows: list[list[Markup]] = field(default_factory=list)


@dataclass(frozen=True)
class SectionView:
    """A part of the article ready to render: a section (anchor, heading element level, marked
    heading and blocks), or a heading alone (`heading_only`) over the sections that follow."""

    anchor: str
    level: int
    heading: Markup | None
    kind: str
    blocks: list[BlockView]
    plain_heading: str = ""  # the heading as text, for the contents
    heading_only: bool = False

    @property
    def depth(self) -> int:
        """How deep it sits in the outline: 0 for the lead, 1 for a top-level heading."""
        return self.level - 1


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
    """Each section with an h2..h6 heading by depth (the page's h1 is the title); the lead has none.
    Headings met only in breadcrumbs come before their first subsection."""
    taken = {s.anchor for s in article.sections}
    shown: set[tuple[str, ...]] = set()
    out: list[SectionView] = []
    for s in article.sections:
        d = depth(s)
        crumb = s.breadcrumb if d else ()
        for n in range(1, len(crumb)):
            path = crumb[:n]
            if path in shown or not path[-1]:
                continue
            shown.add(path)
            anchor = _free_anchor(taken, len(out))
            out.append(SectionView(anchor=anchor, level=min(6, n + 1), heading=highlight(path[-1], stems),
                                   kind="section", blocks=[], plain_heading=path[-1], heading_only=True))
        shown.add(tuple(crumb))
        heading = None if d == 0 or not s.heading else highlight(s.heading, stems)
        out.append(SectionView(anchor=s.anchor, level=min(6, d + 1), heading=heading, kind=s.kind,
                               blocks=block_views(s, stems), plain_heading=s.heading if d else ""))
    return out


def block_views(section: Section, stems: Collection[str]) -> list[BlockView]:
    """The section's blocks, marked; without stored blocks, one paragraph per line of its text."""
    blocks = section.blocks or tuple(Block("paragraph", (line,)) for line in section.text.split("\n"))
    out = []
    for b in blocks:
        if b.kind == "table" and b.rows:
            rows = [[highlight(cell, stems) for cell in row] for row in b.rows]
            # The first row of an article's table names its columns (a table of one row has no header).
            head, body = (rows[0], rows[1:]) if len(rows) > 1 else ([], rows)
            out.append(BlockView("table", head=head, rows=body))
            continue
        items = [highlight(line.strip(), stems) for line in b.lines if line.strip()]
        if items:
            out.append(BlockView("list" if b.kind == "list" else "paragraph", items=items))
    return out


def _free_anchor(taken: set[str], n: int) -> str:
    """An anchor for a heading shown without its own section, unused by the article's sections."""
    anchor = f"part-{n}"
    while anchor in taken:
        anchor += "-"
    taken.add(anchor)
    return anchor


def table_of_contents(views: list[SectionView]) -> list[TocNode]:
    """The headed parts as a tree, nested by depth."""
    roots: list[TocNode] = []
    stack: list[TocNode] = []
    for v in views:
        d = v.depth
        if d == 0 or not v.plain_heading:
            continue
        node = TocNode(v.anchor, v.plain_heading, d)
        while stack and stack[-1].depth >= d:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def related_views(related: list[RelatedArticle]) -> list[RelatedView]:
    """Related articles as links: to the local view when indexed, else to the source page (when
    it is a web page at all)."""
    out = []
    for r in related:
        if r.article_id is not None:
            href: str | None = url_for("pages.article", article_id=r.article_id)
        else:
            href = site_href(r.url)
        if href is not None:
            out.append(RelatedView(title=r.title, href=href, local=r.article_id is not None,
                                   reason=REASONS.get(r.reason, r.reason)))
    return out
