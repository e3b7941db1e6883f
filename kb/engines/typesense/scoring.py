"""BM25F over candidate sections' analysed text: the Whoosh path's ranking, for engines without it.

Typesense ranks by how many query words match and how close they are, with no term
weighting, so a rare medicine name counts no more than "dose". The Typesense backend takes
its candidates and scores them here with the same model the Whoosh path uses (BM25F over
title, heading and body with the Robertson-Sparck Jones idf, synonym weights, the title-first
bonus, the all-words rule, the phrase bonus, and RM3 feedback with the same gates, over the
candidates), so both backends put the same sections on top.
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
    """One field's BM25 for one stem, as Whoosh's per-field scorer computes it with our idf (the
    phrase bonus's unit)."""
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


def bm25f(r: Ranking, stats: Stats, stem: str, doc: Analysed, lengths: Mapping[str, int]) -> float:
    """A stem's BM25F over the three fields (`kb.engines.whoosh.bm25f`): the weighted, length-
    normalised frequencies added, saturated once, with the idf over whole sections."""
    pseudo = 0.0
    for f, w in _weights(r).items():
        tf = doc.counts[f].get(stem, 0)
        if tf and w:
            b = _b(r, f)
            pseudo += w * tf / (1 - b + b * lengths[f] / (stats.mean_length.get(f) or 1.0))
    if not pseudo:
        return 0.0
    n = stats.df.get(("*", stem)) or max(stats.df.get((f, stem), 0) for f in FIELDS)
    idf = math.log(1 + (stats.sections - n + 0.5) / (n + 0.5))
    return idf * pseudo * (r.k1 + 1) / (pseudo + r.k1)


def groups(plan: Plan, r: Ranking) -> tuple[list[list[tuple[str, float]]], list[bool]]:
    """The scored word groups of a plan and which count as required, as the Whoosh path builds
    them: a word with its synonyms (a multi-word name shares the synonym weight), then each stem
    of the required phrases and field prefixes."""
    out: list[list[tuple[str, float]]] = []
    required: list[bool] = []
    for word in plan.words:
        if word.stems:
            out.append([(t, 1.0) for t in word.stems]
                       + [(t, r.synonym_weight / len(syn)) for syn in word.synonyms for t in syn])
            required.append(not word.optional)
    for stems in (*plan.phrases, *(ft for _, ft in plan.fielded)):
        out += [[(t, 1.0)] for t in stems]
        required += [True] * len(stems)
    return out, required


def all_words(plan: Plan, r: Ranking) -> bool:
    """The all-words rule's test, as `kb.engines.whoosh.rank.all_words`: 2 to `all_words_max` required words."""
    return 2 <= sum(groups(plan, r)[1]) <= r.all_words_max


def score(plan: Plan, r: Ranking, stats: Stats, doc: Analysed,
          grouped: tuple[list[list[tuple[str, float]]], list[bool]] | None = None) -> tuple[float, int]:
    """A section's score for a plan and how many of the plan's required words it contains
    (`grouped`: the plan's `groups`, when the caller scores many sections)."""
    fields, counts = doc.tokens, doc.counts
    lengths = {f: len(t) for f, t in fields.items()}
    total = 0.0
    matched = 0
    word_groups, required = grouped or groups(plan, r)
    for group, req in zip(word_groups, required, strict=True):
        found = False
        for stem, boost in group:
            sc = bm25f(r, stats, stem, doc, lengths)
            if sc:
                total += sc * boost
                found = True
        matched += found and req
    stems = plan.stems
    if r.topic_weight > 0 and 0 < len(dict.fromkeys(stems)) <= r.topic_max_words and lengths["title"]:
        named = sum(counts["title"].get(st, 0) for st in dict.fromkeys(stems))
        total *= 1 + r.topic_weight * min(1.0, named / lengths["title"])
    if len(stems) > 1 and r.phrase_weight > 0:
        for f in PHRASE_FIELDS:
            if all(st in counts[f] for st in stems) and _near(fields[f], stems, 3):
                total += r.phrase_weight * sum(term_score(r, stats, f, st, counts[f].get(st, 0), lengths[f])
                                               for st in dict.fromkeys(stems))
    return total, matched


def rank(plan: Plan, r: Ranking, stats: Stats, candidates: Sequence[tuple[int, Analysed]]
         ) -> tuple[list[tuple[float, int]], dict[int, int]]:
    """Candidates (section number, analysed fields) scored and coordinated, best first, and how
    many required words each holds."""
    grouped = groups(plan, r)
    scored = [(*score(plan, r, stats, doc, grouped), d) for d, doc in candidates]
    ranked = sorted(((s, d) for s, _, d in scored), key=lambda x: (-x[0], x[1]))
    matched = {d: m for _, m, d in scored}
    n = sum(grouped[1])
    if r.coord > 0 and n > 1 and not 2 <= n <= r.all_words_max:
        head = [(s * (1 + r.coord * max(0, matched[d] - 1) / (n - 1)), d) for s, d in ranked[:COORD_DEPTH]]
        ranked = sorted(head, key=lambda x: (-x[0], x[1])) + ranked[COORD_DEPTH:]
    return ranked, matched


def tiered(plan: Plan, r: Ranking, ranked: list[tuple[float, int]], matched: Mapping[int, int]
           ) -> list[tuple[float, int]]:
    """The all-words rule over a ranking: sections with more required words first, each tier above
    the one below (scores raised as the Whoosh path raises them)."""
    if not all_words(plan, r) or not ranked:
        return ranked
    step = max(s for s, _ in ranked) + 1.0
    return sorted(((s + matched.get(d, 0) * step, d) for s, d in ranked), key=lambda x: (-x[0], x[1]))


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
    lengths = [len(doc.tokens["title"]) + len(doc.tokens["heading"]) + len(doc.tokens["body"]) for _, doc in top]
    if not mass or (r.prf_min_length and sum(lengths) / len(lengths) < r.prf_min_length):
        return []
    # the Whoosh path's agreement gate: the share of the feedback sections holding each chosen term
    agree = sum(sum(1 for _, doc in top if t in doc.counts["title"] or t in doc.counts["body"])
                for t, _ in best) / (len(best) * len(top))
    weight = r.prf_weight * (min(1.0, agree / r.prf_agreement) ** r.prf_shrink_power if r.prf_agreement else 1.0)
    n_query = max(1, len(dict.fromkeys(plan.stems)))
    scale = n_query * weight / (1 - weight) / mass
    return [(t, p * scale) for t, p in best]


def add_feedback(r: Ranking, stats: Stats, ranked: list[tuple[float, int]],
                 docs: Mapping[int, Analysed], terms: Sequence[tuple[str, float]]) -> list[tuple[float, int]]:
    """The candidates re-scored with the feedback terms added (they reorder, never add, sections)."""
    out = []
    for s, d in ranked:
        doc = docs[d]
        lengths = {f: len(t) for f, t in doc.tokens.items()}
        s += sum(boost * bm25f(r, stats, t, doc, lengths) for t, boost in terms)
        out.append((s, d))
    return sorted(out, key=lambda x: (-x[0], x[1]))
