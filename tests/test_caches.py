"""What a reader remembers per generation: the same answers as without it, bounded, and nothing
that lengthens Python's full garbage collections as the caches fill."""

from __future__ import annotations

import gc
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb import text
from kb.config import Settings
from kb.documents import StoredSection
from kb.facets import DocTable
from kb.hits import source_cache
from kb.lru import LRU
from kb.models import SectionKind, Suggestion
from kb.search import KnowledgeBase
from kb.suggest import SuggestList

QUERIES = ["baclofen", "gabapentin dose", "side effects", "muscle spasm", "cyclobenzaprine drowsiness",
           "intrathecal pump", "fibromyalgia", "back pain", "methocarbamol interactions", "spasticity",
           "kidney", "alcohol", "pregnancy", "dizziness", "tizanidine", "sleep", "nerve pain", "elderly"]


@pytest.fixture
def kb(built_index: Path) -> KnowledgeBase:
    return KnowledgeBase.open(settings=Settings(index_dir=built_index))


def test_a_section_shown_again_is_marked_for_the_new_query(kb: KnowledgeBase) -> None:
    first = kb.search("baclofen").hits[0]
    again = next(h for h in kb.search("spasticity baclofen", per_page=50).hits if h.deep_link == first.deep_link)
    baclofen = {text.term("baclofen"), text.term("lioresal")}  # the word and its brand name (a synonym)
    first_marked = {text.term(s.text) for s in first.snippet if s.match}
    assert "baclofen" in first_marked and first_marked <= baclofen
    marked = {text.term(s.text) for s in again.snippet if s.match}
    assert "spastic" in marked and marked <= baclofen | {"spastic"}  # marked for the new query
    fresh = KnowledgeBase.open(settings=kb.settings).search("spasticity baclofen", per_page=50)
    assert again.snippet_html == next(h.snippet_html for h in fresh.hits if h.deep_link == first.deep_link)


def test_warm_caches_give_the_cycle_collector_nothing_new_to_walk(kb: KnowledgeBase) -> None:
    kb.warm()
    kb._sources = source_cache()  # the warm-up analysed every section of this small site: let searches fill it

    def run(queries: list[str], per_page: int) -> int:
        for q in queries:  # each fills the caches: postings, stored fields, snippet sources
            kb.search(q, group="article", per_page=per_page)
            kb.search(q, per_page=per_page)
        gc.collect()
        gc.collect()  # a tuple of strings drops out of the collector's sight at the collection after its items
        return len(gc.get_objects())

    def sections_seen() -> int:
        return len(kb._sources)

    run(QUERIES, 2)  # the first searches also import what they first need
    before, seen = run(QUERIES[:6], 3), sections_seen()
    grown, added = run(QUERIES, 100) - before, sections_seen() - seen
    assert added >= 50, "the searches bring new sections into the caches"
    assert grown < 10, f"{grown} more objects for the garbage collector after {added} new sections were cached"


def test_the_lru_drops_the_least_recently_used_past_its_budget() -> None:
    cache: LRU[str, bytes] = LRU(10, len)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"  # now "b" is the least recently used
    cache.put("c", b"cccc")
    assert cache.get("b") is None and cache.get("a") == b"aaaa" and cache.get("c") == b"cccc"
    assert cache.used == 8 and len(cache) == 2
    cache.put("big", b"x" * 50)  # over budget on its own: kept, alone
    assert len(cache) == 1 and cache.get("big") is not None


def _linear_match(entries: tuple[tuple[str, Suggestion], ...], prefix: str, limit: int) -> list[Suggestion]:
    """The scan `SuggestList.match` replaced: every entry in order."""
    p = text.normalize_phrase(prefix)
    if len(p) < 2:
        return []
    first, later = [], []
    for key, sug in entries:
        if key.startswith(p):
            first.append(sug)
        elif f" {p}" in f" {key}":
            later.append(sug)
        if len(first) >= limit:
            break
    return (first + later)[:limit]


WORDS = st.sampled_from(["ba", "bac", "baclofen", "back", "pain", "pa", "dose", "do", "nerve", "ne", "a1", "10"])


def _section(order: int, title: str, article_id: str, kind: SectionKind, heading: str, anchor: str) -> StoredSection:
    return StoredSection(source=article_id, order=order, article_id=article_id, kind=kind, title=title,
                         heading=heading, breadcrumb=(heading,), body="", anchor=anchor, deep_link="", url="",
                         categories=(), tags=(), modified=None)


@given(titles=st.lists(st.lists(WORDS, min_size=1, max_size=4), max_size=30),
       headings=st.lists(st.lists(WORDS, min_size=1, max_size=4), max_size=30),
       medicines=st.lists(WORDS, max_size=5), prefix=st.lists(WORDS, min_size=1, max_size=2),
       limit=st.integers(1, 10))
def test_suggestions_are_those_of_a_scan_of_every_entry(titles: list[list[str]], headings: list[list[str]],
                                                        medicines: list[str], prefix: list[str], limit: int) -> None:
    docs = [_section(0, " ".join(t), f"a{i}", "lead", "", "") for i, t in enumerate(titles)]
    docs += [_section(1, "x", f"h{i}", "section", " ".join(h), f"s{i}") for i, h in enumerate(headings)]
    entries = SuggestList.build(docs, medicines)
    query = " ".join(prefix)
    assert entries.match(query, limit) == _linear_match(entries.entries, query, limit)
    assert entries.match(query[:-1], limit) == _linear_match(entries.entries, query[:-1], limit)


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=40), st.data())
def test_article_counts_are_a_count_of_the_sections_articles(articles: list[str], data: st.DataObject) -> None:
    n = len(articles)
    table = DocTable(tuple(articles), ("section",) * n, ((),) * n, ((),) * n, {}, {}, {})
    docs = data.draw(st.lists(st.integers(0, n - 1), unique=True))
    counts = table.article_counts(docs)
    expected = Counter(articles[d] for d in docs)
    assert len(counts) == len(expected)
    assert all(counts[a] == expected[a] for a in "abcde")


def test_warming_builds_the_tables_a_first_search_would_wait_for(kb: KnowledgeBase) -> None:
    kb.warm()
    with kb.backend.view() as v:
        v.memo("corrector", lambda: pytest.fail("the spelling corrector was not built"))
        v.memo("suggest", lambda: pytest.fail("the suggestion list was not built"))


def test_a_server_over_a_missing_index_still_starts(tmp_path: Path) -> None:
    from web import create_app, services

    app = create_app(Settings(index_dir=tmp_path / "none"))
    services.warm(app)  # nothing to warm: the pages say there is no index
    assert app.test_client().get("/healthz").status_code == 503


def test_a_generation_a_reindex_lands_is_warmed_in_the_background(writable_index: Path, examples_dir: Path,
                                                                   tmp_path: Path) -> None:
    import shutil
    import threading
    import time

    from indexer.build import index_paths
    from web import create_app, services

    app = create_app(Settings(index_dir=writable_index))
    kb_: KnowledgeBase = app.extensions[services.KB_KEY]
    stop = threading.Event()
    services.keep_warm(app, every_s=0.05, stop=stop)
    try:
        site = tmp_path / "site"
        shutil.copytree(examples_dir, site)
        page = next(site.glob("*.html"))
        page.write_text(page.read_text().replace("</body>", "<p>A new paragraph about sleep.</p></body>"))
        with kb_.backend.view() as v:
            before = v.token
        index_paths([site], Settings(index_dir=writable_index, parse_workers=1))

        def warmed() -> bool:
            def missing() -> object:
                raise LookupError

            with kb_.backend.view() as v:
                if v.token == before:
                    return False
                try:
                    v.memo("suggest", missing)
                    v.memo("corrector", missing)
                except LookupError:
                    return False
                return True

        deadline = time.monotonic() + 10
        while not warmed():
            assert time.monotonic() < deadline, "the new generation was not warmed within 10 s"
            time.sleep(0.05)
    finally:
        stop.set()


def test_postings_read_by_blocks_score_exactly_as_the_matcher_walk(examples_dir: Path, tmp_path: Path) -> None:
    import shutil

    import numpy as np

    from indexer.build import index_paths
    from kb.engines.whoosh import postings as whoosh_postings

    site = tmp_path / "site"
    shutil.copytree(examples_dir, site)
    settings = Settings(index_dir=tmp_path / "index", parse_workers=1)
    index_paths([site], settings)
    for page in sorted(site.glob("*.html"))[:2]:  # an article replaced per run: more segments, deletions
        page.write_text(page.read_text().replace("</body>", "<p>Ask about sleep and kidney function.</p></body>"))
        index_paths([site], settings)
    kb_ = KnowledgeBase.open(settings=settings)
    with kb_.backend.view() as v:
        s, snap = v.s, v.snap  # type: ignore[attr-defined]  # the Whoosh view's searcher and snapshot
        assert not s.is_atomic() and s.reader().has_deletions(), "the index has several segments and deletions"
        checked = 0
        for field in ("title", "heading", "body"):
            for raw in s.reader().field_terms(field):
                term = raw.decode() if isinstance(raw, bytes) else raw
                walked = whoosh_postings._walk(s, field, term)
                blocks = whoosh_postings._read_blocks(s, snap, field, term)
                assert blocks is not None
                assert np.array_equal(walked[0], blocks[0]), (field, term)
                assert walked[1].tobytes() == blocks[1].tobytes(), (field, term)  # bit for bit
                checked += 1
        assert checked > 1000
