"""The HTML pages: home, results, the article view, errors; their markup, links, headers and safety."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.build import index_paths
from kb.config import Settings
from web import create_app
from web.security import CSP

XSS = "<script>alert(1)</script>\"'&"


def soup(client: FlaskClient, url: str, status: int = 200) -> BeautifulSoup:
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code, resp.data[:300])
    assert resp.mimetype == "text/html"
    return BeautifulSoup(resp.get_data(as_text=True), "html.parser")


def one(node: BeautifulSoup | Tag, selector: str) -> Tag:
    found = node.select_one(selector)
    assert found is not None, f"no {selector!r}"
    return found


def params(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


# -- home --------------------------------------------------------------------------------


def test_home_has_a_focused_labelled_search_box_examples_and_the_size(client: FlaskClient) -> None:
    page = soup(client, "/")
    box = one(page, "form[role=search] input[name=q]")
    assert box.has_attr("autofocus")
    assert one(page, f"label[for={box['id']}]").get_text(strip=True)
    assert one(page, "form[role=search]")["action"] == "/search"
    examples = page.select(".examples a")
    assert len(examples) >= 3 and all(a["href"].startswith("/search?q=") for a in examples)
    size = one(page, ".kb-size").get_text()
    assert "articles" in size and "sections" in size


def test_every_page_has_landmarks_and_a_skip_link_to_main(client: FlaskClient) -> None:
    for url in ("/", "/search?q=baclofen", "/nope"):
        page = soup(client, url, 404 if url == "/nope" else 200)
        for landmark in ("header", "main", "footer", "nav"):
            assert page.find(landmark) is not None, (url, landmark)
        skip = page.find("a", class_="skip-link")
        assert skip is not None and skip["href"] == "#main" and page.find(id="main").name == "main"


# -- results -------------------------------------------------------------------------------


def test_results_are_grouped_by_article_with_highlighted_sections_and_links(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen+side+effects")
    groups = page.select("li.group")
    assert groups
    for group in groups:
        title = one(group, ".group-title a")
        assert title["href"].startswith("/articles/") and params(title["href"])["q"] == ["baclofen side effects"]
        hits = group.select("li.hit")
        assert 1 <= len(hits) <= 3
        sources = {urlsplit(a["href"]).netloc for a in group.select("a.source-link")}
        assert len(sources) <= 1 and all(sources), sources  # one site per article
        for hit in hits:
            view = one(hit, "h3 a.hit-link")
            assert view.get_text(strip=True)
            assert view["href"].startswith(title["href"].split("?")[0])
            assert params(view["href"])["q"] == ["baclofen side effects"]
            assert len(hit.select("a")) <= 2
    assert page.select(".snippet mark"), "the query's words are marked in snippets"
    assert all(m.parent.name == "p" or m.find_parent(class_="snippet") for m in page.select(".snippet mark"))
    assert page.select("li.group time[datetime]")
    assert page.select("li.group .category")


def test_the_page_always_groups_by_article(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen&group=none")
    titles = [one(g, ".group-title").get_text(strip=True) for g in page.select("li.group")]
    assert titles and len(titles) == len(set(titles))


def test_a_page_past_the_last_redirects_to_the_last(client: FlaskClient) -> None:
    resp = client.get("/search?q=baclofen&per_page=2&page=50")
    assert resp.status_code == 302
    last = params(resp.headers["Location"])
    assert last["q"] == ["baclofen"] and 1 < int(last["page"][0]) < 50
    page = soup(client, resp.headers["Location"])
    assert page.select("li.group") and f"Page {last['page'][0]} of {last['page'][0]}" in page.get_text()


def test_the_api_answers_404_past_the_last_page(client: FlaskClient) -> None:
    resp = client.get("/api/search?q=baclofen&page=50")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/search?q=zzqxv&page=1").status_code == 200  # no results is still a page


def test_the_query_stays_in_the_box_and_the_time_taken_is_shown(client: FlaskClient) -> None:
    page = soup(client, "/search?q=tizanidine+dose")
    assert one(page, "input[name=q]")["value"] == "tizanidine dose"
    assert "Found in" in one(page, ".results-meta").get_text()


def test_an_article_with_more_matching_sections_says_how_many_more(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen")
    more = page.select(".more a")
    assert more and "more section" in more[0].get_text()
    assert more[0]["href"].startswith("/articles/")


def test_synonym_expansion_is_announced(client: FlaskClient) -> None:
    text = one(soup(client, "/search?q=lioresal"), ".expansions").get_text(" ", strip=True)
    assert "Also searching" in text and "baclofen" in text and "(for lioresal)" in text


def test_a_corrected_query_offers_the_original(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofn")
    correction = one(page, ".correction")
    assert "Showing results for" in correction.get_text() and "baclofen" in correction.get_text()
    original = one(correction, "a.original-query")
    assert params(original["href"])["q"] == ["baclofn"]


def test_facets_show_counts_and_a_category_link_filters_the_results(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen")
    links = page.select("a.facet-link[data-facet=category]")
    assert links
    first = links[0]
    name = one(first, ".facet-label").get_text(strip=True)
    count = int(one(first, ".count").get_text().split()[0])
    assert count > 0 and one(first, ".count").get_text(" ", strip=True).endswith(("article", "articles"))
    assert params(first["href"])["category"] == [name]
    filtered = soup(client, first["href"])
    assert all(name in one(g, ".category").get_text() for g in filtered.select("li.group"))
    assert one(filtered, "h1").get_text(" ", strip=True).startswith(f"{count} article")  # the same unit
    active = filtered.select(".active-filters a")
    assert [a.get_text(" ", strip=True) for a in active] == [f"Category: {name} ×"]
    assert "category" not in params(active[0]["href"]) and params(active[0]["href"])["q"] == ["baclofen"]
    toggled = one(filtered, "a.facet-link.is-active")
    assert "category" not in params(toggled["href"])


def test_removing_one_filter_keeps_the_others(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen&kind=section&kind=faq")
    chips = page.select(".active-filters a.chip--active")
    assert len(chips) == 2
    remove_faq = next(a for a in chips if "FAQ" in a.get_text())
    assert params(remove_faq["href"])["kind"] == ["section"]


def test_the_kind_facet_keeps_only_that_kind_of_section(client: FlaskClient) -> None:
    page = soup(client, "/search?q=tizanidine&kind=faq")
    badges = [one(hit, ".hit-title").find(class_="badge") for hit in page.select("li.hit")]
    assert badges and all(b is not None and b.get_text() == "FAQ" for b in badges)


def test_pagination_links_pages_and_marks_the_current_one(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen&per_page=2")
    nav = one(page, "nav.pagination")
    current = one(nav, "a[aria-current=page]")
    assert current.get_text() == "1"
    nxt = one(nav, "a[rel=next]")
    assert params(nxt["href"]) == {"q": ["baclofen"], "page": ["2"], "per_page": ["2"]}
    second = soup(client, nxt["href"])
    assert one(second, "nav.pagination a[aria-current=page]").get_text() == "2"
    assert second.select_one("nav.pagination a[rel=prev]") is not None


def test_a_faq_best_hit_is_shown_as_an_answer_card(client: FlaskClient) -> None:
    page = soup(client, "/search?q=is+it+safe+to+drive+while+taking+tizanidine")
    card = one(page, ".answer-card")
    assert "drive" in one(card, ".answer-question").get_text().lower()
    assert one(card, ".answer-text").get_text(strip=True)
    assert card.select(".answer-text mark")
    assert one(card, ".answer-question a")["href"].startswith("/articles/")


def test_no_results_gives_help_suggestions_and_examples(client: FlaskClient) -> None:
    page = soup(client, "/search?q=tizanidine&category=No+Such+Category")
    assert "No results" in one(page, "h1").get_text()
    help_ = one(page, ".no-results")
    assert "spelling" in help_.get_text()
    links = [a["href"] for a in help_.select("a.chip")]
    assert any("Tizanidine" in parse_qs(urlsplit(h).query)["q"][0] for h in links), "suggestions from the index"
    assert any(params(a["href"]).get("q") == ["lioresal"] for a in help_.select("a.chip")), "example searches"
    clear = help_.find("a", string="Search again without filters")
    assert clear is not None and "category" not in params(clear["href"])


def test_results_link_to_their_json_twin_with_the_same_data(client: FlaskClient) -> None:
    page = soup(client, "/search?q=baclofen&kind=section&page=2&per_page=3")
    alternate = one(page, "link[rel=alternate][type='application/json']")["href"]
    assert one(page, "a.json-link")["href"] == alternate
    assert sorted(parse_qsl(urlsplit(alternate).query)) == sorted(
        [("q", "baclofen"), ("kind", "section"), ("page", "2"), ("per_page", "3"), ("group", "article")])
    data = client.get(alternate).get_json()
    assert [g["title"] for g in data["groups"]] == [one(g, ".group-title").get_text(strip=True)
                                                      for g in page.select("li.group")]


def test_an_overlong_query_is_cut_and_the_page_says_so(client: FlaskClient, app: Flask) -> None:
    limit = Settings().max_query_chars
    page = soup(client, "/search?q=" + "baclofen+" * 200)
    assert len(one(page, "input[name=q]")["value"]) <= limit
    assert str(limit) in one(page, "p.notice").get_text()


def test_an_empty_search_goes_back_home(client: FlaskClient) -> None:
    resp = client.get("/search?q=++")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_bad_paging_parameters_get_a_400_page_not_a_crash(client: FlaskClient) -> None:
    for qs in ("page=0", "page=abc", "per_page=101", "kind=poem", "page=" + "9" * 5000):
        page = soup(client, f"/search?q=baclofen&{qs}", 400)
        assert "400" in one(page, "h1").get_text()
        assert one(page, "input[name=q]")["value"] == "baclofen"


# -- safety --------------------------------------------------------------------------------


def test_a_hostile_query_is_escaped_everywhere(client: FlaskClient) -> None:
    resp = client.get("/search", query_string={"q": XSS})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    page = BeautifulSoup(body, "html.parser")
    assert one(page, "input[name=q]")["value"] == XSS
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert" not in body
    scripts = page.find_all("script")
    assert scripts and all(s.has_attr("src") and not s.string for s in scripts)


def test_the_article_view_escapes_a_hostile_query(client: FlaskClient) -> None:
    href = one(soup(client, "/search?q=baclofen"), "a.hit-link")["href"].split("?")[0]
    resp = client.get(href, query_string={"q": XSS})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<script>alert" not in body
    assert "&lt;script&gt;" in body


def test_pages_carry_no_inline_script_or_style(client: FlaskClient) -> None:
    href = one(soup(client, "/search?q=baclofen"), "a.hit-link")["href"]
    for url in ("/", "/search?q=baclofen", href, "/nope"):
        page = BeautifulSoup(client.get(url).get_data(as_text=True), "html.parser")
        assert not page.find("style") and not page.select("[style]"), url
        assert all(s.has_attr("src") for s in page.find_all("script")), url
        assert not any(attr.startswith("on") for tag in page.find_all(True) for attr in tag.attrs), url


def test_every_response_has_the_security_headers(client: FlaskClient) -> None:
    for url in ("/", "/search?q=x", "/nope", "/static/kb.css", "/api/search?q=x", "/api/nope", "/healthz"):
        h = client.get(url).headers
        assert h["Content-Security-Policy"] == CSP, url
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["X-Frame-Options"] == "DENY"
        assert h["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer")


def test_pages_have_an_etag_and_answer_304_when_unchanged(client: FlaskClient) -> None:
    first = client.get("/search?q=baclofen")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    again = client.get("/search?q=baclofen", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "public, max-age=60"
    other = client.get("/search?q=tizanidine", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_static_assets_are_versioned_and_cached_long(client: FlaskClient) -> None:
    page = soup(client, "/")
    css = one(page, "link[rel=stylesheet]")["href"]
    assert "v=" in css
    resp = client.get(css)
    assert resp.status_code == 200 and "max-age=31536000" in resp.headers["Cache-Control"]
    assert client.get(one(page, "script")["src"]).status_code == 200


@pytest.mark.parametrize("path", ["/static/../kb/config.py", "/static/%2e%2e/pyproject.toml",
                                  "/static/..%2fpyproject.toml", "/static//etc/passwd"])
def test_static_paths_never_reach_the_disk_outside_static(client: FlaskClient, path: str) -> None:
    resp = client.get(path, follow_redirects=True)
    assert resp.status_code == 404
    assert b"[project]" not in resp.data and b"Settings" not in resp.data


# -- article view ----------------------------------------------------------------------------


def _article_href(client: FlaskClient, query: str) -> str:
    return one(soup(client, "/search?q=" + query), "li.hit a.hit-link[href*='#']")["href"]


def test_the_article_view_has_a_nested_contents_and_anchored_sections(client: FlaskClient) -> None:
    page = soup(client, "/articles/" + _nested_article_id(client))
    toc = one(page, ".toc nav")
    anchors = [a["href"][1:] for a in toc.select("a")]
    assert anchors
    for anchor in anchors:
        section = page.find(id=anchor)
        assert section is not None and (section.name == "section" or "part-heading" in section["class"])
    nested = toc.select("ol ol a")
    assert nested, "sub-sections are nested in the contents"
    sub = page.find(id=nested[0]["href"][1:])
    assert sub.find(["h3", "h4"]) is not None, "a sub-section's heading is one level deeper"
    assert one(page, "h1").get_text(strip=True)


def _nested_article_id(client: FlaskClient) -> str:
    data = client.get("/api/search?q=baclofen&per_page=100").get_json()
    for hit in data["hits"]:
        if len(hit["breadcrumb"]) > 1:
            return str(hit["article_id"])
    raise AssertionError("the examples have no nested section")


def test_arriving_from_a_result_marks_the_query_and_targets_the_section(client: FlaskClient) -> None:
    href = _article_href(client, "lioresal")
    path, _, anchor = href.partition("#")
    page = soup(client, path)
    assert page.select("main mark"), "synonyms of the query are marked too"
    assert page.find(id=anchor) is not None
    assert one(page, ".back a")["href"].startswith("/search?q=lioresal")
    plain = soup(client, path.split("?")[0])
    assert not plain.select("main mark")


def test_the_article_view_links_its_source_and_related_articles(client: FlaskClient) -> None:
    page = soup(client, _article_href(client, "baclofen").split("#")[0])
    assert one(page, "a.source-link")["href"].startswith(("https://", "http://"))
    related = page.select(".related li a")
    assert related and all(a["href"].startswith(("/articles/", "https://", "http://")) for a in related)
    assert one(page, "link[rel=alternate][type='application/json']")["href"].startswith("/api/articles/")


@pytest.mark.parametrize("article_id", ["no-such-article", "..%2f..%2fetc%2fpasswd", "a/../../b",
                                        "%2fetc%2fpasswd", "a%00b", "a%5cb"])
def test_unknown_or_path_like_article_ids_get_a_404_page(client: FlaskClient, article_id: str) -> None:
    resp = client.get("/articles/" + article_id, follow_redirects=True)
    assert resp.status_code == 404
    page = BeautifulSoup(resp.get_data(as_text=True), "html.parser")
    assert "not found" in one(page, "h1").get_text().lower()


# -- errors, startup -------------------------------------------------------------------------


def test_an_unexpected_error_shows_an_error_page_without_a_traceback(built_index: Path) -> None:
    app = create_app(Settings(index_dir=built_index))

    def boom() -> str:
        raise RuntimeError("secret detail /etc/passwd")

    app.add_url_rule("/boom", view_func=boom)
    resp = app.test_client().get("/boom")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    assert "secret detail" not in body and "Traceback" not in body
    assert resp.headers["Cache-Control"] == "no-store"


def test_without_an_index_the_site_starts_and_picks_one_up_later(tmp_path: Path, examples_dir: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", parse_workers=1)
    client = create_app(settings).test_client()
    home = BeautifulSoup(client.get("/").get_data(as_text=True), "html.parser")
    assert "No index yet" in home.get_text() and "kb index" in home.get_text()
    search = client.get("/search?q=baclofen")
    assert search.status_code == 503 and "No index yet" in search.get_data(as_text=True)
    assert client.get("/healthz").status_code == 503
    index_paths([examples_dir], settings)
    assert client.get("/healthz").status_code == 200
    assert client.get("/search?q=baclofen").status_code == 200


def test_flask_finds_the_app_factory_and_reads_kb_settings_from_the_environment(
        built_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_INDEX_DIR", str(built_index))
    monkeypatch.setenv("KB_MAX_QUERY_CHARS", "40")
    app = ScriptInfo(app_import_path="web").load_app()
    resp = app.test_client().get("/search?q=" + "a" * 100)
    page = BeautifulSoup(resp.get_data(as_text=True), "html.parser")
    assert len(one(page, "input[name=q]")["value"]) == 40


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_any_query_at_all_gives_a_page_with_the_query_escaped(client: FlaskClient, q: str) -> None:
    resp = client.get("/search", query_string={"q": q})
    assert resp.status_code in (200, 302)
    body = resp.get_data(as_text=True)
    assert "<script>" not in body
    if resp.status_code == 200:
        page = BeautifulSoup(body, "html.parser")
        assert all(s.has_attr("src") for s in page.find_all("script"))
