"""Access: admin endpoints without a token, with a wrong one, with one on a server that has none;
path-like article ids and static paths; oversized bodies; a full or read-only disk during `kb index`.
Each is refused with the right status (or a clear error) and nothing is written."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from indexer.build import Ingestor, index_paths
from kb.config import Settings
from kb.engines.whoosh import layout
from web import create_app

from support.processes import child_env, kb_command
from support.report import tell
from support.stress_site import observe_all, write_site

TOKEN = "access-test-token"
PAGE = (b"<html><head><title>Injected</title></head><body><article><h1>Injected</h1>"
        b"<p>Zorbulatine must never be indexed by an unauthorised request.</p></article></body></html>")
WRITES = [("POST", "/api/articles"), ("PUT", "/api/articles/injected"), ("DELETE", "/api/articles/injected"),
          ("POST", "/api/reindex"), ("POST", "/api/reindex?full=1")]
BAD_AUTH = [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
            {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN.upper()}"},
            {"Authorization": f"Bearer\t{TOKEN}\x00"}, {"X-Admin-Token": TOKEN}]
PATH_IDS = ["..", "../..", "a/../../b", "..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd", "%2e%2e%2f",
            "/etc/passwd", "%2fetc%2fpasswd", "a%00b", "%00", "a%5c..%5cb", "..\\..\\b", "a/%2e%2e/b", "." * 3000]
# These decode once to text that is not a path ("%2e%2e%2f", U+FFFD): ids are opaque keys, never paths.
OPAQUE_IDS = ["%252e%252e%252f", "%c0%ae%c0%ae/etc"]
STATIC_PATHS = ["/static/../pyproject.toml", "/static/..%2f..%2fpyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml",
                "/static/%2e%2e%2f%2e%2e%2fpyproject.toml", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
                "/static/app.css%00.py", "/static/..%5c..%5cpyproject.toml", "/static/%252e%252e/pyproject.toml"]


def fingerprint(index_dir: Path) -> tuple[object, ...]:
    """The generation token, CURRENT, and every file of the live generation with its content hash."""
    gen = layout.current_generation(index_dir)
    assert gen is not None
    files = sorted((p.name, hashlib.blake2b(p.read_bytes(), digest_size=8).hexdigest()) for p in gen.iterdir())
    return layout.generation_token(index_dir), (index_dir / layout.CURRENT).read_bytes(), tuple(files)


@pytest.fixture
def admin(writable_index: Path, examples_dir: Path) -> Iterator[FlaskClient]:
    s = Settings(index_dir=writable_index, admin_token=TOKEN, articles_dir=examples_dir, parse_workers=1,
                 max_body_bytes=32 * 1024, lock_timeout_s=0.5)
    with create_app(s, ingestor=Ingestor(s)).test_client() as c:
        yield c


@pytest.fixture
def no_token(writable_index: Path, examples_dir: Path) -> Iterator[FlaskClient]:
    s = Settings(index_dir=writable_index, articles_dir=examples_dir, parse_workers=1)
    with create_app(s, ingestor=Ingestor(s)).test_client() as c:
        yield c


def test_admin_writes_without_the_right_token_get_401_and_write_nothing(
        admin: FlaskClient, writable_index: Path, pytestconfig: pytest.Config) -> None:
    before = fingerprint(writable_index)
    for method, url in WRITES:
        for headers in BAD_AUTH:
            resp = admin.open(url, method=method, data=PAGE, headers=headers)
            assert resp.status_code == 401, (method, url, headers)
            assert resp.get_json()["error"]["code"] == "unauthorized"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert fingerprint(writable_index) == before
    assert admin.get("/api/search?q=zorbulatine").get_json()["total"] == 0
    tell(pytestconfig, f"[access] {len(WRITES) * len(BAD_AUTH)} admin writes with no/wrong token: all 401, "
                       "index unchanged")


def test_admin_writes_on_a_server_without_a_token_get_403_whatever_is_sent(
        no_token: FlaskClient, writable_index: Path) -> None:
    before = fingerprint(writable_index)
    for method, url in WRITES:
        for headers in [*BAD_AUTH, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer None"}]:
            assert no_token.open(url, method=method, data=PAGE, headers=headers).status_code == 403
    assert fingerprint(writable_index) == before


@pytest.mark.parametrize("article_id", PATH_IDS)
def test_path_like_article_ids_get_404_everywhere_even_with_the_token(admin: FlaskClient, writable_index: Path,
                                                                      article_id: str) -> None:
    """Reads and deletes get 404; a PUT is told why the id cannot be used (422), and nothing is written."""
    before = fingerprint(writable_index)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method, url in [("GET", f"/api/articles/{article_id}"), ("GET", f"/api/articles/{article_id}/related"),
                        ("GET", f"/articles/{article_id}"), ("PUT", f"/api/articles/{article_id}"),
                        ("DELETE", f"/api/articles/{article_id}")]:
        # A doubled slash is merged by a 308 to a plain id; writes are not followed there.
        resp = admin.open(url, method=method, data=PAGE, headers=auth, follow_redirects=method == "GET")
        assert resp.status_code in ((404, 405, 308, 422) if method == "PUT" else (404, 405, 308)), (
            method, url, resp.status_code)
        assert b"root:" not in resp.data and b"[project]" not in resp.data
    assert fingerprint(writable_index) == before


@pytest.mark.parametrize("article_id", OPAQUE_IDS)
def test_doubly_encoded_ids_are_opaque_keys_not_paths(admin: FlaskClient, writable_index: Path,
                                                     article_id: str) -> None:
    assert admin.get(f"/api/articles/{article_id}").status_code == 404
    files_before = sorted(p.relative_to(writable_index.parent) for p in writable_index.parent.rglob("*"))
    resp = admin.put(f"/api/articles/{article_id}", data=PAGE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 201
    stored = resp.get_json()["article_id"]
    assert ".." not in stored
    assert admin.get(resp.headers["Location"]).get_json()["article_id"] == stored
    new = {p.relative_to(writable_index.parent) for p in writable_index.parent.rglob("*")} - set(files_before)
    assert all(str(p).startswith("index/") for p in new)  # written inside the index folder only


@pytest.mark.parametrize("path", STATIC_PATHS)
def test_static_paths_outside_static_are_404(client: FlaskClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code in (404, 308) and b"[project]" not in resp.data and b"root:" not in resp.data
    if resp.status_code == 308:
        assert client.get(path, follow_redirects=True).status_code == 404


@pytest.mark.parametrize(("method", "url"), [("POST", "/api/articles"), ("PUT", "/api/articles/big")])
def test_oversized_bodies_get_413_and_write_nothing(admin: FlaskClient, writable_index: Path, method: str,
                                                    url: str) -> None:
    before = fingerprint(writable_index)
    body = PAGE[:-22] + b"<p>" + b"zorbulatine " * 4000 + b"</p></article></body></html>"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    resp = admin.open(url, method=method, data=body, headers=auth)
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    # A token check comes first: an unauthorised oversized body is a 401 or 413, never written.
    assert admin.open(url, method=method, data=body).status_code in (401, 413)
    assert fingerprint(writable_index) == before


# -- disk ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(where: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of `size_kb` at `where` (root only); skips the test where mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()}): "
                    "the full and read-only disk cases are not run")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(mount: Path, leave_kb: int) -> None:
    import shutil

    free = shutil.disk_usage(mount).free
    with open(mount / "filler", "wb") as f, contextlib.suppress(OSError):
        f.write(b"\0" * max(0, free - leave_kb * 1024))


@pytest.mark.parametrize("trouble", ["full", "read-only"])
@pytest.mark.parametrize("full_rebuild", [False, True], ids=["incremental", "full"])
def test_a_full_or_read_only_disk_fails_the_run_and_keeps_the_previous_index(
        tmp_path: Path, trouble: str, full_rebuild: bool, pytestconfig: pytest.Config) -> None:
    site = tmp_path / "site"
    old = write_site(site, range(3), lambda i: 1)
    with small_tmpfs(tmp_path / "disk", 4096) as disk:
        index_dir = disk / "index"
        index_paths([site], Settings(index_dir=index_dir, parse_workers=1))
        write_site(site, range(200), lambda i: 2)
        if trouble == "full":
            _fill(disk, leave_kb=24)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        done = subprocess.run([*kb_command(), "index", str(site), "--index", str(index_dir),
                               *(["--full"] if full_rebuild else [])], env=child_env(), capture_output=True,
                              timeout=120)
        assert done.returncode != 0
        assert observe_all(index_dir) == old  # the previous index answers, unchanged
        tell(pytestconfig, f"[disk] {trouble} disk, {'full' if full_rebuild else 'incremental'} run: exit "
                           f"{done.returncode}, previous index intact; stderr ends "
                           f"{done.stderr.decode(errors='replace').strip().splitlines()[-1][:90]!r}")
        if trouble == "full":
            (disk / "filler").unlink()
            index_paths([site], Settings(index_dir=index_dir, parse_workers=1), full=full_rebuild)
            assert len(observe_all(index_dir).ids) == 200  # with space again, the next run completes


def test_a_full_disk_gives_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, range(3), lambda i: 1)
    with small_tmpfs(tmp_path / "disk", 4096) as disk:
        index_paths([site], Settings(index_dir=disk / "index", parse_workers=1))
        write_site(site, range(200), lambda i: 2)
        _fill(disk, leave_kb=24)
        done = subprocess.run([*kb_command(), "index", str(site), "--index", str(disk / "index")],
                              env=child_env(), capture_output=True, timeout=120)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr and b"No space left" in done.stderr
