"""Reliability stress runs: hostile pages, SIGKILL crashes, concurrent readers and writers, load.

The test suite runs short forms of each (tests/test_hostile_pages.py, test_crash.py,
test_concurrency.py, test_load.py import the harness below); this script runs the full
ones and prints a table, then the same figures as JSON:

    .venv/bin/python benchmarks/stress.py                 # everything, a few minutes
    .venv/bin/python benchmarks/stress.py --kills 50 --load-seconds 20 --json out.json
    .venv/bin/python benchmarks/stress.py --only crash,load

Everything runs under a temporary folder; servers listen on 127.0.0.1 only, every process
started here is stopped by its own id, and every run is bounded in time and count.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import load  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

from indexer.build import index_paths  # noqa: E402
from indexer.lock import WriterLock  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.engines.whoosh import layout  # noqa: E402
from kb.search import KnowledgeBase  # noqa: E402

COMMON = "quorbleflux"  # a word every stress page has once per section, so one search sees them all
SECTIONS = 2
_VERSION = re.compile(r"\bv(\d+)\b")
MB = 1024 * 1024


def tell(config: Any, line: str) -> None:
    """Print a figure line past pytest's output capture (plain print outside pytest)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    capture = config.pluginmanager.get_plugin("capturemanager") if config is not None else None
    if reporter is None or capture is None:
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def kb_command() -> list[str]:
    """The `kb` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "kb"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from kb.cli import main; main()"]


def child_env() -> dict[str, str]:
    """The environment for `kb` subprocesses: no inherited KB_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_")}


# -- a site whose state a single search reveals --------------------------------------------------


def stress_page(i: int, version: int) -> str:
    """Page i at a version: the version is in the title, every section holds COMMON once."""
    title = f"Stress page {i} v{version}"
    body = "\n".join(
        f"<h2>Part {j} of page {i}</h2>\n<p>{COMMON} paragraph {j} of page {i}, version {version}: "
        f"tizanidine relaxes muscles and drowsiness is common. " + "Filler words for length. " * 20 + "</p>"
        for j in range(SECTIONS))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="canonical" href="https://stress.example/page-{i}/"></head><body>'
            f'<nav><a href="/">Home</a></nav><article><h1>{escape(title)}</h1>\n{body}\n</article>'
            f'<footer>Footer</footer></body></html>')


@dataclass(frozen=True)
class State:
    """What one search for COMMON shows: the versions of the pages, their ids and the section count."""

    versions: frozenset[int]
    ids: frozenset[str]
    sections: int

    def describe(self) -> str:
        """A short description for failure messages."""
        return f"versions {sorted(self.versions)}, {len(self.ids)} articles, {self.sections} sections"


def write_site(folder: Path, pages: Sequence[int], version_of: Callable[[int], int]) -> State:
    """Make `folder` hold exactly `pages` (others removed); return the state an index of it shows."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = {f"page-{i}.html" for i in pages}
    for old in folder.glob("page-*.html"):
        if old.name not in keep:
            old.unlink()
    for i in pages:
        (folder / f"page-{i}.html").write_text(stress_page(i, version_of(i)), encoding="utf-8")
    return State(frozenset(version_of(i) for i in pages), frozenset(f"page-{i}" for i in pages),
                 SECTIONS * len(pages))


def observe(kb: KnowledgeBase) -> State:
    """The state one search shows (one call: one snapshot). At most 100 sections are read."""
    page = kb.search(COMMON, per_page=100, exact=True)
    versions = set()
    for hit in page.hits:
        m = _VERSION.search(hit.title)
        versions.add(int(m.group(1)) if m else -1)
    return State(frozenset(versions), frozenset(h.article_id for h in page.hits), page.total)


def observe_all(index_dir: Path) -> State:
    """The state of an index as a fresh reader sees it (pages through every hit)."""
    kb = KnowledgeBase.open(settings=Settings(index_dir=index_dir))
    versions: set[int] = set()
    ids: set[str] = set()
    total = 0
    for n in range(1, 1000):
        page = kb.search(COMMON, per_page=100, page=n, exact=True)
        total = page.total
        for hit in page.hits:
            m = _VERSION.search(hit.title)
            versions.add(int(m.group(1)) if m else -1)
            ids.add(hit.article_id)
        if n * 100 >= page.total:
            break
    return State(frozenset(versions), frozenset(ids), total)


def copy_index(src: Path, dst: Path) -> None:
    """A private copy of an index folder (without the lock files)."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("write.lock*"))


# -- crashes -------------------------------------------------------------------------------------


@dataclass
class CrashFigures:
    """What a series of SIGKILLs of `kb index` showed."""

    mode: str
    pages_before: int
    pages_after: int
    run_s: float = 0.0
    kills: int = 0
    killed_mid_run: int = 0  # the process was still running when SIGKILL landed
    saw_old: int = 0
    saw_new: int = 0
    survived: int = 0  # the index opened, answered and showed the old or the new state
    completed: int = 0  # the next run finished the work
    removed_came_back: int = 0  # the next run left a removed page in the index (see RELIABILITY.md)
    orphans: int = 0  # processes of the killed run still alive 2 s later
    failures: list[str] = field(default_factory=list)


def _alive_in_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def crash_trials(work: Path, mode: str, kills: int, *, pages: int = 60, seed: int = 1,
                 on_kill: Callable[[int, str], None] | None = None) -> CrashFigures:
    """SIGKILL `kb index` (full or incremental) at random moments, `kills` times, from the same old index.

    The run changes half the pages, removes one and adds a quarter more. After each kill the
    index must open, answer, and show exactly the old or the new state; then an ordinary run
    must reach the new state, leave at most two generations and free the lock.
    """
    assert mode in ("full", "incremental")
    rng = random.Random(seed)
    site, old_index, trial = work / "site", work / "old-index", work / "trial-index"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    old_state = write_site(site, range(pages), lambda i: 1)
    index_paths([site], Settings(index_dir=old_index, parse_workers=1))
    assert observe_all(old_index) == old_state, "the old index does not show the old site"
    new_pages = [i for i in range(pages + pages // 4) if i != pages - 1]
    new_state = write_site(site, new_pages, lambda i: 2 if i < pages // 2 or i >= pages else 1)
    figures = CrashFigures(mode, len(old_state.ids), len(new_state.ids))
    cmd = [*kb_command(), "index", str(site), "--index", str(trial), "--json"] + (["--full"] if mode == "full" else [])

    copy_index(old_index, trial)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=child_env(), capture_output=True, timeout=600)
    figures.run_s = time.perf_counter() - started
    if done.returncode != 0 or observe_all(trial) != new_state:
        raise AssertionError(f"the reference run failed: {done.returncode} {done.stderr[-500:]!r}")

    for k in range(kills):
        copy_index(old_index, trial)
        proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        delay = rng.uniform(0.0, figures.run_s)
        time.sleep(delay)
        running = proc.poll() is None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        figures.kills += 1
        figures.killed_mid_run += running
        deadline = time.monotonic() + 2.0
        while _alive_in_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive_in_group(proc.pid):
            figures.orphans += 1
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group of the process this function started
        where = f"kill {k + 1} at {delay:.2f}s ({mode})"
        try:
            seen = observe_all(trial)
        except Exception as e:  # the point is to count these
            figures.failures.append(f"{where}: the index did not answer: {type(e).__name__}: {e}")
            continue
        if seen == old_state:
            figures.saw_old += 1
        elif seen == new_state:
            figures.saw_new += 1
        else:
            figures.failures.append(f"{where}: neither old nor new state: {seen.describe()}")
            continue
        figures.survived += 1
        outcome = "old" if seen == old_state else "new"
        try:
            summary = index_paths([site], Settings(index_dir=trial, parse_workers=1, lock_timeout_s=5),
                                  full=mode == "full")
            after = observe_all(trial)
            gens = layout.generations(trial)
            with WriterLock(trial, 0):
                pass
        except Exception as e:
            figures.failures.append(f"{where}: the next run failed: {type(e).__name__}: {e}")
            continue
        if after.ids - new_state.ids and after.ids - (old_state.ids - new_state.ids) == new_state.ids:
            figures.removed_came_back += 1  # a removed page back after a crash: must stay 0
        elif after != new_state or summary.failed:
            figures.failures.append(f"{where}: the next run left {after.describe()}, failed {summary.failed}")
        elif len(gens) > 2:
            figures.failures.append(f"{where}: {len(gens)} generations left after the next run")
        else:
            figures.completed += 1
        if on_kill is not None:
            on_kill(k, outcome)
    return figures


# -- concurrency ---------------------------------------------------------------------------------


@dataclass
class ConcurrencyFigures:
    """What readers saw while a writer changed the index and swapped generations."""

    seconds: float
    thread_readers: int
    process_readers: int
    commits: int = 0
    full_rebuilds: int = 0
    searches: int = 0
    errors: int = 0
    known_race_errors: int = 0  # the snapshot race of kb/search.py (RELIABILITY.md), counted apart
    inconsistent: int = 0
    versions_seen: int = 0
    failures: list[str] = field(default_factory=list)


# A pooled searcher made after a commit reads a newer TOC than the snapshot's doc table (IndexError in
# facets), or open_dir races a commit that removed the TOC it listed (FileNotFoundError).
KNOWN_RACE = re.compile(r"^IndexError: .* at facets\.py|^FileNotFoundError: .*\.toc' at .*open_dir")
Observation = tuple[tuple[int, ...], int, int, int]  # versions, total, hits, distinct ids


def _where(e: BaseException) -> str:
    """An error with the innermost frames of kb code it passed through."""
    import traceback

    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/kb/" in f.filename or "/whoosh/" in f.filename]
    at = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames[-4:]))
    return f"{type(e).__name__}: {e} at {at}"


def _read_loop(kb: KnowledgeBase, stop: Any) -> tuple[list[Observation], list[str]]:
    seen: list[Observation] = []
    errors: list[str] = []
    while not stop.is_set():
        try:
            page = kb.search(COMMON, per_page=100, exact=True)
            versions = tuple(sorted({int(m.group(1)) if (m := _VERSION.search(h.title)) else -1
                                     for h in page.hits}))
            seen.append((versions, page.total, len(page.hits), len({h.article_id for h in page.hits})))
        except Exception as e:
            errors.append(_where(e))
    return seen, errors


def _process_reader(index_dir: str, stop: Any, out: Any) -> None:
    seen, errors = _read_loop(KnowledgeBase.open(settings=Settings(index_dir=Path(index_dir))), stop)
    known = [e for e in errors if KNOWN_RACE.search(e)]
    others = [e for e in errors if e not in known]
    out.put((seen, known[:1000] + others[:20], len(known[:1000]) + len(others)))


def concurrency_run(work: Path, *, seconds: float = 5.0, threads: int = 4, processes: int = 2,
                    pages: int = 12, min_commits: int = 3) -> ConcurrencyFigures:
    """Readers in threads (one shared KnowledgeBase) and processes search while a writer adds, changes,
    removes pages and every third run rebuilds into a new generation; every answer must show one version
    with exactly that version's pages and sections. The writer makes at least `min_commits` commits."""
    shutil.rmtree(work, ignore_errors=True)
    site, index_dir = work / "site", work / "index"
    expected: dict[int, State] = {1: write_site(site, range(pages), lambda i: 1)}
    index_paths([site], Settings(index_dir=index_dir, parse_workers=1))
    figures = ConcurrencyFigures(seconds, threads, processes)
    stop_at = time.monotonic() + seconds
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    stop = ctx.Event()
    procs = [ctx.Process(target=_process_reader, args=(str(index_dir), stop, out)) for _ in range(processes)]
    for p in procs:  # fork before any thread starts
        p.start()
    results: list[tuple[list[Observation], list[str]]] = []
    lock = threading.Lock()
    kb = KnowledgeBase.open(settings=Settings(index_dir=index_dir))  # shared, as the web app shares it

    def thread_reader() -> None:
        found = _read_loop(kb, stop)
        with lock:
            results.append(found)

    pool = [threading.Thread(target=thread_reader) for _ in range(threads)]
    for t in pool:
        t.start()
    version = 1
    rng = random.Random(7)
    settings = Settings(index_dir=index_dir, parse_workers=1, lock_timeout_s=30)
    while time.monotonic() < stop_at or figures.commits < min_commits:
        version += 1
        # Every page is rewritten at the new version; some appear, some go: adds, changes, removes.
        present = sorted(rng.sample(range(pages + 6), pages + rng.randint(-3, 3)))
        full = version % 3 == 0
        expected[version] = write_site(site, present, lambda i, v=version: v)
        try:
            index_paths([site], settings, full=full)
        except Exception as e:
            figures.failures.append(f"writer, version {version}: {type(e).__name__}: {e}")
            break
        figures.commits += 1
        figures.full_rebuilds += full
    stop.set()
    for t in pool:
        t.join(seconds + 30)
    for _ in procs:
        seen, errors, n_errors = out.get(timeout=seconds + 60)
        results.append((seen, errors))
        figures.errors += n_errors - len(errors)
    for p in procs:
        p.join(30)
    versions_seen: set[int] = set()
    for seen, errors in results:
        known = [e for e in errors if KNOWN_RACE.search(e)]
        figures.known_race_errors += len(known)
        figures.errors += len(errors) - len(known)
        figures.failures.extend([e for e in errors if e not in known][:5])
        for versions, total, hits, ids in seen:
            figures.searches += 1
            state = expected.get(versions[0]) if len(versions) == 1 else None
            if state is None or total != state.sections or hits != min(100, total) or ids != len(state.ids):
                figures.inconsistent += 1
                if len(figures.failures) < 20:
                    figures.failures.append(f"answer mixes or misses: versions {versions}, total {total}, "
                                            f"hits {hits}, ids {ids}")
                continue
            versions_seen.add(versions[0])
    figures.versions_seen = len(versions_seen)
    return figures


@dataclass
class WritersFigures:
    """Two `kb index` runs started at once on one index."""

    pairs: int = 0
    both_ran: int = 0  # one waited for the other
    one_told: int = 0  # one gave up with a message naming the lock
    failures: list[str] = field(default_factory=list)


def two_writers(work: Path, pairs: int = 2, *, lock_timeout_s: float = 30.0) -> WritersFigures:
    """Start two `kb index --full` at once; each must succeed (after waiting) or be told who holds the lock."""
    shutil.rmtree(work, ignore_errors=True)
    site, index_dir = work / "site", work / "index"
    figures = WritersFigures()
    for n in range(pairs):
        state = write_site(site, range(40), lambda i, n=n: n + 1)
        cmd = [*kb_command(), "index", str(site), "--index", str(index_dir), "--full",
               "--lock-timeout", str(lock_timeout_s)]
        procs = [subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        codes = [p.returncode for p in procs]
        figures.pairs += 1
        told = [i for i, c in enumerate(codes) if c != 0]
        if not told:
            figures.both_ran += 1
        elif len(told) == 1 and b"being written by" in outs[told[0]][1] and b"Traceback" not in outs[told[0]][1]:
            figures.one_told += 1
        else:
            figures.failures.append(f"pair {n}: exit codes {codes}: {outs[told[0]][1][-300:]!r}")
        if observe_all(index_dir) != state:
            figures.failures.append(f"pair {n}: the index does not show the site after both runs")
    return figures


# -- load ----------------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server (it stops its workers), then SIGKILL if it has not gone in 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tree_rss_kb(pid: int) -> int:
    """VmRSS in kB of a process and its children (`kb serve --workers N` forks N workers)."""
    total = 0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(c) for c in task.read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class Server:
    """`kb serve` on 127.0.0.1 as a subprocess, stopped by its own pid."""

    def __init__(self, index_dir: Path, workers: int = 4, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)
        self.proc = subprocess.Popen(
            [*kb_command(), "serve", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "2", "--threads", str(workers)], stdout=self.log, stderr=subprocess.STDOUT, env={**child_env(), **(env or {})})
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kb serve exited: {self.output()[-2000:]}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("kb serve did not answer /healthz within 60 s")
            time.sleep(0.1)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One request on a fresh connection: status and body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def rss_kb(self) -> int:
        """The server's resident memory (VmRSS) in kB: its own plus its worker processes'."""
        return tree_rss_kb(self.proc.pid)

    def output(self) -> str:
        """What the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the server: SIGTERM to its pid, then SIGKILL."""
        stop_process(self.proc)
        self.log.close()


@contextlib.contextmanager
def serving(index_dir: Path, workers: int = 4) -> Iterator[Server]:
    """A `kb serve` for the duration of a with block."""
    server = Server(index_dir, workers)
    try:
        yield server
    finally:
        server.stop()


LOAD_QUERIES = ("baclofen side effects", "lioresal", "tizanidine dose", "muscle relaxant", "gabapentin",
                "methocarbamol overdose", "\"side effects\" -drowsiness", "tizanidne", "kind:faq pain",
                "title:baclofen", "((", "ratio:1:2", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓", "a b c d e f g h i j k l m n o p")
LOAD_PATHS = ("/api/search", "/search", "/api/suggest")


@dataclass
class LoadFigures:
    """A bounded load run against `kb serve`."""

    seconds: float
    workers: int
    client_threads: int
    requests: int = 0
    errors: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    rss_start_mb: float = 0.0
    rss_before_mb: float = 0.0  # after the warm-up
    rss_after_mb: float = 0.0
    growth_bytes_per_request: float = 0.0
    per_path: list[dict[str, Any]] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)


def load_run(index_dir: Path, *, seconds: float = 6.0, workers: int = 4, client_threads: int = 8,
             max_requests: int = 200_000) -> LoadFigures:
    """Warm `kb serve` up, then load each path for a share of `seconds` and compare its RSS before and after."""
    figures = LoadFigures(seconds, workers, client_threads)
    share = seconds / len(LOAD_PATHS)
    with serving(index_dir, workers) as server:
        figures.rss_start_mb = server.rss_kb() / 1024
        for path in LOAD_PATHS:  # warm-up: caches, pooled searchers, lazily built tables
            load.run("127.0.0.1", server.port, path, LOAD_QUERIES, threads=client_threads,
                     duration_s=min(1.0, share / 2), max_requests=max_requests)
        before = server.rss_kb()
        latencies: list[float] = []
        for path in LOAD_PATHS:
            res = load.run("127.0.0.1", server.port, path, LOAD_QUERIES, threads=client_threads,
                           duration_s=share, max_requests=max_requests)
            figures.per_path.append(res.to_dict())
            figures.requests += res.requests
            figures.errors += res.errors
            for k, v in res.error_kinds.items():
                figures.error_kinds[k] = figures.error_kinds.get(k, 0) + v
            latencies.extend(res.latencies_s)
        after = server.rss_kb()
    latencies.sort()
    figures.rps = round(figures.requests / seconds, 1)
    figures.p50_ms = round(load.percentile(latencies, 50) * 1000, 2)
    figures.p99_ms = round(load.percentile(latencies, 99) * 1000, 2)
    figures.rss_before_mb = round(before / 1024, 1)
    figures.rss_after_mb = round(after / 1024, 1)
    figures.rss_start_mb = round(figures.rss_start_mb, 1)
    figures.growth_bytes_per_request = round((after - before) * 1024 / max(1, figures.requests), 1)
    return figures


# -- hostile pages -------------------------------------------------------------------------------


def _head(title: str, charset: str = "utf-8") -> str:
    return f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head><body><article><h1>{title}</h1>'


XSS_BODY = (
    '<p onclick="alert(1)">Hostile zanthoxyl text with <a href="javascript:alert(2)">a link</a> and '
    '<img src=x onerror="alert(3)"> an image.</p><script>alert(4)</script>'
    '<h2 onmouseover="alert(5)" id="x&quot; onfocus=&quot;alert(6)">Zanthoxyl heading<script>alert(7)</script></h2>'
    '<p>&lt;script&gt;alert(8)&lt;/script&gt; &lt;img src=x onerror=alert(9)&gt; zanthoxyl escaped markup.</p>'
    '<svg onload="alert(10)"><script>alert(11)</script></svg><iframe src="javascript:alert(12)"></iframe>'
    '<style>body{background:url(javascript:alert(13))}</style><noscript><script>alert(14)</script></noscript>'
    '<form action="javascript:alert(15)"><button formaction="javascript:alert(16)">Go</button></form>'
    '<div class="see-also"><h3>See also</h3><ul><li><a href="java&#9;script:alert(17)">Tabbed</a></li>'
    '<li><a href="&#x01;javascript:alert(18)">Control</a></li><li><a href="vbscript:msgbox(19)">VB</a></li>'
    '<li><a href="data:text/html,&lt;script&gt;alert(20)&lt;/script&gt;">Data</a></li></ul></div>'
    '<h2>Zanthoxyl second part</h2><p>More zanthoxyl text so the article has a body.</p>'
)


def hostile_pages(folder: Path, *, big_mb: int = 50, fuzzed: int = 40, seed: int = 3,
                  samples: Sequence[Path] = ()) -> dict[str, str]:
    """Write hostile files into `folder`; returns name -> what it tries."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tried: dict[str, str] = {}

    def put(name: str, data: bytes | str, what: str) -> None:
        (folder / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        tried[name] = what

    put("deep-10000.html", _head("Deep nesting") + "<p>Lead text.</p>" + "<div>" * 10_000 + "deep text"
        + "</div>" * 10_000 + "</article></body></html>", "10,000 nested divs")
    put("deep-unclosed.html", _head("Unclosed nesting") + "<p>Lead.</p>" + "<div><span><b>" * 10_000 + "deep",
        "30,000 unclosed nested tags")
    put("headings-10000.html", _head("Ten thousand headings") + "".join(
        f"<h2>Heading {i}</h2><p>Paragraph {i} of the many headings page.</p>" for i in range(10_000))
        + "</article></body></html>", "10,000 headings with text")
    put("xss.html", _head("Hostile zanthoxyl page") + XSS_BODY + "</article></body></html>",
        "scripts, event handlers, javascript:/data:/vbscript: URLs in article text")
    put("xss-canonical.html", '<html><head><title>Zanthoxyl canonical</title><link rel="canonical" '
        'href="javascript:alert(21)//"><meta property="og:url" content="javascript:alert(22)//"></head><body>'
        '<article><h1>Zanthoxyl canonical</h1><p>Zanthoxyl page whose canonical link is a script.</p>'
        '<h2>Part</h2><p>zanthoxyl part text</p></article></body></html>', "javascript: canonical and og:url")
    put("charset-wrong.html", _head("Wrong charset caf\u00e9", "shift_jis") + "<p>Caf\u00e9 cr\u00e8me na\u00efve "
        "\u00fcber text.</p></article>", "UTF-8 declared as Shift_JIS")
    put("charset-unknown.html", _head("Unknown charset", "x-no-such-charset") + "<p>Text.</p></article>",
        "an unknown charset label")
    put("charset-utf7.html", _head("UTF-7", "utf-7") + "<p>+ADw-script+AD4-alert(1)+ADw-/script+AD4- text</p>",
        "UTF-7 (refused: script injection)")
    put("charset-missing-latin1.html", (_head("Latin-1 sans charset").replace('<meta charset="utf-8">', "")
                                        + "<p>Caf\u00e9 cr\u00e8me</p></article>").encode("latin-1"),
        "Latin-1 bytes, no charset")
    put("charset-utf16-nobom.html", (_head("UTF-16 no BOM", "utf-16") + "<p>Text</p>").encode("utf-16-le"),
        "UTF-16 without a BOM")
    put("binary-random.html", rng.randbytes(64 * 1024), "64 KB of random bytes")
    put("binary-png.html", b"\x89PNG\r\n\x1a\n" + rng.randbytes(4096), "a PNG named .html")
    put("binary-gzip.html", b"\x1f\x8b\x08\x00" + rng.randbytes(4096), "gzip data named .html")
    put("nul-bytes.html", _head("NUL") + "<p>Text\x00with\x00NULs</p>", "NUL bytes in HTML")
    put("empty.html", b"", "an empty file")
    put("whitespace.html", b" \n\t " * 1000, "only whitespace")
    put("truncated-tag.html", _head("Truncated") + "<p>Text that stops mid-<a href=\"https://x.exa", "truncated mid-tag")
    put("truncated-comment.html", _head("Comment") + "<p>Text</p><!-- never closed <p>hidden", "unclosed comment")
    put("truncated-cdata.html", _head("CDATA") + "<p>Text</p><![CDATA[ never closed", "unclosed CDATA")
    put("entities.html", _head("Entities") + "<p>" + "&#x110000; &#0; &#xD800; &bogus; &amp" * 2000 + "</p>",
        "invalid and out-of-range character references")
    put("long-word.html", _head("Long word") + "<p>" + "x" * 2_000_000 + "</p>", "a 2 MB word")
    put("many-attrs.html", _head("Attributes") + "<p " + " ".join(f"a{i}='{i}'" for i in range(50_000))
        + ">Text with many attributes.</p>", "50,000 attributes on one tag")
    big = (_head("Fifty megabytes") + "<p>" + "Big page words repeated. " * 40 + "</p>\n")
    with open(folder / "big-50mb.html", "w", encoding="utf-8") as f:
        f.write(big * (big_mb * MB // len(big) + 1))
    tried["big-50mb.html"] = f"a {big_mb} MB page (over the 10 MB limit)"
    sources = [p.read_bytes() for p in samples] or [(_head("Sample") + "<p>Sample text.</p>").encode()]
    for n in range(fuzzed):
        data = bytearray(rng.choice(sources))
        how = rng.choice(("flip", "truncate", "splice", "tags"))
        if how == "flip":
            for _ in range(max(1, len(data) // 200)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == "truncate":
            data = data[: rng.randrange(len(data))]
        elif how == "splice":
            other = rng.choice(sources)
            cut = rng.randrange(len(data))
            data = data[:cut] + other[rng.randrange(len(other)):]
        else:
            for _ in range(50):
                pos = rng.randrange(len(data) + 1)
                data[pos:pos] = rng.choice((b"<div>", b"</div>", b"<h2>", b"</p>", b"<table><tr><td>", b"<!--",
                                            b"<script>", b"</article>", b"<article>", b"<", b"&", b"\xff\xfe"))
        put(f"fuzz-{n:03d}.html", bytes(data), f"fuzzed sample ({how})")
    return tried


@dataclass
class HostileFigures:
    """What `kb index` did with hostile files, and what the article view showed."""

    files: int = 0
    indexed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    exit_code: int = 0
    articles_checked: int = 0
    script_leaks: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def index_hostile(folder: Path, index_dir: Path, *, timeout_s: float = 600, config: Path | None = None) -> HostileFigures:
    """Run `kb index --json` on hostile files under a watchdog; every file must be indexed or reported."""
    figures = HostileFigures(files=len(list(folder.glob("*.html"))))
    cmd = [*kb_command(), *(["--config", str(config)] if config else []), "index", str(folder), "--index",
           str(index_dir), "--json"]
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=child_env(), capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        figures.failures.append(f"kb index did not finish within {timeout_s:g}s")
        return figures
    figures.seconds = round(time.perf_counter() - started, 2)
    figures.exit_code = done.returncode
    if done.returncode not in (0, 1) or b"Traceback" in done.stderr:
        figures.failures.append(f"kb index crashed ({done.returncode}): {done.stderr[-1500:]!r}")
        return figures
    summary = orjson.loads(done.stdout)
    figures.indexed = summary["added"] + summary["updated"]
    figures.skipped = len(summary["failed"])
    for f in summary["failed"]:
        reason = re.sub(r"\d[\d.,]*", "N", f["reason"])[:60]
        figures.reasons[reason] = figures.reasons.get(reason, 0) + 1
    if figures.indexed + figures.skipped != figures.files:
        figures.failures.append(f"{figures.files} files, {figures.indexed} indexed + {figures.skipped} reported")
    return figures


def script_problems(html: str, own_scripts: Sequence[str] = ("/static/",)) -> list[str]:
    """What in a page could run script: <script> not from /static/, on* attributes, javascript:-like URLs."""
    from bs4 import BeautifulSoup

    found = []
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        if tag.name == "script" and not str(tag.get("src", "")).startswith(tuple(own_scripts)):
            found.append(f"<script> {str(tag)[:80]}")
        if tag.name == "script" and tag.string and tag.string.strip():
            found.append(f"inline <script> {tag.string[:80]}")
        for name, value in tag.attrs.items():
            if name.lower().startswith("on"):
                found.append(f"<{tag.name} {name}>")
            values = value if isinstance(value, list) else [value]
            for v in values:
                # Browsers drop tabs and newlines in URLs and leading controls and spaces.
                norm = re.sub(r"[\t\n\r]", "", str(v)).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"
                                                             "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                                                             "\x19\x1a\x1b\x1c\x1d\x1e\x1f ").lower()
                if name.lower() in ("href", "src", "action", "formaction", "data", "srcdoc", "xlink:href") and \
                        norm.startswith(("javascript:", "vbscript:", "data:text/html")):
                    found.append(f"<{tag.name} {name}={str(v)[:60]!r}>")
    return found


# -- the report ----------------------------------------------------------------------------------


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
