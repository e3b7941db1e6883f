"""Per-generation tables of who-is-where: article, kind, categories and tags of every section.

Built once per index generation from the term index (no stored text is read), then used
for facet counts, grouping by article and related-article lookups. Facet counts run on numpy
codes (`bincount` over the matching sections' values): at 100k sections a query matches tens of
thousands, and counting them in Python was most of its time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain

import numpy as np

from kb.models import KINDS, Facets, FacetValue

FacetCodes = tuple[np.ndarray, np.ndarray, list[str]]  # a CSR table: offsets, value codes, names


@dataclass(frozen=True)
class DocTable:
    """Columns indexed by document number, plus display names for facet keys.

    The columns are tuples of strings, which a per-process table of every section can hold
    without lengthening each of Python's full garbage collections (a list is walked every time).
    """

    article: tuple[str, ...]
    kind: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    tags: tuple[tuple[str, ...], ...]
    display: dict[str, str]  # facet key -> the name as the page wrote it
    first: dict[str, int]  # article id -> its first section's document number
    urls: dict[str, str]  # article url -> article id
    # per facet field ("category", "tag", "kind"), when the engine joined them from parts it keeps;
    # otherwise made from the columns on first use
    codes: dict[str, FacetCodes] | None = field(default=None, compare=False, repr=False)

    def article_of(self, docnum: int) -> str:
        """The article a section belongs to."""
        return self.article[docnum]

    def article_counts(self, docnums: Collection[int]) -> ArticleCounts:
        """How many of these sections each article holds (one `bincount` over article codes)."""
        codes, index = self._article_codes
        docs = _as_array(docnums)
        return ArticleCounts(np.bincount(codes[docs], minlength=len(index)), index)

    @cached_property
    def _article_codes(self) -> tuple[np.ndarray, dict[str, int]]:
        """Each section's article as a number, and the numbers by article id."""
        # in order of first appearance; map() and dict.fromkeys run in C (a commit rebuilds this table)
        index = {a: i for i, a in enumerate(dict.fromkeys(self.article))}
        codes = np.fromiter(map(index.__getitem__, self.article), np.int64, count=len(self.article))
        return codes, index

    @cached_property
    def _codes(self) -> dict[str, FacetCodes]:
        """Per facet field: (offsets, value codes, names), a CSR table of each section's values."""
        if self.codes is not None:
            return self.codes
        out = {}
        for name, column in (("category", self.categories), ("tag", self.tags), ("kind", list(zip(self.kind)))):
            names = sorted(set(chain.from_iterable(column)))
            code = {v: i for i, v in enumerate(names)}
            lengths = np.fromiter(map(len, column), np.int64, count=len(column))
            offsets = np.zeros(len(column) + 1, np.int64)
            np.cumsum(lengths, out=offsets[1:])
            values = np.fromiter(map(code.__getitem__, chain.from_iterable(column)), np.int64, count=int(offsets[-1]))
            out[name] = (offsets, values, names)
        return out

    def _count(self, field: str, docs: np.ndarray, per_article: bool = False) -> dict[str, int]:
        offsets, values, names = self._codes[field]
        starts = offsets[docs]
        lengths = offsets[docs + 1] - starts
        total = int(lengths.sum())
        if not total:
            return {}
        # the positions of every matching section's values, laid end to end
        where = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        found = values[where]
        if per_article:  # each (value, article) pair once
            codes, index = self._article_codes
            pairs = np.unique(found * len(index) + np.repeat(codes[docs], lengths))
            found = pairs // len(index)
        counts = np.bincount(found, minlength=len(names))
        return {names[i]: int(counts[i]) for i in np.flatnonzero(counts)}

    def article_count(self) -> int:
        """How many articles the index holds."""
        return len(self.first)

    def first_doc(self, article_id: str) -> int:
        """The document number of an article's first section."""
        return self.first[article_id]

    def article_by_url(self, url: str) -> str | None:
        """The id of the indexed article at a URL (trailing slash ignored), if any."""
        return self.urls.get(url.rstrip("/"))

    def sharing_tags(self, tags: Iterable[str]) -> list[str]:
        """Articles carrying the most of these tags, most shared first."""
        wanted = {" ".join(t.replace(",", " ").split()).lower() for t in tags}
        if not wanted:
            return []
        scores: Counter[str] = Counter()
        for aid, first in self.first.items():
            shared = len(wanted.intersection(self.tags[first]))
            if shared:
                scores[aid] = shared
        return [aid for aid, _ in scores.most_common()]

    def facets(self, docnums: Collection[int], limit: int = 20, *, per_article: bool = False) -> Facets:
        """Counts of categories, tags and kinds over the matching sections, most first, ties by name;
        with `per_article`, how many articles have a matching section with the value."""
        docs = _as_array(docnums)
        cats, tags, kinds = (self._count(f, docs, per_article) for f in ("category", "tag", "kind"))

        def values(c: dict[str, int]) -> tuple[FacetValue, ...]:
            best = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            return tuple(FacetValue(self.display.get(k, k), n) for k, n in best)

        kind_values = tuple(FacetValue(k, kinds[k]) for k in KINDS if kinds.get(k))
        return Facets(categories=values(cats), tags=values(tags), kinds=kind_values)


class ArticleCounts:
    """Matching sections per article: `counts[article_id]`, and `len(counts)` articles with any."""

    def __init__(self, counts: np.ndarray, index: dict[str, int]) -> None:
        self._counts = counts
        self._index = index
        self._articles = int(np.count_nonzero(counts))

    def __getitem__(self, article_id: str) -> int:
        code = self._index.get(article_id)
        return 0 if code is None else int(self._counts[code])

    def __len__(self) -> int:
        return self._articles


def _as_array(docnums: Collection[int]) -> np.ndarray:
    """Document numbers as an int64 array (as given when they already are one)."""
    return np.asarray(docnums if isinstance(docnums, np.ndarray) else list(docnums), np.int64)
