"""Ranking on Whoosh: a `Plan` compiled to Whoosh queries, the first pass, and RM3 feedback.

The first pass of a plain query (a sum of terms) runs from per-snapshot cached postings
rather than Whoosh's matcher tree: the same BM25F scores at a fraction of the cost. Queries
with required parts, exclusions or multi-word synonyms go through the engine. Whoosh 2.7
drops boosts on compound queries and `DisjunctionMax` scores every match alike, so synonym
weights sit on the leaf terms and coordination is our own.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from kb.engines.base import Plan
from kb.engines.whoosh.postings import phrase_bonus, postings, top
from kb.engines.whoosh.snapshot import Snapshot
from kb.ranking import Ranking


class BM25(BM25F):  # type: ignore[misc]
    """Whoosh's per-field BM25 with the Robertson-Sparck Jones idf of Lucene and Anserini.

    Whoosh's own idf, log(N / (df + 1)) + 1, flattens the gap between rare and common words;
    `idf="classic"` keeps it.
    """

    def __init__(self, idf: str = "bm25", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classic = idf == "classic"

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        """Lucene's idf, or Whoosh's own with `idf="classic"`."""
        if self.classic:
            return float(super().idf(searcher, fieldname, text))
        parent = searcher.get_parent()
        n = parent.doc_frequency(fieldname, text)
        return math.log(1 + (parent.doc_count_all() - n + 0.5) / (n + 0.5))


def weighting(r: Ranking) -> BM25:
    """The BM25F scorer for a ranking's constants."""
    return BM25(B=r.b, K1=r.k1, title_B=r.title_b, heading_B=r.heading_b, idf=r.idf)


@dataclass(frozen=True)
class Prepared:
    """A plan as Whoosh queries."""

    query: Q.Query | None
    filter: Q.Query | None
    word_stems: tuple[frozenset[str], ...] = ()  # per query word found in the index: its stems and synonyms'
    should: tuple[Q.Query, ...] = ()  # the scored parts, kept apart so feedback can add to them
    must: tuple[Q.Query, ...] = ()
    excluded: tuple[Q.Query, ...] = ()
    query_stems: tuple[str, ...] = ()  # the distinct stems of the plain words, for feedback weights
    # (word number, field, term, boost) of every scored term, when the scored part is a plain sum of
    # terms: then the first pass runs from cached postings instead of Whoosh's matcher tree
    terms: tuple[tuple[int, str, str, float], ...] | None = None
    phrase: Q.Query | None = None  # the adjacency bonus, applied to the best candidates only
    phrase_stems: tuple[str, ...] = ()  # its words, in order (repeats kept)


def _weights(r: Ranking, scale: float) -> dict[str, float]:
    return {"title": r.title_weight * scale, "heading": r.heading_weight * scale, "body": r.body_weight * scale}


def _fields_query(r: Ranking, terms: Sequence[str], phrase: bool = False, scale: float = 1.0) -> Q.Query:
    weights = _weights(r, scale)
    if phrase and len(terms) > 1:
        return Q.Or([Q.Phrase(f, list(terms), slop=2, boost=w) for f, w in weights.items()])
    return Q.Or([Q.Term(f, t, boost=w) for t in terms for f, w in weights.items()])


def compile_plan(plan: Plan, r: Ranking) -> Prepared:
    """The Whoosh queries of a plan: scored words (with weighted synonyms), required and excluded parts."""
    should: list[Q.Query] = []
    word_stems: list[frozenset[str]] = []
    flat: list[tuple[int, str, str, float]] | None = []
    for word in plan.words:
        own = word.stems
        if not own:
            continue
        group = set(own)
        wi = len(word_stems)
        if flat is not None:
            flat.extend((wi, f, t, w) for t in own for f, w in _weights(r, 1.0).items())
        syns = []
        for syn_terms in word.synonyms:
            syns.append(_fields_query(r, syn_terms, phrase=len(syn_terms) > 1, scale=r.synonym_weight))
            if len(syn_terms) > 1:
                flat = None  # a multi-word name is a phrase: only the engine can score it
            elif flat is not None:
                flat.extend((wi, f, syn_terms[0], w) for f, w in _weights(r, r.synonym_weight).items())
            group.update(syn_terms)
        if word.known:
            word_stems.append(frozenset(group))
        exact = _fields_query(r, own)
        should.append(Q.Or([exact, *syns]) if syns else exact)
    all_stems = list(plan.stems)
    phrase_bonus = None
    if len(all_stems) > 1 and r.phrase_weight > 0:
        phrase_bonus = Q.Or([Q.Phrase(f, all_stems, slop=3, boost=r.phrase_weight) for f in ("heading", "body")])
        should.append(phrase_bonus)
    must: list[Q.Query] = [_fields_query(r, pt, phrase=True) for pt in plan.phrases]
    for fieldname, ft in plan.fielded:
        must.append(Q.And([Q.Term(fieldname, t) for t in ft]) if len(ft) == 1 else Q.Phrase(fieldname, list(ft), slop=2))
    excluded = [_fields_query(r, t, phrase=len(t) > 1) for t in plan.excluded]
    filters = [Q.Or([Q.Term(fieldname, k) for k in keys]) for fieldname, keys in plan.filters]
    return Prepared(query=_assemble(should, must, excluded, bool(filters)),
                    filter=Q.And(filters) if filters else None, word_stems=tuple(word_stems),
                    should=tuple(should), must=tuple(must), excluded=tuple(excluded),
                    query_stems=tuple(dict.fromkeys(all_stems)),
                    terms=tuple(flat) if flat and not must and not excluded else None, phrase=phrase_bonus,
                    phrase_stems=tuple(all_stems) if phrase_bonus is not None else ())


def _assemble(should: list[Q.Query], must: list[Q.Query], excluded: list[Q.Query], filtered: bool
              ) -> Q.Query | None:
    """The engine query: must parts required, should parts scored, exclusions removed."""
    if should and must:
        main: Q.Query | None = Q.AndMaybe(Q.And(must), Q.Or(should))
    elif should:
        main = Q.Or(should)
    elif must:
        main = Q.And(must)
    elif filtered:
        main = Q.Every()
    else:
        main = None
    if main is not None and excluded:
        main = Q.AndNot(main, Q.Or(excluded))
    return main


def rank(s: Searcher, snap: Snapshot, prep: Prepared, r: Ranking, keep: int
         ) -> tuple[list[tuple[float, int]], np.ndarray]:
    """The best `keep` matching sections, best first, and every matching section (an array):
    scored, coordinated and expanded by feedback. Scores are one vector over the index's
    sections; only the head is ever sorted."""
    if prep.query is None:
        return [], np.zeros(0, np.int64)
    scores, head = _retrieve_bulk(s, snap, prep, r) if prep.terms is not None else _retrieve(s, prep, r)
    # Feedback needs a collection much larger than the feedback set: in a small one the
    # "top sections" are most of it and their terms say nothing about the query.
    if (r.prf_docs > 0 and r.prf_weight > 0 and prep.should and len(head)
            and s.doc_count() >= r.prf_min_sections):
        # the best sections are in the head: boosts only ever raised the head's scores
        best = top(scores, np.asarray(head, np.int64), r.prf_docs)
        _expand(s, snap, prep, scores, best, r)
    matched = np.flatnonzero(scores)
    return top(scores, matched, keep), matched


def _retrieve(s: Searcher, prep: Prepared, r: Ranking, depth: int = 200) -> tuple[np.ndarray, list[int]]:
    """One pass of the engine: every match, scored and coordinated; and the best `depth` of them."""
    coord = r.coord > 0 and len(prep.word_stems) > 1
    results = s.search(prep.query, limit=None, filter=prep.filter, terms=coord)
    ranked = [(float(score), int(docnum)) for score, docnum in results.top_n]
    if coord:
        ranked = _coordinate(ranked, results.docterms, prep.word_stems, r.coord)
    scores = np.zeros(s.doc_count_all())
    for sc, d in ranked:
        # a match always scores above zero (zero means "no match" in the vector)
        scores[d] = sc if sc > 0 else 1e-12
    return scores, [d for _, d in ranked[:depth]]


def _retrieve_bulk(s: Searcher, snap: Snapshot, prep: Prepared, r: Ranking, depth: int = 200
                   ) -> tuple[np.ndarray, list[int]]:
    """The first pass as sums over cached postings: the same BM25 scores as the engine's
    matcher tree (a term's score times its boost, summed in the same order), at a fraction of
    the cost, one vector operation per (field, term).

    Coordination and the phrase bonus (which needs positions) cover the best `depth`
    candidates, as after an engine pass; both only raise scores, so the best `depth` stay the
    best `depth`.
    """
    assert prep.terms is not None
    allowed = snap.filter_mask(s, prep.filter) if prep.filter is not None else None
    scores = np.zeros(s.doc_count_all())
    words = np.zeros(len(scores), np.int32)  # per section: how many of the query words it contains
    has_word: np.ndarray | None = None
    current = -1
    for wi, fieldname, term, boost in prep.terms:  # word by word (a word's fields and synonyms together)
        if wi != current:
            if has_word is not None:
                words += has_word
            has_word, current = np.zeros(len(scores), bool), wi
        ids, scs = postings(s, snap, fieldname, term)
        if allowed is not None:
            inside = allowed[ids]
            ids, scs = ids[inside], scs[inside]
        scores[ids] += scs * boost
        assert has_word is not None
        has_word[ids] = True
    if has_word is not None:
        words += has_word
    head = top(scores, np.flatnonzero(words), depth)
    n = len(prep.word_stems)
    c = r.coord
    if c > 0 and n > 1:
        for sc, d in head:
            scores[d] = sc * (1 + c * (int(words[d]) - 1) / (n - 1))
    if prep.phrase_stems and head:
        for d, bonus in phrase_bonus(s, snap, prep.phrase_stems, [d for _, d in head], r.phrase_weight).items():
            scores[d] += bonus
    return scores, [d for _, d in head]


def _expand(s: Searcher, snap: Snapshot, prep: Prepared, scores: np.ndarray, best: list[tuple[float, int]],
            r: Ranking) -> None:
    """Add the feedback terms' scores to the first pass, as RM3's second retrieval would.

    The feedback terms are scored from cached postings rather than by a second engine pass
    (a tenth of the cost). They may bring in new sections unless the query has required
    parts, exclusions or filters: then they only reorder what already matched.
    """
    extra = _feedback(s, snap, prep, best, r)
    if not extra:
        return
    weights = _weights(r, 1.0)
    closed = bool(prep.must or prep.excluded or prep.filter is not None)
    for term, boost in extra:
        for fieldname, w in weights.items():
            ids, scs = postings(s, snap, fieldname, term)
            if closed:
                inside = scores[ids] != 0
                ids, scs = ids[inside], scs[inside]
            scores[ids] += scs * w * boost


def _feedback(s: Searcher, snap: Snapshot, prep: Prepared, top: list[tuple[float, int]], r: Ranking
              ) -> list[tuple[str, float]]:
    """RM3 pseudo-relevance feedback: the top sections' most telling terms, as weighted queries.

    Each section's term distribution P(t|D) is weighted by its score, summed, cut to the
    `prf_terms` heaviest and normalised; the feedback model then gets `prf_weight` of the
    query's mass (Lavrenko & Croft's relevance model as Anserini's RM3 interpolates it).
    """
    cache = snap.feedback
    if len(cache) > 50_000:
        cache.clear()
    model: dict[str, float] = {}
    total = sum(score for score, _ in top) or 1.0
    for score, d in top:
        dist = cache.get(d)
        if dist is None:
            dist = cache[d] = _term_distribution(s, snap, d, r)
        for t, p in dist.items():
            model[t] = model.get(t, 0.0) + p * score / total
    best = heapq.nsmallest(r.prf_terms, model.items(), key=lambda x: (-x[1], x[0]))
    mass = sum(p for _, p in best)
    if not mass:
        return []
    # The plain query's terms weigh 1 each; the feedback model gets prf_weight of the whole.
    n = max(1, len(prep.query_stems))
    scale = n * r.prf_weight / (1 - r.prf_weight) / mass
    return [(t, p * scale) for t, p in best]


def _term_distribution(s: Searcher, snap: Snapshot, docnum: int, r: Ranking) -> dict[str, float]:
    """P(t|D) over a section's telling terms: no numbers, no one-letter stems, none in over
    `prf_max_df` of the sections (they say nothing about the topic)."""
    limit = r.prf_max_df * max(1, s.doc_count_all())
    counts = {t: c for t, c in snap.section_terms(s, docnum)  # text.terms(title \n body), counted
              if len(t) > 1 and not t[0].isdigit()}
    kept = {t: c for t, c in counts.items() if snap.body_frequency(s, t) <= limit}
    n = sum(kept.values())
    return {t: c / n for t, c in kept.items()} if n else {}


def _coordinate(ranked: list[tuple[float, int]], docterms: dict[int, Any],
                word_stems: tuple[frozenset[str], ...], c: float, depth: int = 200) -> list[tuple[float, int]]:
    """Among the top candidates, favour sections that contain more of the query's words."""
    n = len(word_stems)
    head = []
    for score, d in ranked[:depth]:
        found = {t.decode("utf-8") if isinstance(t, bytes) else t for _, t in docterms.get(d, ())}
        matched = sum(1 for group in word_stems if not found.isdisjoint(group))
        head.append((score * (1 + c * max(0, matched - 1) / (n - 1)), d))
    head.sort(key=lambda x: -x[0])
    return head + ranked[depth:]
