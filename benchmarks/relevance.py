"""Relevance harness: nDCG@10 per collection of the development suite, beside plain BM25.

One table: per collection, plain BM25 (computed here with bm25s on the same analysis: one
field, title + text, k1=1.2 b=0.75), the shipped defaults, and each ablation (one default
switched off or changed). Every query goes through `KnowledgeBase.search` exactly as the web
UI calls it. The collections are read where they lie (`../shared/data/`), indexed once into
--cache, and nothing from them is written into the repository.

    .venv/bin/python benchmarks/relevance.py [--only cacm,med] [--set coord=0] [--test] [--json]

`--test` adds the NFCorpus test split (measure it once, at the end; never tune on it).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.build import index_paths  # noqa: E402
from kb import text  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.evaluation import load_dataset, mrr, ndcg, ranked_articles  # noqa: E402
from kb.ranking import Ranking  # noqa: E402
from kb.search import KnowledgeBase  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
# (name, folder, split): the development suite
SUITE = [
    ("cranfield", DATA / "judged" / "cranfield", "test"),
    ("cacm", DATA / "judged" / "cacm", "test"),
    ("npl", DATA / "judged" / "npl", "test"),
    ("med", DATA / "judged" / "med", "test"),
    ("stackfaq", DATA / "judged" / "stackfaq-dev", "dev"),
    ("nfcorpus-dev", DATA / "nfcorpus", "dev"),
]
NF_TEST = ("nfcorpus-test", DATA / "nfcorpus", "test")

# (label, changes to the shipped defaults): each row switches one rule off or back
ABLATIONS: list[tuple[str, dict[str, Any]]] = [
    ("no feedback (RM3 off)", {"prf_docs": 0}),
    ("feedback without its gates (length, agreement)", {"prf_min_length": 0, "prf_agreement": 0.0}),
    ("feedback without the agreement gate", {"prf_agreement": 0.0}),
    ("no title/heading weighting (weights 1)", {"title_weight": 1.0, "heading_weight": 1.0}),
    ("soft coordination 0.5 on long queries (the old default)", {"coord": 0.5}),
    ("no phrase bonus", {"phrase_weight": 0.0}),
    ("no all-words rule", {"all_words_max": 0}),
    ("no title-first (topic) bonus", {"topic_weight": 0.0}),
    ("per-field BM25 summed (not BM25F)", {"combined": False}),
]


@dataclasses.dataclass(frozen=True)
class Collection:
    """One judged collection, indexed."""

    name: str
    folder: Path
    split: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    index: Path


def prepare(name: str, folder: Path, split: str, cache: Path) -> Collection:
    """Index a collection once into the cache (reused while its corpus is unchanged)."""
    corpus = folder / "corpus.jsonl"
    stamp = f"{corpus.stat().st_size}-{int(corpus.stat().st_mtime)}"
    index = cache / f"{folder.name}-{stamp}"
    if not (index / "READY").exists():
        index_paths([corpus], Settings(index_dir=index))
        (index / "READY").write_text("ok")
    queries, qrels = load_dataset(folder, split)
    return Collection(name, folder, split, queries, qrels, index)


def plain_bm25(c: Collection) -> dict[str, Any]:
    """Plain BM25 (bm25s, Lucene's formula, k1=1.2 b=0.75) on one field, title + text, with
    kb's own analysis (folding, stop words, Porter stems), so only the ranking differs."""
    import bm25s  # the `bench` extra

    ids, docs = [], []
    with open(c.folder / "corpus.jsonl", "rb") as f:
        for line in f:
            if line.strip():
                d = orjson.loads(line)
                ids.append(str(d["_id"]))
                docs.append(text.terms(f"{d.get('title', '')} {d.get('text', '')}"))
    model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    model.index(_tokens(docs), show_progress=False)
    vocab = model.vocab_dict
    rankings = {}
    for qid, q in c.queries.items():
        known = [vocab[t] for t in text.terms(q) if t in vocab]
        if not known:
            rankings[qid] = []
            continue
        scores = model.get_scores(known)
        order = scores.argsort()[::-1][:100]
        rankings[qid] = [ids[i] for i in order if scores[i] > 0]
    return score(c, rankings)


def _tokens(docs: list[list[str]]) -> Any:
    import bm25s

    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in d] for d in docs]
    return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)


def kb_run(c: Collection, ranking: Ranking) -> dict[str, Any]:
    """The product's ranking of every query of a collection."""
    kb = KnowledgeBase.open(settings=Settings(index_dir=c.index), ranking=ranking)
    return score(c, {qid: ranked_articles(kb, q) for qid, q in c.queries.items()})


def score(c: Collection, rankings: Mapping[str, list[str]]) -> dict[str, Any]:
    """Mean nDCG@10 and MRR@10, and how many queries found nothing."""
    return {"ndcg@10": round(statistics.fmean(ndcg(rankings[q], c.qrels[q]) for q in c.queries), 4),
            "mrr@10": round(statistics.fmean(mrr(rankings[q], c.qrels[q]) for q in c.queries), 4),
            "zero": sum(1 for q in c.queries if not rankings[q]), "queries": len(c.queries)}


def overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """`name=value` pairs as Ranking changes, typed like the defaults."""
    defaults = Ranking()
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        kind = type(getattr(defaults, name))
        out[name] = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
    return out


def table(names: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    """The figures as one markdown table: nDCG@10 per collection, the mean and the worst gap to BM25."""
    base = rows[0]["figures"]
    lines = ["| ranking | " + " | ".join(names) + " | mean | vs BM25: mean / worst | zero-result |",
             "|---" * (len(names) + 4) + "|"]
    for row in rows:
        f = row["figures"]
        gaps = [f[n]["ndcg@10"] - base[n]["ndcg@10"] for n in names]
        mean = statistics.fmean(f[n]["ndcg@10"] for n in names)
        zero = sum(f[n]["zero"] for n in names)
        cells = " | ".join(f"{f[n]['ndcg@10']:.4f}" for n in names)
        lines.append(f"| {row['label']} | {cells} | {mean:.4f} | {statistics.fmean(gaps):+.4f} / "
                     f"{min(gaps):+.4f} | {zero} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/kb-relevance"), help="where the indexes are kept")
    ap.add_argument("--only", help="comma-separated collection names")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="change a default of the shipped ranking (repeatable)")
    ap.add_argument("--no-ablations", action="store_true")
    ap.add_argument("--test", action="store_true", help="add the NFCorpus test split (once, at the end)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    suite = [*SUITE, *([NF_TEST] if args.test else [])]
    if args.only:
        suite = [s for s in suite if s[0] in args.only.split(",")]
    missing = [str(folder) for _, folder, _ in suite if not (folder / "corpus.jsonl").is_file()]
    if missing:
        sys.exit(f"the development suite is not here: {', '.join(missing)}")
    cols = [prepare(n, f, s, args.cache) for n, f, s in suite]
    shipped = dataclasses.replace(Ranking(), **overrides(args.set))
    variants = [("shipped defaults", shipped)]
    if not args.no_ablations:
        variants += [(label, dataclasses.replace(shipped, **change)) for label, change in ABLATIONS]
    rows = [{"label": "plain BM25 (bm25s, one field, k1=1.2 b=0.75)",
             "figures": {c.name: plain_bm25(c) for c in cols}}]
    for label, ranking in variants:
        rows.append({"label": label, "figures": {c.name: kb_run(c, ranking) for c in cols}})
        print(f"done: {label}", file=sys.stderr)
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(table([c.name for c in cols], rows))


if __name__ == "__main__":
    main()
