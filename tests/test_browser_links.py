"""Source links that land, checked where it matters: in Chromium, on the source pages themselves.

A test site is served on a local port; its pages are indexed with their local URLs as canonical
links, a reader clicks the source link of a hit, and the test looks at where Chromium scrolled.
The example site's pages are served the same way and every text-fragment deep link the indexer
built for them is opened. Pages without a site URL never get `file:` (or `javascript:`) links.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.build import index_paths
from indexer.parse import parse_article
from kb.config import Settings
from web import create_app

from support.browsing import chromium, local_only, need_chromium, new_page, served_app, served_folder

pytestmark = pytest.mark.browser
sync_api = need_chromium()
expect = sync_api.expect

FILLER = "".join(f"<p>Paragraph {i} about how baclofen is taken, stored and reviewed over the years.</p>"
                 for i in range(12))
# "Side effects" comes four times before its own heading: in the menu, the h1, the lead and a contents box.
DECOYS = """<!doctype html><html lang="en"><head><title>Baclofen side effects</title>
<link rel="canonical" href="{url}"></head><body>
<nav id="menu"><ul><li><a href="/">Home</a></li><li><a href="#">Side effects</a></li></ul></nav>
<main><article><h1>Baclofen side effects</h1>
<p class="lead">What to expect: side effects are usually mild.</p>
<div class="toc"><p>Side effects</p><p>Dosage</p></div>
<h2>Dosage</h2>{filler}
<h2>Side effects</h2><p>Drowsiness and weakness are the usual ones, and they fade within weeks.</p>{filler}
<h2>Storage</h2><p>Keep it at room temperature, away from children, in its original pack.</p>{filler}
</article></main></body></html>"""
NO_SITE_URL = """<!doctype html><html lang="en"><head><title>Tizanidine at night</title></head><body><main><article>
<h1>Tizanidine at night</h1><p>Tizanidine is often taken at bedtime because it makes people drowsy.</p>
<h2>Why bedtime</h2><p>Drowsiness is the commonest effect, so a bedtime dose turns it to good use.</p>
<p><a href="javascript:alert(1)">See also: a script</a></p>
</article></main></body></html>"""
HEADING_AT = """(heading) => {
    const norm = t => t.replace(/\\s+/g, " ").trim().toLowerCase();
    const found = [...document.querySelectorAll("h2,h3,h4,h5,h6,dt,summary,strong,b")]
        .filter(e => norm(e.textContent) === norm(heading));
    if (found.length !== 1) return null;
    const r = found[0].getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, scrolled: scrollY, height: innerHeight};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as b:
        yield b


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the test site's URL, the kb app's URL over an index of it)."""
    folder = tmp_path_factory.mktemp("site")
    with served_folder(folder) as site_url:
        (folder / "side-effects.html").write_text(DECOYS.format(url=site_url + "/side-effects.html", filler=FILLER))
        (folder / "no-site-url.html").write_text(NO_SITE_URL)
        index = tmp_path_factory.mktemp("site-index") / "index"
        index_paths([folder], Settings(index_dir=index, parse_workers=1))
        with served_app(create_app(Settings(index_dir=index))) as app_url:
            yield site_url, app_url


def test_a_source_link_lands_on_the_heading_not_on_an_earlier_mention(browser: Any, site: tuple[str, str]) -> None:
    site_url, app_url = site
    page = new_page(browser, viewport={"width": 1000, "height": 600})
    page.goto(app_url + "/search?q=side+effects+drowsiness")
    hit = page.locator("li.hit", has=page.locator("a.hit-link", has_text="Side effects"))
    source = hit.locator("a.source-link")
    href = source.get_attribute("href") or ""
    assert href.startswith(site_url + "/side-effects.html#:~:text=") and "-," in href  # context was needed
    with page.expect_navigation():
        source.click()
    page.wait_for_function("scrollY > 0")
    heading = page.locator("h2", has_text="Side effects")
    expect(heading).to_be_in_viewport()
    for decoy in ("h1", "#menu", ".lead", ".toc"):
        expect(page.locator(decoy)).not_to_be_in_viewport()
    page.context.close()


def test_a_page_without_a_site_url_links_to_its_local_view_never_to_a_file(browser: Any,
                                                                           site: tuple[str, str]) -> None:
    _, app_url = site
    page = new_page(browser)
    page.goto(app_url + "/search?q=tizanidine+bedtime")
    group = page.locator("li.group", has=page.locator(".group-title", has_text="Tizanidine at night"))
    expect(group.locator(".group-title a")).to_have_attribute("href", "/articles/no-site-url?q=tizanidine+bedtime")
    expect(group.locator("a.source-link")).to_have_count(0)
    with page.expect_navigation():
        group.locator("a.hit-link").first.click()
    expect(page.locator("h1")).to_have_text("Tizanidine at night")
    expect(page.locator("a.source-link")).to_have_count(0)
    for path in ("/search?q=tizanidine+bedtime", "/articles/no-site-url", "/search?q=side+effects"):
        page.goto(app_url + path)
        hrefs = page.locator("a[href]").evaluate_all("as => as.map(a => a.href)")
        assert hrefs and not [h for h in hrefs if h.lower().startswith(("file:", "javascript:"))], path
    data = page.request.get(app_url + "/api/articles/no-site-url").json()
    assert data["url"] == "" and all(s["deep_link"] == "" for s in data["sections"])
    page.context.close()


def test_every_text_fragment_of_the_example_site_lands_on_its_heading(browser: Any, examples_dir: Path) -> None:
    page = local_only(new_page(browser, viewport={"width": 1000, "height": 500}))
    checked = with_context = 0
    misses: list[str] = []
    with served_folder(examples_dir) as base:
        for path in sorted(examples_dir.glob("*.html")):
            article = parse_article(path.read_bytes(), source=path.name, fallback_url=path.resolve().as_uri())
            for s in article.sections:
                if "#:~:text=" not in s.deep_link:
                    continue
                fragment = s.deep_link.partition("#")[2]
                page.goto("about:blank")
                page.goto(f"{base}/{path.name}#{fragment}")
                page.wait_for_timeout(50)  # the fragment is applied after load
                at = page.evaluate(HEADING_AT, s.heading)
                if at is None:  # the heading's text is not one element's alone: nothing to compare with
                    continue
                checked += 1
                with_context += "-," in fragment or ",-" in fragment
                if not (at["bottom"] > 0 and at["top"] < at["height"]):
                    misses.append(f"{path.name}: {s.heading!r} -> {fragment} ({at})")
    page.context.close()
    assert not misses, misses
    assert checked >= 60 and with_context >= 4, (checked, with_context)  # the check saw real work
