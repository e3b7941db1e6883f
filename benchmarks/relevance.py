"""Relevance harness: nDCG@10, Recall@100, MRR@10 and per-query time, change by change.

Each row adds one change to the row above it (the first row is the ranking before the
"Search: relevance" work), so the table says what every change gained. Parameters are
chosen on train and dev; pass --test only for the one final measurement.

    .venv/bin/python benchmarks/relevance.py ../shared/data/nfcorpus [--test] [--json]

The dataset (BEIR layout) is read where it lies and indexed into --index (default: a
temporary folder); nothing from it is written into the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from indexer.build import index_paths
from kb.config import Settings
from kb.evaluation import evaluate, load_dataset
from kb.ranking import Ranking
from kb.search import KnowledgeBase

BASELINE = Ranking(idf="classic", title_weight=1.5, prf_docs=0, prf_weight=0.3)

# (label, changes on top of the previous row)
STEPS: list[tuple[str, dict[str, Any]]] = [
    ("baseline (Whoosh idf, title x1.5, no feedback)", {}),
    ("+ BM25 (Robertson-Sparck Jones) idf", {"idf": "bm25"}),
    ("+ title weight 0.7", {"title_weight": 0.7}),
    ("+ RM3 feedback (10 docs, 10 terms, weight 0.5)", {"prf_docs": 10, "prf_terms": 10, "prf_weight": 0.5}),
]


def measure(kb: KnowledgeBase, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Quality figures plus the latency of a plain 10-hit search per query (warm caches)."""
    report = evaluate(kb, queries, qrels)
    times = []
    for q in queries.values():
        started = time.perf_counter()
        kb.search(q)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    report["ms_p50"] = round(statistics.median(times), 2)
    report["ms_p99"] = round(times[min(len(times) - 1, int(len(times) * 0.99))], 2)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--index", type=Path, help="index folder to build or reuse")
    ap.add_argument("--test", action="store_true", help="also measure the test split (once, at the end)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    splits = ["train", "dev", *(["test"] if args.test else [])]
    with tempfile.TemporaryDirectory(prefix="kb-rel-") as tmp:
        settings = Settings(index_dir=args.index or Path(tmp) / "index")
        index_paths([args.dataset / "corpus.jsonl"], settings)
        data = {s: load_dataset(args.dataset, s) for s in splits}
        rows = []
        ranking = BASELINE
        for label, change in STEPS:
            ranking = dataclasses.replace(ranking, **change)
            kb = KnowledgeBase.open(settings=settings, ranking=ranking)
            rows.append({"step": label, "ranking": dataclasses.asdict(ranking),
                         **{s: measure(kb, *data[s]) for s in splits}})
            if not args.json:
                print(f"done: {label}", file=sys.stderr)
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    head = f"{'step':50s}" + "".join(f" | {s + ' nDCG@10':>14s} {'R@100':>6s} {'MRR@10':>6s}" for s in splits)
    print(head + f" | {'p50 ms':>6s} {'p99 ms':>6s}")
    print("-" * len(head) + "-" * 17)
    for row in rows:
        cells = "".join(f" | {row[s]['ndcg@10']:14.4f} {row[s]['recall@100']:6.4f} {row[s]['mrr@10']:6.4f}"
                        for s in splits)
        lat = row["dev"]
        print(f"{row['step']:50s}{cells} | {lat['ms_p50']:6.1f} {lat['ms_p99']:6.1f}")


if __name__ == "__main__":
    main()
