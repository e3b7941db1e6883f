"""Load runs: a bounded closed-loop load on `kb serve`, with its RSS before and after (no leak per request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import load_client
from support.processes import serving

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
            load_client.run("127.0.0.1", server.port, path, LOAD_QUERIES, threads=client_threads,
                     duration_s=min(1.0, share / 2), max_requests=max_requests)
        before = server.rss_kb()
        latencies: list[float] = []
        for path in LOAD_PATHS:
            res = load_client.run("127.0.0.1", server.port, path, LOAD_QUERIES, threads=client_threads,
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
    figures.p50_ms = round(load_client.percentile(latencies, 50) * 1000, 2)
    figures.p99_ms = round(load_client.percentile(latencies, 99) * 1000, 2)
    figures.rss_before_mb = round(before / 1024, 1)
    figures.rss_after_mb = round(after / 1024, 1)
    figures.rss_start_mb = round(figures.rss_start_mb, 1)
    figures.growth_bytes_per_request = round((after - before) * 1024 / max(1, figures.requests), 1)
    return figures
