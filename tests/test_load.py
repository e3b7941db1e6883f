"""Load: a bounded closed-loop run against `kb serve` on 127.0.0.1 with several workers: no errors,
and the server's RSS after the run close to before it (no leak per request)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.load_run import LoadFigures, load_run
from support.report import tell

MAX_GROWTH_MB = 8.0


def check(f: LoadFigures, config: pytest.Config) -> None:
    tell(config, f"[load] kb serve, {f.workers} workers, {f.client_threads} clients, {f.seconds:g}s: "
                 f"{f.requests} requests, {f.rps} req/s, p50 {f.p50_ms} ms, p99 {f.p99_ms} ms, {f.errors} errors, "
                 f"RSS {f.rss_before_mb} -> {f.rss_after_mb} MB ({f.growth_bytes_per_request} B/request)")
    assert f.errors == 0, f.error_kinds
    assert f.requests > 100
    assert f.rss_after_mb - f.rss_before_mb < MAX_GROWTH_MB


@pytest.mark.stress
def test_a_short_load_run_has_no_errors_and_no_leak(built_index: Path, pytestconfig: pytest.Config) -> None:
    check(load_run(built_index, seconds=3, workers=4, client_threads=8), pytestconfig)


@pytest.mark.stress
@pytest.mark.slow
def test_a_longer_load_run_has_no_errors_and_no_leak(built_index: Path, pytestconfig: pytest.Config) -> None:
    check(load_run(built_index, seconds=20, workers=4, client_threads=8), pytestconfig)


def test_the_load_client_asks_each_query_once_per_pass() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    from support import load_client

    asked: list[str] = []

    class Record(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            asked.append(parse_qs(urlsplit(self.path).query)["q"][0])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        queries = [f"query {i}" for i in range(120)]
        result = load_client.run("127.0.0.1", server.server_address[1], "/s", queries, threads=7, duration_s=30,
                          max_requests=len(queries))
    finally:
        server.shutdown()
    assert result.requests == len(queries) and result.errors == 0
    assert sorted(asked) == sorted(queries)
