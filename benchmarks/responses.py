"""Response snapshots: the JSON and HTML of a few thousand searches, to prove a change kept behaviour.

A refactor or a speed change should leave every answer the same. This builds real indexes
(the example site and, when `../shared` is there, NFCorpus), asks each query through the real
app (`/api/search` and `/search`, plain, grouped, filtered, page 2, suggestions, articles),
and writes one line per response with the timing fields removed. The app is warmed first,
as `kb serve` warms it. Run it before and after a
change and compare:

    .venv/bin/python benchmarks/responses.py --out benchmarks/out/before.jsonl
    .venv/bin/python benchmarks/responses.py --out benchmarks/out/after.jsonl --compare benchmarks/out/before.jsonl

The comparison prints how many responses differ and the first few differences.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from indexer.build import index_paths
from kb.config import Settings
from web import create_app, services

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
NFCORPUS = ROOT.parent / "shared" / "data" / "nfcorpus"
DEMO_QUERIES = ROOT / "benchmarks" / "demo-judged" / "queries.jsonl"
_TOOK = re.compile(rb'"took_ms":[0-9.e+-]+')
_TOOK_HTML = re.compile(r"Found in [^<]*<")
_ASSET = re.compile(r"\?v=[0-9a-f]+")


def _queries(path: Path, limit: int) -> list[str]:
    out = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            out.append(str(orjson.loads(line)["text"]))
        if len(out) >= limit:
            break
    return out


def _site_queries() -> list[str]:
    base = _queries(DEMO_QUERIES, 100) if DEMO_QUERIES.is_file() else []
    extra = ["baclofen", "What is Flu?", "baclofen tinnitus", "muscle relaxant for back pain", "is baclofen addictive",
             "leave a reply", '"side effects" -drowsiness', "tizanidine vs baclofen", "baclofn", "dizzyness",
             "title:baclofen", "kind:faq dose", 'category:"Muscle Relaxants"', "gabapentin", "lioresal",
             "*", "", "   ", "a", "the and of", '"unbalanced', "10mg", "withdrawal symptoms", "can I drink alcohol"]
    return base + extra


def _requests(queries: list[str], with_articles: bool) -> list[str]:
    reqs = []
    for q in queries:
        reqs.append("/api/search?" + urlencode({"q": q}))
        reqs.append("/api/search?" + urlencode({"q": q, "group": "article"}))
        reqs.append("/api/search?" + urlencode({"q": q, "page": 2, "per_page": 5}))
        reqs.append("/search?" + urlencode({"q": q}))
        reqs.append("/api/suggest?" + urlencode({"q": q[:4]}))
    if with_articles:
        reqs += ["/api/search?" + urlencode({"q": "pain", "kind": "faq"}),
                 "/api/search?" + urlencode({"q": "dose", "category": "Muscle Relaxants", "group": "article"})]
    return reqs


def _normalise(path: str, body: bytes) -> str:
    if path.startswith("/api/"):
        return _TOOK.sub(b'"took_ms":0', body).decode()
    html = body.decode()
    return _ASSET.sub("?v=", _TOOK_HTML.sub("Found in N<", html))


def snapshot(workdir: Path, nf_queries: int) -> list[dict[str, Any]]:
    """Every response as {site, path, status, digest, body}."""
    out: list[dict[str, Any]] = []
    sites: list[tuple[str, list[Path], list[str]]] = [("examples", [EXAMPLES], _site_queries())]
    if NFCORPUS.is_dir() and nf_queries:
        sites.append(("nfcorpus", [NFCORPUS / "corpus.jsonl"], _queries(NFCORPUS / "queries.jsonl", nf_queries)))
    for name, paths, queries in sites:
        settings = Settings(index_dir=workdir / name, parse_workers=1)
        index_paths(paths, settings)
        app = create_app(settings)
        services.warm(app)  # as `kb serve` does: the answers must not depend on what was read ahead
        client = app.test_client()
        reqs = _requests(queries, name == "examples")
        if name == "examples":
            ids = [h["article_id"] for h in client.get("/api/search?q=the&per_page=100").get_json()["hits"]]
            for aid in dict.fromkeys(ids):
                reqs += [f"/api/articles/{aid}", f"/articles/{aid}?q=side+effects", f"/api/articles/{aid}/related"]
        for path in reqs:
            r = client.get(path)
            body = _normalise(path, r.data)
            out.append({"site": name, "path": path, "status": r.status_code,
                        "digest": hashlib.blake2b(body.encode(), digest_size=10).hexdigest(), "body": body})
    return out


def compare(now: list[dict[str, Any]], before_file: Path) -> int:
    """Print the differences from a saved snapshot; the number of differing responses."""
    before = {(r["site"], r["path"]): r for r in map(orjson.loads, before_file.read_bytes().splitlines())}
    differ = 0
    for r in now:
        old = before.get((r["site"], r["path"]))
        if old is None or old["digest"] != r["digest"] or old["status"] != r["status"]:
            differ += 1
            if differ <= 5:
                print(f"DIFFERS {r['site']} {r['path']}", file=sys.stderr)
                if old is not None:
                    a, b = old["body"], r["body"]
                    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
                    print(f"  before: …{a[max(0, i - 80):i + 120]!r}\n  after:  …{b[max(0, i - 80):i + 120]!r}",
                          file=sys.stderr)
    missing = len(before) - len({(r["site"], r["path"]) for r in now} & set(before))
    print(f"{len(now)} responses, {differ} differ, {missing} of the saved ones not asked")
    return differ + missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--nf-queries", type=int, default=400, help="NFCorpus queries to ask (0: none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-resp-") as tmp:
        rows = snapshot(Path(tmp), args.nf_queries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    if args.compare:
        sys.exit(1 if compare(rows, args.compare) else 0)
    print(f"{len(rows)} responses written to {args.out}")


if __name__ == "__main__":
    main()
