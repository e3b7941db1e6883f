"""The boundary types: frozen dataclasses that cross every module boundary.

Parsing produces an `Article`; the index stores its `Section`s; a search returns a
`SearchPage` of `Hit`s. No Whoosh or BeautifulSoup object ever leaves the module that
made it, so everything here is plain data with a `to_dict()` for JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SectionKind = Literal["lead", "section", "faq"]
KINDS: tuple[SectionKind, ...] = ("lead", "section", "faq")


@dataclass(frozen=True)
class RelatedLink:
    """A link from an in-article "See also" box: kept as data, never as text."""

    title: str
    url: str


BlockKind = Literal["paragraph", "list", "table"]
BLOCK_KINDS: tuple[BlockKind, ...] = ("paragraph", "list", "table")


@dataclass(frozen=True)
class Block:
    """One piece of a section's structure: a paragraph, a list or a table.

    `lines` are the section text's lines this block holds, in order (a list's items, a table's
    rows with cells joined by " | "); a table also keeps its `rows` as cells. Joined with "\n",
    the lines of a section's blocks are exactly its `text`.
    """

    kind: BlockKind
    lines: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The block as JSON-ready data."""
        d: dict[str, Any] = {"kind": self.kind, "lines": list(self.lines)}
        if self.rows:
            d["rows"] = [list(r) for r in self.rows]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Block:
        """Rebuild a block from `to_dict()` output."""
        return cls(d["kind"], tuple(d["lines"]), tuple(tuple(r) for r in d.get("rows", ())))


@dataclass(frozen=True)
class Section:
    """One searchable part of an article: the text under one heading.

    `blocks` is the same text with its structure (paragraphs, lists, tables) for display;
    `text` is what is indexed. Sections read back from an index may have no blocks."""

    anchor: str
    heading: str
    breadcrumb: tuple[str, ...]
    kind: SectionKind
    text: str
    deep_link: str
    # A view of `text`, so not part of a section's identity: equal texts are equal sections.
    blocks: tuple[Block, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The section as JSON-ready data ("blocks" only when it has them: the index keeps none)."""
        d: dict[str, Any] = {
            "anchor": self.anchor,
            "heading": self.heading,
            "breadcrumb": list(self.breadcrumb),
            "kind": self.kind,
            "text": self.text,
            "deep_link": self.deep_link,
        }
        if self.blocks:
            d["blocks"] = [b.to_dict() for b in self.blocks]
        return d


@dataclass(frozen=True)
class Article:
    """A page as it is indexed: metadata plus its sections in document order."""

    article_id: str
    title: str
    url: str
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published: str | None = None
    modified: str | None = None
    description: str = ""
    lang: str = ""
    related: tuple[RelatedLink, ...] = ()
    sections: tuple[Section, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The article as JSON-ready data (the `kb inspect --json` shape)."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "categories": list(self.categories),
            "tags": list(self.tags),
            "published": self.published,
            "modified": self.modified,
            "description": self.description,
            "lang": self.lang,
            "related": [asdict(r) for r in self.related],
            "sections": [s.to_dict() for s in self.sections],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        """Rebuild an article from `to_dict()` output."""
        return cls(
            article_id=d["article_id"],
            title=d["title"],
            url=d["url"],
            categories=tuple(d.get("categories", ())),
            tags=tuple(d.get("tags", ())),
            published=d.get("published"),
            modified=d.get("modified"),
            description=d.get("description", ""),
            lang=d.get("lang", ""),
            related=tuple(RelatedLink(**r) for r in d.get("related", ())),
            sections=tuple(
                Section(
                    anchor=s["anchor"],
                    heading=s["heading"],
                    breadcrumb=tuple(s["breadcrumb"]),
                    kind=s["kind"],
                    text=s["text"],
                    deep_link=s["deep_link"],
                    blocks=tuple(Block.from_dict(b) for b in s.get("blocks", ())),
                )
                for s in d.get("sections", ())
            ),
        )


@dataclass(frozen=True)
class Segment:
    """A piece of a snippet; `match` is true where the query's terms were found."""

    text: str
    match: bool


@dataclass(frozen=True)
class Hit:
    """One matching section, ready to display."""

    article_id: str
    title: str
    url: str
    heading: str
    breadcrumb: tuple[str, ...]
    kind: SectionKind
    anchor: str
    deep_link: str
    snippet_html: str
    snippet: tuple[Segment, ...]
    score: float
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    modified: str | None
    matched_terms: tuple[str, ...] = ()  # the query's words (stop and question words left out) it holds
    missing_terms: tuple[str, ...] = ()  # and the ones it lacks

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON-ready data."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "heading": self.heading,
            "breadcrumb": list(self.breadcrumb),
            "kind": self.kind,
            "anchor": self.anchor,
            "deep_link": self.deep_link,
            "snippet_html": self.snippet_html,
            "snippet": [{"text": s.text, "match": s.match} for s in self.snippet],
            "score": round(self.score, 4),
            "categories": list(self.categories),
            "tags": list(self.tags),
            "modified": self.modified,
            "matched_terms": list(self.matched_terms),
            "missing_terms": list(self.missing_terms),
        }


@dataclass(frozen=True)
class Group:
    """An article among the results, with its best sections and how many more matched."""

    article_id: str
    title: str
    url: str
    categories: tuple[str, ...]
    modified: str | None
    score: float
    hits: tuple[Hit, ...]
    more: int

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON-ready data."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "url": self.url,
            "categories": list(self.categories),
            "modified": self.modified,
            "score": round(self.score, 4),
            "hits": [h.to_dict() for h in self.hits],
            "more": self.more,
        }


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet and how many matches carry it: sections, or articles when the
    results are grouped by article."""

    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts of categories, tags and section kinds among all matches of a query."""

    categories: tuple[FacetValue, ...] = ()
    tags: tuple[FacetValue, ...] = ()
    kinds: tuple[FacetValue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The facets as JSON-ready data."""
        return {
            name: [{"value": v.value, "count": v.count} for v in getattr(self, name)]
            for name in ("categories", "tags", "kinds")
        }


@dataclass(frozen=True)
class Expansion:
    """A synonym added to the query, and the query word it came from."""

    term: str
    source: str


@dataclass(frozen=True)
class SearchPage:
    """One page of results for a query: the single data function's return value."""

    query: str
    corrected_query: str | None
    expanded_terms: tuple[Expansion, ...]
    total: int
    page: int
    per_page: int
    took_ms: float
    hits: tuple[Hit, ...]
    groups: tuple[Group, ...] | None = None
    facets: Facets = field(default_factory=Facets)
    notices: tuple[str, ...] = ()
    counted: str = "every-match"  # what total and facets count: "every-match" or "engine-match" (Typesense)
    rule: str = "any-words"  # "all-words": sections with every word ranked first (short keyword queries)
    complete: int | None = None  # how many matching sections hold every word (None: not counted)
    suggestion: str | None = None  # "Did you mean ...?": a real word the index lacks, respelled

    @property
    def pages(self) -> int:
        """How many pages the results fill."""
        return max(1, -(-self.total // self.per_page)) if self.per_page else 1

    def to_dict(self) -> dict[str, Any]:
        """The page in the JSON shape shared by `kb search --json` and `/api/search`."""
        d: dict[str, Any] = {
            "query": self.query,
            "corrected_query": self.corrected_query,
            "expanded_terms": [{"term": e.term, "source": e.source} for e in self.expanded_terms],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "took_ms": round(self.took_ms, 3),
            "hits": [h.to_dict() for h in self.hits],
            "facets": self.facets.to_dict(),
            "notices": list(self.notices),
            "counted": self.counted,
            "rule": self.rule,
            "complete": self.complete,
            "suggestion": self.suggestion,
        }
        if self.groups is not None:
            d["groups"] = [g.to_dict() for g in self.groups]
        return d


@dataclass(frozen=True)
class Suggestion:
    """A search-as-you-type suggestion: a title, a heading or a medicine name.

    `url` is where choosing it goes, as a path of the web app: the article's local view for a
    title, the section's anchor in it for a heading, a search for a medicine name."""

    text: str
    kind: Literal["title", "heading", "medicine"]
    article_id: str | None = None
    anchor: str | None = None
    article_title: str | None = None  # a heading's article
    url: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The suggestion as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class RelatedArticle:
    """An article related to another, with why it was chosen."""

    article_id: str | None
    title: str
    url: str
    reason: Literal["see-also", "tags", "similar"]

    def to_dict(self) -> dict[str, Any]:
        """The related article as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    """A file that could not be indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class IndexSummary:
    """What one `kb index` run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: tuple[Failure, ...] = ()
    sections: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (`kb index --json`)."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [asdict(f) for f in self.failed],
            "sections": self.sections,
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        """The one-line summary printed by `kb index`."""
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"removed {self.removed}, failed {len(self.failed)}, sections {self.sections}, "
            f"seconds {self.seconds:.2f}"
        )
