"""Per-generation tables of who-is-where: article, kind, categories and tags of every section.

Built once per index generation from the term index (no stored text is read), then used
for facet counts, grouping by article and related-article lookups in plain Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TypeVar

from kb.models import KINDS, Facets, FacetValue

T = TypeVar("T")


@dataclass(frozen=True)
class DocTable:
    """Columns indexed by document number, plus display names for facet keys."""

    article: Sequence[str]
    kind: Sequence[str]
    categories: Sequence[tuple[str, ...]]
    tags: Sequence[tuple[str, ...]]
    display: dict[str, str]  # facet key -> the name as the page wrote it
    first: dict[str, int]  # article id -> its first section's document number
    urls: dict[str, str]  # article url -> article id

    def article_of(self, docnum: int) -> str:
        """The article a section belongs to."""
        return self.article[docnum]

    def articles_of(self, docnums: list[int]) -> tuple[str, ...]:
        """The article of each section, gathered in C."""
        return _gather(self.article, docnums)

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

    def facets(self, docnums: Iterable[int], limit: int = 20) -> Facets:
        """Counts of categories, tags and kinds over the matching sections, most first, ties by name."""
        docs = list(docnums)
        cats: Counter[str] = Counter(chain.from_iterable(_gather(self.categories, docs)))
        tags: Counter[str] = Counter(chain.from_iterable(_gather(self.tags, docs)))
        kinds: Counter[str] = Counter(_gather(self.kind, docs))

        def values(c: Counter[str]) -> tuple[FacetValue, ...]:
            best = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            return tuple(FacetValue(self.display.get(k, k), n) for k, n in best)

        kind_values = tuple(FacetValue(k, kinds[k]) for k in KINDS if kinds[k])
        return Facets(categories=values(cats), tags=values(tags), kinds=kind_values)


def _gather(column: Sequence[T], docs: list[int]) -> tuple[T, ...]:
    """column[d] for every d, gathered in C (itemgetter) rather than a Python loop."""
    if len(docs) < 2:
        return tuple(column[d] for d in docs)
    return itemgetter(*docs)(column)
