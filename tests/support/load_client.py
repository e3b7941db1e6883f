"""A bounded HTTP load client for loopback servers: N threads, a fixed duration, a request cap.

Each thread keeps one keep-alive `http.client` connection; the n-th request sent, whichever
thread sends it, asks the n-th query, so a run of `len(queries)` requests asks each query
exactly once. Two modes:

* closed loop (`rate=None`): every thread sends its next request as soon as the last one is
  answered, which measures the most requests per second the server gives;
* open loop (`rate=R`): requests are scheduled at R per second in total, and latency is
  measured from each request's scheduled time, so a server that falls behind is charged for
  the queue it builds (no coordinated omission).

It refuses any host but 127.0.0.1/::1/localhost, and stops at `max_requests` whatever the
duration, so it can never be pointed at someone else's site or run away.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_THREADS = 64
GRACE_S = 2.0  # how long past the duration an open-loop run may still send its backlog


@dataclass
class LoadResult:
    """What a load run measured."""

    path: str
    threads: int
    duration_s: float
    rate: float | None
    requests: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)  # perf_counter() when each latency's request ended

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.duration_s if self.duration_s else 0.0

    def to_dict(self) -> dict[str, object]:
        """Summary for the results JSON (latencies in milliseconds)."""
        lat = sorted(self.latencies_s)
        return {"path": self.path, "threads": self.threads, "duration_s": round(self.duration_s, 2),
                "target_rps": self.rate, "requests": self.requests, "errors": self.errors,
                "error_kinds": self.error_kinds, "rps": round(self.rps, 1),
                "p50_ms": round(percentile(lat, 50) * 1000, 2), "p99_ms": round(percentile(lat, 99) * 1000, 2)}


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of already sorted values; 0.0 for none."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def query_path(path: str, query: str, extra: str = "") -> str:
    """`/api/search` + a query -> `/api/search?q=...`."""
    return f"{path}?q={quote(query)}{extra}"


def run(host: str, port: int, path: str, queries: Sequence[str], *, threads: int, duration_s: float,
        rate: float | None = None, max_requests: int = 100_000, timeout_s: float = 10.0) -> LoadResult:
    """Load `http://host:port{path}?q=<query>` from `threads` threads for `duration_s` seconds."""
    if host not in LOOPBACK:
        raise ValueError(f"the load client only targets loopback, not {host!r}")
    threads = max(1, min(MAX_THREADS, threads))
    result = LoadResult(path=path, threads=threads, duration_s=duration_s, rate=rate)
    lock = threading.Lock()
    counter = [0]  # requests claimed so far, across threads (the cap and the open-loop schedule)
    start = time.perf_counter() + 0.05
    deadline = start + duration_s

    def claim() -> int | None:
        with lock:
            n = counter[0]
            if n >= max_requests:
                return None
            counter[0] = n + 1
            return n

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        lat: list[float] = []
        done: list[float] = []
        errors: dict[str, int] = {}
        while True:
            n = claim()
            if n is None:
                break
            if rate is not None:
                scheduled = start + n / rate
                wait = scheduled - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            else:
                scheduled = time.perf_counter()
            if scheduled >= deadline or time.perf_counter() > deadline + GRACE_S:
                break  # a server that fell behind is not waited for: the shortfall shows in rps
            url = query_path(path, queries[n % len(queries)])
            try:
                conn.request("GET", url)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[f"HTTP {resp.status}"] = errors.get(f"HTTP {resp.status}", 0) + 1
                if resp.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
            except (OSError, http.client.HTTPException) as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
            done.append(time.perf_counter())
            lat.append(done[-1] - scheduled)
        conn.close()
        with lock:
            result.latencies_s.extend(lat)
            result.done_at.extend(done)
            result.requests += len(lat)
            for k, v in errors.items():
                result.error_kinds[k] = result.error_kinds.get(k, 0) + v
                result.errors += v

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(duration_s + timeout_s + 5)
    result.duration_s = max(1e-9, time.perf_counter() - start)
    return result


def describe(runs: dict[str, dict[str, object]], prefix: str = "") -> list[str]:
    """One table line per load run of a path (closed, first pass, wrk, open), as the harness prints them."""
    lines = []
    for mode, d in runs.items():
        what = {"closed": "flat out", "first_pass": "first pass (cold caches)",
                "wrk": "flat out (wrk)"}.get(mode, f"paced at {float(d.get('target_rps') or 0):.0f}/s")  # type: ignore[arg-type]
        who = f"{d['connections']} connections" if mode == "wrk" else f"{d['threads']} threads"
        lines.append(f"    {prefix}load {d['path']} {what}, {who}, {d['duration_s']}s: "
                     f"{d['rps']} req/s, p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms, "
                     f"{d['errors']} errors of {d['requests']}")
    return lines

