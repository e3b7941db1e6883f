"""A connection attack on `kb serve`, from one client on 127.0.0.1, while a normal client searches.

What it opens, all at once and held for `--seconds`:
- idle connections (opened, nothing sent);
- half-sent requests (a request line and one header, then a byte every few seconds);
- slow bodies (an admin upload without a token, declaring a large body, sent a few bytes a second);
- big bodies (an admin upload without a token declaring `--big-mb`, sent as fast as the server takes it).
Meanwhile a normal client (from 127.0.0.2, another address) runs searches one after another, each
on a new connection with a 30 s timeout. Printed: the normal client's requests (answered, failed, p50/p95/max latency), how many
attack connections the server had closed by the end and how soon, the most disk the server's
temporary folder held, and the server's memory.

    python benchmarks/siege.py --index .kb-index --idle 300 --half 100 --slow 20 --big 4 --seconds 30
    python benchmarks/siege.py --index .kb-index --kb-path /tmp/kb-old   # the code of another checkout

Only 127.0.0.1; every loop is bounded in time; the server is stopped by its own pid.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT / "tests"), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
from support.processes import child_env, free_port, kb_command, stop_process, tree_pids, tree_rss_kb  # noqa: E402

HOST = "127.0.0.1"
NORMAL_SOURCE = "127.0.0.2"  # the normal client is another address than the attacker's (loopback has both)
QUERIES = ("baclofen side effects", "tizanidine dose", "muscle relaxant", "gabapentin", "lioresal")


@dataclass
class ServeProcess:
    """`kb serve` on 127.0.0.1 as a subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    tmp: Path  # the server's TMPDIR (waitress buffers large bodies there)
    log: Path


def serve(index_dir: Path, *, workers: int = 2, threads: int = 4, env: dict[str, str] | None = None,
          kb_path: Path | None = None, timeout_s: float = 60.0) -> ServeProcess:
    """Start `kb serve` and wait until it answers /healthz (any status)."""
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="kb-siege-tmp-"))
    log = tmp.parent / f"{tmp.name}.log"
    command = kb_command() if kb_path is None else [
        sys.executable, "-c", f"import sys; sys.path.insert(0, {str(kb_path)!r}); from kb.cli import main; main()"]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*command, "serve", "--index", str(index_dir), "--host", HOST, "--port", str(port),
                                 "--workers", str(workers), "--threads", str(threads)], stdout=out,
                                stderr=subprocess.STDOUT, env={**child_env(), "TMPDIR": str(tmp), **(env or {})})
    server = ServeProcess(proc, port, tmp, log)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"kb serve exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError):
            request(port, "GET", "/healthz", timeout=2)
            return server
        if time.monotonic() > deadline:
            stop(server)
            raise RuntimeError("kb serve did not answer within 60 s")
        time.sleep(0.1)


def stop(server: ServeProcess) -> None:
    """Stop the server by its pid and remove its temporary folder."""
    stop_process(server.proc)
    shutil.rmtree(server.tmp, ignore_errors=True)
    server.log.unlink(missing_ok=True)


@contextlib.contextmanager
def serving(index_dir: Path, **kwargs: object) -> Iterator[ServeProcess]:
    """`serve` for the duration of a with block."""
    server = serve(index_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        stop(server)


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 30.0, source: str | None = None) -> tuple[int, bytes]:
    """One request on a fresh connection (from `source`, an address on this machine): status and body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout, source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _tmp_bytes(pid: int, tmp: Path) -> int:
    """Bytes in the temporary files the server and its workers hold open (waitress's body buffers are
    unnamed files in TMPDIR, so they are found through /proc/PID/fd)."""
    total = 0
    for p in tree_pids(pid):
        for fd in Path(f"/proc/{p}/fd").glob("*"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith(str(tmp)):
                    total += fd.stat().st_size
    return total


@dataclass
class Figures:
    """What one attack run showed."""

    idle: int = 0
    half: int = 0
    slow: int = 0
    big: int = 0
    seconds: float = 0.0
    opened: int = 0  # attack connections the server accepted (or the kernel queued)
    refused: int = 0  # attack connections refused or reset at once
    closed_by_server: int = 0  # of those opened, closed by the server before the end
    median_close_s: float | None = None  # how soon the server closed them
    normal_requests: int = 0
    normal_failed: int = 0
    normal_p50_ms: float = 0.0
    normal_p95_ms: float = 0.0
    normal_max_ms: float = 0.0
    big_bytes_sent: int = 0  # body bytes the big-body connections got into the server
    big_statuses: list[int] = field(default_factory=list)
    tmp_max_mb: float = 0.0
    rss_mb: float = 0.0


def _watch(sock: socket.socket, opened: float, closed: list[float], stop_at: float, trickle: bytes | None) -> None:
    """Hold a connection until the end, trickling a byte now and then; note when the server closes it."""
    sock.settimeout(1.0)
    while time.monotonic() < stop_at:
        try:
            if trickle is not None:
                sock.sendall(trickle)
            if sock.recv(4096) == b"":
                closed.append(time.monotonic() - opened)
                return
        except TimeoutError:
            continue
        except OSError:
            closed.append(time.monotonic() - opened)
            return


def _big_body(port: int, mb: int, stop_at: float, sent: list[int], statuses: list[int]) -> None:
    """An unauthenticated upload declaring `mb` MB, sent as fast as the server takes it, all but its last byte."""
    total = mb * 1024 * 1024
    try:
        sock = socket.create_connection((HOST, port), timeout=5)
    except OSError:
        return
    with sock:
        head = (f"POST /api/articles HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: text/html\r\n"
                f"Content-Length: {total}\r\n\r\n").encode()
        chunk = b"x" * 65536
        done = 0
        try:
            sock.sendall(head)
            sock.settimeout(2)
            while done < total - 1 and time.monotonic() < stop_at:
                n = sock.send(chunk[: min(len(chunk), total - 1 - done)])
                done += n
        except OSError:
            pass
        sent.append(done)
        with contextlib.suppress(OSError):
            sock.settimeout(2)
            first = sock.recv(64)
            if first.startswith(b"HTTP/1.1 "):
                statuses.append(int(first[9:12]))


def attack(port: int, server_pid: int, tmp: Path, *, idle: int = 250, half: int = 100, slow: int = 10,
           big: int = 4, big_mb: int = 1000, seconds: float = 20.0) -> Figures:
    """Open the attack connections, search as a normal client meanwhile, and measure."""
    f = Figures(idle=idle, half=half, slow=slow, big=big, seconds=seconds)
    stop_at = time.monotonic() + seconds
    closed: list[float] = []
    threads: list[threading.Thread] = []
    kinds = [None] * idle + [b"X"] * half + [b"y"] * slow
    heads = {None: b"", b"X": f"GET /search?q=a HTTP/1.1\r\nHost: {HOST}\r\n".encode(),
             b"y": (f"POST /api/articles HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: text/html\r\n"
                    f"Content-Length: 10000000\r\n\r\n").encode()}
    for kind in kinds:
        try:
            sock = socket.create_connection((HOST, port), timeout=2)
            if heads[kind]:
                sock.sendall(heads[kind])
        except OSError:
            f.refused += 1
            continue
        f.opened += 1
        t = threading.Thread(target=_watch, args=(sock, time.monotonic(), closed, stop_at, kind), daemon=True)
        t.start()
        threads.append(t)
    sent: list[int] = []
    for _ in range(big):
        t = threading.Thread(target=_big_body, args=(port, big_mb, stop_at, sent, f.big_statuses), daemon=True)
        t.start()
        threads.append(t)
    latencies: list[float] = []
    i = 0
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            status, _ = request(port, "GET", f"/api/search?q={QUERIES[i % len(QUERIES)].replace(' ', '+')}",
                                timeout=max(1.0, min(30.0, stop_at - started + 5)), source=NORMAL_SOURCE)
            ok = status == 200
        except OSError:
            ok = False
        latencies.append((time.monotonic() - started) * 1000)
        f.normal_failed += not ok
        f.tmp_max_mb = max(f.tmp_max_mb, _tmp_bytes(server_pid, tmp) / 1e6)
        f.rss_mb = max(f.rss_mb, tree_rss_kb(server_pid) / 1024)
        i += 1
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=10)
    f.normal_requests = len(latencies)
    if latencies:
        f.normal_p50_ms = round(statistics.median(latencies), 1)
        f.normal_p95_ms = round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1)
        f.normal_max_ms = round(max(latencies), 1)
    f.closed_by_server = len(closed)
    f.median_close_s = round(statistics.median(closed), 1) if closed else None
    f.big_bytes_sent = sum(sent)
    f.tmp_max_mb = round(f.tmp_max_mb, 1)
    f.rss_mb = round(f.rss_mb, 1)
    return f


def main(argv: list[str] | None = None) -> int:
    """Run one attack and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--kb-path", type=Path, help="import kb from this folder (another checkout's code)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--idle", type=int, default=250)
    ap.add_argument("--half", type=int, default=100)
    ap.add_argument("--slow", type=int, default=10)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mb", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--client-timeout", type=float, help="KB_CLIENT_TIMEOUT for the server")
    args = ap.parse_args(argv)
    env = {"KB_ADMIN_TOKEN": "siege-token", "KB_MAX_BODY_MB": "2000"}
    if args.client_timeout:
        env["KB_CLIENT_TIMEOUT"] = str(args.client_timeout)
    with serving(args.index, workers=args.workers, env=env, kb_path=args.kb_path) as server:
        f = attack(server.port, server.proc.pid, server.tmp, idle=args.idle, half=args.half, slow=args.slow,
                   big=args.big, big_mb=args.big_mb, seconds=args.seconds)
    for name, value in asdict(f).items():
        print(f"{name:>18}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
