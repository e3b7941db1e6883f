"""Search-quality evaluation on a BEIR-format set: nDCG@10, Recall@100, MRR@10.

Every query runs through `KnowledgeBase.search` (ungrouped), exactly as the web UI calls
it, so the figures describe the product, not a side path. Gains are graded as trec_eval
does (linear in the judged score), the metric BEIR reports.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from kb.errors import KbError
from kb.search import KnowledgeBase


def load_dataset(folder: Path, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Queries (id -> text) and judgements (query id -> doc id -> grade) of one split."""
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file() or not (folder / "queries.jsonl").is_file():
        raise KbError(f"{folder} is not a BEIR dataset with queries.jsonl and qrels/{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", "rb") as f:
        for line in f:
            if line.strip():
                q = orjson.loads(line)
                if str(q["_id"]) in qrels:
                    queries[str(q["_id"])] = str(q["text"])
    return queries, {q: r for q, r in qrels.items() if q in queries}


def ndcg(ranked: list[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain at k."""
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[str], judged: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: list[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top k."""
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def ranked_articles(kb: KnowledgeBase, query: str, depth: int = 100) -> list[str]:
    """The article ids a query returns, best first, each once."""
    page = kb.search(query, per_page=depth, snippets_on=False, facets_on=False)
    return list(dict.fromkeys(h.article_id for h in page.hits))


def evaluate(kb: KnowledgeBase, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]]
             ) -> dict[str, Any]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the queries, and how many found nothing."""
    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    zero = 0
    for qid, text in queries.items():
        ranked = ranked_articles(kb, text)
        zero += not ranked
        judged = qrels.get(qid, {})
        totals["ndcg@10"] += ndcg(ranked, judged)
        totals["recall@100"] += recall(ranked, judged)
        totals["mrr@10"] += mrr(ranked, judged)
    n = max(1, len(queries))
    return {**{k: round(v / n, 4) for k, v in totals.items()}, "queries": len(queries),
            "zero_result_queries": zero}
