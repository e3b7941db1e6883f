"""What users meet (`perf.py --realistic`, or run alone): first-seen queries, edits under load, light pages.

The main harness measures warm figures: the same queries repeated after a warm-up, and no
article changing meanwhile. This one measures, for the NFCorpus pages rendered heavy (the
WordPress-like theme of `corpus.render`) and light (`corpus.render_light`):

* first-seen queries: a fresh `kb serve`, 20 warm-up queries (not among the measured ones),
  then the 200 dev queries each asked once over keep-alive HTTP, beside SQLite FTS5 answering
  the same 200 queries in-process, each once after the same warm-up, in the same run;
* edits under load: 4 closed-loop clients on `/api/search` over windows without edits and with
  one admin `PUT /api/articles/<id>` every 0.5 s, on the same connections, on `--edit-reps`
  fresh servers (see `under_edits`). Each edit
  carries a word found nowhere else; a watcher asks for it until it is found, which gives how
  soon an edit is searchable. Throughput ratio, p99 and errors;
* indexing: `kb index --full` beside BeautifulSoup+lxml alone parsing the same files.

    .venv/bin/python benchmarks/realistic.py                  # both corpora, every section
    .venv/bin/python benchmarks/realistic.py --corpora light  # light pages only
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import fts5  # noqa: E402
import perf  # noqa: E402
from perf import WORK, Server, kb_index, log, parse_floor, summary  # noqa: E402

from support import load_client  # noqa: E402

TOKEN = "bench-admin-token"  # noqa: S105  (a throwaway server on loopback)
WARMUP = 20
EDIT_EVERY_S = 0.5
CLIENTS = 4
CODE: dict[str, str] = {}  # {"PYTHONPATH": DIR} with --code DIR: the kb under test, for side-by-side runs


def warmup_queries() -> list[str]:
    """20 dev queries that are not among the measured 200."""
    return perf.dev_queries(perf.N_QUERIES + WARMUP)[perf.N_QUERIES:]


def first_seen(index_dir: Path, queries: Sequence[str]) -> dict[str, Any]:
    """Each query asked once of a fresh server after the warm-up, sequentially over keep-alive."""
    server = Server(index_dir, env=CODE)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        times: list[float] = []
        errors = 0
        for n, q in enumerate([*warmup_queries(), *queries]):
            t = time.perf_counter()
            conn.request("GET", f"/api/search?q={quote(q)}")
            resp = conn.getresponse()
            resp.read()
            if n >= WARMUP:
                times.append(time.perf_counter() - t)
                errors += resp.status != 200
        conn.close()
        return {**summary(times), "errors": errors}
    finally:
        server.stop()


def fts5_first_seen(queries: Sequence[str]) -> dict[str, Any]:
    """FTS5 in-process: the same warm-up, then each query once."""
    db = WORK / "fts5-realistic.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    ix, _ = fts5.Fts5Index.build(db, ("title", "text"), fts5.nfcorpus_rows(corpus.NFCORPUS / "corpus.jsonl"))
    try:
        for q in warmup_queries():
            ix.search(q)
        times = []
        for q in queries:
            t = time.perf_counter()
            ix.search(q)
            times.append(time.perf_counter() - t)
        return summary(times)
    finally:
        ix.close()


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Authorization": f"Bearer {TOKEN}",
                                                       "Content-Type": "text/html"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _marker(n: int) -> str:
    """A word no page holds (letters only, so no analyser splits it): `zqedit` + n in base 26."""
    letters = ""
    n += 26 * 26
    while n:
        n, r = divmod(n, 26)
        letters += chr(ord("a") + r)
    return "zqedit" + letters


def _page(n: int) -> bytes:
    title = f"Edited note {n % 10}"
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><h2>Update</h2>"
            f"<p>Vitamin D and {_marker(n)} were discussed in this edit about diet and health.</p>"
            f"</article></body></html>").encode()


def _edits(port: int, stop: threading.Event, editing: Callable[[], bool], out: dict[str, Any]) -> None:
    """One PUT every 0.5 s while `editing()` (ten articles in turn); each edit's marker watched until searchable."""
    n = 0
    visible: list[float] = []
    errors: dict[str, int] = {}
    watchers: list[threading.Thread] = []
    lock = threading.Lock()
    due = time.perf_counter()

    def watch(marker: str, acked: float) -> None:
        while time.perf_counter() - acked < 10:
            status, body = _request(port, "GET", f"/api/search?q={marker}")
            if status == 200 and orjson.loads(body).get("total", 0) > 0:
                with lock:
                    visible.append(time.perf_counter() - acked)
                return
            time.sleep(0.01)
        with lock:
            errors["not visible in 10 s"] = errors.get("not visible in 10 s", 0) + 1

    while not stop.is_set():
        due += EDIT_EVERY_S
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        if not editing():
            continue
        t = time.perf_counter()
        status, _ = _request(port, "PUT", f"/api/articles/bench-edit-{n % 10}?url=https://edits.example/{n % 10}/",
                             _page(n))
        acked = time.perf_counter()
        if status not in (200, 201):
            errors[f"PUT {status}"] = errors.get(f"PUT {status}", 0) + 1
        else:
            out.setdefault("put_s", []).append(acked - t)
            w = threading.Thread(target=watch, args=(_marker(n), acked), daemon=True)
            w.start()
            watchers.append(w)
        n += 1
    for w in watchers:
        w.join(12)
    out.update(edits=n, visible_s=visible, errors=errors)


def _phase(run: load_client.LoadResult, spans: Sequence[tuple[float, float]]) -> dict[str, float]:
    """Requests per second and p99 of the requests that ended inside `spans` (start, end)."""
    lat = sorted(x for x, t in zip(run.latencies_s, run.done_at, strict=True) if any(a <= t < b for a, b in spans))
    seconds = sum(b - a for a, b in spans)
    return {"rps": round(len(lat) / seconds, 1), "p50_ms": round(load_client.percentile(lat, 50) * 1000, 2),
            "p99_ms": round(load_client.percentile(lat, 99) * 1000, 2), "requests": len(lat), "seconds": round(seconds, 1)}


def under_edits(index_dir: Path, queries: Sequence[str], load_s: float) -> dict[str, Any]:
    """Throughput and p99 of 4 clients without edits and with one PUT every 0.5 s, on the same connections.

    `kb serve` workers each listen on their own `SO_REUSEPORT` socket, so the kernel spreads the
    4 keep-alive connections by a hash: all four on one worker in one run, two and two in the next.
    Two load runs would compare that luck, not the edits. One run of 4 windows (quiet, edits,
    quiet, edits) on the same connections compares like with like; the first second of the second
    quiet window is not counted (the last edit's refresh lands in it).
    """
    server = Server(index_dir, env={"KB_ADMIN_TOKEN": TOKEN, **CODE})
    port = server.port
    window = load_s / 2
    try:
        for q in warmup_queries():
            server.get(f"/api/search?q={quote(q)}")
        t0 = time.perf_counter() + 0.05  # when the load client starts counting
        bounds = [t0 + k * window for k in range(5)]
        stop = threading.Event()
        edits: dict[str, Any] = {}

        def editing() -> bool:
            now = time.perf_counter()
            return bounds[1] <= now < bounds[2] or bounds[3] <= now < bounds[4] - EDIT_EVERY_S

        editor = threading.Thread(target=_edits, args=(port, stop, editing, edits))
        editor.start()
        run = load_client.run("127.0.0.1", port, "/api/search", queries, threads=CLIENTS, duration_s=4 * window)
        stop.set()
        editor.join(60)
        quiet = _phase(run, [(bounds[0], bounds[1]), (bounds[2] + 1.0, bounds[3])])
        busy = _phase(run, [(bounds[1], bounds[2]), (bounds[3], bounds[4])])
        log_tail = ""
        if run.errors or edits.get("errors"):  # what the server said about them
            server.log.seek(0)
            log_tail = server.log.read().decode(errors="replace")[-4000:]
        vis = sorted(edits.get("visible_s", []))
        puts = sorted(edits.get("put_s", []))
        return {"quiet": quiet, "edits": busy, "errors": run.errors, "error_kinds": run.error_kinds,
                "ratio": round(busy["rps"] / quiet["rps"], 3) if quiet["rps"] else 0.0,
                "edit_count": edits.get("edits", 0), "edit_errors": edits.get("errors", {}),
                "visible_p50_ms": round(load_client.percentile(vis, 50) * 1000, 1),
                "visible_max_ms": round(vis[-1] * 1000, 1) if vis else None,
                "put_p50_ms": round(load_client.percentile(puts, 50) * 1000, 1), "server_log": log_tail}
    finally:
        server.stop()


def indexing(c: corpus.Corpus, index_dir: Path, reps: int) -> dict[str, Any]:
    """`kb index --full` wall time (median of `reps`) beside the bs4+lxml parse floor, and a no-op run."""
    walls = []
    for _ in range(reps):
        run, _ = kb_index(c.pages, index_dir, full=True, env=CODE)
        walls.append(run.wall_s)
    floor = parse_floor(c.files(), os.cpu_count() or 1)[0]
    noop, _ = kb_index(c.pages, index_dir, env=CODE)
    full = statistics.median(walls)
    return {"full_s": [round(w, 2) for w in walls], "full_median_s": round(full, 2), "parse_floor_s": round(floor, 2),
            "ratio": round(full / floor, 2), "noop_s": round(noop.wall_s, 2)}


def run_corpus(name: str, c: corpus.Corpus, queries: Sequence[str], args: argparse.Namespace) -> dict[str, Any]:
    """Every realistic figure for one corpus."""
    index_dir = WORK / f"realistic-{name}"
    shutil.rmtree(index_dir, ignore_errors=True)
    out: dict[str, Any] = {}
    log(f"{name}: indexing")
    if "indexing" in args.skip:  # still built: the other sections need the index
        kb_index(c.pages, index_dir, full=True, env=CODE)
    else:
        out["indexing"] = indexing(c, index_dir, args.index_reps)
    if "first-seen" not in args.skip:
        log(f"{name}: first-seen queries")
        out["first_seen"] = [first_seen(index_dir, queries) for _ in range(args.reps)]
    if "edits" not in args.skip:
        log(f"{name}: edits under load")
        out["under_edits"] = [under_edits(index_dir, perf.load_queries(), args.load_s) for _ in range(args.edit_reps)]
    shutil.rmtree(index_dir, ignore_errors=True)
    return out


def report(res: dict[str, Any]) -> str:
    """A short table of the figures against the issue's targets."""
    lines = []
    fts = res["fts5_p50_ms"]
    for name, r in res["corpora"].items():
        lines.append(f"## {name}")
        if "first_seen" in r:
            fs = r["first_seen"]
            p50 = statistics.median(x["p50_ms"] for x in fs)
            p99 = statistics.median(x["p99_ms"] for x in fs)
            lines.append(f"first-seen /api/search: p50 {p50:.2f} ms ({p50 / fts:.2f}x FTS5 {fts:.2f} ms; target <= 5x), "
                         f"p99 {p99:.1f} ms (target <= 25), runs {[x['p50_ms'] for x in fs]}")
        if "under_edits" in r:
            runs = r["under_edits"]
            ratio = statistics.median(u["ratio"] for u in runs)
            p99 = statistics.median(u["edits"]["p99_ms"] for u in runs)
            lines.append(f"edits: ratio {ratio:.3f} (target >= 0.8) {[u['ratio'] for u in runs]}, "
                         f"req/s {[(u['quiet']['rps'], u['edits']['rps']) for u in runs]}; "
                         f"p99 with edits {p99:.1f} ms (target <= 50) {[u['edits']['p99_ms'] for u in runs]}, "
                         f"without {[u['quiet']['p99_ms'] for u in runs]}; "
                         f"visible p50 {statistics.median(u['visible_p50_ms'] for u in runs)} ms, "
                         f"max {max(u['visible_max_ms'] or 0 for u in runs)} ms (target <= 1000); "
                         f"{sum(u['edit_count'] for u in runs)} edits, errors {sum(u['errors'] for u in runs)} + "
                         f"{[u['edit_errors'] for u in runs if u['edit_errors']]}; "
                         f"PUT p50 {statistics.median(u['put_p50_ms'] for u in runs)} ms")
        if "indexing" in r:
            ix = r["indexing"]
            lines.append(f"index --full {ix['full_median_s']} s = {ix['ratio']}x parse {ix['parse_floor_s']} s "
                         f"(target <= 3x); no-op {ix['noop_s']} s (target < 2)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the realistic figures and print them."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--corpora", default="light,heavy", help="light, heavy or both")
    ap.add_argument("--reps", type=int, default=3, help="fresh-server first-seen passes per corpus")
    ap.add_argument("--index-reps", type=int, default=1, help="full builds per corpus")
    ap.add_argument("--load-s", type=float, default=20.0, help="seconds of quiet and of edits in each edits run")
    ap.add_argument("--edit-reps", type=int, default=3, help="edits runs per corpus, each on a fresh server")
    ap.add_argument("--out", type=Path, default=corpus.OUT / "realistic.json")
    ap.add_argument("--code", type=Path, help="run `kb` from this source tree (e.g. `git archive` of a "
                    "commit) to compare it side by side with this one")
    ap.add_argument("--skip", default="", help="sections to skip: indexing, first-seen, edits")
    args = ap.parse_args(argv)
    if args.code:
        CODE["PYTHONPATH"] = str(args.code.resolve())
    queries = perf.dev_queries()
    res: dict[str, Any] = {"machine": perf.machine(), "corpora": {}}
    fts = [fts5_first_seen(queries) for _ in range(args.reps)]
    res["fts5"] = fts
    res["fts5_p50_ms"] = statistics.median(x["p50_ms"] for x in fts)
    makers = {"light": corpus.nfcorpus_light, "heavy": corpus.nfcorpus}
    for name in args.corpora.split(","):
        res["corpora"][name] = run_corpus(name, makers[name](), queries, args)
    args.out.write_bytes(orjson.dumps(res, option=orjson.OPT_INDENT_2))
    print(report(res))
    return 0


if __name__ == "__main__":
    perf.T0 = time.perf_counter()
    sys.exit(main())
