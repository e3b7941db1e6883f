"""Concurrency: searches in threads (sharing one KnowledgeBase, as the web app does) and in processes
while a writer adds, changes and removes articles and every third run swaps generations: no error,
every answer consistent with one generation. Two writers at once: one waits or is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.concurrency import ConcurrencyFigures, concurrency_run, two_writers
from support.report import tell


def check(f: ConcurrencyFigures, config: pytest.Config) -> None:
    tell(config, f"[concurrency] {f.seconds:g}s, {f.thread_readers} threads + {f.process_readers} processes: "
                 f"{f.searches} searches during {f.commits} commits ({f.full_rebuilds} generation swaps), "
                 f"{f.versions_seen} versions seen, {f.errors + f.known_race_errors} errors, {f.inconsistent} inconsistent")
    assert f.failures == [] and f.errors == 0 and f.known_race_errors == 0 and f.inconsistent == 0
    assert f.commits >= 2 and f.full_rebuilds >= 1 and f.versions_seen >= 2 and f.searches > 50


@pytest.mark.stress
def test_readers_see_one_generation_at_a_time_while_a_writer_works(tmp_path: Path,
                                                                    pytestconfig: pytest.Config) -> None:
    check(concurrency_run(tmp_path, seconds=3, threads=3, processes=2), pytestconfig)


@pytest.mark.stress
@pytest.mark.parametrize("lock_timeout_s", [30.0, 0.0])
def test_two_writers_at_once_one_waits_or_is_told(tmp_path: Path, lock_timeout_s: float,
                                                  pytestconfig: pytest.Config) -> None:
    f = two_writers(tmp_path, pairs=1, lock_timeout_s=lock_timeout_s)
    tell(pytestconfig, f"[concurrency] two kb index at once (--lock-timeout {lock_timeout_s:g}): "
                       f"{f.both_ran} waited, {f.one_told} told")
    assert f.failures == [] and f.pairs == f.both_ran + f.one_told == 1


@pytest.mark.stress
@pytest.mark.slow
def test_readers_stay_consistent_for_twenty_seconds(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    check(concurrency_run(tmp_path, seconds=20, threads=4, processes=2), pytestconfig)


def test_searchers_made_after_an_unnoticed_commit_answer_from_one_generation(tmp_path: Path) -> None:
    import os
    import threading

    from indexer.build import index_paths
    from kb.config import Settings
    from kb.engines.whoosh import layout
    from kb.search import KnowledgeBase

    from support.stress_site import COMMON, write_site

    site, s = tmp_path / "site", Settings(index_dir=tmp_path / "index", parse_workers=1)
    write_site(site, range(3), lambda i: 1)
    index_paths([site], s)
    kb = KnowledgeBase.open(settings=s)
    kb.search(COMMON)  # the snapshot, its doc table and one pooled searcher
    gen = layout.current_generation(s.index_dir)
    assert gen is not None
    st = gen.stat()
    write_site(site, range(30), lambda i: 2)
    index_paths([site], s)
    # A commit within one timestamp tick (or on a coarse-mtime filesystem) leaves the token as it was.
    os.utime(gen, ns=(st.st_atime_ns, st.st_mtime_ns))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def search() -> None:
        start.wait()
        for _ in range(5):
            try:
                kb.search(COMMON, per_page=100)
            except Exception as e:
                errors.append(e)

    threads = [threading.Thread(target=search) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
