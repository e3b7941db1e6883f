"""Writes are refused rather than destructive, and API writes are durable: a full re-index of a
missing or empty source, special files and symlinks out of the folder, a writer that deleted
`write.lock`, a rebuild another writer's commit overtook, ids no URL can address, uploads across
full rebuilds, PUT and DELETE on articles that come from files."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from flask.testing import FlaskClient

from indexer.build import Ingestor, index_paths
from indexer.lock import LOCK, WriterLock
from kb.config import Settings
from kb.documents import documents
from kb.engines.base import write_article
from kb.engines.whoosh.writer import WhooshStore
from kb.errors import BadInput, Conflict, LockTimeout
from kb.models import Article, Section
from kb.search import KnowledgeBase
from web import create_app

from support.htmlpages import page, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from test_access import fingerprint  # noqa: E402

from support.processes import child_env, kb_command  # noqa: E402
from support.report import tell  # noqa: E402

TOKEN = "refusals-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/html"}


def site(folder: Path, n: int) -> Path:
    for i in range(n):
        write(folder, f"p{i}.html", page(f"Page {i}", {f"Part {i}": f"Florbic words of page {i}."}))
    return folder


def settings(tmp: Path, **changes: object) -> Settings:
    return Settings(index_dir=tmp / "index", parse_workers=1, lock_timeout_s=0.3).with_(**changes)


def kb_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kb_command(), *args], env=child_env(), capture_output=True, text=True, timeout=120)


# -- 3. a full re-index of a missing or empty source -------------------------------------------------


@pytest.mark.parametrize("source", ["missing", "empty", "unparseable"])
def test_a_full_reindex_of_a_missing_or_empty_source_is_refused_and_changes_nothing(
        tmp_path: Path, source: str, pytestconfig: pytest.Config) -> None:
    s = settings(tmp_path)
    index_paths([site(tmp_path / "site", 3)], s)
    before = fingerprint(s.index_dir)
    target = tmp_path / "typo"
    if source != "missing":
        target.mkdir()
    if source == "unparseable":
        (target / "x.html").write_bytes(b"\x00\x01 not a page")
    done = kb_run("index", str(target), "--full", "--index", str(s.index_dir))
    assert done.returncode == 1 and "--allow-empty" in done.stderr and "unchanged" in done.stderr
    assert fingerprint(s.index_dir) == before
    assert len(list(s.index_dir.glob("gen-*"))) == 1  # not even a new generation was left behind
    tell(pytestconfig, f"[refusals] kb index {source} --full: exit 1, {done.stderr.strip().splitlines()[-1][:100]}")
    emptied = kb_run("index", str(target), "--full", "--allow-empty", "--index", str(s.index_dir))
    assert emptied.returncode in (0, 1) and KnowledgeBase.open(settings=s).stats()["articles"] == 0


def test_a_full_reindex_over_the_api_of_a_missing_folder_is_a_409(tmp_path: Path) -> None:
    s = settings(tmp_path, admin_token=TOKEN)
    index_paths([site(tmp_path / "site", 3)], s)
    before = fingerprint(s.index_dir)
    s = s.with_(articles_dir=tmp_path / "gone")
    client = create_app(s, ingestor=Ingestor(s)).test_client()
    resp = client.post("/api/reindex?full=1", headers=AUTH)
    assert resp.status_code == 409 and "does not exist" in resp.get_json()["error"]["message"]
    assert fingerprint(s.index_dir) == before
    assert client.post("/api/reindex?full=1&allow_empty=1", headers=AUTH).status_code == 200
    assert client.get("/healthz").get_json()["articles"] == 0


# -- 4. API writes are durable ------------------------------------------------------------------


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[tuple[FlaskClient, Settings]]:
    s = settings(tmp_path, admin_token=TOKEN, articles_dir=site(tmp_path / "site", 3))
    index_paths([s.articles_dir], s)  # type: ignore[list-item]
    with create_app(s, ingestor=Ingestor(s)).test_client() as c:
        yield c, s


UPLOAD = page("Quorbit uploaded", {"Quorbit": "Quorbit arrived through the API."}).encode()


def test_an_upload_survives_full_and_incremental_reindexes(admin: tuple[FlaskClient, Settings]) -> None:
    client, s = admin
    made = client.post("/api/articles?url=https://site.example/quorbit/", data=UPLOAD, headers=AUTH)
    assert made.status_code == 201
    put = client.put("/api/articles/guides/quorbit-2", data=UPLOAD, headers=AUTH)
    assert put.status_code == 201
    for full in ("1", "0", "1"):
        summary = client.post(f"/api/reindex?full={full}", headers=AUTH).get_json()
        assert summary["failed"] == []
        assert client.get("/api/search?q=quorbit").get_json()["total"] == 2, f"full={full}"
    assert index_paths([s.articles_dir], s, full=True).failed == ()  # type: ignore[list-item]
    assert client.get(made.headers["Location"]).status_code == 200
    assert client.get("/api/articles/guides/quorbit-2").get_json()["title"] == "Quorbit uploaded"


def test_a_deleted_upload_stays_deleted_and_a_removed_upload_file_is_removed(
        admin: tuple[FlaskClient, Settings]) -> None:
    client, s = admin
    client.put("/api/articles/one", data=UPLOAD, headers=AUTH)
    client.put("/api/articles/two", data=UPLOAD, headers=AUTH)
    assert client.delete("/api/articles/one", headers=AUTH).status_code == 204
    for kept in (s.index_dir / "uploads").glob("*.json"):
        if orjson.loads(kept.read_bytes())["article_id"] == "two":
            kept.unlink()  # an operator removes an upload by hand
    client.post("/api/reindex?full=1", headers=AUTH)
    client.post("/api/reindex", headers=AUTH)
    assert client.get("/api/search?q=quorbit").get_json()["total"] == 0


def test_an_upload_with_the_id_of_a_file_is_refused(admin: tuple[FlaskClient, Settings]) -> None:
    client, _ = admin
    resp = client.put("/api/articles/p1", data=UPLOAD, headers=AUTH)
    assert resp.status_code == 409 and "p1.html" in resp.get_json()["error"]["message"]
    assert client.get("/api/articles/p1").get_json()["title"] == "Page 1"


# -- 5. only regular files, bounded reads; 9. symlinks out of the folder ----------------------------


def test_special_files_and_symlinks_out_of_the_folder_are_skipped_with_a_reason(
        tmp_path: Path, pytestconfig: pytest.Config) -> None:
    folder = site(tmp_path / "site", 2)
    os.mkfifo(folder / "fifo.html")
    (folder / "zero.html").symlink_to("/dev/zero")
    outside = site(tmp_path / "outside", 1)
    (folder / "linked.html").symlink_to(outside / "p0.html")
    (folder / "linked-folder").symlink_to(outside)
    (folder / "inside.html").symlink_to(folder / "p0.html")  # inside the folder: followed
    done = subprocess.run([*kb_command(), "index", str(folder), "--index", str(tmp_path / "index"), "--json"],
                          env=child_env(), capture_output=True, text=True, timeout=60)  # a FIFO once hung here
    summary = orjson.loads(done.stdout)
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failed"]}
    assert "FIFO" in reasons["fifo.html"]
    assert all("outside" in reasons[n] for n in ("zero.html", "linked.html", "linked-folder"))
    assert summary["added"] == 3  # p0, p1 and the link inside the folder
    tell(pytestconfig, f"[refusals] special files: {sorted(reasons.items())}")
    followed = index_paths([folder], settings(tmp_path / "again", follow_symlinks=True))
    assert followed.added == 5  # ... and, when configured, the links out of it, never a device
    assert {Path(f.path).name: f.reason for f in followed.failed}["zero.html"].startswith(
        "not a regular file (a character device)")


def test_reads_are_bounded_by_bytes_read_not_by_the_size_reported(tmp_path: Path) -> None:
    folder = site(tmp_path / "site", 1)
    (folder / "proc.html").symlink_to("/proc/self/maps")  # a regular file whose stat size is 0
    summary = index_paths([folder], settings(tmp_path, follow_symlinks=True, max_file_bytes=8192))
    assert {Path(f.path).name: f.reason for f in summary.failed}["proc.html"].startswith("file too large")


def test_the_servers_reindex_applies_the_parse_time_limit_and_skips_fifos(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from siege import request, serving

    folder = site(tmp_path / "site", 2)
    os.mkfifo(folder / "fifo.html")
    (folder / "slow.html").write_text("<html><body><article><h1>Slow</h1>"
                                      + "<h2>Part</h2><p>Words in a part.</p>" * 100_000)
    config = tmp_path / "kb.toml"
    config.write_text("[parse]\ntimeout_s = 0.5\n")
    index_paths([folder / "p0.html"], settings(tmp_path))
    env = {"KB_ADMIN_TOKEN": TOKEN, "KB_ARTICLES_DIR": str(folder), "KB_CONFIG": str(config)}
    with serving(tmp_path / "index", workers=1, env=env) as server:
        status, body = request(server.port, "POST", "/api/reindex", headers=AUTH, timeout=120)
    reasons = {Path(f["path"]).name: f["reason"] for f in orjson.loads(body)["failed"]}
    assert status == 200 and "longer than 0.5s" in reasons["slow.html"] and "FIFO" in reasons["fifo.html"]


# -- 6. the lock cannot be bypassed; a switch never discards another writer's commit -----------------


def test_deleting_write_lock_lets_no_second_writer_in(tmp_path: Path) -> None:
    s = settings(tmp_path)
    index_paths([site(tmp_path / "site", 2)], s)
    with WriterLock(s.index_dir, 1.0, "first writer"):
        (s.index_dir / LOCK).unlink()
        with pytest.raises(LockTimeout, match="first writer"):
            index_paths([site(tmp_path / "other", 1)], s)


def _article(title: str) -> Article:
    section = Section("lead", title, (), "lead", f"{title} text", "https://x.example/#lead")
    return Article(article_id=title.lower(), title=title, url="https://x.example/", sections=(section,))


def test_a_full_rebuild_never_switches_over_a_commit_it_did_not_see(tmp_path: Path) -> None:
    s = settings(tmp_path)
    index_paths([site(tmp_path / "site", 2)], s)
    fresh = WhooshStore.open(s, full=True)
    fresh.add(list(documents(_article("Rebuilt"), "r::1")))
    fresh.manifest.record("r::1", "r", "1", "h", "rebuilt", 1, ())
    other = WhooshStore.open(s, full=False)  # a writer that got past the lock
    write_article(other, "o::1", "o", "1", "h", _article("Committed"), ())
    other.commit()
    with pytest.raises(Conflict, match="another writer committed"):
        fresh.commit()
    kb = KnowledgeBase.open(settings=s)
    assert kb.article("committed").title == "Committed" and kb.search("florbic").total == 2


@pytest.mark.slow
def test_deleting_write_lock_during_a_full_rebuild_lets_no_second_writer_in(tmp_path: Path) -> None:
    s = settings(tmp_path)
    folder = tmp_path / "site"
    for i in range(400):
        write(folder, f"p{i}.html", page(f"Page {i}", {f"Part {j}": f"Florbic words {i} {j}. " * 30 for j in range(6)}))
    index_paths([folder], s)
    full = subprocess.Popen([*kb_command(), "index", str(folder), "--full", "--index", str(s.index_dir)],
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not (s.index_dir / (LOCK + ".json")).exists() and full.poll() is None:
        time.sleep(0.01)
    (s.index_dir / LOCK).unlink()
    second = kb_run("index", str(site(tmp_path / "extra", 1)), "--index", str(s.index_dir), "--lock-timeout", "0")
    assert full.wait(300) == 0
    assert second.returncode == 1 and "being written by" in second.stderr


# -- 8. ids no URL can address; admin urls ---------------------------------------------------------


@pytest.mark.parametrize(("canonical", "reason"), [
    ("https://site.example/" + "a" * 1100 + "/", "longer than 1,000"),
])
def test_an_id_no_url_can_address_is_refused_at_write_time(admin: tuple[FlaskClient, Settings], canonical: str,
                                                            reason: str) -> None:
    client, s = admin
    html = page("Unreachable", {"Part": "Glimbers here."}, canonical=canonical)
    resp = client.post("/api/articles", data=html.encode(), headers=AUTH)
    assert resp.status_code == 422 and reason in resp.get_json()["error"]["message"]
    write(s.articles_dir, "unreachable.html", html)  # type: ignore[arg-type]
    summary = client.post("/api/reindex", headers=AUTH).get_json()
    assert any(reason in f["reason"] for f in summary["failed"])
    assert client.get("/api/search?q=glimbers").get_json()["total"] == 0


def test_ids_with_dots_inside_a_segment_are_addressable(admin: tuple[FlaskClient, Settings]) -> None:
    client, _ = admin
    html = page("Version guide", {"Part": "Versioned words."}, canonical="https://site.example/v1..2/guide/")
    made = client.post("/api/articles", data=html.encode(), headers=AUTH)
    assert made.status_code == 201
    for method in ("GET", "PUT", "DELETE"):
        resp = client.open(made.headers["Location"], method=method, data=html.encode(), headers=AUTH)
        assert resp.status_code in (200, 204), method


@pytest.mark.parametrize("article_id", ["foo/related", "a//b", "a/./b", "x" * 1001])
def test_a_put_of_an_unaddressable_id_is_a_422_with_the_reason(admin: tuple[FlaskClient, Settings],
                                                               article_id: str) -> None:
    client, _ = admin
    resp = client.put(f"/api/articles/{article_id}", data=UPLOAD, headers=AUTH)
    assert resp.status_code in (422, 404, 308)
    if resp.status_code == 422:
        assert "cannot be addressed" in resp.get_json()["error"]["message"]
    assert client.get("/api/search?q=quorbit").get_json()["total"] == 0


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "ftp://x.example/", "example.com/a"])
def test_admin_urls_must_be_http(admin: tuple[FlaskClient, Settings], url: str) -> None:
    client, _ = admin
    resp = client.post("/api/articles", query_string={"url": url}, data=UPLOAD, headers=AUTH)
    assert resp.status_code == 400 and "http(s)" in resp.get_json()["error"]["message"]
    with pytest.raises(BadInput, match="http"):
        Ingestor(admin[1]).put(UPLOAD, url=url)


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x", "image/png"])
def test_bodies_that_are_not_html_get_415(admin: tuple[FlaskClient, Settings], content_type: str) -> None:
    client, _ = admin
    resp = client.post("/api/articles", data=b'{"title": "x"}', headers={**AUTH, "Content-Type": content_type})
    assert resp.status_code == 415 and resp.get_json()["error"]["code"] == "unsupported_media_type"


# -- 9. CORS preflight; the lock note names the server's writer ------------------------------------


def test_a_cors_preflight_from_an_allowed_origin_is_answered(built_index: Path) -> None:
    client = create_app(Settings(index_dir=built_index, cors_origins=("https://a.example",))).test_client()
    ask = {"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
    resp = client.options("/api/search?q=x", headers=ask)
    assert resp.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "GET" in resp.headers["Access-Control-Allow-Methods"]
    for other in ({**ask, "Origin": "https://b.example"}, {**ask, "Access-Control-Request-Method": "POST"}):
        assert "Access-Control-Allow-Origin" not in client.options("/api/search?q=x", headers=other).headers


def test_the_lock_note_names_the_servers_own_writer(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    for i in range(300):
        write(folder, f"p{i}.html", page(f"Page {i}", {f"Part {j}": f"Florbic {i} {j}. " * 20 for j in range(4)}))
    s = settings(tmp_path, articles_dir=folder)
    notes: list[str] = []
    worker = threading.Thread(target=Ingestor(s).reindex)  # as the server runs it: off the main thread
    worker.start()
    note = s.index_dir / (LOCK + ".json")
    while worker.is_alive() and not notes:
        if note.exists():
            notes.append(orjson.loads(note.read_bytes())["command"])
        time.sleep(0.005)
    worker.join(120)
    assert notes and "admin API" in notes[0] and "kb index" not in notes[0]
