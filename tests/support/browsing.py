"""What the browser tests share: a served app or folder on a local port, headless Chromium, axe-core.

Chromium is Debian's (/usr/bin/chromium) driven by playwright's Python package; axe-core comes from
npm into tests/axe/node_modules (`make axe`). A test module skips with the reason when either is absent.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from indexer.session import write_session
from kb.config import Settings
from kb.engines.base import write_article
from kb.models import Article, Block, Section

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 5_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 800}


# An article as the parser gives one with structure: a section holding a paragraph, a list and a table.
STRUCTURED_URL = "https://pharmacy.example/tizanidine-doses/"
STRUCTURED = Article(
    article_id="tizanidine-doses", title="Tizanidine doses at a glance", url=STRUCTURED_URL,
    categories=("Muscle Relaxants",), sections=(
        Section("lead", "Tizanidine doses at a glance", (), "lead",
                "How tizanidine is usually started and raised, in one table.", STRUCTURED_URL),
        Section("dose-steps", "Dose steps", ("Dose steps",), "section",
                "Before the first dose, check:\nliver tests\nblood pressure\nother medicines\n"
                "Week | Dose | Times a day\n1 | 2 mg | up to 3\n2 | 4 mg | up to 3\n3 | 6 mg | up to 3\n"
                "Never take more than 36 mg in 24 hours.",
                STRUCTURED_URL + "#:~:text=Dose%20steps", blocks=(
                    Block("paragraph", ("Before the first dose, check:",)),
                    Block("list", ("liver tests", "blood pressure", "other medicines")),
                    Block("table", ("Week | Dose | Times a day", "1 | 2 mg | up to 3", "2 | 4 mg | up to 3",
                                    "3 | 6 mg | up to 3"),
                          (("Week", "Dose", "Times a day"), ("1", "2 mg", "up to 3"), ("2", "4 mg", "up to 3"),
                           ("3", "6 mg", "up to 3"))),
                    Block("paragraph", ("Never take more than 36 mg in 24 hours.",)))),
    ))


def add_article(index_dir: Path, article: Article) -> None:
    """Write an `Article` into an index as `kb index` would write a parsed page."""
    settings = Settings(index_dir=index_dir)
    with write_session(settings, "browser test") as store:
        write_article(store, f"test::{article.article_id}", "test", article.article_id, None, article, ())
        store.commit()


def need_chromium() -> Any:
    """playwright's sync API, or a skip of the whole module when Chromium or playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@contextmanager
def served_app(app: Any) -> Iterator[str]:
    """A WSGI app served on a free local port, in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@contextmanager
def served_folder(folder: Path) -> Iterator[str]:
    """A folder of static files served on a free local port (a stand-in for an article site)."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def chromium(sync_api: Any) -> Iterator[Any]:
    """Headless Chromium."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, problems: list[str] | None = None, **context: Any) -> Any:
    """A page in a fresh context; script errors and CSP violations go to `problems`."""
    ctx = browser.new_context(**{"viewport": DESKTOP, **context})
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    if problems is not None:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
    return page


def local_only(page: Any) -> Any:
    """The page, with every request off this machine refused (saved pages name their real sites)."""
    page.context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]|about:|data:)"), lambda route: route.abort())
    return page


def save(page: Any, folder: Path, name: str, *, full_page: bool = False) -> None:
    """A screenshot into the test's folder; with KB_UPDATE_SCREENSHOTS=1 also into docs/screenshots/."""
    shot = folder / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
    if os.environ.get("KB_UPDATE_SCREENSHOTS") == "1":  # a test run never edits the tree by itself
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)


def with_axe(page: Any) -> Any:
    """The page, with axe-core loaded into every document it opens from now on."""
    page.context.add_init_script(path=str(AXE))
    return page


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.x A and AA violations on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]}, resultTypes: ["violations"]});
        return r.violations.map(v => v.id + ": " + v.help + " -> " +
            v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
    }""")
    return list(result)
