"""Marking a query's words in article text, safely: everything is escaped, `<mark>` is the only markup.

Words are matched by their kb.text stem, the same analysis the index and the snippets use,
so "side effects" marks "effect" and a synonym the search expanded ("lioresal" -> baclofen)
is marked too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from markupsafe import Markup, escape

from kb import text
from kb.models import SearchPage


def query_stems(query: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The stems to mark for a query and any extra words (its correction, its synonyms)."""
    stems = set(text.terms(query))
    for words in extra:
        stems.update(text.terms(words))
    return frozenset(stems)


def page_stems(page: SearchPage) -> frozenset[str]:
    """The stems a search page matched on: the query, its correction and its expansions."""
    extra = [e.term for e in page.expanded_terms]
    if page.corrected_query:
        extra.append(page.corrected_query)
    return query_stems(page.query, extra)


def highlight(value: str, stems: Collection[str]) -> Markup:
    """The text escaped, with the words whose stem is in `stems` wrapped in <mark>."""
    if not stems:
        return Markup(escape(value))
    out: list[str] = []
    pos = 0
    for start, end, _word, stem in text.spans(value):
        if stem is not None and stem in stems:
            out.append(escape(value[pos:start]))
            out.append(Markup("<mark>%s</mark>") % value[start:end])
            pos = end
    out.append(escape(value[pos:]))
    return Markup("").join(out)


def paragraphs(value: str, stems: Collection[str]) -> list[Markup]:
    """A section's text as highlighted paragraphs (the indexed text keeps one paragraph per line)."""
    return [highlight(p.strip(), stems) for p in value.split("\n") if p.strip()]
