"""The merge policy: a commit rewrites about as much whether it is the site's 1st edit or its 400th.

The policy is checked on segment sizes alone (`merging.decide`), then through real uploads: the
admin API's writer, the real index, Whoosh's table of contents read back after each commit.
"""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.index import open_dir

from indexer.build import Ingestor, index_paths
from kb.config import Settings
from kb.engines.whoosh import layout, merging
from kb.search import KnowledgeBase

from support.htmlpages import page
from support.wordpages import write_pages

F = merging.MERGE_FACTOR


def test_empty_segments_are_dropped_and_mostly_deleted_ones_rewritten_whatever_their_size() -> None:
    d = merging.decide([(5000, 5000), (0, 40), (3000, 4000), (2, 2)])
    assert d.keep == (0, 3)  # the big live one, and a lone small one
    assert d.merge == (2,)  # a quarter deleted: rewritten without them, although big
    # segment 1 has no live section: in neither, so dropped


def test_big_segments_are_kept_even_when_a_tier_holds_many() -> None:
    parts = [(1000, 1000)] * 8  # a full rebuild written in 8 parts: each an eighth of the index
    assert merging.decide(parts).keep == tuple(range(8))


def test_small_segments_of_one_tier_merge_once_the_tier_is_full() -> None:
    small = (merging.tier(2), 2)
    base = [(10_000, 10_000)]
    assert merging.decide([*base, *[(2, 2)] * (F - 1)]).merge == ()
    assert merging.decide([*base, *[(2, 2)] * F]).merge == tuple(range(1, F + 1))
    assert small[0] != merging.tier(2 * F)  # what they merge into sits a tier up


@given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=300))
@settings(max_examples=60, deadline=None)
def test_uploads_of_any_sizes_keep_few_segments_and_rewrite_each_section_a_few_times(sizes: list[int]) -> None:
    segments = [(20_000, 20_000)]  # the index a full rebuild wrote
    written = 0
    for new in sizes:  # one upload a commit: its sections, plus whatever the commit merges
        d = merging.decide(segments)
        assert set(d.keep).isdisjoint(d.merge)
        merged = sum(segments[i][0] for i in d.merge)
        segments = [segments[i] for i in d.keep] + [(merged + new, merged + new)]
        written += merged + new
        small = [live for live, _ in segments if live < merging.BIG_SHARE * sum(s[0] for s in segments)]
        assert len(small) <= (F - 1) * (merging.tier(max(small, default=1)) + 1) + 1
    total = sum(sizes)
    assert sum(live for live, _ in segments) == 20_000 + total  # nothing lost or doubled
    assert written <= total * (math.log(total, F) + 2)  # each section rewritten about once a tier


def segment_sizes(index_dir: Path) -> list[int]:
    """The live generation's segments, as Whoosh's table of contents lists them (all sections)."""
    gen = layout.current_generation(index_dir)
    assert gen is not None
    ix = open_dir(str(gen))
    try:
        return [seg.doc_count_all() for seg in ix._segments()]
    finally:
        ix.close()


def test_uploads_of_different_articles_do_not_rewrite_the_earlier_uploads_each_time(tmp_path: Path) -> None:
    s = Settings(index_dir=tmp_path / "index", parse_workers=1)
    index_paths([write_pages(tmp_path / "site", 300)], s)  # ~1,000 sections: the uploads stay under a tenth
    ing = Ingestor(s)
    before = segment_sizes(s.index_dir)
    n, written = 32, 0
    for i in range(n):
        html = page(f"Upload {i}", {"Uses": f"Zorblax{i} treats condition {i}.", "Doses": f"Take {i} mg daily."})
        ing.put(html.encode(), url=f"https://site.example/upload-{i}/")
        sizes = segment_sizes(s.index_dir)
        written += sizes[-1]  # the commit's own segment: its upload, plus what it merged
        assert len(sizes) <= len(before) + math.log2(n) + 1
    # Merging every earlier upload into each commit (the first policy) writes 2 + 4 + ... + 64 = 1,056
    # sections for these 32 two-section uploads; by tiers each is rewritten about once a tier.
    assert written < 2 * n * (math.log2(n) + 1)
    kb = KnowledgeBase(s)
    assert [kb.search(f"zorblax{i}").hits[0].article_id for i in range(n)] == [f"upload-{i}" for i in range(n)]
    ing.put(page("Upload 3", {"Uses": "Quuxine now treats another condition."}).encode(),
            url="https://site.example/upload-3/")  # a second version replaces the first
    assert kb.search("quuxine").hits[0].article_id == "upload-3"
    assert [sec.text for sec in kb.article("upload-3").sections] == ["Quuxine now treats another condition."]
