"""Ranking on Whoosh: a `Plan` compiled to scored word groups and masks, the first pass, RM3 feedback.

Every query is scored the same way, from per-snapshot cached postings rather than Whoosh's
matcher tree: BM25F over title, heading and body (`kb.engines.whoosh.bm25f`), synonyms
weighted inside their word's group. Required phrases, field prefixes, exclusions and filters
are masks of sections (Whoosh answers those queries once per snapshot). Short keyword queries
rank sections holding every word first (the all-words rule of site search engines); longer
ones are coordinated softly.
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
from kb.engines.whoosh.bm25f import FIELDS, frequencies, term_scores
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
    """A plan as the first pass scores it: word groups of (stem, boost), and the Whoosh queries
    of what is required, excluded and filtered (each read as a mask of sections)."""

    groups: tuple[tuple[tuple[str, float], ...], ...] = ()  # per scored word: its stems and synonyms'
    required: tuple[bool, ...] = ()  # per group: counts for coordination and the all-words rule
    must: Q.Query | None = None
    prefer: Q.Query | None = None  # quoted phrases of a long question: ranked first, not required
    excluded: Q.Query | None = None
    filter: Q.Query | None = None
    phrase_stems: tuple[str, ...] = ()  # the plain words in order, for the adjacency bonus
    query_stems: tuple[str, ...] = ()  # the distinct stems of the plain words, for feedback weights

    @property
    def empty(self) -> bool:
        """Nothing to score, require or filter."""
        return not (self.groups or self.must is not None or self.filter is not None)

    @property
    def closed(self) -> bool:
        """Required parts, exclusions or filters: feedback may only reorder what matched."""
        return self.must is not None or self.excluded is not None or self.filter is not None


def _phrase_query(terms: Sequence[str]) -> Q.Query:
    if len(terms) == 1:
        return Q.Or([Q.Term(f, terms[0]) for f in FIELDS])
    return Q.Or([Q.Phrase(f, list(terms), slop=2) for f in FIELDS])


def compile_plan(plan: Plan, r: Ranking) -> Prepared:
    """The scored word groups of a plan (synonyms weighted within their word's group), and its
    required, excluded and filtered parts."""
    groups: list[tuple[tuple[str, float], ...]] = []
    required: list[bool] = []
    for word in plan.words:
        if not word.stems:
            continue
        group = [(t, 1.0) for t in word.stems]
        for syn in word.synonyms:  # a multi-word name shares the synonym weight among its words
            group.extend((t, r.synonym_weight / len(syn)) for t in syn)
        groups.append(tuple(group))
        required.append(not word.optional)
    for stems in (*plan.phrases, *(ft for _, ft in plan.fielded)):
        for t in stems:
            groups.append(((t, 1.0),))
            required.append(True)
    # In a long natural question, a quoted phrase is the reader's emphasis, not a filter: the
    # sections holding it rank first and the rest still answer.
    long_question = sum(required[:len([w for w in plan.words if w.stems])]) > r.all_words_max
    phrases = [_phrase_query(pt) for pt in plan.phrases]
    must = [] if long_question else list(phrases)
    for fieldname, ft in plan.fielded:
        must.append(Q.Term(fieldname, ft[0]) if len(ft) == 1 else Q.Phrase(fieldname, list(ft), slop=2))
    excluded = [_phrase_query(t) for t in plan.excluded]
    filters = [Q.Or([Q.Term(fieldname, k) for k in keys]) for fieldname, keys in plan.filters]
    stems = plan.stems
    return Prepared(groups=tuple(groups), required=tuple(required),
                    must=Q.And(must) if must else None, excluded=Q.Or(excluded) if excluded else None,
                    prefer=Q.And(phrases) if phrases and long_question else None,
                    filter=Q.And(filters) if filters else None,
                    phrase_stems=stems if len(stems) > 1 and r.phrase_weight > 0 else (),
                    query_stems=tuple(dict.fromkeys(stems)))


def all_words(prep: Prepared, r: Ranking) -> bool:
    """Whether the all-words rule applies: a keyword query of 2 to `all_words_max` required words."""
    n = sum(prep.required)
    return 2 <= n <= r.all_words_max


def rank(s: Searcher, snap: Snapshot, prep: Prepared, r: Ranking, keep: int
         ) -> tuple[list[tuple[float, int]], np.ndarray, int]:
    """The best `keep` matching sections, best first; every matching section (an array); and
    how many sections hold every required word. Scores are one vector over the index's sections;
    only the head is ever sorted."""
    if prep.empty:
        return [], np.zeros(0, np.int64), 0
    scores, words, head = _first_pass(s, snap, prep, r)
    n = sum(prep.required)
    if (r.prf_docs > 0 and r.prf_weight > 0 and prep.groups and len(head)
            and s.doc_count() >= r.prf_min_sections):
        # the best sections are in the head: bonuses only ever raised the head's scores
        best = top(scores, np.asarray(head, np.int64), r.prf_docs)
        if _long_enough(s, snap, best, r):
            _expand(s, snap, prep, scores, best, r)
    matched = np.flatnonzero(scores)
    complete = int(np.count_nonzero(words[matched] == n)) if n else len(matched)
    if all_words(prep, r) and len(matched):
        # every required word first, then one missing, ...: each tier above the one below
        scores[matched] += words[matched] * (float(scores[matched].max()) + 1.0)
    if prep.prefer is not None and len(matched):
        scores[matched] += snap.filter_mask(s, prep.prefer)[matched] * (float(scores[matched].max()) + 1.0)
    return top(scores, matched, keep), matched, complete


def _long_enough(s: Searcher, snap: Snapshot, best: list[tuple[float, int]], r: Ranking) -> bool:
    """Whether the feedback sections hold enough text to learn a topic from: sections of a few
    words (titles, one-line records) give a few arbitrary terms that drift the query."""
    if not best or not r.prf_min_length:
        return True
    subs = snap.subs(s)
    words = 0.0
    for _, d in best:  # from the segments' cached field lengths (a Whoosh look-up each costs ~0.1 ms)
        i, local = snap.locate(d)
        words += sum(float(snap.segments.lengths(snap.slots[i], subs[i][0], f)[local]) for f in FIELDS)
    return words / len(best) >= r.prf_min_length


def _first_pass(s: Searcher, snap: Snapshot, prep: Prepared, r: Ranking, depth: int = 200
                ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """BM25F sums over cached postings, one vector operation per (word, stem); the masks of
    required, excluded and filtered parts; then, over the best `depth`, coordination (long
    queries) and the adjacency bonus, which only raise scores, so the best `depth` stay so."""
    size = s.doc_count_all()
    allowed: np.ndarray | None = None
    for q, keep in ((prep.filter, True), (prep.must, True), (prep.excluded, False)):
        if q is not None:
            mask = snap.filter_mask(s, q)
            mask = mask if keep else ~mask
            allowed = mask if allowed is None else allowed & mask
    scores = np.zeros(size)
    words = np.zeros(size, np.int32)  # per section: how many required words it holds
    for group, req in zip(prep.groups, prep.required, strict=True):
        has = np.zeros(size, bool)
        for term, boost in group:
            for ids, scs in _term_postings(s, snap, term, r):
                scores[ids] += scs * boost
                has[ids] = True
        if req:
            words += has
    if r.topic_weight > 0 and 0 < len(prep.query_stems) <= r.topic_max_words:
        scores *= 1 + r.topic_weight * _title_coverage(s, snap, prep, size)
    if not prep.groups:  # only filters or field prefixes: every allowed section, equal
        scores[:] = 1e-12
    if allowed is not None:
        scores[~allowed] = 0.0
    matched = np.flatnonzero(scores)
    head = top(scores, matched, depth)
    n = sum(prep.required)
    if r.coord > 0 and n > 1 and not all_words(prep, r):
        for sc, d in head:
            scores[d] = sc * (1 + r.coord * max(0, int(words[d]) - 1) / (n - 1))
    if prep.phrase_stems and head:
        for d, bonus in phrase_bonus(s, snap, prep.phrase_stems, [d for _, d in head], r.phrase_weight).items():
            scores[d] += bonus
    return scores, words, [d for _, d in head]


def _title_coverage(s: Searcher, snap: Snapshot, prep: Prepared, size: int) -> np.ndarray:
    """Per section, the share of its title's words that the query names: 1 for "Flu" on the query
    "what is flu", a half for "Bird flu". A short query that names an article's whole topic
    puts that article above the ones whose longer titles merely contain the word."""
    named = np.zeros(size)
    for t in prep.query_stems:
        ids, tf, _ = frequencies(s, snap, "title", t)
        named[ids] += tf
    lengths = np.concatenate([snap.segments.lengths(slot, sub, "title")
                              for slot, (sub, _) in zip(snap.slots, snap.subs(s), strict=True)])
    return np.minimum(1.0, np.divide(named, lengths, out=np.zeros(size), where=lengths > 0))


def _term_postings(s: Searcher, snap: Snapshot, term: str, r: Ranking) -> list[tuple[np.ndarray, np.ndarray]]:
    """A term's (sections, scores): BM25F over the fields, or per-field BM25 weighted (`combined=False`)."""
    if r.combined:
        return term_scores(s, snap, term, r)
    out = []
    for fieldname, w in zip(FIELDS, (r.title_weight, r.heading_weight, r.body_weight), strict=True):
        ids, scs = postings(s, snap, fieldname, term)
        out.append((ids, scs * w))
    return out


def _expand(s: Searcher, snap: Snapshot, prep: Prepared, scores: np.ndarray, best: list[tuple[float, int]],
            r: Ranking) -> None:
    """Add the feedback terms' scores to the first pass, as RM3's second retrieval would.

    The feedback terms are scored from cached postings rather than by a second engine pass
    (a tenth of the cost). They may bring in new sections unless the query has required
    parts, exclusions or filters: then they only reorder what already matched.
    """
    extra = _feedback(s, snap, prep, best, r)
    for term, boost in extra:
        for ids, scs in _term_postings(s, snap, term, r):
            if prep.closed:
                inside = scores[ids] != 0
                ids, scs = ids[inside], scs[inside]
            scores[ids] += scs * boost


def _feedback(s: Searcher, snap: Snapshot, prep: Prepared, top: list[tuple[float, int]], r: Ranking
              ) -> list[tuple[str, float]]:
    """RM3 pseudo-relevance feedback: the top sections' most telling terms, as weighted queries.

    Each section's term distribution P(t|D) is weighted by its score, summed, cut to the
    `prf_terms` heaviest and normalised; the feedback model then gets `prf_weight` of the
    query's mass (Lavrenko & Croft's relevance model as Anserini's RM3 interpolates it).
    """
    epoch = snap.epoch(s)
    model: dict[str, float] = {}
    total = sum(score for score, _ in top) or 1.0
    dists = []
    for score, d in top:
        i, local = snap.locate(d)
        key = (snap.slots[i].key, local)
        dist = epoch.feedback.get(key)
        if dist is None:
            dist = _term_distribution(s, snap, d, r)
            epoch.remember(key, dist)
        dists.append(dist)
        for t, p in dist.items():
            model[t] = model.get(t, 0.0) + p * score / total
    best = heapq.nsmallest(r.prf_terms, model.items(), key=lambda x: (-x[1], x[0]))
    mass = sum(p for _, p in best)
    if not mass:
        return []
    # a scattered top shrinks the feedback's share: the less its sections agree, the less it says
    agree = _agreement(best, dists)
    shrink = min(1.0, agree / r.prf_agreement) ** r.prf_shrink_power if r.prf_agreement else 1.0
    # The plain query's terms weigh 1 each; the feedback model gets prf_weight of the whole.
    n = max(1, len(prep.query_stems))
    weight = r.prf_weight * shrink
    scale = n * weight / (1 - weight) / mass
    return [(t, p * scale) for t, p in best]


def _agreement(best: list[tuple[str, float]], dists: list[dict[str, float]]) -> float:
    """How clearly the feedback sections agree on a topic: the share of them that hold each of
    the chosen terms, averaged. Sections about one topic share its words; a scattered top
    (each section on something else) gives terms that only one of them holds."""
    if not best or not dists:
        return 0.0
    return sum(sum(1 for d in dists if t in d) for t, _ in best) / (len(best) * len(dists))


def _term_distribution(s: Searcher, snap: Snapshot, docnum: int, r: Ranking) -> dict[str, float]:
    """P(t|D) over a section's telling terms: no numbers, no one-letter stems, none in over
    `prf_max_df` of the sections (they say nothing about the topic)."""
    limit = r.prf_max_df * max(1, snap.epoch(s).n)
    counts = {t: c for t, c in zip(*snap.section_terms(s, docnum), strict=True)  # text.terms(title \n body)
              if len(t) > 1 and not t[0].isdigit()}
    kept = {t: c for t, c in counts.items() if snap.body_frequency(s, t) <= limit}
    n = sum(kept.values())
    return {t: c / n for t, c in kept.items()} if n else {}
