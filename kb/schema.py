"""The Whoosh schema: field names, the analyzer, and Section -> index document.

One Whoosh document per section. Every field a hit needs is stored, so a search never
re-reads the source page. Whoosh stays inside this module, `kb.search` and `indexer.build`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from kb import text
from kb.models import Article, Section

SCHEMA_VERSION = 1


class KbTokenizer(Tokenizer):  # type: ignore[misc]
    """The whole analysis chain of `kb.text` as one Whoosh tokenizer (fewer generator layers)."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        pos = start_pos
        for start, end, word, stemmed in text.spans(value):
            if stemmed is not None:
                t.text = stemmed
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = word
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar, t.endchar = start_char + start, start_char + end
                yield t
            pos += 1  # stop words keep their slot so phrase positions stay honest


ANALYZER = KbTokenizer()


def make_schema() -> Schema:
    """The schema of a kb index."""
    return Schema(
        id=ID(stored=True, unique=True),  # "<source>#<order>"
        source=ID(stored=True),  # the file (or record) the section came from
        article_id=ID(stored=True),
        order=NUMERIC(stored=True),
        kind=ID(stored=True),
        title=TEXT(analyzer=ANALYZER, stored=True),
        heading=TEXT(analyzer=ANALYZER),  # the breadcrumb, FAQ questions included
        body=TEXT(analyzer=ANALYZER, stored=True),
        category=KEYWORD(commas=True, lowercase=True),
        tag=KEYWORD(commas=True, lowercase=True),
        meta=STORED(),  # display fields of the hit (dict)
        article=STORED(),  # article-level metadata, on the first section only (dict)
    )


def facet_key(value: str) -> str:
    """How a category or tag is stored for filtering: case-insensitive, commas removed."""
    return " ".join(value.replace(",", " ").split()).lower()


def documents(article: Article, source: str) -> Iterator[dict[str, Any]]:
    """The index documents of an article, one per section."""
    cats = ",".join(facet_key(c) for c in article.categories)
    tags = ",".join(facet_key(t) for t in article.tags)
    for order, section in enumerate(article.sections):
        doc: dict[str, Any] = {
            "id": f"{source}#{order}",
            "source": source,
            "article_id": article.article_id,
            "order": order,
            "kind": section.kind,
            "title": article.title,
            "heading": " \n ".join(section.breadcrumb),
            "body": section.text,
            "category": cats,
            "tag": tags,
            "meta": {
                "heading": section.heading,
                "breadcrumb": list(section.breadcrumb),
                "anchor": section.anchor,
                "deep_link": section.deep_link,
                "url": article.url,
                "categories": list(article.categories),
                "tags": list(article.tags),
                "modified": article.modified,
            },
        }
        if order == 0:
            doc["article"] = {
                "published": article.published,
                "description": article.description,
                "lang": article.lang,
                "related": [{"title": r.title, "url": r.url} for r in article.related],
            }
        yield doc


def section_from_stored(fields: dict[str, Any]) -> Section:
    """Rebuild a Section from a document's stored fields."""
    meta = fields["meta"]
    return Section(
        anchor=meta["anchor"],
        heading=meta["heading"],
        breadcrumb=tuple(meta["breadcrumb"]),
        kind=fields["kind"],
        text=fields.get("body", ""),
        deep_link=meta["deep_link"],
    )
