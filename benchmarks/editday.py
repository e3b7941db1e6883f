"""A day of edits: many different articles uploaded one by one, as a site's editors save them.

The edits harness (`realistic.py`) re-uploads ten articles in turn, so whatever a commit merges
stays small. A site's editors touch different articles all day. This uploads `--uploads`
different NFCorpus light pages (each with a changed title) through the admin API's writer
(`indexer.build.Ingestor.put`, in process: the same parse, lock, commit and merge a PUT makes)
into a copy of the light-page index, and prints:

* the PUT time (median of each run of 50 uploads) and the number of segments as they grow;
* searches on the index the uploads leave beside the index they started from: 200 first-seen
  NFCorpus dev queries (each asked once on a fresh reader, after `warm()` and 20 others), then
  warm (the same 200, five passes), medians of the passes;
* then the edits harness of `realistic.py` (`under_edits`: 4 clients, one PUT every 0.5 s) on a
  fresh `kb serve` of the index the uploads left: what the day's next edits cost its readers.

    .venv/bin/python benchmarks/editday.py [--uploads 400] [--load-s 15]
    PYTHONPATH=/path/to/other/tree .venv/bin/python benchmarks/editday.py   # another version of kb
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import perf  # noqa: E402
import realistic  # noqa: E402

from indexer.build import Ingestor, index_paths  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.engines.whoosh import layout  # noqa: E402
from kb.search import KnowledgeBase  # noqa: E402


def segments(index_dir: Path) -> int:
    """How many segments the live generation has."""
    gen = layout.current_generation(index_dir)
    return len(list(gen.glob("*.seg"))) if gen else 0


def searches(index_dir: Path, queries: list[str]) -> tuple[float, float]:
    """(first-seen p50, warm p50) in ms of a fresh reader of the index."""
    kb = KnowledgeBase(Settings(index_dir=index_dir))
    kb.warm()
    for q in queries[200:]:
        kb.search(q)
    first = []
    for q in queries[:200]:
        t = time.perf_counter()
        kb.search(q)
        first.append(time.perf_counter() - t)
    passes = []
    for _ in range(5):
        ts = []
        for q in queries[:200]:
            t = time.perf_counter()
            kb.search(q)
            ts.append(time.perf_counter() - t)
        passes.append(statistics.median(ts))
    return statistics.median(first) * 1e3, statistics.median(passes) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uploads", type=int, default=400)
    ap.add_argument("--load-s", type=float, default=15.0, help="seconds of the edits harness (0: skip it)")
    args = ap.parse_args()
    light = corpus.nfcorpus_light()
    pages = light.files()
    work = Path(tempfile.mkdtemp(prefix="kb-editday-"))
    try:
        start = work / "start"
        index_paths([light.pages], Settings(index_dir=start))
        edited = work / "edited"
        shutil.copytree(start, edited)
        ing = Ingestor(Settings(index_dir=edited, parse_workers=1))
        took: list[float] = []
        print(f"{len(pages):,} light pages, {segments(start)} segments; uploading {args.uploads} different articles")
        for i in range(args.uploads):
            html = pages[i].read_bytes().replace(b"</h1>", f" (revised {i})</h1>".encode(), 1)
            t = time.perf_counter()
            ing.put(html, article_id=f"edit-{i}")
            took.append(time.perf_counter() - t)
            if (i + 1) % 50 == 0:
                print(f"  uploads {i - 48:>4}-{i + 1:<4} PUT p50 {statistics.median(took[-50:]) * 1e3:6.1f} ms, "
                      f"segments {segments(edited)}", flush=True)
        queries = perf.dev_queries(perf.N_QUERIES + 20)
        for name, where in (("start", start), ("after the uploads", edited)):
            first, warm = searches(where, queries)
            print(f"search on the index {name}: first-seen p50 {first:.2f} ms, warm p50 {warm:.2f} ms "
                  f"({segments(where)} segments)")
        if args.load_s > 0:
            e = realistic.under_edits(edited, queries[:200], args.load_s)
            print(f"edits under load after the uploads: ratio {e['ratio']} (req/s quiet {e['quiet']['rps']}, "
                  f"with edits {e['edits']['rps']}), p99 with edits {e['edits']['p99_ms']} ms "
                  f"(quiet {e['quiet']['p99_ms']}), PUT p50 {e['put_p50_ms']} ms, {e['edit_count']} edits, "
                  f"visible max {e['visible_max_ms']} ms, errors {e['errors']} + {e['edit_errors']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
