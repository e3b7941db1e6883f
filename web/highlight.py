"""Marking a query's words in article text, safely: everything is escaped, `<mark>` is the only markup.

Words are matched by their kb.text stem, the same analysis the index and the snippets use,
so "side effects" marks "effect" and a synonym the search expanded ("lioresal" -> baclofen)
is marked too. Only content words are marked: a question's "can", "I" or "how" would mark
half of every paragraph.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from markupsafe import Markup, escape

from kb import text
from kb.models import SearchPage

# Function words the index keeps (its stop list is short) but a reader never wants marked.
FUNCTION_WORDS = frozenset([
    "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "you", "your", "yours", "he", "him",
    "his", "she", "her", "hers", "its", "they", "them", "theirs", "what", "which", "who", "whom", "whose",
    "when", "where", "why", "how", "can", "could", "cannot", "do", "does", "did", "doing", "done", "should",
    "would", "may", "might", "must", "shall", "have", "has", "had", "having", "am", "been", "being", "from",
    "about", "after", "before", "so", "than", "too", "very", "just", "also", "any", "all", "some", "each",
    "much", "many", "more", "most", "other", "own", "same", "only", "off", "out", "up", "down", "over",
    "under", "again", "further", "once", "here", "both", "few", "nor", "s", "t", "don", "now", "ok", "okay",
    "yes",
])
_SKIPPED_STEMS = frozenset(t for w in FUNCTION_WORDS for t in text.terms(w))


def query_stems(query: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The stems to mark for a query and any extra words (its correction, its synonyms): content words only."""
    stems = set(text.terms(query))
    for words in extra:
        stems.update(text.terms(words))
    return frozenset(stems - _SKIPPED_STEMS)


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
