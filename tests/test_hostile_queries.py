"""Hostile queries against the search function, /api/search, /api/suggest and the pages: Whoosh syntax,
control characters, arbitrary Unicode and very long strings never raise, never give a 5xx, and no
snippet carries markup other than <mark>. (tests/test_search.py and test_api.py cover plain text.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.search import KnowledgeBase

from support.report import tell
from support.xss import script_problems

WHOOSH_BITS = ['"', "'", "(", ")", "[", "]", "{", "}", "*", "?", "~", "^", ":", "-", "+", "!", "\\", "/", "TO",
               "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "title:", "heading:", "body:", "category:", "tag:",
               "kind:", "kind:faq", "source:", "article_id:", "*:*", "[a TO z]", "{0 TO}", "~2", "^3", "<b>",
               "<mark>", "</mark>", "&lt;", "&", "\x00", "\x1b[31m", "\u202e", "\ufeff", "\ud7ff", "\U0001f600",
               "baclofen", "side", "effects", "lioresal", "tizanidine", "10mg", "mg", " ", "  ", "\t", "\n"]
whoosh_queries = st.lists(st.sampled_from(WHOOSH_BITS) | st.text(max_size=8), max_size=25).map("".join)
unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
long_queries = st.tuples(st.text(min_size=1, max_size=12), st.integers(200, 2000)).map(lambda t: t[0] * t[1])
SETTINGS = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_MARK = re.compile(r"</?mark>")


def only_mark(html: str) -> bool:
    """True when the only markup in a snippet is <mark> and </mark>."""
    return "<" not in _MARK.sub("", html) and ">" not in _MARK.sub("", html)


@pytest.fixture(scope="module")
def kb(built_index: Path) -> KnowledgeBase:
    return KnowledgeBase.open(built_index)


@SETTINGS
@given(query=whoosh_queries | long_queries)
def test_whoosh_syntax_and_long_queries_never_raise_and_snippets_carry_only_mark(kb: KnowledgeBase,
                                                                                  query: str) -> None:
    for group in (None, "article"):
        page = kb.search(query, per_page=20, group=group)
        assert page.total >= len(page.groups if group else page.hits)
        assert len(page.query) <= kb.settings.max_query_chars
        assert all(only_mark(h.snippet_html) for h in page.hits)


@SETTINGS
@given(category=unicode_text, tag=whoosh_queries, query=whoosh_queries)
def test_hostile_filters_never_raise(kb: KnowledgeBase, category: str, tag: str, query: str) -> None:
    page = kb.search(query, categories=[category], tags=[tag], kinds=["faq", "lead"])
    assert all(only_mark(h.snippet_html) for h in page.hits)
    assert kb.suggest(query) is not None


@SETTINGS
@given(q=whoosh_queries | long_queries | unicode_text, category=unicode_text,
       group=st.sampled_from(["", "article", "none", "ARTICLE", "x"]),
       per_page=st.sampled_from(["", "1", "100", "101", "0", "-1", "1e3", "٣", "9" * 30]))
def test_the_api_answers_hostile_requests_with_json_never_a_5xx(client: FlaskClient, q: str, category: str,
                                                                group: str, per_page: str) -> None:
    resp = client.get("/api/search", query_string={"q": q, "category": category, "group": group,
                                                   "per_page": per_page})
    assert resp.status_code in (200, 400), resp.data[:300]
    data = resp.get_json()
    if resp.status_code == 200:
        hits = data["hits"] + [h for g in data.get("groups") or [] for h in g["hits"]]
        assert all(only_mark(h["snippet_html"]) for h in hits)
    else:
        assert set(data["error"]) == {"code", "message"}
    suggest = client.get("/api/suggest", query_string={"q": q})
    assert suggest.status_code == 200 and suggest.mimetype == "application/json"


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(q=whoosh_queries | unicode_text)
def test_pages_with_a_hostile_query_never_run_script(client: FlaskClient, q: str) -> None:
    resp = client.get("/search", query_string={"q": q})
    assert resp.status_code in (200, 302, 400)
    assert script_problems(resp.get_data(as_text=True)) == []
    article_id = client.get("/api/search?q=baclofen").get_json()["hits"][0]["article_id"]
    article = client.get(f"/articles/{article_id}", query_string={"q": q})
    assert article.status_code == 200
    assert script_problems(article.get_data(as_text=True)) == []


@pytest.mark.parametrize("query", ["\x00" * 600, "\ufffd" * 10_000, "a" * 100_000, "(" * 5000, '"' * 5001,
                                   "-" * 5000, "title:" * 2000, "*" * 10_000, "\u0301" * 10_000,
                                   "𝔘" * 10_000, " ".join(["baclofen"] * 20_000)])
def test_very_long_queries_are_cut_and_answered_quickly(kb: KnowledgeBase, client: FlaskClient,
                                                         query: str) -> None:
    page = kb.search(query)
    assert len(page.query) <= kb.settings.max_query_chars and page.took_ms < 5000
    assert client.get("/api/search", query_string={"q": query}).status_code == 200


def test_report(pytestconfig: pytest.Config) -> None:
    """Say what this file tried (figures for RELIABILITY.md)."""
    tell(pytestconfig, "[hostile queries] ~80 Whoosh-syntax/long queries x 2 groupings, 80 hostile filters, "
                       "80 API requests (+80 suggest), 30 page pairs, 11 very long queries: no exception, "
                       "no 5xx, only <mark> in snippets, no script in pages")
