"""The seam between the product and a search engine: a query plan, an engine's read view, a backend.

Everything a reader sees above the engine is decided once, in `kb.search`: query parsing,
spelling correction, synonyms, the exact-heading bonus, grouping by article, snippets and
the JSON shape. A backend only answers the narrow questions below, over one committed state
of its index (a `View`), with sections numbered 0..n-1 within that view. Two backends
implement it: Whoosh (`kb.whoosh_engine`, embedded, the default) and Typesense
(`kb.typesense_engine`, a replicated cluster). No engine object crosses this seam.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from kb.facets import DocTable
from kb.models import Facets
from kb.ranking import Ranking

T = TypeVar("T")
Stored = dict[str, Any]  # a section's stored fields, as `kb.schema.documents` made them


@dataclass(frozen=True)
class Word:
    """One query word after spelling correction: its stems and the stems of its known synonyms."""

    text: str
    stems: tuple[str, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()
    known: bool = True  # some stem of the word or of a synonym is in the index


@dataclass(frozen=True)
class Plan:
    """What to look for, engine-neutral: every term is already analysed (`kb.text.terms`)."""

    words: tuple[Word, ...] = ()  # scored, any of them (more matched words rank higher)
    phrases: tuple[tuple[str, ...], ...] = ()  # required "quoted" phrases
    fielded: tuple[tuple[str, tuple[str, ...]], ...] = ()  # required field:value parts
    excluded: tuple[tuple[str, ...], ...] = ()  # -word and -"a phrase"
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (category|tag|kind, keys): one of the keys
    key: str = ""  # the words, normalised, for exact title and heading matches

    @property
    def stems(self) -> tuple[str, ...]:
        """The plain words' stems in query order, repeats kept (phrase bonus, feedback weights)."""
        return tuple(st for w in self.words for st in w.stems)

    @property
    def empty(self) -> bool:
        """Nothing to score, require or filter: the answer is no results."""
        return not (any(w.stems for w in self.words) or self.phrases or self.fielded or self.filters)


@dataclass(frozen=True)
class Ranked:
    """An engine's answer: the best (score, section number) pairs, best first; how many matched;
    every matching section when `hits` is only the head (for facets and per-article counts);
    and facets when the engine counted them itself (else `kb.search` counts them)."""

    hits: list[tuple[float, int]] = field(default_factory=list)
    total: int = 0
    matched: Collection[int] | None = None
    facets: Facets | None = None


class View(Protocol):
    """One committed state of an index, safe to use from the thread that holds it."""

    token: str  # identifies the committed state (changes with every commit)

    def section_count(self) -> int:
        """How many sections this state holds."""

    def known(self, stem: str) -> bool:
        """Whether a stem occurs in a title, heading or body."""

    def vocabulary(self) -> Mapping[str, int]:
        """Words (as written, folded) and in how many sections they occur: spelling's source."""

    def docs(self) -> DocTable:
        """Per-section article, kind, categories and tags (built once per state)."""

    def rank(self, plan: Plan, ranking: Ranking, depth: int) -> Ranked:
        """Matching sections, best first; at least the best `depth` of them, all when cheap."""

    def stored(self, docnums: Iterable[int]) -> dict[int, Stored]:
        """Stored fields of some sections."""

    def article_sections(self, article_id: str) -> list[Stored]:
        """Stored fields of an article's sections, in page order."""

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Article ids whose text shares the most of these (telling) stems, best first."""

    def document_frequencies(self, stems: list[str]) -> dict[str, int]:
        """In how many section bodies each stem occurs."""

    def all_stored(self) -> Iterator[Stored]:
        """Every section's stored fields (for the suggestion list)."""

    def memo(self, name: str, build: Callable[[], T]) -> T:
        """A value computed once per committed state (spelling, suggestions, heading keys)."""


class Backend(Protocol):
    """An index opened once per process, handing out views of its live state."""

    def view(self) -> AbstractContextManager[View]:
        """The live committed state; raises `kb.errors.IndexMissing` when there is none."""

    def describe(self) -> str:
        """Where the index lives, for messages."""
