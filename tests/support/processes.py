"""`kb` as a subprocess: its command, a clean environment, `kb serve` on a free loopback port, RSS."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def kb_command() -> list[str]:
    """The `kb` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "kb"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from kb.cli import main; main()"]


def child_env() -> dict[str, str]:
    """The environment for `kb` subprocesses: no inherited KB_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_")}


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


def tree_pids(pid: int) -> list[int]:
    """A process and its children (`kb serve --workers N` forks N workers)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(c) for c in task.read_text().split()]
    return pids


def tree_rss_kb(pid: int) -> int:
    """VmRSS in kB of a process and its children."""
    total = 0
    for p in tree_pids(pid):
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
