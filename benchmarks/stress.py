"""Reliability stress runs: hostile pages, SIGKILL crashes, concurrent readers and writers, load.

The suites live in tests/support/ (hostile_pages, crash, concurrency, load_run); the test suite
runs short forms of each (tests/test_hostile_pages.py, test_crash.py, test_concurrency.py,
test_load.py), and this script runs the full ones and prints a table, then the same figures as JSON:

    .venv/bin/python benchmarks/stress.py                 # everything, a few minutes
    .venv/bin/python benchmarks/stress.py --kills 50 --load-seconds 20 --json out.json
    .venv/bin/python benchmarks/stress.py --only crash,load

Everything runs under a temporary folder; servers listen on 127.0.0.1 only, every process
started here is stopped by its own id, and every run is bounded in time and count.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT / "tests"), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from indexer.build import index_paths  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.search import KnowledgeBase  # noqa: E402

from support.concurrency import concurrency_run, two_writers  # noqa: E402
from support.crash import crash_trials  # noqa: E402
from support.hostile_pages import hostile_pages, index_hostile  # noqa: E402
from support.load_run import load_run  # noqa: E402
from support.xss import script_problems  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Run the full stress suites and print a table and JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="hostile,crash,concurrency,writers,load",
                    help="comma-separated suites (default: all)")
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs per mode (full, incremental)")
    ap.add_argument("--concurrency-seconds", type=float, default=20.0)
    ap.add_argument("--load-seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=4, help="kb serve threads for the load run")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    results: dict[str, Any] = {}
    rows: list[tuple[str, str, str, int]] = []  # suite, tried, held, errors
    with tempfile.TemporaryDirectory(prefix="kb-stress-") as tmp:
        work = Path(tmp)
        if "hostile" in only:
            pages = work / "hostile"
            samples = sorted((ROOT / "examples" / "articles").rglob("*.html"))
            tried = hostile_pages(pages, fuzzed=200, samples=samples)
            fig = index_hostile(pages, work / "hostile-index")
            from web import create_app

            kb = KnowledgeBase.open(settings=Settings(index_dir=work / "hostile-index"))
            client = create_app(Settings(index_dir=work / "hostile-index")).test_client()
            for n in range(1, 100):
                page = kb.search("zanthoxyl OR text OR page", per_page=100, page=n, group="article")
                for g in page.groups or ():
                    resp = client.get(f"/articles/{g.article_id}?q=zanthoxyl")
                    fig.articles_checked += 1
                    problems = script_problems(resp.get_data(as_text=True)) if resp.status_code == 200 else \
                        [f"status {resp.status_code}"]
                    fig.script_leaks += bool(problems)
                    fig.failures.extend(f"/articles/{g.article_id}: {p}" for p in problems[:3])
                if n * 100 >= page.total:
                    break
            results["hostile_pages"] = {"tried": tried, **asdict(fig)}
            rows.append(("hostile pages", f"{fig.files} files ({len(tried) - 200} crafted, 200 fuzzed)",
                         f"{fig.indexed} indexed, {fig.skipped} reported, {fig.seconds}s, "
                         f"{fig.articles_checked} views checked", len(fig.failures)))
        if "crash" in only:
            for mode in ("full", "incremental"):
                c = crash_trials(work / f"crash-{mode}", mode, args.kills, pages=120, seed=11)
                results[f"crash_{mode}"] = asdict(c)
                rows.append((f"SIGKILL kb index ({mode})", f"{c.kills} kills ({c.killed_mid_run} mid-run, "
                             f"run {c.run_s:.1f}s)", f"{c.survived} survived (old {c.saw_old}, new {c.saw_new}), "
                             f"{c.completed} completed, {c.removed_came_back} removed page back, {c.orphans} orphans",
                             len(c.failures)))
        if "concurrency" in only:
            c2 = concurrency_run(work / "concurrency", seconds=args.concurrency_seconds, threads=4, processes=2)
            results["concurrency"] = asdict(c2)
            rows.append(("concurrent readers + writer", f"{c2.searches} searches, {c2.commits} commits "
                         f"({c2.full_rebuilds} swaps)", f"{c2.versions_seen} versions seen, "
                         f"{c2.inconsistent} inconsistent, {c2.known_race_errors} snapshot-race errors",
                         c2.errors + c2.inconsistent + len(c2.failures)))
        if "writers" in only:
            w = two_writers(work / "writers", pairs=3)
            w0 = two_writers(work / "writers-told", pairs=3, lock_timeout_s=0)
            results["two_writers"] = {"waiting": asdict(w), "no_wait": asdict(w0)}
            rows.append(("two writers at once", f"{w.pairs + w0.pairs} pairs",
                         f"{w.both_ran + w0.both_ran} waited, {w.one_told + w0.one_told} told",
                         len(w.failures) + len(w0.failures)))
        if "load" in only:
            idx = work / "load-index"
            index_paths([ROOT / "examples" / "articles"], Settings(index_dir=idx, parse_workers=1))
            lf = load_run(idx, seconds=args.load_seconds, workers=args.workers, client_threads=8)
            results["load"] = asdict(lf)
            rows.append(("load on kb serve", f"{lf.requests} requests, {args.load_seconds:g}s, "
                         f"{lf.workers} workers", f"{lf.rps} req/s, p50 {lf.p50_ms} ms, p99 {lf.p99_ms} ms, RSS "
                         f"{lf.rss_before_mb}->{lf.rss_after_mb} MB", lf.errors))
    width = [max(len(r[i]) for r in [("suite", "tried", "held", ""), *rows]) for i in range(3)]
    print(f"{'suite':<{width[0]}}  {'tried':<{width[1]}}  {'held':<{width[2]}}  errors")
    for suite, tried_s, held, errors in rows:
        print(f"{suite:<{width[0]}}  {tried_s:<{width[1]}}  {held:<{width[2]}}  {errors}")
    blob = orjson.dumps(results, option=orjson.OPT_INDENT_2)
    print(blob.decode())
    if args.json:
        args.json.write_bytes(blob)
    return 0 if all(r[3] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
