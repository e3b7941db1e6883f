"""From a parsed query to the engine-neutral `Plan`: spelling, synonyms, required parts, filters.

Every backend receives the same plan, so spelling correction, synonym expansion and filter
keys are decided once, here, against the view's own vocabulary. Besides the plan, a search
needs to know which stems its snippets mark, what the query was corrected to and which
synonyms were added: `Planned` carries all four.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kb import text
from kb.documents import facet_key
from kb.engines.base import Plan, QueryTerm, View
from kb.models import Expansion
from kb.query import ParsedQuery
from kb.spelling import Corrector
from kb.synonyms import Synonyms
from kb.words import is_word, question_words


@dataclass(frozen=True)
class Planned:
    """A query as the engine will search it, and what the page says about it."""

    plan: Plan
    marks: frozenset[str]  # the stems snippets mark
    corrected: str | None  # the query as corrected, when spelling changed it
    expansions: tuple[Expansion, ...]  # synonyms added
    suggestion: str | None = None  # "Did you mean": real words the index lacks, respelled (never applied)


@dataclass(frozen=True)
class Filters:
    """What the reader chose to filter by, besides the query's own `category:`/`tag:`/`kind:`."""

    categories: Sequence[str] = ()
    tags: Sequence[str] = ()
    kinds: Sequence[str] = ()


@dataclass(frozen=True)
class _Spelled:
    words: tuple[str, ...]  # each plain word, folded, corrected where the index did not know it
    corrected: str | None
    suggestion: str | None  # the query with real words the index lacks respelled


@dataclass(frozen=True)
class _Expanded:
    terms: tuple[QueryTerm, ...]
    marks: frozenset[str]
    expansions: tuple[Expansion, ...]


class Planner:
    """Plans queries against a view; `corrector` gives the view's spelling corrector (built once per view)."""

    def __init__(self, synonyms: Synonyms, corrector: Callable[[View], Corrector]) -> None:
        self.synonyms = synonyms
        self.corrector = corrector

    def plan(self, parsed: ParsedQuery, v: View, filters: Filters, exact: bool = False) -> Planned:
        """The plan of a parsed query, with the stems to mark, the correction and the synonyms used."""
        spelled = self._spell(parsed, v, exact)
        expanded = self._expand(spelled.words, v)
        phrases = tuple(tuple(pt) for pt in map(text.terms, parsed.phrases) if pt)
        fielded = tuple((f, tuple(ft)) for f, ft in ((f, text.terms(value)) for f, value in parsed.fielded) if ft)
        excluded = tuple(tuple(t) for t in map(text.terms, parsed.excluded) if t)
        marks = set(expanded.marks)
        for part in (*phrases, *(ft for _, ft in fielded)):
            marks.update(part)
        plan = Plan(words=expanded.terms, phrases=phrases, fielded=fielded, excluded=excluded,
                    filters=_filter_keys(parsed, filters), key=" ".join(spelled.words))
        return Planned(plan, frozenset(marks), spelled.corrected, expanded.expansions, spelled.suggestion)

    def _indexed(self, v: View, word: str) -> bool:
        stems = text.terms(word)
        if not stems or word in self.synonyms:
            return True
        return all(v.known(st) for st in stems)

    def _spell(self, parsed: ParsedQuery, v: View, exact: bool) -> _Spelled:
        """Fold each word; correct the ones that are neither in the index, nor medicine names, nor
        real words of the language. A real word the index lacks is never rewritten: its nearest
        indexed spelling is only suggested ("Did you mean ...?")."""
        corrected_text = suggested_text = parsed.cleaned
        corrected = suggested = False
        words: list[str] = []
        for w in reversed(parsed.words):  # right to left keeps earlier offsets valid
            folded = text.fold(w.text)
            if (not exact and not folded.isdigit() and folded not in question_words()
                    and not self._indexed(v, folded)):
                fix = self.corrector(v).correct(folded)
                if fix is not None and is_word(folded):
                    suggested_text = suggested_text[:w.start] + fix + suggested_text[w.end:]
                    suggested = True
                elif fix is not None:
                    corrected_text = corrected_text[:w.start] + fix + corrected_text[w.end:]
                    suggested_text = suggested_text[:w.start] + fix + suggested_text[w.end:]
                    corrected = True
                    folded = fix
            words.append(folded)
        words.reverse()
        return _Spelled(tuple(words), corrected_text if corrected else None,
                        suggested_text if suggested else None)

    def _expand(self, words: Sequence[str], v: View) -> _Expanded:
        """Each word's stems, and the stems of its synonyms the index holds."""
        marks: set[str] = set()
        asked: set[str] = set()  # question words' stems: marked only when the query is nothing else
        expansions: list[Expansion] = []
        terms: list[QueryTerm] = []
        for word in words:
            own = text.terms(word)
            if not own:
                continue
            (asked if word in question_words() else marks).update(own)
            syns: list[tuple[str, ...]] = []
            for name in self.synonyms.expand(word):
                syn_terms = text.terms(name)
                if syn_terms and all(v.known(t) for t in syn_terms):
                    syns.append(tuple(syn_terms))
                    expansions.append(Expansion(term=name, source=word))
                    marks.update(syn_terms)
            known = any(v.known(t) for t in (*own, *(t for st in syns for t in st)))
            terms.append(QueryTerm(text=word, stems=tuple(own), synonyms=tuple(syns), known=known,
                                   optional=word in question_words()))
        return _Expanded(tuple(terms), frozenset(marks or asked), tuple(expansions))


def _filter_keys(parsed: ParsedQuery, filters: Filters) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(field, keys) per filtered field: the reader's choices and the query's own prefixes."""
    by_field: dict[str, list[str]] = {"category": list(filters.categories), "tag": list(filters.tags),
                                      "kind": list(filters.kinds)}
    for fieldname, value in parsed.filters:
        by_field[fieldname].append(value)
    out = []
    for fieldname, values in by_field.items():
        keys = [v.strip().lower() if fieldname == "kind" else facet_key(v) for v in values if v.strip()]
        if keys:
            out.append((fieldname, tuple(dict.fromkeys(keys))))
    return tuple(out)
