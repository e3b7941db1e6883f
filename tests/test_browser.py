"""The site in a real browser (headless Debian Chromium): search, suggestions, facets, the article view.

Serves the app on 127.0.0.1 in a background thread and drives it with Playwright. Saves
screenshots of the results page and the article view to the test's folder; with
KB_UPDATE_SCREENSHOTS=1 also to docs/screenshots/ (the README's pictures).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from kb.config import Settings
from web import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 5_000

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def base_url(built_index: Path) -> Iterator[str]:
    """The app over the examples index, served on a free local port."""
    server = make_server("127.0.0.1", 0, create_app(Settings(index_dir=built_index)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    """Headless Chromium."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def save(page: sync_api.Page, folder: Path, name: str, *, full_page: bool) -> None:
    shot = folder / name
    page.screenshot(path=str(shot), full_page=full_page)
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
    if os.environ.get("KB_UPDATE_SCREENSHOTS") == "1":  # a test run never edits the tree by itself
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / name)


def test_search_suggest_filter_and_land_on_the_section(browser: sync_api.Browser, base_url: str,
                                                       tmp_path: Path) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(base_url + "/")
    box = page.locator("input[name=q]")
    expect(box).to_be_focused()

    # Suggestions while typing, with the keyboard.
    page.keyboard.type("tiza", delay=40)
    options = page.locator("[role=listbox] [role=option]")
    expect(options.first).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id") or "")
    page.keyboard.press("Escape")
    expect(page.locator("[role=listbox]")).to_be_hidden()

    # A plain search: Enter submits what was typed.
    box.fill("")
    page.keyboard.type("baclofen side effects", delay=10)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert urlsplit(page.url).path == "/search"
    expect(page.locator("input[name=q]")).to_have_value("baclofen side effects")
    expect(page.locator(".snippet mark").first).to_be_visible()
    assert page.locator("li.group").count() > 0
    save(page, tmp_path, "results.png", full_page=False)

    # A facet narrows the results and shows as a removable filter.
    kind = page.locator("a.facet-link[data-facet=kind]", has_text="Section").first
    label = kind.locator(".facet-label").inner_text()
    with page.expect_navigation():
        kind.click()
    assert "kind" in parse_qs(urlsplit(page.url).query)
    expect(page.locator(".active-filters a.chip--active")).to_contain_text(label)
    assert page.locator("li.group").count() > 0

    # "View in knowledge base" lands on the section, which is the :target and on screen.
    view = page.locator("a.view-link").first
    anchor = (view.get_attribute("href") or "").split("#", 1)[1]
    with page.expect_navigation():
        view.click()
    assert urlsplit(page.url).path.startswith("/articles/")
    assert page.evaluate("location.hash") == "#" + anchor
    target = page.locator(f"section[id='{anchor}']")
    expect(target).to_be_in_viewport()
    assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == anchor
    expect(page.locator("main mark").first).to_be_attached()
    page.evaluate("window.scrollBy(0, -120)")  # a little context above the section in the picture
    expect(target).to_be_in_viewport()
    save(page, tmp_path, "article.png", full_page=False)

    assert not problems, problems  # CSP violations and script errors show up here
    context.close()


def test_search_works_with_javascript_off(browser: sync_api.Browser, base_url: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 740})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(base_url + "/")
    page.fill("input[name=q]", "lioresal")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    sync_api.expect(page.locator(".snippet mark").first).to_be_visible()
    assert page.locator("[role=listbox]").count() == 0
    # On a phone the facets come after the results.
    results_box = page.locator("section.results").bounding_box()
    facets_box = page.locator("aside.facets").bounding_box()
    assert results_box and facets_box and facets_box["y"] > results_box["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
