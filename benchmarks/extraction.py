"""Article extraction on real pages: kb's parser beside trafilatura and readability-lxml.

Reads the corpus that `benchmarks/realpages.py` builds (`benchmarks/out/realpages/{dev,check}/`),
runs each extractor on the raw bytes of each page, and prints per extractor the mean over pages of
the precision, recall and F1 of 4-word shingles (lowercased `\\w+` words) of its body text against
the human truth, and the share of pages whose title matches the truth title (case, whitespace and
quotes normalised; only the pages with title truth).

kb's body is what it indexes: every section's text, each section after the lead preceded by its
heading on its own line (a reader sees those headings; trafilatura and readability keep them too).
The article title is not part of the body for any extractor (the L3S truth keeps the headline apart).

The peers' outputs are cached in `benchmarks/out/peers-<part>.jsonl` (they never change); `--fresh`
redoes them. `--classes` lists kb's losses by class. Needs the `bench` extra:
`pip install -e '.[bench]'`.

    python benchmarks/extraction.py [--part dev|check|all] [--classes] [--fresh] [--only kb]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OUT = Path(__file__).parent / "out"
CORPUS = OUT / "realpages"
TIMEOUT = 30  # seconds per page and extractor: a hang is reported, never waited out
_WORD = re.compile(r"\w+")
_QUOTES = str.maketrans({c: "'" for c in "‘’‚‛′`´"} | {c: '"' for c in "“”„‟″«»"})


@dataclass(frozen=True)
class Extraction:
    """What one extractor read from one page."""

    body: str
    title: str
    error: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Score:
    """Shingle precision, recall and F1 of one extraction."""

    precision: float
    recall: float
    f1: float


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """The multiset of n-word shingles of a text (lowercased, punctuation-split words)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def score(extracted: str, truth: str) -> Score:
    """Precision, recall and F1 of the extracted text's shingles against the truth's."""
    got, want = shingles(extracted), shingles(truth)
    common = sum((got & want).values())
    p = common / sum(got.values()) if got else 0.0
    r = common / sum(want.values()) if want else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def norm_title(title: str) -> str:
    """A title for comparison: NFKC, lowercase, one kind of quote, single spaces.

    The L3S truth lost its apostrophes to '?' ("Kosovo?s"): a '?' between letters counts as one."""
    t = unicodedata.normalize("NFKC", title).translate(_QUOTES).lower()
    t = re.sub(r"(?<=\w)\?(?=\w)", "'", t)
    return " ".join(t.split()).strip(" \"'")


def _kb(data: bytes, name: str) -> Extraction:
    from indexer.parse import parse_article
    from kb.errors import BadInput

    try:
        article = parse_article(data, source=name + ".html", fallback_url=f"file:///{name}.html")
    except BadInput as e:
        return Extraction("", "", str(e))
    parts = []
    for s in article.sections:
        parts.append(s.text if s.kind == "lead" else f"{s.heading}\n{s.text}")
    return Extraction("\n".join(parts), article.title)


def _trafilatura(data: bytes, name: str) -> Extraction:
    import trafilatura

    doc = trafilatura.bare_extraction(data, include_comments=False, with_metadata=True)
    if doc is None:
        return Extraction("", "", "nothing extracted")
    return Extraction(doc.text or "", doc.title or "")


def _readability(data: bytes, name: str) -> Extraction:
    from lxml import html as lxml_html
    from readability import Document

    doc = Document(data)
    summary = doc.summary(html_partial=True)
    body = lxml_html.fromstring(summary).text_content() if summary.strip() else ""
    return Extraction(body, doc.short_title() or "")


EXTRACTORS: dict[str, Callable[[bytes, str], Extraction]] = {
    "kb": _kb, "trafilatura": _trafilatura, "readability-lxml": _readability,
}


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def run_one(fn: Callable[[bytes, str], Extraction], data: bytes, name: str) -> Extraction:
    """One extractor on one page, with a time limit; an exception becomes a one-line error."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT)
    start = time.perf_counter()
    try:
        got = fn(data, name)
    except _Timeout:
        got = Extraction("", "", f"timed out after {TIMEOUT} s")
    except Exception as e:  # a peer's crash is a result to report, not a reason to stop
        got = Extraction("", "", f"{type(e).__name__}: {str(e)[:120]}")
    finally:
        signal.alarm(0)
    return Extraction(got.body, got.title, got.error, time.perf_counter() - start)


def pages(part: str) -> list[Path]:
    """The corpus pages of one part (or both)."""
    parts = ["dev", "check"] if part == "all" else [part]
    found = sorted(p for d in parts for p in (CORPUS / d).glob("*.html"))
    if not found:
        sys.exit(f"no pages in {CORPUS}/{part}: run benchmarks/realpages.py first")
    return found


def _peer_cache(part: str, names: list[str], fresh: bool) -> dict[str, dict[str, Extraction]]:
    cache_file = OUT / f"peers-{part}.jsonl"
    cached: dict[str, dict[str, Extraction]] = {}
    if cache_file.exists() and not fresh:
        for line in cache_file.read_text().splitlines():
            row = json.loads(line)
            cached[row["page"]] = {k: Extraction(**v) for k, v in row["out"].items()}
    return cached


def evaluate(part: str, only: list[str], fresh: bool) -> dict[str, dict[str, Any]]:
    """Run the extractors on a part; return per extractor its per-page rows."""
    files = pages(part)
    cache = _peer_cache(part, [f.stem for f in files], fresh)
    new_rows = []
    results: dict[str, dict[str, Any]] = {name: {} for name in only}
    for f in files:
        truth = json.loads(f.with_suffix(".json").read_text())
        data = f.read_bytes()
        peers = cache.get(f.stem, {})
        changed = False
        for name in only:
            if name != "kb" and name in peers:
                got = peers[name]
            else:
                got = run_one(EXTRACTORS[name], data, f.stem)
                if name != "kb":
                    peers[name] = got
                    changed = True
            s = score(got.body, truth["body"])
            title_ok = None
            if truth["title"]:
                title_ok = norm_title(got.title) == norm_title(truth["title"])
            results[name][f.stem] = {"score": s, "title_ok": title_ok, "got": got, "truth": truth}
        if changed:
            new_rows.append({"page": f.stem, "out": {k: v.__dict__ for k, v in peers.items()}})
            cache[f.stem] = peers
    if new_rows:
        cache_file = OUT / f"peers-{part}.jsonl"
        cache_file.write_text("\n".join(json.dumps({"page": k, "out": {n: e.__dict__ for n, e in v.items()}})
                                        for k, v in cache.items()) + "\n")
    return results


def loss_class(row: dict[str, Any]) -> str:
    """Which kind of loss a page shows (or "ok")."""
    got: Extraction = row["got"]
    s: Score = row["score"]
    if got.error:
        return "failed: " + got.error.split(":")[0][:40]
    if s.recall < 0.5:
        return "wrong container (recall < 0.5)"
    if s.recall < 0.9:
        return "partial body (recall 0.5-0.9)"
    if s.precision < 0.8:
        return "extra text (precision < 0.8)"
    return "ok"


def report(results: dict[str, dict[str, Any]], part: str, classes: bool) -> None:
    """Print the table (and kb's loss classes)."""
    n = len(next(iter(results.values())))
    print(f"part {part}: {n} pages")
    print(f"{'extractor':18} {'P':>6} {'R':>6} {'F1':>6} {'title':>6} {'fail':>5} {'med ms':>7}")
    for name, rows in results.items():
        sc = [r["score"] for r in rows.values()]
        titles = [r["title_ok"] for r in rows.values() if r["title_ok"] is not None]
        fails = sum(1 for r in rows.values() if r["got"].error)
        ms = statistics.median(r["got"].seconds for r in rows.values()) * 1000
        print(f"{name:18} {statistics.fmean(s.precision for s in sc):6.3f} "
              f"{statistics.fmean(s.recall for s in sc):6.3f} {statistics.fmean(s.f1 for s in sc):6.3f} "
              f"{(sum(titles) / len(titles) if titles else 0):6.3f} {fails:5d} {ms:7.1f}")
    sources = sorted({page.split("-")[0] for page in next(iter(results.values()))})
    for src in sources:
        cells = []
        for name, rows in results.items():
            f1 = [r["score"].f1 for page, r in rows.items() if page.startswith(src + "-")]
            cells.append(f"{name} {statistics.fmean(f1):.3f}")
        print(f"  F1 on {src} ({len(f1)} pages): " + ", ".join(cells))
    if classes and "kb" in results:
        counts = Counter(loss_class(r) for r in results["kb"].values())
        print("kb's pages by class:", dict(counts.most_common()))


def main() -> None:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="dev", choices=["dev", "check", "all"])
    ap.add_argument("--only", nargs="*", default=list(EXTRACTORS), choices=list(EXTRACTORS))
    ap.add_argument("--classes", action="store_true", help="count kb's losses by class")
    ap.add_argument("--fresh", action="store_true", help="rerun the peers instead of using the cache")
    ap.add_argument("--dump", type=Path, help="write kb's per-page scores as JSONL here")
    args = ap.parse_args()
    results = evaluate(args.part, args.only, args.fresh)
    report(results, args.part, args.classes)
    if args.dump and "kb" in results:
        with args.dump.open("w") as out:
            for page, r in results["kb"].items():
                out.write(json.dumps({"page": page, "class": loss_class(r), "p": r["score"].precision,
                                      "r": r["score"].recall, "f1": r["score"].f1, "title": r["got"].title,
                                      "truth_title": r["truth"]["title"], "error": r["got"].error}) + "\n")


if __name__ == "__main__":
    main()
