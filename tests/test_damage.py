"""A damaged index never takes the service down: a truncated segment (before the server starts, or
under it), an emptied CURRENT, a garbled manifest. The server answers from the previous generation
or says why with 503; `kb check` finds the damage and `--rollback` returns to the previous
generation; `kb search` prints one line; `kb index` refuses to rebuild from one path."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from indexer.build import index_paths
from kb.config import Settings
from kb.engines.whoosh import layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from siege import request, serving  # noqa: E402

from support.processes import child_env, kb_command  # noqa: E402
from support.report import tell  # noqa: E402


def kb_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kb_command(), *args], env=child_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_generations(built_index: Path, examples_dir: Path, tmp_path: Path) -> Path:
    """The examples index with two generations: the live one and the one a rollback returns to."""
    index_dir = tmp_path / "index"
    shutil.copytree(built_index, index_dir, ignore=shutil.ignore_patterns("write.lock*"))
    index_paths([examples_dir], Settings(index_dir=index_dir, parse_workers=1), full=True)
    assert len(layout.generations(index_dir)) == 2
    return index_dir


def truncate_live_segment(index_dir: Path) -> None:
    live = layout.current_generation(index_dir)
    assert live is not None
    seg = max(live.glob("*.seg"), key=lambda p: p.stat().st_size)
    os.truncate(seg, seg.stat().st_size // 2)


def get(port: int, path: str) -> tuple[int, dict[str, object]]:
    status, body = request(port, "GET", path, timeout=20)
    return status, orjson.loads(body)



def test_the_generation_token_sees_every_switch_and_every_change_to_current_at_once(two_generations: Path) -> None:
    # The token remembers what CURRENT says by the file's identity: a switch, a rollback or
    # damage written in place must all show on the very next call.
    index_dir = two_generations
    old, new = layout.generations(index_dir)
    assert layout.generation_token(index_dir) == (new.name, new.stat().st_mtime_ns)
    layout.switch_to(index_dir, old)  # a rollback
    assert layout.generation_token(index_dir) == (old.name, old.stat().st_mtime_ns)
    assert layout.current_generation(index_dir) == old
    current = index_dir / layout.CURRENT
    # Rewritten in place at the same size: only the file's times tell, and the kernel stamps them
    # with a clock that ticks every few milliseconds, so let it tick (kb itself always replaces CURRENT).
    time.sleep(0.05)
    with current.open("r+b") as f:
        f.write(new.name.encode())
    assert layout.current_generation(index_dir) == new
    time.sleep(0.05)
    with current.open("r+b") as f:
        f.write(b"gen-zzzzzz")  # garbled in place
    assert layout.generation_token(index_dir) is None
    current.write_bytes(b"")  # emptied
    assert layout.current_generation(index_dir) is None
    current.unlink()
    assert layout.generation_token(index_dir) is None

def test_a_server_on_a_damaged_index_answers_from_the_previous_generation(
        two_generations: Path, pytestconfig: pytest.Config) -> None:
    truncate_live_segment(two_generations)
    with serving(two_generations, workers=1) as server:
        status, health = get(server.port, "/healthz")
        search_status, page = get(server.port, "/api/search?q=baclofen")
        alive = server.proc.poll() is None
    assert status == 503 and health["status"] == "degraded"
    assert health["error"]["code"] == "index_damaged" and "gen-000002" in health["error"]["message"]  # type: ignore[index]
    assert search_status == 200 and page["total"] > 0 and alive
    tell(pytestconfig, f"[damage] truncated live segment, previous generation kept: /healthz 503 "
                       f"{health['error']['message'][:80]!r}; searches 200")  # type: ignore[index]


def test_a_server_on_a_damaged_index_with_nothing_to_fall_back_on_says_503(writable_index: Path) -> None:
    truncate_live_segment(writable_index)
    with serving(writable_index, workers=1) as server:
        health_status, health = get(server.port, "/healthz")
        search_status, error = get(server.port, "/api/search?q=baclofen")
        page_status, _ = request(server.port, "GET", "/search?q=baclofen")
        alive = server.proc.poll() is None
    assert health_status == 503 and health["error"]["code"] == "index_damaged"  # type: ignore[index]
    assert search_status == 503 and error["error"]["code"] == "index_damaged"  # type: ignore[index]
    assert page_status == 503 and alive


def test_a_segment_truncated_under_a_running_server_does_not_kill_it(writable_index: Path) -> None:
    with serving(writable_index, workers=2) as server:
        assert get(server.port, "/api/search?q=baclofen")[0] == 200
        truncate_live_segment(writable_index)  # it was SIGBUS on the next search, with the file mapped
        # A search answers from what its worker had read (200) or finds the damage when it reads past
        # the cut (503), on either worker (a new connection lands on either): never a crash or a 500.
        statuses = [request(server.port, "GET", f"/api/search?q={q}")[0]
                    for q in ("baclofen", "tizanidine+liver", "gabapentin", "muscle", "cramps", "pump+fever",
                              "pregnancy", "kidney", "fibromyalgia+sleep", "elderly+dizziness", "alcohol",
                              "withdrawal", "spasticity", "dose+children", "back+pain")]
        health = {get(server.port, "/healthz")[0] for _ in range(3)}
        # Once a worker has reported the damage, its searches say so too: on one keep-alive connection,
        # the worker that answered /healthz answers the search. (Whether a search alone reads past the
        # cut depends on what the warm-up had read, so it is not asserted.)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        try:
            after = []
            for path in ("/healthz", "/api/search?q=baclofen"):
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                after.append(resp.status)
        finally:
            conn.close()
        alive = server.proc.poll() is None
    assert set(statuses) <= {200, 503} and health == {503} and after == [503, 503] and alive


def test_healthz_reports_a_segment_truncated_under_a_running_server_before_any_search(writable_index: Path) -> None:
    """Each worker compares the live segment files with the sizes they were opened at, so the damage
    is reported without waiting for a search to read the damaged part (a new connection lands on
    either worker: every answer must be 503)."""
    with serving(writable_index, workers=2) as server:
        before = {get(server.port, "/healthz")[0] for _ in range(4)}
        truncate_live_segment(writable_index)
        after = [get(server.port, "/healthz") for _ in range(6)]
        alive = server.proc.poll() is None
    assert before == {200} and alive
    assert {status for status, _ in after} == {503}
    assert all(h["error"]["code"] == "index_damaged" and "written as" in h["error"]["message"]  # type: ignore[index]
               for _, h in after)


def test_kb_check_finds_the_damage_and_rolls_back(two_generations: Path, pytestconfig: pytest.Config) -> None:
    assert kb_run("check", "--index", str(two_generations)).returncode == 0
    truncate_live_segment(two_generations)
    found = kb_run("check", "--index", str(two_generations))
    assert found.returncode == 1 and "gen-000002 DAMAGED" in found.stdout and "previous: gen-000001 ok" in found.stdout
    rolled = kb_run("check", "--rollback", "--index", str(two_generations))
    assert rolled.returncode == 0 and "rolled back to gen-000001" in rolled.stdout
    searched = kb_run("search", "baclofen", "--index", str(two_generations))
    assert searched.returncode == 0 and "sections match" in searched.stdout
    assert (two_generations / "set-aside-gen-000002").is_dir()
    tell(pytestconfig, f"[damage] kb check: exit 1 ({found.stdout.splitlines()[0][:70]}); --rollback: "
                       f"exit 0 ({rolled.stdout.splitlines()[0][:60]})")


def test_kb_search_on_a_damaged_index_prints_one_line(writable_index: Path) -> None:
    truncate_live_segment(writable_index)
    done = kb_run("search", "baclofen", "--index", str(writable_index))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "damaged" in done.stderr


@pytest.mark.parametrize("damage", ["manifest", "vocab", "current"])
def test_kb_index_refuses_to_rebuild_a_damaged_index_from_one_path(two_generations: Path, tmp_path: Path,
                                                                   examples_dir: Path, damage: str) -> None:
    live = layout.current_generation(two_generations)
    assert live is not None
    if damage == "current":
        (two_generations / layout.CURRENT).write_bytes(b"")
    else:
        (live / (layout.MANIFEST if damage == "manifest" else layout.VOCAB)).write_bytes(b"{garbled")
    before = sorted(p.name for p in two_generations.iterdir())
    other = tmp_path / "one-page"
    shutil.copytree(examples_dir, other, ignore=lambda d, names: names[1:])
    done = kb_run("index", str(other), "--index", str(two_generations))
    assert done.returncode == 1 and "damaged" in done.stderr and "kb check" in done.stderr
    assert sorted(p.name for p in two_generations.iterdir()) == before  # nothing deleted, nothing built
    # the server still answers meanwhile (CURRENT emptied: from the newest generation that opens)
    assert kb_run("search", "baclofen", "--index", str(two_generations)).returncode == 0


@pytest.mark.slow
def test_truncated_or_garbled_files_anywhere_never_raise_anything_but_index_damaged(
        two_generations: Path, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    import random

    from kb.errors import IndexDamaged
    from kb.search import KnowledgeBase

    rng = random.Random(15)
    outcomes: dict[str, int] = {}
    for trial in range(40):
        index_dir = tmp_path / f"trial-{trial}"
        shutil.copytree(two_generations, index_dir)
        live = layout.current_generation(index_dir)
        assert live is not None
        victim = rng.choice(sorted(p for p in live.iterdir() if p.is_file()))
        data = bytearray(victim.read_bytes())
        if trial % 2 and data:
            for _ in range(8):
                data[rng.randrange(len(data))] ^= 0xFF
            victim.write_bytes(bytes(data))
        else:
            os.truncate(victim, rng.randrange(len(data) + 1) if data else 0)
        try:
            kb = KnowledgeBase.open(settings=Settings(index_dir=index_dir))
            for q in ("baclofen", "tizanidine liver", "side effects"):
                kb.search(q)
            kb.stats()
            outcome = "answered" + (" (older generation)" if kb.damage() else "")
        except IndexDamaged:
            outcome = "IndexDamaged"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        shutil.rmtree(index_dir)
    tell(pytestconfig, f"[damage] 40 live files truncated or garbled at random: {outcomes}")
