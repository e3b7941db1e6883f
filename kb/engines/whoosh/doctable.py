"""A snapshot's doc table, joined from parts each segment builds once.

Each segment's part holds its sections' article, kind, categories and tags by local number
(walked from its term index, no stored text read), those facet values as numpy codes, and its
articles' URLs and facet display names (one stored read per article). A snapshot joins the
parts of its segments with list extends, numpy and dict updates, so a commit that adds one
small segment costs what that segment holds, not a walk over every article of the index.

The join is deterministic in the segments and their deletions: a reader kept warm across
commits builds the same table as a fresh reader of the same state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from whoosh.reading import IndexReader

from kb.documents import facet_key
from kb.engines.whoosh.segments import raw_matcher
from kb.facets import DocTable, FacetCodes

FACET_FIELDS = ("category", "tag", "kind")


@dataclass(frozen=True)
class SegmentDocs:
    """One segment's part of the doc table, by local document number, deleted documents included."""

    article: tuple[str, ...]
    kind: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, ...], ...]
    codes: dict[str, tuple[np.ndarray, np.ndarray, tuple[str, ...]]]  # field -> (lengths, codes, names)
    urls: dict[str, str]  # article url (no trailing slash) -> article id, every article of the segment
    display: dict[str, str]  # facet key -> the name as the segment's first article (by id) wrote it


@dataclass(frozen=True)
class Part:
    """A segment's part placed in a snapshot: its first document number and deleted local numbers."""

    docs: SegmentDocs
    offset: int
    deleted: np.ndarray  # sorted segment-local numbers


def segment_docs(reader: IndexReader) -> SegmentDocs:
    """Walk one segment's article_id, kind, category and tag terms into its part of the doc table,
    and read each article's URL and facet names from its first section's stored fields."""
    n = reader.doc_count_all()
    article = [""] * n
    kind = ["section"] * n
    cats: list[tuple[str, ...]] = [()] * n
    tags: list[tuple[str, ...]] = [()] * n

    def postings(fieldname: str) -> Iterator[tuple[str, list[int]]]:
        for term in reader.field_terms(fieldname):
            yield term, list(raw_matcher(reader, fieldname, term).all_ids())

    for aid, ids in postings("article_id"):
        for d in ids:
            article[d] = aid
    for k, ids in postings("kind"):
        for d in ids:
            kind[d] = k
    for column, fieldname in ((cats, "category"), (tags, "tag")):
        for key, ids in postings(fieldname):
            for d in ids:
                column[d] = (*column[d], key)
    urls: dict[str, str] = {}
    display: dict[str, str] = {}
    # each article's first section here: walking backwards, the earliest number is assigned last (in C)
    first = dict(zip(reversed(article), range(n - 1, -1, -1), strict=True))
    first.pop("", None)
    for aid in sorted(first):  # in id order, as a fresh reader's walk of the whole index meets them
        meta = reader.stored_fields(first[aid])["meta"]
        urls[meta["url"].rstrip("/")] = aid
        for name in (*meta["categories"], *meta["tags"]):
            display.setdefault(facet_key(name), name)
    codes = {"category": _codes(cats), "tag": _codes(tags), "kind": _codes(list(zip(kind)))}
    return SegmentDocs(tuple(article), tuple(kind), tuple(cats), tuple(tags), codes, urls, display)


def join(parts: Sequence[Part]) -> DocTable:
    """The snapshot's doc table: the parts end to end, deleted sections blanked (as the term index walk
    of a fresh reader leaves them), articles' first live sections, URLs and facet display names."""
    article: list[str] = []
    kind: list[str] = []
    cats: list[tuple[str, ...]] = []
    tags: list[tuple[str, ...]] = []
    for p in parts:
        article.extend(p.docs.article)
        kind.extend(p.docs.kind)
        cats.extend(p.docs.categories)
        tags.extend(p.docs.tags)
    for p in parts:
        for local in p.deleted.tolist():
            d = p.offset + local
            article[d], kind[d], cats[d], tags[d] = "", "section", (), ()
    found = dict(zip(reversed(article), range(len(article) - 1, -1, -1), strict=True))
    found.pop("", None)  # deleted sections
    first = {aid: found[aid] for aid in sorted(found)}  # in id order, as the term index walk finds them
    urls: dict[str, str] = {}
    for p in parts:
        if not len(p.deleted):
            urls.update(p.docs.urls)
        else:  # only articles whose sections here are live (an article's sections share a segment)
            end = p.offset + len(p.docs.article)
            urls.update({u: a for u, a in p.docs.urls.items() if p.offset <= first.get(a, -1) < end})
    display: dict[str, str] = {}
    for p in reversed(parts):  # the earliest segment's name wins
        display.update(p.docs.display)
    codes = {name: _join_codes(name, parts) for name in FACET_FIELDS}
    return DocTable(tuple(article), tuple(kind), tuple(cats), tuple(tags), display, first, urls, codes)


def _codes(column: Sequence[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A column of value tuples as (lengths, value codes, sorted names)."""
    names = tuple(sorted(set(chain.from_iterable(column))))
    code = {v: i for i, v in enumerate(names)}
    lengths = np.fromiter(map(len, column), np.int64, count=len(column))
    values = np.fromiter(map(code.__getitem__, chain.from_iterable(column)), np.int64, count=int(lengths.sum()))
    return lengths, values, names


def _join_codes(field: str, parts: Sequence[Part]) -> FacetCodes:
    """One facet field's CSR table over the snapshot: offsets, value codes, names. A deleted section
    holds no value (no query matches it)."""
    names = sorted(set(chain.from_iterable(p.docs.codes[field][2] for p in parts)))
    code = {v: i for i, v in enumerate(names)}
    all_lengths = []
    all_values = []
    for p in parts:
        lengths, values, local_names = p.docs.codes[field]
        remap = np.fromiter(map(code.__getitem__, local_names), np.int64, count=len(local_names))
        values = remap[values]
        if len(p.deleted):
            live = np.ones(len(lengths), bool)
            live[p.deleted] = False
            values = values[np.repeat(live, lengths)]
            lengths = np.where(live, lengths, 0)
        all_lengths.append(lengths)
        all_values.append(values)
    lengths = np.concatenate(all_lengths) if all_lengths else np.zeros(0, np.int64)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate(all_values) if all_values else np.zeros(0, np.int64)
    return offsets, values, names

