"""The engine-neutral stored section: what every engine stores for a section and hands back.

The indexer turns an `Article` into `StoredSection`s (`documents`); each engine keeps them in
its own format (Whoosh stored fields, Typesense documents) and rebuilds them on the way out,
so everything above the engines (hits, snippets, suggestions, the article view) reads one
typed shape and never an engine's dict.

A section's structure (its lists and tables, `kb.models.Block`) is stored as a layout of its
body's lines, `[kind, line count]` per block plus a table's cells, and only when it has a list or
a table: a section of paragraphs, or one stored before blocks existed, reads back as its text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kb.models import BLOCK_KINDS, Article, Block, RelatedLink, Section, SectionKind

SCHEMA_VERSION = 1  # the stored shape; a writer that finds another version rebuilds from scratch
HEADING_JOIN = " \n "  # between the breadcrumb's headings in the indexed heading text


@dataclass(frozen=True)
class ArticleFacts:
    """Article-level metadata, stored with an article's first section only."""

    published: str | None = None
    description: str = ""
    lang: str = ""
    related: tuple[RelatedLink, ...] = ()


@dataclass(frozen=True)
class StoredSection:
    """One section as an engine stores it: the indexed text and every field a hit displays."""

    source: str  # the file (or record) the section came from: the writer's unit of replacement
    order: int  # the section's place in its article
    article_id: str
    kind: SectionKind
    title: str  # the article's title (indexed with every section)
    heading: str  # the section's own heading, as displayed
    breadcrumb: tuple[str, ...]  # the headings from the top down to this one (indexed as the heading field)
    body: str
    anchor: str
    deep_link: str
    url: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    modified: str | None
    article: ArticleFacts | None = None  # on the first section only
    blocks: tuple[Block, ...] = field(default=(), compare=False)  # the body's structure, when it has lists or tables

    @property
    def id(self) -> str:
        """Unique within an index: the source and the section's place in it."""
        return f"{self.source}#{self.order}"

    @property
    def heading_text(self) -> str:
        """The text indexed as the heading field: the breadcrumb, FAQ questions included."""
        return HEADING_JOIN.join(self.breadcrumb)

    @property
    def category_keys(self) -> tuple[str, ...]:
        """The categories as filters compare them."""
        return tuple(facet_key(c) for c in self.categories)

    @property
    def tag_keys(self) -> tuple[str, ...]:
        """The tags as filters compare them."""
        return tuple(facet_key(t) for t in self.tags)

    def section(self) -> Section:
        """The `Section` this was stored from."""
        return Section(anchor=self.anchor, heading=self.heading, breadcrumb=self.breadcrumb, kind=self.kind,
                       text=self.body, deep_link=self.deep_link, blocks=self.blocks)


class Outline(NamedTuple):
    """What the suggestion list needs of a section: a tuple of strings, cheap to keep per segment."""

    article_id: str
    order: int
    title: str
    heading: str
    kind: str
    anchor: str


def outline(st: StoredSection) -> Outline:
    """A stored section's outline."""
    return Outline(st.article_id, st.order, st.title, st.heading, st.kind, st.anchor)


def facet_key(value: str) -> str:
    """How a category or tag is stored for filtering: case-insensitive, commas removed."""
    return " ".join(value.replace(",", " ").split()).lower()


def documents(article: Article, source: str) -> Iterator[StoredSection]:
    """The stored sections of an article, in page order."""
    facts = ArticleFacts(published=article.published, description=article.description, lang=article.lang,
                         related=article.related)
    for order, section in enumerate(article.sections):
        yield StoredSection(
            source=source, order=order, article_id=article.article_id, kind=section.kind, title=article.title,
            heading=section.heading, breadcrumb=section.breadcrumb, body=section.text, anchor=section.anchor,
            deep_link=section.deep_link, url=article.url, categories=article.categories, tags=article.tags,
            modified=article.modified, article=facts if order == 0 else None, blocks=section.blocks)


def article_from(stored: list[StoredSection]) -> Article:
    """The `Article` whose sections these are (in page order; the first carries the article's facts)."""
    first = stored[0]
    facts = first.article or ArticleFacts()
    return Article(article_id=first.article_id, title=first.title, url=first.url, categories=first.categories,
                   tags=first.tags, published=facts.published, modified=first.modified,
                   description=facts.description, lang=facts.lang, related=facts.related,
                   sections=tuple(s.section() for s in stored))


def to_record(doc: StoredSection) -> dict[str, Any]:
    """The section as a plain record, the serialised form both engines store (and indexes on
    disk already hold: keep it stable, or bump SCHEMA_VERSION)."""
    record: dict[str, Any] = {
        "id": doc.id, "source": doc.source, "article_id": doc.article_id, "order": doc.order, "kind": doc.kind,
        "title": doc.title, "heading": doc.heading_text, "body": doc.body,
        "category": ",".join(doc.category_keys), "tag": ",".join(doc.tag_keys),
        "meta": {"heading": doc.heading, "breadcrumb": list(doc.breadcrumb), "anchor": doc.anchor,
                 "deep_link": doc.deep_link, "url": doc.url, "categories": list(doc.categories),
                 "tags": list(doc.tags), "modified": doc.modified},
    }
    layout = block_layout(doc.blocks)
    if layout is not None:
        record["meta"]["blocks"] = layout
    if doc.article is not None:
        facts = doc.article
        record["article"] = {"published": facts.published, "description": facts.description, "lang": facts.lang,
                             "related": [{"title": r.title, "url": r.url} for r in facts.related]}
    return record


def from_record(record: Mapping[str, Any]) -> StoredSection:
    """A stored record (all of `to_record`'s fields an engine keeps) as a `StoredSection`."""
    meta = record["meta"]
    art = record.get("article")
    facts = None
    if art is not None:
        facts = ArticleFacts(published=art.get("published"), description=art.get("description", ""),
                             lang=art.get("lang", ""), related=tuple(RelatedLink(**r) for r in art.get("related", ())))
    return StoredSection(
        source=record["source"], order=int(record["order"]), article_id=record["article_id"], kind=record["kind"],
        title=record["title"], heading=meta["heading"], breadcrumb=tuple(meta["breadcrumb"]),
        body=record.get("body", ""), anchor=meta["anchor"], deep_link=meta["deep_link"], url=meta["url"],
        categories=tuple(meta["categories"]), tags=tuple(meta["tags"]), modified=meta["modified"], article=facts,
        blocks=blocks_from(meta.get("blocks"), record.get("body", "")))


def block_layout(blocks: tuple[Block, ...]) -> list[list[Any]] | None:
    """How a body's lines fall into blocks, for storing: None when there is no list or table
    (the body's lines are then its paragraphs, and nothing is stored)."""
    if not any(b.kind != "paragraph" for b in blocks):
        return None
    return [[b.kind, len(b.lines), [list(r) for r in b.rows]] if b.kind == "table" else [b.kind, len(b.lines)]
            for b in blocks]


def blocks_from(layout: Any, body: str) -> tuple[Block, ...]:
    """The blocks a stored layout describes over the body's lines; () when there is none or it does
    not fit the body (the article view then shows the body's lines as paragraphs)."""
    if not isinstance(layout, list) or not layout:
        return ()
    lines = body.split("\n")
    out: list[Block] = []
    at = 0
    for entry in layout:
        if not isinstance(entry, list) or len(entry) < 2 or entry[0] not in BLOCK_KINDS:
            return ()
        kind, count = entry[0], entry[1]
        if not isinstance(count, int) or count < 1 or at + count > len(lines):
            return ()
        rows = tuple(tuple(str(c) for c in r) for r in entry[2]) if kind == "table" and len(entry) > 2 else ()
        out.append(Block(kind, tuple(lines[at:at + count]), rows))
        at += count
    return tuple(out) if at == len(lines) else ()
