"""BM25F over candidate sections' analysed text: the Whoosh path's ranking, for engines without it.

Typesense ranks by how many query words match and how close they are, with no term
weighting, so a rare medicine name counts no more than "dose". The Typesense backend takes
its candidates and scores them here with the same model the Whoosh path uses (per-field
BM25 with the Robertson-Sparck Jones idf, field and synonym weights, coordination and the
phrase bonus), so both backends put the same sections on top. Pseudo-relevance feedback
(RM3) needs the whole collection's postings and is left to the Whoosh path.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kb.engines.base import Plan
from kb.ranking import Ranking

FIELDS = ("title", "heading", "body")
PHRASE_FIELDS = ("heading", "body")
COORD_DEPTH = 200


@dataclass(frozen=True)
class Analysed:
    """A section's analysed fields: token sequences (for phrases) and term counts (for BM25).

    The counts are plain dicts of strings and ints, not `Counter`s: a reader keeps tens of
    thousands of these, and Python's cycle collector walks every entry of a `Counter` on each
    full collection but skips a plain dict that holds only strings and numbers."""

    tokens: Mapping[str, tuple[str, ...]]
    counts: Mapping[str, Mapping[str, int]]

    @classmethod
    def of(cls, fields: Mapping[str, Sequence[str]]) -> Analysed:
        """From each field's stems in order."""
        tokens = {f: tuple(fields.get(f, ())) for f in FIELDS}
        return cls(tokens, {f: dict(Counter(t)) for f, t in tokens.items()})


@dataclass(frozen=True)
class Stats:
    """Collection statistics: sections, mean field lengths, and (field, stem) -> sections holding it."""

    sections: int
    mean_length: Mapping[str, float]
    df: Mapping[tuple[str, str], int]


def _b(r: Ranking, field: str) -> float:
    return {"title": r.title_b, "heading": r.heading_b}.get(field, r.b)


def _weights(r: Ranking) -> dict[str, float]:
    return {"title": r.title_weight, "heading": r.heading_weight, "body": r.body_weight}


def term_score(r: Ranking, stats: Stats, field: str, stem: str, tf: int, length: int) -> float:
    """One field's BM25 for one stem, as Whoosh's BM25F computes it with our idf."""
    if not tf:
        return 0.0
    n = stats.df.get((field, stem), 0)
    idf = math.log(1 + (stats.sections - n + 0.5) / (n + 0.5))
    avg = stats.mean_length.get(field) or 1.0
    b = _b(r, field)
    return idf * tf * (r.k1 + 1) / (tf + r.k1 * ((1 - b) + b * length / avg))


def _near(tokens: Sequence[str], stems: Sequence[str], slop: int) -> bool:
    """Whether the stems occur in order, each within `slop` extra positions of the one before."""
    starts = [i for i, t in enumerate(tokens) if t == stems[0]]
    for start in starts:
        pos, ok = start, True
        for st in stems[1:]:
            nxt = next((j for j in range(pos + 1, min(len(tokens), pos + 2 + slop)) if tokens[j] == st), None)
            if nxt is None:
                ok = False
                break
            pos = nxt
        if ok:
            return True
    return False


def score(plan: Plan, r: Ranking, stats: Stats, doc: Analysed) -> tuple[float, int]:
    """A section's score for a plan and how many of the plan's known words it contains."""
    weights = _weights(r)
    fields, counts = doc.tokens, doc.counts
    lengths = {f: len(t) for f, t in fields.items()}
    total = 0.0
    matched = 0
    for word in plan.words:
        found = False
        variants: list[tuple[tuple[str, ...], float]] = [(word.stems, 1.0)]
        variants += [(syn, r.synonym_weight) for syn in word.synonyms]
        for stems, scale in variants:
            multi = len(stems) > 1 and scale != 1.0  # a multi-word synonym counts as a phrase
            for f in FIELDS:
                if multi and not (all(st in counts[f] for st in stems) and _near(fields[f], stems, 2)):
                    continue
                for st in stems:
                    s = term_score(r, stats, f, st, counts[f].get(st, 0), lengths[f])
                    if s:
                        total += s * weights[f] * scale
                        found = True
        matched += found and word.known
    for phrase in plan.phrases:  # required, so every candidate has them: they score like words
        for f in FIELDS:
            total += sum(term_score(r, stats, f, st, counts[f].get(st, 0), lengths[f]) for st in phrase) * weights[f]
    all_stems = plan.stems
    if len(all_stems) > 1 and r.phrase_weight > 0:
        for f in PHRASE_FIELDS:
            if all(st in counts[f] for st in all_stems) and _near(fields[f], all_stems, 3):
                total += r.phrase_weight * sum(term_score(r, stats, f, st, counts[f].get(st, 0), lengths[f])
                                               for st in dict.fromkeys(all_stems))
    return total, matched


def rank(plan: Plan, r: Ranking, stats: Stats, candidates: Sequence[tuple[int, Analysed]]
         ) -> list[tuple[float, int]]:
    """Candidates (section number, analysed fields) scored and coordinated, best first."""
    scored = [(*score(plan, r, stats, doc), d) for d, doc in candidates]
    ranked = sorted(((s, d) for s, _, d in scored), key=lambda x: (-x[0], x[1]))
    n = sum(1 for w in plan.words if w.known)
    if r.coord > 0 and n > 1:
        matched = {d: m for _, m, d in scored}
        head = [(s * (1 + r.coord * max(0, matched[d] - 1) / (n - 1)), d) for s, d in ranked[:COORD_DEPTH]]
        ranked = sorted(head, key=lambda x: (-x[0], x[1])) + ranked[COORD_DEPTH:]
    return ranked


def feedback_terms(r: Ranking, plan: Plan, top: Sequence[tuple[float, Analysed]],
                   body_df: Mapping[str, int], sections: int) -> list[tuple[str, float]]:
    """RM3's feedback terms and weights from the top sections' text, as the Whoosh path picks them:
    score-weighted term distributions (no numbers, no one-letter stems, none in over `prf_max_df`
    of the sections), the `prf_terms` heaviest, given `prf_weight` of the query's mass."""
    limit = r.prf_max_df * max(1, sections)
    model: dict[str, float] = {}
    total = sum(s for s, _ in top) or 1.0
    for s, doc in top:
        counts = Counter({t: c for t, c in (Counter(doc.counts["title"]) + Counter(doc.counts["body"])).items()
                          if len(t) > 1 and not t[0].isdigit() and body_df.get(t, 0) <= limit})
        n = sum(counts.values())
        for t, c in counts.items():
            model[t] = model.get(t, 0.0) + c / n * s / total
    best = sorted(model.items(), key=lambda x: (-x[1], x[0]))[:r.prf_terms]
    mass = sum(p for _, p in best)
    if not mass:
        return []
    n_query = max(1, len(dict.fromkeys(plan.stems)))
    scale = n_query * r.prf_weight / (1 - r.prf_weight) / mass
    return [(t, p * scale) for t, p in best]


def add_feedback(r: Ranking, stats: Stats, ranked: list[tuple[float, int]],
                 docs: Mapping[int, Analysed], terms: Sequence[tuple[str, float]]) -> list[tuple[float, int]]:
    """The candidates re-scored with the feedback terms added (they reorder, never add, sections)."""
    weights = _weights(r)
    out = []
    for s, d in ranked:
        doc = docs[d]
        for t, boost in terms:
            for name in FIELDS:
                tf = doc.counts[name].get(t, 0)
                if tf:
                    s += boost * weights[name] * term_score(r, stats, name, t, tf, len(doc.tokens[name]))
        out.append((s, d))
    return sorted(out, key=lambda x: (-x[0], x[1]))
