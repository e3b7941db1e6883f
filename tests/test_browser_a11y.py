"""axe-core's WCAG 2 A/AA rules in real Chromium: home, results, no results, an answer card, an
article (one with a list and a table too) and an error page, at desktop and phone sizes, in the
light and the dark colour scheme, with the phone's filter panel and the suggestion list open too."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb.config import Settings
from web import create_app

from support.browsing import (
    AXE,
    DESKTOP,
    PHONE,
    STRUCTURED,
    add_article,
    axe_violations,
    chromium,
    need_chromium,
    new_page,
    served_app,
    with_axe,
)

pytestmark = pytest.mark.browser
sync_api = need_chromium()
if not AXE.exists():
    pytest.skip(f"axe-core is not installed at {AXE} (make axe)", allow_module_level=True)

PAGES = {
    "home": "/",
    "results": "/search?q=baclofen+side+effects",
    "no-results": "/search?q=zzqxv+wobblefrump",
    "answer": "/search?q=is+it+safe+to+drive+while+taking+tizanidine",
    "filtered": "/search?q=baclofen&category=Muscle+Relaxants&kind=faq",
    "article": "/articles/tizanidine-zanaflex-faq?q=drink+alcohol#can-i-drink-alcohol-while-taking-tizanidine",
    "article with a list and a table": "/articles/tizanidine-doses?q=liver+dose#dose-steps",
    "error": "/no/such/page",
}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="module")
def base_url(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The examples index plus an article with a list and a table."""
    index = tmp_path_factory.mktemp("a11y") / "index"
    shutil.copytree(built_index, index, ignore=shutil.ignore_patterns("write.lock*"))
    add_article(index, STRUCTURED)
    with served_app(create_app(Settings(index_dir=index))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as b:
        yield b


def test_axe_runs_and_finds_a_planted_violation(browser: Any, base_url: str) -> None:
    page = new_page(browser)
    page.goto(base_url + "/")
    page.evaluate("document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/x'}))")
    assert any(v.startswith("image-alt") for v in axe_violations(page))  # the check can fail
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", SIZES)
def test_no_axe_violation_on_any_page(browser: Any, base_url: str, size: str, scheme: str) -> None:
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    page = with_axe(new_page(browser, problems, viewport=SIZES[size], color_scheme=scheme))
    for name, path in PAGES.items():
        response = page.goto(base_url + path)
        assert response is not None and response.status == (404 if name == "error" else 200), name
        if violations := axe_violations(page):
            found[name] = violations
        if name == "results" and size == "phone":
            page.click("details.filters > summary")  # the filter panel, opened
            assert page.locator("a.facet-link").first.is_visible()
            if violations := axe_violations(page):
                found[name + " (filters open)"] = violations
        if name == "home":
            page.locator("input[name=q]").press_sequentially("baclo", delay=30)  # the suggestions, open
            sync_api.expect(page.locator("[role=listbox] [role=option]").first).to_be_visible()
            page.keyboard.press("ArrowDown")
            if violations := axe_violations(page):
                found[name + " (suggestions open)"] = violations
    page.context.close()
    assert not found, found
    assert problems == ["Failed to load resource: the server responded with a status of 404 (NOT FOUND)"]  # the error page
