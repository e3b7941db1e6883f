"""Ranking parameters: BM25F constants, field weights, the all-words rule, feedback and its gates.

Chosen on the whole development suite (five judged collections and NFCorpus train/dev; see
benchmarks/RELEVANCE.md and `make relevance`), never on one collection, never on a test split.
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
    title_weight: float = 3.0  # BM25F: a title occurrence is worth three body ones (best on every collection)
    heading_weight: float = 3.0
    body_weight: float = 1.0
    synonym_weight: float = 0.6  # a synonym-only match scores at most this share of an exact one
    phrase_weight: float = 0.25  # bonus for the query's words adjacent in a heading or the body
    coord: float = 0.0  # long queries: score x (1 + coord x share of the other words matched); hurt 4 of 6
    exact_bonus: bool = True  # an exact title or heading match ranks first
    prf_docs: int = 10  # pseudo-relevance feedback: how many top sections to learn from (0: off)
    prf_terms: int = 10
    prf_weight: float = 0.5  # the feedback model's share of the expanded query (RM3's 1 - lambda)
    prf_max_df: float = 0.1  # feedback ignores terms found in more than this share of sections
    prf_min_sections: int = 500  # no feedback in smaller indexes (too few sections to learn from)
    prf_min_length: int = 60  # feedback only when its sections average this many indexed words
    prf_agreement: float = 0.6  # feedback's weight shrinks when fewer of its sections share its terms
    prf_shrink_power: float = 2.0  # weight x min(1, agreement / prf_agreement) ** this
    combined: bool = True  # BM25F (fields' frequencies added, one saturation); False: per-field BM25 summed
    all_words_max: int = 3  # queries of 2..this many required words rank sections with all of them first (4 cost 0.006)
    topic_weight: float = 1.0  # score x (1 + this x share of the article title the query covers)
    topic_max_words: int = 3  # ... for queries of at most this many distinct stems
    # under edits, scores keep an earlier state's statistics (section count, average lengths, idf)
    # while the sections added and removed since are at most this share of it; 0: always exact
    stats_drift: float = 0.01
