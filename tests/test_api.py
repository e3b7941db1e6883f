"""The JSON API: read endpoints, the admin writes, errors, caching and CORS, all checked
against the OpenAPI document the app serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from werkzeug.test import TestResponse

from indexer.build import Ingestor
from indexer.lock import WriterLock
from kb.config import Settings
from web import create_app

from support.htmlpages import page

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_PAGE = page("Quinine for night cramps", {
    "Why quinine is no longer advised": "Quinine for nocturnal leg cramps can cause rare but serious "
                                        "blood disorders, so regulators advise against routine use.",
    "Stretching instead": "Calf stretches before bed ease most nocturnal cramps.",
}, canonical="https://pharmacy.example/quinine-night-cramps/", category="Cramps", tags=("Quinine",))


@pytest.fixture(scope="module")
def spec(built_index: Path) -> dict[str, Any]:
    """The OpenAPI document as served."""
    resp = create_app(Settings(index_dir=built_index)).test_client().get("/api/openapi.json")
    assert resp.status_code == 200
    doc: dict[str, Any] = resp.get_json()
    return doc


@pytest.fixture
def admin(writable_index: Path, examples_dir: Path) -> Iterator[FlaskClient]:
    """A client of an app with the admin API on, over a private copy of the index."""
    settings = Settings(index_dir=writable_index, admin_token=TOKEN, articles_dir=examples_dir, parse_workers=1,
                        max_body_bytes=64 * 1024, lock_timeout_s=0.2)
    with create_app(settings, ingestor=Ingestor(settings)).test_client() as c:
        yield c


def template_of(spec: dict[str, Any], path: str) -> str:
    """The OpenAPI path template a real URL path matches."""
    for template in spec["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(template)) + "$"
        if re.match(pattern, path) and not (template.endswith("}") and path.endswith("/related")):
            return str(template)
    raise AssertionError(f"{path} is not in the OpenAPI document")


def conforms(spec: dict[str, Any], resp: TestResponse, method: str, path: str) -> Any:
    """Validate a real response against the schema the document gives for it; return its JSON."""
    operation = spec["paths"][template_of(spec, path)][method.lower()]
    declared = operation["responses"].get(str(resp.status_code))
    assert declared is not None, f"{method} {path} answered {resp.status_code}, not documented"
    if "$ref" in declared:
        declared = spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
    if "content" not in declared:
        assert not resp.data
        return None
    assert resp.mimetype == "application/json"
    # The schema's $refs point into the document's components: validate with them at hand.
    schema = {**declared["content"]["application/json"]["schema"], "components": spec["components"]}
    data = resp.get_json()
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=str)
    assert not errors, f"{method} {path}: {errors[0].message} at {list(errors[0].absolute_path)}"
    return data


def get(client: FlaskClient, spec: dict[str, Any], url: str, status: int = 200, **kw: Any) -> Any:
    resp = client.get(url, **kw)
    assert resp.status_code == status, (url, resp.status_code, resp.data[:300])
    return conforms(spec, resp, "GET", url.split("?")[0])


def an_article_id(client: FlaskClient) -> str:
    return str(client.get("/api/search?q=baclofen").get_json()["hits"][0]["article_id"])


# -- the document ----------------------------------------------------------------------------


def test_the_openapi_document_is_3_1_with_valid_schemas(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_api_route_is_documented_with_its_methods(app: Flask, spec: dict[str, Any]) -> None:
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert template in spec["paths"], template
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][template], (template, method)


# -- search --------------------------------------------------------------------------------


def test_search_returns_sections_by_default_and_matches_the_schema(client: FlaskClient,
                                                                     spec: dict[str, Any]) -> None:
    data = get(client, spec, "/api/search?q=baclofen+side+effects")
    assert data["total"] > 0 and data["hits"] and "groups" not in data
    assert "<mark>" in data["hits"][0]["snippet_html"]
    assert data["query"] == "baclofen side effects" and data["per_page"] == 10


def test_search_groups_by_article_on_request(client: FlaskClient, spec: dict[str, Any]) -> None:
    data = get(client, spec, "/api/search?q=baclofen&group=article&per_page=2")
    assert 1 <= len(data["groups"]) <= 2
    assert len({g["article_id"] for g in data["groups"]}) == len(data["groups"])


def test_search_filters_repeat_and_combine(client: FlaskClient, spec: dict[str, Any]) -> None:
    data = get(client, spec, "/api/search?q=tizanidine&kind=faq&kind=lead&per_page=100")
    assert data["hits"] and {h["kind"] for h in data["hits"]} <= {"faq", "lead"}
    category = data["facets"]["categories"][0]["value"]
    only = get(client, spec, f"/api/search?q=tizanidine&category={category}&per_page=100")
    assert all(category in h["categories"] for h in only["hits"])


def test_search_reports_a_cut_query_in_its_notices(client: FlaskClient, spec: dict[str, Any]) -> None:
    data = get(client, spec, "/api/search?q=" + "spasm+" * 200)
    assert len(data["query"]) <= 500 and data["notices"]


@pytest.mark.parametrize("qs, words", [
    ("", "q parameter is required"),
    ("q=x&page=0", "page must be at least 1"),
    ("q=x&page=two", "page must be a whole number"),
    ("q=x&per_page=101", "per_page must be at most 100"),
    ("q=x&per_page=0", "per_page must be at least 1"),
    ("q=x&per_page=1e3", "per_page must be a whole number"),
    ("q=x&kind=poem", "kind must be one of"),
    ("q=x&group=tag", "group must be"),
])
def test_bad_search_parameters_get_a_400_that_says_why(client: FlaskClient, spec: dict[str, Any], qs: str,
                                                        words: str) -> None:
    data = get(client, spec, "/api/search?" + qs, 400)
    assert data["error"]["code"] == "bad_request" and words in data["error"]["message"]


# -- articles, related, suggest, health --------------------------------------------------------


def test_an_article_comes_back_as_indexed(client: FlaskClient, spec: dict[str, Any]) -> None:
    article_id = an_article_id(client)
    data = get(client, spec, f"/api/articles/{article_id}")
    assert data["article_id"] == article_id and data["sections"]
    assert all(s["anchor"] for s in data["sections"])


def test_related_articles_name_the_article_and_why(client: FlaskClient, spec: dict[str, Any]) -> None:
    article_id = an_article_id(client)
    data = get(client, spec, f"/api/articles/{article_id}/related")
    assert data["article_id"] == article_id and data["related"]
    assert all(r["article_id"] != article_id for r in data["related"])


@pytest.mark.parametrize("article_id", ["no-such-article", "..%2f..%2fetc%2fpasswd", "a%00b", "a%5cb"])
def test_unknown_or_path_like_ids_get_a_json_404(client: FlaskClient, spec: dict[str, Any],
                                                  article_id: str) -> None:
    for url in (f"/api/articles/{article_id}", f"/api/articles/{article_id}/related"):
        assert get(client, spec, url, 404)["error"]["code"] == "not_found"


def test_suggestions_complete_what_was_typed(client: FlaskClient, spec: dict[str, Any]) -> None:
    data = get(client, spec, "/api/suggest?q=tiza")
    assert data["query"] == "tiza" and data["suggestions"]
    assert all("tiza" in s["text"].lower() for s in data["suggestions"])
    assert get(client, spec, "/api/suggest?q=t")["suggestions"] == []
    assert get(client, spec, "/api/suggest", 400)["error"]["code"] == "bad_request"


def test_every_suggestion_says_where_it_goes(client: FlaskClient, spec: dict[str, Any]) -> None:
    found = {s["kind"]: s for q in ("baclofen for", "side eff", "lioresa")
             for s in get(client, spec, f"/api/suggest?q={q}")["suggestions"]}
    title, heading, medicine = found["title"], found["heading"], found["medicine"]
    assert title["url"] == f"/articles/{title['article_id']}"
    assert heading["url"] == f"/articles/{heading['article_id']}#{heading['anchor']}" and heading["article_title"]
    assert heading["article_title"] == client.get(f"/api/articles/{heading['article_id']}").get_json()["title"]
    assert medicine["url"] == "/search?q=lioresal"
    for s in (title, heading, medicine):
        page = client.get(s["url"].partition("#")[0])
        assert page.status_code == 200 and page.mimetype == "text/html", s


def test_healthz_reports_the_size_and_is_never_cached(client: FlaskClient, spec: dict[str, Any]) -> None:
    resp = client.get("/healthz")
    data = conforms(spec, resp, "GET", "/healthz")
    assert data["status"] == "ok" and data["articles"] > 0 and data["sections"] >= data["articles"]
    assert resp.headers["Cache-Control"] == "no-store" and "ETag" not in resp.headers


def test_healthz_is_503_without_an_index(tmp_path: Path, spec: dict[str, Any]) -> None:
    client = create_app(Settings(index_dir=tmp_path / "none")).test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert conforms(spec, resp, "GET", "/healthz")["status"] == "unavailable"
    search = client.get("/api/search?q=x")
    assert conforms(spec, search, "GET", "/api/search")["error"]["code"] == "index_missing"


# -- errors --------------------------------------------------------------------------------


def test_routing_errors_under_api_are_json_of_one_shape(client: FlaskClient, spec: dict[str, Any]) -> None:
    error = Draft202012Validator({"$ref": "#/components/schemas/Error", "components": spec["components"]})
    missing = client.get("/api/nothing/here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/search")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    also_wrong = client.get("/api/reindex")
    assert also_wrong.get_json()["error"]["code"] == "method_not_allowed"
    for resp in (missing, wrong, also_wrong):
        assert resp.mimetype == "application/json"
        error.validate(resp.get_json())


def test_an_unexpected_error_is_a_json_500_without_details(built_index: Path) -> None:
    app = create_app(Settings(index_dir=built_index))

    def boom() -> str:
        raise RuntimeError("secret detail")

    app.add_url_rule("/api/boom", view_func=boom)
    resp = app.test_client().get("/api/boom")
    assert resp.status_code == 500 and resp.mimetype == "application/json"
    assert resp.get_json()["error"]["code"] == "internal_error"
    assert b"secret detail" not in resp.data and b"Traceback" not in resp.data


# -- caching and CORS --------------------------------------------------------------------------


def test_json_gets_an_etag_and_a_304_until_the_index_changes(admin: FlaskClient) -> None:
    first = admin.get("/api/search?q=quinine")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    assert admin.get("/api/search?q=quinine", headers={"If-None-Match": etag}).status_code == 304
    assert admin.post("/api/articles", data=NEW_PAGE, headers=AUTH).status_code == 201
    after = admin.get("/api/search?q=quinine", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert after.get_json()["total"] > 0


def test_a_commit_landing_while_a_search_runs_never_earns_a_stale_304(writable_index: Path,
                                                                        examples_dir: Path) -> None:
    """The ETag is the state's before the search ran: a commit that lands after the search read the
    index, but before the response left, makes the next conditional request a 200, not a 304."""
    settings = Settings(index_dir=writable_index, admin_token=TOKEN, articles_dir=examples_dir, parse_workers=1)
    ingestor = Ingestor(settings)
    app = create_app(settings, ingestor=ingestor)
    landed: list[str] = []

    @app.after_request
    def commit_meanwhile(resp: Response) -> Response:  # runs before the caching hooks tag the response
        if not landed and request.path == "/api/search":
            landed.append(ingestor.put(NEW_PAGE.encode() if isinstance(NEW_PAGE, str) else NEW_PAGE).article_id)
        return resp

    with app.test_client() as c:
        first = c.get("/api/search?q=quinine")
        assert landed and first.get_json()["total"] == 0  # answered from the state before the page landed
        again = c.get("/api/search?q=quinine", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and again.get_json()["total"] > 0


def test_cors_is_off_by_default(client: FlaskClient) -> None:
    resp = client.get("/api/search?q=x", headers={"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_allows_only_configured_origins_on_the_api(built_index: Path) -> None:
    allowed = "https://www.example.com"
    client = create_app(Settings(index_dir=built_index, cors_origins=(allowed,))).test_client()
    ok = client.get("/api/suggest?q=ba", headers={"Origin": allowed})
    assert ok.headers["Access-Control-Allow-Origin"] == allowed and "Origin" in ok.headers["Vary"]
    other = client.get("/api/suggest?q=ba", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/search?q=ba", headers={"Origin": allowed})
    assert "Access-Control-Allow-Origin" not in page.headers


# -- admin -----------------------------------------------------------------------------------


def test_an_uploaded_article_is_found_by_the_next_search(admin: FlaskClient, spec: dict[str, Any]) -> None:
    assert admin.get("/api/search?q=quinine").get_json()["total"] == 0
    resp = admin.post("/api/articles", data=NEW_PAGE, headers=AUTH | {"Content-Type": "text/html"},
                      query_string={"url": "https://pharmacy.example/quinine-night-cramps/"})
    created = conforms(spec, resp, "POST", "/api/articles")
    assert resp.status_code == 201 and created["title"] == "Quinine for night cramps" and created["sections"] >= 2
    assert resp.headers["Location"].endswith("/api/articles/" + created["article_id"])
    assert resp.headers["Cache-Control"] == "no-store"
    hits = admin.get("/api/search?q=quinine").get_json()["hits"]
    assert hits and hits[0]["article_id"] == created["article_id"]
    assert admin.get(resp.headers["Location"]).status_code == 200


def test_an_upload_never_stores_a_link_a_reader_cannot_open(admin: FlaskClient) -> None:
    plain = page("Cramp relief at night", {"Stretching": "Calf stretches before bed ease most night cramps."})
    for url in ("javascript:alert(1)", "file:///etc/passwd", None):
        query = f"?url={url}" if url else ""
        resp = admin.post("/api/articles" + query, data=plain, headers=AUTH)
        if resp.status_code != 201:  # refused outright is as good
            assert resp.status_code in (400, 422), resp.data
            continue
        stored = admin.get(resp.headers["Location"]).get_json()
        assert stored["url"] == "" and all(s["deep_link"] == "" for s in stored["sections"]), url


def test_writes_without_the_token_are_refused_with_401(admin: FlaskClient, spec: dict[str, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        resp = admin.post("/api/articles", data=NEW_PAGE, headers=headers)
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert conforms(spec, resp, "POST", "/api/articles")["error"]["code"] == "unauthorized"
    assert admin.delete("/api/articles/x", headers={}).status_code == 401
    assert admin.post("/api/reindex").status_code == 401
    assert admin.get("/api/search?q=quinine").get_json()["total"] == 0


def test_writes_are_off_with_403_when_no_token_is_configured(client: FlaskClient,
                                                               spec: dict[str, Any]) -> None:
    resp = client.post("/api/articles", data=NEW_PAGE, headers=AUTH)
    assert resp.status_code == 403
    assert "KB_ADMIN_TOKEN" in conforms(spec, resp, "POST", "/api/articles")["error"]["message"]


def test_an_oversized_body_gets_a_json_413(admin: FlaskClient, spec: dict[str, Any]) -> None:
    resp = admin.post("/api/articles", data=b"<p>" + b"x" * 70_000, headers=AUTH)
    assert resp.status_code == 413
    assert conforms(spec, resp, "POST", "/api/articles")["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [b"", b"\x00\x01\x02\xff binary", b"<html><body><nav>Menu</nav></body></html>"])
def test_a_page_that_cannot_be_indexed_gets_a_422(admin: FlaskClient, spec: dict[str, Any], body: bytes) -> None:
    resp = admin.post("/api/articles", data=body, headers=AUTH)
    assert resp.status_code == 422
    assert conforms(spec, resp, "POST", "/api/articles")["error"]["code"] == "unprocessable"


def test_put_replaces_an_uploaded_article_and_creates_a_new_id(admin: FlaskClient, spec: dict[str, Any]) -> None:
    fresh = admin.put("/api/articles/guides/quinine", data=NEW_PAGE, headers=AUTH)
    assert fresh.status_code == 201 and fresh.headers["Location"].endswith("/api/articles/guides/quinine")
    assert conforms(spec, fresh, "PUT", "/api/articles/guides/quinine")["article_id"] == "guides/quinine"
    changed = NEW_PAGE.replace("Quinine for night cramps", "Quinine, reconsidered")
    resp = admin.put("/api/articles/guides/quinine", data=changed, headers=AUTH)
    assert resp.status_code == 200
    assert admin.get("/api/articles/guides/quinine").get_json()["title"] == "Quinine, reconsidered"


def test_put_and_delete_on_an_article_from_a_file_get_409_saying_to_edit_the_file(
        admin: FlaskClient, spec: dict[str, Any]) -> None:
    article_id = an_article_id(admin)
    before = admin.get(f"/api/articles/{article_id}").get_json()
    for method in ("PUT", "DELETE"):
        resp = admin.open(f"/api/articles/{article_id}", method=method, data=NEW_PAGE, headers=AUTH)
        assert resp.status_code == 409
        message = conforms(spec, resp, method, f"/api/articles/{article_id}")["error"]["message"]
        assert "edit or delete that file" in message and ".html" in message
    assert admin.get(f"/api/articles/{article_id}").get_json() == before


def test_delete_removes_an_uploaded_article_and_404s_when_unknown(admin: FlaskClient, spec: dict[str, Any]) -> None:
    article_id = admin.post("/api/articles", data=NEW_PAGE, headers=AUTH).get_json()["article_id"]
    resp = admin.delete(f"/api/articles/{article_id}", headers=AUTH)
    assert resp.status_code == 204 and not resp.data
    assert admin.get(f"/api/articles/{article_id}").status_code == 404
    assert admin.get("/api/search?q=quinine").get_json()["total"] == 0
    again = admin.delete(f"/api/articles/{article_id}", headers=AUTH)
    assert again.status_code == 404
    conforms(spec, again, "DELETE", f"/api/articles/{article_id}")


def test_reindex_returns_the_summary(admin: FlaskClient, spec: dict[str, Any]) -> None:
    resp = admin.post("/api/reindex", headers=AUTH)
    summary = conforms(spec, resp, "POST", "/api/reindex")
    assert resp.status_code == 200 and summary["unchanged"] > 0 and summary["added"] == 0


def test_a_held_write_lock_gives_503_with_retry_after(admin: FlaskClient, writable_index: Path,
                                                      spec: dict[str, Any]) -> None:
    with WriterLock(writable_index, 1.0, "test holding the lock"):
        resp = admin.post("/api/articles", data=NEW_PAGE, headers=AUTH)
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert conforms(spec, resp, "POST", "/api/articles")["error"]["code"] == "locked"


def test_the_default_writer_comes_from_the_entry_point(writable_index: Path) -> None:
    settings = Settings(index_dir=writable_index, admin_token=TOKEN, parse_workers=1)
    client = create_app(settings).test_client()
    assert client.post("/api/articles", data=NEW_PAGE, headers=AUTH).status_code == 201
    assert client.get("/api/search?q=quinine").get_json()["total"] > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
       page_=st.one_of(st.none(), st.text(max_size=6)))
def test_any_query_and_page_give_results_or_a_400_never_a_500(client: FlaskClient, q: str,
                                                              page_: str | None) -> None:
    qs = {"q": q} | ({"page": page_} if page_ is not None else {})
    resp = client.get("/api/search", query_string=qs)
    assert resp.status_code in (200, 400, 404) and resp.mimetype == "application/json"
    assert resp.status_code != 404 or int(page_ or 1) > 1  # 404: only a page past the last one
