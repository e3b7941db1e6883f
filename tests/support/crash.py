"""Crash trials: `kb index` killed with SIGKILL at random moments, and what the index shows after.

After each kill the index must open, answer, and show exactly the old or the new state of the
site; then an ordinary run must reach the new state. The figures count what held.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.build import index_paths
from indexer.lock import WriterLock
from kb.config import Settings
from kb.engines.whoosh import layout

from support.processes import child_env, kb_command
from support.stress_site import copy_index, observe_all, write_site


@dataclass
class CrashFigures:
    """What a series of SIGKILLs of `kb index` showed."""

    mode: str
    pages_before: int
    pages_after: int
    run_s: float = 0.0
    kills: int = 0
    killed_mid_run: int = 0  # the process was still running when SIGKILL landed
    saw_old: int = 0
    saw_new: int = 0
    survived: int = 0  # the index opened, answered and showed the old or the new state
    completed: int = 0  # the next run finished the work
    removed_came_back: int = 0  # the next run left a removed page in the index (see RELIABILITY.md)
    orphans: int = 0  # processes of the killed run still alive 2 s later
    failures: list[str] = field(default_factory=list)


def _alive_in_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def crash_trials(work: Path, mode: str, kills: int, *, pages: int = 60, seed: int = 1,
                 on_kill: Callable[[int, str], None] | None = None) -> CrashFigures:
    """SIGKILL `kb index` (full or incremental) at random moments, `kills` times, from the same old index.

    The run changes half the pages, removes one and adds a quarter more. After each kill the
    index must open, answer, and show exactly the old or the new state; then an ordinary run
    must reach the new state, leave at most two generations and free the lock.
    """
    assert mode in ("full", "incremental")
    rng = random.Random(seed)
    site, old_index, trial = work / "site", work / "old-index", work / "trial-index"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    old_state = write_site(site, range(pages), lambda i: 1)
    index_paths([site], Settings(index_dir=old_index, parse_workers=1))
    assert observe_all(old_index) == old_state, "the old index does not show the old site"
    new_pages = [i for i in range(pages + pages // 4) if i != pages - 1]
    new_state = write_site(site, new_pages, lambda i: 2 if i < pages // 2 or i >= pages else 1)
    figures = CrashFigures(mode, len(old_state.ids), len(new_state.ids))
    cmd = [*kb_command(), "index", str(site), "--index", str(trial), "--json"] + (["--full"] if mode == "full" else [])

    copy_index(old_index, trial)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=child_env(), capture_output=True, timeout=600)
    figures.run_s = time.perf_counter() - started
    if done.returncode != 0 or observe_all(trial) != new_state:
        raise AssertionError(f"the reference run failed: {done.returncode} {done.stderr[-500:]!r}")

    for k in range(kills):
        copy_index(old_index, trial)
        proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        delay = rng.uniform(0.0, figures.run_s)
        time.sleep(delay)
        running = proc.poll() is None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        figures.kills += 1
        figures.killed_mid_run += running
        deadline = time.monotonic() + 2.0
        while _alive_in_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive_in_group(proc.pid):
            figures.orphans += 1
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group of the process this function started
        where = f"kill {k + 1} at {delay:.2f}s ({mode})"
        try:
            seen = observe_all(trial)
        except Exception as e:  # the point is to count these
            figures.failures.append(f"{where}: the index did not answer: {type(e).__name__}: {e}")
            continue
        if seen == old_state:
            figures.saw_old += 1
        elif seen == new_state:
            figures.saw_new += 1
        else:
            figures.failures.append(f"{where}: neither old nor new state: {seen.describe()}")
            continue
        figures.survived += 1
        outcome = "old" if seen == old_state else "new"
        try:
            summary = index_paths([site], Settings(index_dir=trial, parse_workers=1, lock_timeout_s=5),
                                  full=mode == "full")
            after = observe_all(trial)
            gens = layout.generations(trial)
            with WriterLock(trial, 0):
                pass
        except Exception as e:
            figures.failures.append(f"{where}: the next run failed: {type(e).__name__}: {e}")
            continue
        if after.ids - new_state.ids and after.ids - (old_state.ids - new_state.ids) == new_state.ids:
            figures.removed_came_back += 1  # a removed page back after a crash: must stay 0
        elif after != new_state or summary.failed:
            figures.failures.append(f"{where}: the next run left {after.describe()}, failed {summary.failed}")
        elif len(gens) > 2:
            figures.failures.append(f"{where}: {len(gens)} generations left after the next run")
        else:
            figures.completed += 1
        if on_kill is not None:
            on_kill(k, outcome)
    return figures
