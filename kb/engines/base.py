"""The seam between the product and a search engine: what an engine reads and what it writes.

Reading: everything a reader sees above the engine is decided once, in `kb.search`: query
parsing, spelling correction, synonyms, the exact-heading bonus, grouping by article, snippets
and the JSON shape. A `Backend` only answers the narrow questions of a `View`, over one
committed state of its index, with sections numbered 0..n-1 within that view.

Writing: a `Store` is one write session (deletions, additions, one commit), holding the
`Manifest` of what the index contains. The crash-safety rule is the same for every store:
before documents are written, every source the session touches is saved with hash None, so a
crash in between costs a re-parse on the next run, never a stranded page.

Two engines implement both sides: Whoosh (`kb.engines.whoosh`, embedded, the default) and
Typesense (`kb.engines.typesense`, a replicated cluster); `kb.engines.registry` maps a
backend name to them. Only `kb.documents` and `kb.models` types cross this seam.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kb.documents import Outline, StoredSection, documents
from kb.models import Article, Facets
from kb.ranking import Ranking

if TYPE_CHECKING:  # numpy behind it: commands that never search should not pay for loading it
    from kb.facets import DocTable

T = TypeVar("T")
Scored = tuple[float, int]  # (score, section number): the unit of every ranking
Producer = Callable[[], Iterator[list[StoredSection]]]  # run in a writer process: each source's sections, in order


@dataclass(frozen=True)
class QueryTerm:
    """One query word after spelling correction: its stems and the stems of its known synonyms."""

    text: str
    stems: tuple[str, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()
    known: bool = True  # some stem of the word or of a synonym is in the index
    optional: bool = False  # a question word ("what", "how"): scored, never required or reported missing


@dataclass(frozen=True)
class Plan:
    """What to look for, engine-neutral: every term is already analysed (`kb.text.terms`)."""

    words: tuple[QueryTerm, ...] = ()  # scored, any of them (more matched words rank higher)
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

    hits: list[Scored] = field(default_factory=list)
    total: int = 0
    complete: int | None = None  # how many sections hold every required word (None: not counted)
    rule: str = "any-words"  # "all-words" when sections with every word ranked first
    matched: Collection[int] | None = None
    facets: Facets | None = None


COUNTED = ("every-match", "engine-match")  # what `total` and the facets count (the search JSON's `counted`)


class View(Protocol):
    """One committed state of an index, safe to use from the thread that holds it."""

    token: str  # identifies the committed state (changes with every commit)
    # What `Ranked.total` and `Ranked.facets` count, one of COUNTED: "every-match", every section
    # the ranking scored (query words, synonyms and any feedback terms); "engine-match", the
    # engine's own count of its candidate match, which can be smaller (see docs/scale-out.md)
    counting: str

    def section_count(self) -> int:
        """How many sections this state holds."""

    def known(self, stem: str) -> bool:
        """Whether a stem occurs in a title, heading or body."""

    def vocabulary(self) -> Mapping[str, int]:
        """Words (as written, folded) and in how many sections they occur: spelling's source."""

    def docs(self) -> DocTable:
        """Per-section article, kind, categories and tags (built once per state)."""

    def warm(self) -> None:
        """Read ahead what most searches of this state touch (an engine may do nothing)."""

    def rank(self, plan: Plan, ranking: Ranking, depth: int) -> Ranked:
        """Matching sections, best first; at least the best `depth` of them, all when cheap."""

    def stored(self, docnums: Iterable[int]) -> dict[int, StoredSection]:
        """Some sections, by number."""

    def heading_keys(self, docnums: Iterable[int]) -> dict[int, tuple[str, str]]:
        """Some sections' heading and article title as exact-match keys (`text.normalize_phrase`), by number."""

    def article_sections(self, article_id: str) -> list[StoredSection]:
        """An article's sections, in page order."""

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Article ids whose text shares the most of these (telling) stems, best first."""

    def document_frequencies(self, stems: list[str]) -> dict[str, int]:
        """In how many section bodies each stem occurs."""

    def all_stored(self) -> Iterator[StoredSection]:
        """Every section."""

    def outlines(self) -> Iterator[Outline]:
        """Every section's outline, in section-number order (for the suggestion list)."""

    def memo(self, name: str, build: Callable[[], T]) -> T:
        """A value computed once per committed state (spelling, suggestions, heading keys)."""


class Backend(Protocol):
    """An index opened once per process, handing out views of its live state."""

    def view(self) -> AbstractContextManager[View]:
        """The live committed state; raises `kb.errors.IndexMissing` when there is none."""

    def describe(self) -> str:
        """Where the index lives, for messages."""

    def token(self) -> str | None:
        """A cheap fingerprint of the live committed state (HTTP caching), None when there is none."""

    def damage(self) -> str | None:
        """Why the live state cannot be read while an older one answers instead (`/healthz` says so);
        None when the live state answers. When nothing answers, `view()` raises `IndexDamaged`."""


@dataclass
class Manifest:
    """What the index holds, by source key, plus the spelling vocabulary (word -> sections)."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    removed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, key: str, root: str, rel: str, digest: str | None, article_id: str, sections: int,
               words: Iterable[str]) -> None:
        """Note a source written in this session: its article and how many sections it gave."""
        self.files[key] = {"hash": digest, "article_id": article_id, "root": root, "rel": rel, "sections": sections}
        self.touched.add(key)
        for w in words:
            self.vocab[w] = self.vocab.get(w, 0) + 1

    def forget(self, key: str) -> None:
        """Forget a source (its documents are deleted through the store)."""
        self.touched.add(key)
        entry = self.files.pop(key, None)
        if entry is not None:
            self.removed[key] = entry

    def pending(self) -> dict[str, dict[str, Any]]:
        """The files as saved before a commit: every touched source, removed ones too, marked unknown."""
        files = {k: ({**v, "hash": None} if k in self.touched else v) for k, v in self.files.items()}
        files.update({k: {**v, "hash": None} for k, v in self.removed.items()})
        return files

    def sections(self) -> int:
        """How many sections the index holds, by the manifest."""
        return sum(int(e.get("sections", 0)) for e in self.files.values())


@dataclass(frozen=True)
class StateCheck:
    """One committed state of an index (a Whoosh generation, a Typesense collection), verified."""

    name: str
    sections: int = 0
    articles: int = 0
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every file or record of the state could be read and agrees with the manifest."""
        return not self.problems


@dataclass(frozen=True)
class CheckReport:
    """What `kb check` found: the live state, the one before it (what a rollback returns to), and
    problems of the index as a whole (a damaged CURRENT, a missing alias)."""

    where: str
    live: StateCheck | None = None
    previous: StateCheck | None = None
    problems: tuple[str, ...] = ()
    note: str = ""  # what a rollback did

    @property
    def ok(self) -> bool:
        """True when the live state is whole."""
        return not self.problems and self.live is not None and self.live.ok

    def lines(self) -> list[str]:
        """The report as lines for a terminal."""
        out = [self.note] if self.note else []
        out += [f"problem: {p}" for p in self.problems]
        for label, state in (("live", self.live), ("previous", self.previous)):
            if state is None:
                out.append(f"{label}: none")
                continue
            verdict = "ok" if state.ok else "DAMAGED"
            out.append(f"{label}: {state.name} {verdict}, {state.articles} articles, {state.sections} sections")
            out += [f"  {p}" for p in state.problems]
        out.append(f"{self.where}: " + ("ok" if self.ok else "damaged"))
        return out


class Store(Protocol):
    """One write session: deletions and additions, then one commit (or a cancel)."""

    manifest: Manifest
    fresh: bool  # a new, empty index that replaces the live one on commit

    def delete(self, key: str) -> None:
        """Delete a source's sections."""

    def parts(self, sources: int) -> int:
        """How many processes may write this fresh store's `sources` sources (1: this one, through `add`)."""

    def write_parts(self, producers: Sequence[Producer]) -> None:
        """Start one writer process per producer (as many as `parts` allowed), each adding in order the
        sections its producer yields there; `commit` waits for them and lists their parts in order."""

    def add(self, docs: list[StoredSection]) -> None:
        """Add the sections of one source."""

    def commit(self) -> None:
        """Make everything written visible (and, for a fresh store, make it the live index)."""

    def cancel(self) -> None:
        """Abandon what was written; the live index stays as it was."""


def write_article(store: Store, key: str, root: str, rel: str, digest: str | None, article: Article,
                  words: Iterable[str]) -> None:
    """Replace a source's sections with an article's and note it in the manifest."""
    if not store.fresh:
        store.delete(key)
    store.add(list(documents(article, key)))
    store.manifest.record(key, root, rel, digest, article.article_id, len(article.sections), words)
