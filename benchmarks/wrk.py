"""Load from Debian's `wrk` (C, event-driven): the server's capacity without a Python client's CPU.

The Python client in `tests/support/load_client.py` spends about as much CPU per request as the server does, and on
a 2-core machine it runs on the server's cores. `wrk` costs a few percent of a core, so its
closed-loop figure is what the server itself can give. Each wrk thread walks the same query
list from its own offset (a Lua script); only loopback targets are allowed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from support.load_client import LOOPBACK, query_path

SCRIPT = """
local paths = {%s}
local i = 0
setup = function(thread)
  thread:set("offset", math.random(#paths))
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[((i + offset) %% #paths) + 1])
end
"""
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (latencies in milliseconds)."""

    path: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    def to_dict(self) -> dict[str, object]:
        """For the results JSON."""
        return {**self.__dict__, "client": "wrk"}


def available() -> bool:
    """Whether `wrk` is installed (Debian: `apt-get install wrk`)."""
    return shutil.which("wrk") is not None


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run(host: str, port: int, path: str, queries: Sequence[str], *, connections: int, duration_s: float,
        threads: int = 1) -> WrkResult:
    """`connections` keep-alive connections, each sending its next request as soon as the last is answered."""
    if host not in LOOPBACK:
        raise ValueError(f"wrk only targets loopback, not {host!r}")
    paths = ",".join('"' + query_path(path, q).replace("\\", "\\\\").replace('"', '\\"') + '"' for q in queries)
    with tempfile.TemporaryDirectory(prefix="kb-wrk-") as tmp:
        script = Path(tmp) / "paths.lua"
        script.write_text(SCRIPT % paths, encoding="utf-8")
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s:g}s",
                              "--latency", "-s", str(script), f"http://{host}:{port}{path}"],
                             capture_output=True, text=True, timeout=duration_s + 30, check=True).stdout
    dist = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return WrkResult(path=path, connections=connections, duration_s=duration_s, requests=total, rps=rps,
                     errors=errors, p50_ms=_ms(dist["50"]), p90_ms=_ms(dist["90"]), p99_ms=_ms(dist["99"]))
