"""Crashes: `kb index` killed with SIGKILL at random moments of a full and of an incremental run.
After each kill the index opens, answers, and shows exactly the old or the new state; the next run
completes the work. The CI form kills 5 times; `@slow` kills 20; benchmarks/stress.py kills 50 per mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.crash import CrashFigures, crash_trials
from support.report import tell


def check(figures: CrashFigures, config: pytest.Config) -> None:
    tell(config, f"[crash] SIGKILL kb index ({figures.mode}, {figures.pages_before}->{figures.pages_after} pages, "
                 f"run {figures.run_s:.2f}s): {figures.kills} kills ({figures.killed_mid_run} mid-run), "
                 f"{figures.survived} survived (old {figures.saw_old}, new {figures.saw_new}), "
                 f"{figures.completed} completed, {figures.removed_came_back} with a removed page back, "
                 f"{figures.orphans} orphaned parse workers")
    assert figures.failures == []
    assert figures.removed_came_back == 0
    assert figures.survived == figures.kills == figures.completed


@pytest.mark.stress
@pytest.mark.parametrize(("mode", "kills"), [("incremental", 3), ("full", 2)])
def test_sigkill_leaves_old_or_new_state_and_the_next_run_completes(tmp_path: Path, mode: str, kills: int,
                                                                     pytestconfig: pytest.Config) -> None:
    check(crash_trials(tmp_path, mode, kills, pages=40, seed=kills), pytestconfig)


@pytest.mark.stress
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_twenty_sigkills_per_mode(tmp_path: Path, mode: str, pytestconfig: pytest.Config) -> None:
    # 240 pages (300 after the run): a full rebuild of 200 or more is written in parts, one process each
    check(crash_trials(tmp_path, mode, 20, pages=240, seed=20), pytestconfig)


def test_a_crash_during_the_commit_does_not_strand_a_removed_page(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from whoosh.writing import SegmentWriter

    from indexer.build import index_paths
    from kb.config import Settings

    from support.stress_site import observe_all, write_site

    site, s = tmp_path / "site", Settings(index_dir=tmp_path / "index", parse_workers=1)
    write_site(site, range(3), lambda i: 1)
    index_paths([site], s)
    new = write_site(site, range(2), lambda i: 1)  # page-2 is removed

    def killed(self: SegmentWriter, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process dies inside the commit: the pending manifest is written

    with monkeypatch.context() as m:
        m.setattr(SegmentWriter, "commit", killed)
        with pytest.raises(KeyboardInterrupt):
            index_paths([site], s)
    index_paths([site], s)  # the next run must complete the removal
    assert observe_all(s.index_dir) == new
