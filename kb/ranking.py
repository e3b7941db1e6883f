"""Ranking parameters: BM25F constants, field weights, synonym and feedback weights.

Chosen on NFCorpus train/dev (see benchmarks/RELEVANCE.md and `kb eval`), never on test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ranking:
    """The knobs of relevance; the defaults are the tuned values."""

    idf: str = "bm25"  # "bm25": Lucene's log(1 + (N - n + .5) / (n + .5)); "classic": Whoosh's
    k1: float = 1.2
    b: float = 0.75
    title_b: float = 0.5
    heading_b: float = 0.5
    title_weight: float = 1.0  # 0.7 was best on NFCorpus alone; 1.0 holds up better on article sites
    heading_weight: float = 1.5
    body_weight: float = 1.0
    synonym_weight: float = 0.6  # a synonym-only match scores at most this share of an exact one
    phrase_weight: float = 0.5  # bonus for the query's words adjacent in a heading or the body
    coord: float = 0.5  # score x (1 + coord x share of the other query words also matched)
    exact_bonus: bool = True  # an exact title or heading match ranks first
    prf_docs: int = 10  # pseudo-relevance feedback: how many top sections to learn from (0: off)
    prf_terms: int = 10
    prf_weight: float = 0.5  # the feedback model's share of the expanded query (RM3's 1 - lambda)
    prf_max_df: float = 0.1  # feedback ignores terms found in more than this share of sections
    prf_min_sections: int = 500  # no feedback in smaller indexes (too few sections to learn from)
