"""The reader's side in a real browser (headless Debian Chromium): suggestions that navigate, one
clear target per hit, filters in the heading's unit and behind a button on a phone, the article
view (outline, lists and tables, marks, landing), the edges (answer card, long queries, pages past the end) and the
conveniences (`/`, dark mode, the site's name, developer links in the footer).

Saves the README's pictures to the test's folder (with KB_UPDATE_SCREENSHOTS=1, to docs/screenshots/).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from indexer.build import index_paths
from indexer.parse import parse_article
from kb.config import Settings
from web import create_app

from support.browsing import (
    DESKTOP,
    PHONE,
    STRUCTURED,
    add_article,
    chromium,
    need_chromium,
    new_page,
    save,
    served_app,
)

pytestmark = pytest.mark.browser
sync_api = need_chromium()
expect = sync_api.expect

BACLOFEN = "/articles/baclofen/baclofen-for-spasticity"


@pytest.fixture(scope="module")
def base_url(built_index: Path) -> Iterator[str]:
    """The app over the examples index, served on a free local port."""
    with served_app(create_app(Settings(index_dir=built_index))) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(sync_api) as b:
        yield b


@pytest.fixture
def problems() -> Iterator[list[str]]:
    """Script errors and CSP violations seen by a test's pages: there must be none."""
    found: list[str] = []
    yield found
    assert not found, found


def in_viewport(page: Any, selector: str) -> bool:
    return bool(page.evaluate("""(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.bottom > 0 && r.top < innerHeight; }""", selector))


def path_of(url: str) -> str:
    return urlsplit(url).path


# -- 2. suggestions ---------------------------------------------------------------------------


def test_enter_on_a_title_suggestion_opens_the_article(browser: Any, base_url: str, problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/")
    box = page.locator("input[name=q]")
    expect(box).to_be_focused()
    page.keyboard.type("baclofen for sp", delay=30)
    options = page.locator("[role=listbox] [role=option]")
    expect(options.first).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(options.first.locator(".kind")).to_have_text("Article")
    expect(options.first.locator("strong")).to_have_text("Baclofen for Sp")  # what was typed, in bold
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id") or "")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert path_of(page.url) == BACLOFEN  # the article itself, not a search for its title's words
    expect(page.locator("h1")).to_have_text("Baclofen for Spasticity: How It Works, Doses and Side Effects")
    page.context.close()


def test_a_section_suggestion_names_its_article_and_opens_the_section(browser: Any, base_url: str,
                                                                      problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=tizanidine")
    box = page.locator("input[name=q]")
    box.fill("")
    box.press_sequentially("side eff", delay=30)
    option = page.locator("[role=option]", has=page.locator(".kind", has_text="Section")).first
    expect(option).to_be_visible()
    expect(option.locator(".context")).to_have_text("in Baclofen for Spasticity: How It Works, Doses and Side Effects")
    expect(option.locator("strong")).to_have_text("Side eff")
    with page.expect_navigation():
        option.click()
    assert path_of(page.url) == BACLOFEN and page.evaluate("location.hash") == "#side-effects"
    assert page.evaluate("document.querySelector(':target').id") == "side-effects"
    assert in_viewport(page, "#side-effects")
    page.context.close()


def test_a_medicine_suggestion_searches_for_it_and_escape_closes(browser: Any, base_url: str,
                                                                problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/")
    # the box takes focus on load; a key typed before that lands nowhere (seen once in CI: "ioresa")
    expect(page.get_by_role("combobox", name="Search the articles")).to_be_focused()
    page.keyboard.type("lioresa", delay=30)
    listbox = page.locator("[role=listbox]")
    expect(listbox.locator("[role=option]").first).to_contain_text("Medicine")
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    page.keyboard.press("ArrowDown")  # the list opens again, its first option chosen
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert path_of(page.url) == "/search" and parse_qs(urlsplit(page.url).query)["q"] == ["lioresal"]
    # Enter with nothing chosen searches for what was typed, as before
    box = page.locator("input[name=q]")
    box.fill("")
    box.press_sequentially("baclofen side effects", delay=10)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert parse_qs(urlsplit(page.url).query)["q"] == ["baclofen side effects"]
    page.context.close()


# -- 3. one clear target per hit ----------------------------------------------------------------


def test_each_hit_has_one_local_target_and_one_small_source_link(browser: Any, base_url: str, problems: list[str],
                                                                 tmp_path: Path) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=baclofen+side+effects")
    expect(page.locator(".snippet mark").first).to_be_visible()
    hits = page.locator("li.hit")
    assert hits.count() >= 5
    for i in range(hits.count()):
        hrefs = hits.nth(i).locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        local = [h for h in hrefs if h.startswith("/articles/")]
        source = [h for h in hrefs if not h.startswith("/articles/")]
        assert len(local) == 1 and len(source) <= 1 and len(hrefs) <= 2, hrefs
        assert all(h.startswith(("https://", "http://")) for h in source), source
    # the heading is the link, and every article title stays on this site too
    assert page.locator("li.hit h3 a.hit-link").count() == hits.count()
    titles = page.locator(".group-title a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert titles and all(h.startswith("/articles/") for h in titles)
    assert page.get_by_text("View in knowledge base").count() == 0
    save(page, tmp_path, "results.png")

    # the heading opens the section in the local view, on screen and marked as the target
    first = page.locator("li.hit a.hit-link").first
    anchor = (first.get_attribute("href") or "").partition("#")[2]
    with page.expect_navigation():
        first.click()
    assert path_of(page.url).startswith("/articles/") and page.evaluate("location.hash") == "#" + anchor
    assert in_viewport(page, f"[id='{anchor}']")
    page.context.close()


def test_the_filters_are_a_few_tabs_away_not_after_every_result(browser: Any, base_url: str,
                                                                problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=baclofen")
    page.locator("input[name=q]").focus()
    tabs = 0
    while tabs < 40 and not page.evaluate("document.activeElement.classList.contains('facet-link')"):
        page.keyboard.press("Tab")
        tabs += 1
    assert tabs <= 5, tabs  # the search button, the facet links: not 85 result links first
    page.context.close()


# -- 4. filters -----------------------------------------------------------------------------------


def test_facet_counts_are_articles_like_the_heading_and_kinds_are_plain_words(browser: Any, base_url: str,
                                                                              problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=baclofen")
    expect(page.locator(".filters-unit")).to_have_text("Counts are articles.")
    kinds = page.locator("a.facet-link[data-facet=kind] .facet-label").all_inner_texts()
    assert kinds and set(kinds) <= {"Introductions", "Article text", "FAQ answers"}, kinds
    expect(page.locator("#facet-kind")).to_have_text("Found in")
    for facet in ("category", "kind"):
        link = page.locator(f"a.facet-link[data-facet={facet}]").first
        count = int(link.locator(".count").inner_text().split()[0])
        with page.expect_navigation():
            link.click()
        heading = page.locator("h1").inner_text()
        assert re.match(rf"{count} articles? for", heading), (facet, count, heading)  # "18" never means "5 articles"
        with page.expect_navigation():
            page.locator(".active-filters a.chip--active").first.click()
    page.context.close()


def test_on_a_phone_the_filters_are_behind_a_button_above_the_results(browser: Any, base_url: str,
                                                                      problems: list[str], tmp_path: Path) -> None:
    page = new_page(browser, problems, viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(base_url + "/search?q=baclofen+side+effects")
    button = page.locator("details.filters > summary")
    expect(button).to_be_visible()
    expect(page.locator("a.facet-link").first).to_be_hidden()
    first_result = page.locator("li.group").first.bounding_box()
    box = button.bounding_box()
    assert box and first_result and box["y"] < first_result["y"] < PHONE["height"]  # results start on screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    save(page, tmp_path, "results-phone.png")
    button.click()
    expect(page.locator("a.facet-link").first).to_be_visible()
    page.context.close()


# -- 5. the article view ---------------------------------------------------------------------------


def test_the_article_keeps_its_faq_heading_marks_only_content_words_and_keeps_the_title_in_view(
        browser: Any, base_url: str, problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + BACLOFEN + "?q=can+I+drink+alcohol")
    faq_heading = page.locator(".article-body h2", has_text="Frequently Asked Questions")
    expect(faq_heading).to_have_count(1)
    first_question = page.locator(".section--faq .section-heading").first
    assert faq_heading.bounding_box()["y"] < first_question.bounding_box()["y"]  # type: ignore[index]
    expect(page.locator("nav[aria-labelledby=toc-title] a", has_text="Frequently Asked Questions")).to_have_count(1)
    marked = {m.lower() for m in page.locator("main mark").all_inner_texts()}
    assert {"drink", "alcohol"} <= marked and not marked & {"can", "i"}, marked
    page.goto(base_url + BACLOFEN + "#lead")
    assert page.evaluate("document.querySelector(':target').id") == "lead"
    assert in_viewport(page, "h1") and in_viewport(page, "#lead")
    page.context.close()


@pytest.fixture(scope="module")
def structured_url(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the examples plus an article whose section holds a list and a table."""
    index = tmp_path_factory.mktemp("structured") / "index"
    shutil.copytree(built_index, index, ignore=shutil.ignore_patterns("write.lock*"))
    add_article(index, STRUCTURED)
    with served_app(create_app(Settings(index_dir=index))) as url:
        yield url


def test_the_article_view_shows_lists_as_lists_and_tables_as_tables(browser: Any, structured_url: str,
                                                                    problems: list[str]) -> None:
    for viewport in (DESKTOP, PHONE):
        page = new_page(browser, problems, viewport=viewport)
        page.goto(structured_url + "/articles/tizanidine-doses?q=liver+tests#dose-steps")
        section = page.locator("section#dose-steps")
        expect(section).to_be_in_viewport()
        expect(section.locator("ul > li")).to_have_text(["liver tests", "blood pressure", "other medicines"])
        expect(section.locator("ul > li mark")).to_have_text(["liver", "tests"])
        expect(section.locator("table thead th")).to_have_text(["Week", "Dose", "Times a day"])
        expect(section.locator("table tbody tr")).to_have_count(3)
        expect(section.locator("table tbody tr").first.locator("td")).to_have_text(["1", "2 mg", "up to 3"])
        expect(section.locator("p")).to_have_text(["Before the first dose, check:",
                                                   "Never take more than 36 mg in 24 hours."])
        assert " | " not in section.inner_text()  # no "a | b | c" rows left
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.context.close()


def test_a_parsed_pages_list_and_table_reach_the_article_view(browser: Any, tmp_path: Path,
                                                              problems: list[str]) -> None:
    html = ("<html><head><title>Doses</title><link rel=canonical href='https://site.example/doses/'></head><body>"
            "<main><article><h1>Doses</h1><p>How the dose is built up over three weeks of treatment.</p>"
            "<h2>Steps</h2><p>Check first:</p><ul><li>liver tests</li><li>blood pressure</li></ul>"
            "<table><tr><th>Week</th><th>Dose</th></tr><tr><td>1</td><td>2 mg</td></tr>"
            "<tr><td>2</td><td>4 mg</td></tr></table></article></main></body></html>")
    site = tmp_path / "site"
    site.mkdir()
    (site / "doses.html").write_text(html)
    parsed = parse_article(html, source="doses.html", fallback_url="about:blank")
    if not any(s.blocks for s in parsed.sections):
        pytest.skip("the parser on this branch keeps no structure blocks (the extraction branch adds them)")
    index_paths([site], Settings(index_dir=tmp_path / "index", parse_workers=1))
    with served_app(create_app(Settings(index_dir=tmp_path / "index"))) as url:
        page = new_page(browser, problems)
        page.goto(url + "/articles/doses")
        expect(page.locator("section ul > li")).to_have_text(["liver tests", "blood pressure"])
        expect(page.locator("section table thead th")).to_have_text(["Week", "Dose"])
        expect(page.locator("section table tbody tr")).to_have_count(2)
        page.context.close()


# -- 6. edges --------------------------------------------------------------------------------------


def test_the_answer_card_is_not_repeated_by_the_hit_below_it(browser: Any, base_url: str,
                                                             problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=is+it+safe+to+drive+while+taking+tizanidine")
    card = page.locator(".answer-card")
    expect(card).to_be_visible()
    answered = card.locator("h2 a").get_attribute("href") or ""
    assert "#" in answered
    hits = page.locator("li.hit a.hit-link").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hits and answered not in hits
    page.context.close()


def test_a_long_query_is_cut_in_the_echo_with_one_notice(browser: Any, base_url: str, problems: list[str]) -> None:
    page = new_page(browser, problems, viewport=PHONE)
    query = " ".join(["lioresal zanaflex flexeril robaxin neurontin skelaxin soma amrix"] * 40)[:2000]
    page.goto(base_url + "/search?" + "q=" + query.replace(" ", "+"))
    heading = page.locator("h1").bounding_box()
    assert heading and heading["height"] < PHONE["height"] / 4
    expect(page.locator("p.notice")).to_have_count(1)
    expect(page.locator(".expansions")).to_have_count(1)
    assert page.locator(".expansion").count() <= 6
    expect(page.locator(".expansions")).to_contain_text("more")
    assert len(page.locator("input[name=q]").input_value()) == 500  # the box keeps what was searched
    page.context.close()


def test_a_page_past_the_end_goes_to_the_last_page(browser: Any, base_url: str, problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=baclofen&per_page=2&page=9999")
    shown = parse_qs(urlsplit(page.url).query)
    last = int(shown["page"][0])
    assert 1 < last < 9999
    expect(page.locator(".results-meta")).to_contain_text(f"Page {last} of {last}")
    assert page.locator("li.group").count() >= 1
    page.context.close()


# -- 7. conveniences -------------------------------------------------------------------------------


def test_slash_focuses_the_search_box_and_developer_links_are_in_the_footer(browser: Any, base_url: str,
                                                                           problems: list[str]) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=tizanidine")
    box = page.locator("input[name=q]")
    page.locator("h1").click()
    expect(box).not_to_be_focused()
    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("tizanidine")  # the key itself is not typed
    for name in ("These results as JSON", "JSON API (OpenAPI)", "Status"):
        expect(page.locator("footer a", has_text=name)).to_have_count(1)
        expect(page.locator("main a", has_text=name)).to_have_count(0)
    page.context.close()


def test_dark_mode_follows_the_system(browser: Any, base_url: str, problems: list[str], tmp_path: Path) -> None:
    page = new_page(browser, problems, color_scheme="dark")
    page.goto(base_url + BACLOFEN + "?q=side+effects#side-effects")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert max(channels) < 60, background
    page.evaluate("window.scrollBy(0, -120)")
    save(page, tmp_path, "article-dark.png")
    page.context.close()


def test_the_site_name_is_a_setting(browser: Any, built_index: Path, problems: list[str]) -> None:
    app = create_app(Settings(index_dir=built_index, site_name="Pharmacy Answers"))
    with served_app(app) as url:
        page = new_page(browser, problems)
        page.goto(url + "/search?q=baclofen")
        expect(page.locator(".brand")).to_have_text("Pharmacy Answers")
        assert page.title().endswith("· Pharmacy Answers")
        page.context.close()


def test_the_article_view_lands_on_the_section(browser: Any, base_url: str, problems: list[str],
                                               tmp_path: Path) -> None:
    page = new_page(browser, problems)
    page.goto(base_url + "/search?q=tizanidine+blood+pressure")
    link = page.locator("li.hit a.hit-link").first
    anchor = (link.get_attribute("href") or "").partition("#")[2]
    with page.expect_navigation():
        link.click()
    target = page.locator(f"section[id='{anchor}']")
    expect(target).to_be_in_viewport()
    expect(page.locator("main mark").first).to_be_attached()
    page.evaluate("window.scrollBy(0, -120)")  # a little context above the section in the picture
    expect(target).to_be_in_viewport()
    save(page, tmp_path, "article.png")
    page.context.close()


def test_search_works_with_javascript_off(browser: Any, base_url: str) -> None:
    page = new_page(browser, java_script_enabled=False, viewport={"width": 375, "height": 740})
    page.goto(base_url + "/")
    page.fill("input[name=q]", "lioresal")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    expect(page.locator(".snippet mark").first).to_be_visible()
    assert page.locator("[role=listbox]").count() == 0
    expect(page.locator("a.facet-link").first).to_be_visible()  # without the script the panel stays open
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.context.close()


def test_desktop_pages_have_no_horizontal_scroll(browser: Any, base_url: str) -> None:
    page = new_page(browser, viewport=DESKTOP)
    for path in ("/", "/search?q=baclofen", BACLOFEN):
        page.goto(base_url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"], path
    page.context.close()
