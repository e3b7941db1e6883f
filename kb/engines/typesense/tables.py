"""One generation's tables: its visible sections' key fields, numbered, as a doc table.

A generation's tables come from one export filtered on the generation (so the same rows
whenever and from whichever caught-up node it is taken), or, right after a commit, from the
previous generation's tables and the commit's change alone: the versions it added and the
versions it ended, two small exports instead of the whole collection. Document frequencies are
carried over the same way (`Change.adjust`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kb.documents import facet_key
from kb.engines.typesense import client as tc
from kb.facets import DocTable

FIELDS = ("title", "heading", "body")
EXPORTED = "id,article_id,kind,category,tag,order,meta,title_n,heading_n,body_n"
CHANGED = EXPORTED + ",title_s,heading_s,body_s"


@dataclass(frozen=True)
class Row:
    """What the tables keep of one section version."""

    id: str
    article_id: str
    order: int
    kind: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    lengths: tuple[int, int, int]  # title, heading, body stems
    url: str
    names: tuple[str, ...]  # categories and tags as the page wrote them (on an article's first section)

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Row:
        """From an exported document."""
        meta = doc.get("meta") or {}
        return cls(doc["id"], doc["article_id"], int(doc.get("order", 0)), doc.get("kind", ""),
                   tuple(doc.get("category", ())), tuple(doc.get("tag", ())),
                   (int(doc.get("title_n", 0)), int(doc.get("heading_n", 0)), int(doc.get("body_n", 0))),
                   str(meta.get("url", "")).rstrip("/"), (*meta.get("categories", ()), *meta.get("tags", ())))


@dataclass(frozen=True)
class Tables:
    """Section numbers (Typesense id <-> number), the doc table and mean field lengths of one generation."""

    generation: int
    rows: tuple[Row, ...]
    ids: tuple[str, ...]  # Typesense ids by section number
    positions: Mapping[str, int]
    docs: DocTable
    mean_lengths: Mapping[str, float]


@dataclass(frozen=True)
class Change:
    """What one or more commits changed: the versions added and the versions ended, with their stems."""

    added: tuple[dict[str, Any], ...]
    ended: tuple[dict[str, Any], ...]

    def adjust(self, df: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
        """Document frequencies (field, stem) -> sections, carried over the change; field "*" is
        any of the fields (BM25F's idf)."""
        out = dict(df)
        for docs, sign in ((self.added, 1), (self.ended, -1)):
            for doc in docs:
                anywhere: set[str] = set()
                for f in FIELDS:
                    stems = set(str(doc.get(f + "_s", "")).split())
                    anywhere |= stems
                    for st in stems:
                        if (f, st) in out:
                            out[(f, st)] += sign
                for st in anywhere:
                    if ("*", st) in out:
                        out[("*", st)] += sign
        return out


def export(client: Any, collection: str, generation: int) -> Tables:
    """The tables of one generation of a collection, from one export."""
    rows = tc.export_rows(client, collection, {"include_fields": EXPORTED, "filter_by": tc.visible(generation)})
    return build(generation, [Row.of(r) for r in rows])


def change(client: Any, collection: str, since: int, generation: int) -> Change:
    """The versions the commits after `since` up to `generation` added, and the ones they ended."""
    added = tc.export_rows(client, collection, {
        "include_fields": CHANGED,
        "filter_by": f"gen_from:>{since} && gen_from:<={generation} && gen_to:>{generation}"})
    ended = tc.export_rows(client, collection, {
        "include_fields": CHANGED, "filter_by": f"gen_from:<={since} && gen_to:>{since} && gen_to:<={generation}"})
    return Change(tuple(added), tuple(ended))


def advance(old: Tables, diff: Change, generation: int) -> Tables:
    """The tables of a later generation, from an earlier one's and the change between them."""
    gone = {d["id"] for d in diff.ended}
    kept = [r for r in old.rows if r.id not in gone]
    return build(generation, kept + [Row.of(d) for d in diff.added])


def build(generation: int, rows: Iterable[Row]) -> Tables:
    """The tables from rows (sections numbered by article, then page order)."""
    ordered = tuple(sorted(rows, key=lambda r: (r.article_id, r.order, r.id)))
    n = max(1, len(ordered))
    lengths = {f: sum(r.lengths[i] for r in ordered) / n for i, f in enumerate(FIELDS)}
    first: dict[str, int] = {}
    display: dict[str, str] = {}
    urls: dict[str, str] = {}
    for i, r in enumerate(ordered):
        if r.article_id not in first:
            first[r.article_id] = i
            urls[r.url] = r.article_id
            for name in r.names:
                display.setdefault(facet_key(name), name)
    table = DocTable(tuple(r.article_id for r in ordered), tuple(r.kind for r in ordered),
                     tuple(r.categories for r in ordered), tuple(r.tags for r in ordered), display, first, urls)
    ids = tuple(r.id for r in ordered)
    return Tables(generation, ordered, ids, {d: i for i, d in enumerate(ids)}, table, lengths)
