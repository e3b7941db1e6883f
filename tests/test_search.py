"""Search behaviour on a real index: ranking, query understanding, snippets, facets, grouping."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.build import index_paths
from kb.config import Settings
from kb.search import KnowledgeBase

from support.htmlpages import page, write

PAGES = {
    "baclofen.html": page("Baclofen basics", {
        "What baclofen does": "Baclofen relaxes muscles and eases spasticity in multiple sclerosis.",
        "Dosage": "Adults usually start with 5 mg three times a day. Tablets come as 10mg and 20mg.",
        "Side effects": "Drowsiness and dizziness are the most common side effects of baclofen.",
    }, canonical="https://site.example/baclofen/", category="Muscle Relaxant", tags=("Baclofen",)),
    "lioresal.html": page("Lioresal brand notes", {
        "Lioresal packaging": "Lioresal is sold in blister packs of 50 tablets.",
    }, canonical="https://site.example/lioresal/", category="Brands", tags=("Baclofen",)),
    "gabapentin.html": page("Gabapentin for nerve pain", {
        "Nerve pain": "Gabapentin calms damaged nerves after shingles. It can cause dizziness.",
        "Side effects": "Dizziness, tiredness and swelling of the ankles & feet.",
    }, canonical="https://site.example/gabapentin/", category="Pain Relief", tags=("Gabapentin",)),
    "unsafe.html": page("Escaping check", {
        "Markup in text": 'The label reads <script>alert("x")</script> & "quotes" for tizanidine users.',
    }, canonical="https://site.example/unsafe/", category="Pain Relief"),
    "faq.html": page("Muscle relaxer FAQ", {}, canonical="https://site.example/faq/", extra="""
        <h2>Frequently asked questions</h2>
        <details><summary>Can I drink alcohol with tizanidine?</summary><p>No: alcohol adds to the drowsiness.</p></details>
        <details><summary>Is tizanidine addictive?</summary><p>It is not considered addictive, but stop it slowly.</p></details>
    """),
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("search")
    for name, html in PAGES.items():
        write(root / "site", name, html)
    s = Settings(index_dir=root / "index", parse_workers=1)
    summary = index_paths([root / "site"], s)
    assert not summary.failed, summary.failed
    return KnowledgeBase.open(settings=s)


def test_brand_name_finds_the_generic_article_and_says_what_it_added(kb: KnowledgeBase) -> None:
    result = kb.search("lioresal side effects")
    assert any(e.term == "baclofen" and e.source == "lioresal" for e in result.expanded_terms)
    assert "Baclofen basics" in {h.title for h in result.hits}


def test_exact_term_outranks_a_synonym_only_match(kb: KnowledgeBase) -> None:
    hits = kb.search("lioresal").hits
    assert hits[0].title == "Lioresal brand notes"
    assert any(h.title == "Baclofen basics" for h in hits[1:])


def test_misspelled_medicine_is_corrected_and_reported(kb: KnowledgeBase) -> None:
    result = kb.search("baclophen dosage")
    assert result.corrected_query == "baclofen dosage"
    assert result.hits and result.hits[0].title == "Baclofen basics"


def test_known_words_are_never_corrected(kb: KnowledgeBase) -> None:
    assert kb.search("dizziness").corrected_query is None
    assert kb.search("gabapentin").corrected_query is None


def test_single_term_queries_get_nonzero_differentiated_scores(kb: KnowledgeBase) -> None:
    scores = [h.score for h in kb.search("dizziness").hits]
    assert len(scores) >= 2 and all(s > 0 for s in scores)
    assert len(set(scores)) > 1


def test_all_terms_preferred_but_none_required(kb: KnowledgeBase) -> None:
    result = kb.search("baclofen drowsiness xylophonic")
    assert result.total > 0
    assert result.hits[0].heading == "Side effects" and result.hits[0].title == "Baclofen basics"


def test_exact_heading_match_ranks_first(kb: KnowledgeBase) -> None:
    assert kb.search("nerve pain").hits[0].heading == "Nerve pain"


def test_dose_forms_match_with_or_without_space(kb: KnowledgeBase) -> None:
    assert kb.search("10 mg").hits[0].heading == "Dosage"
    assert kb.search("20mg").hits[0].heading == "Dosage"


def test_phrase_exclusion_and_field_prefixes(kb: KnowledgeBase) -> None:
    assert {h.title for h in kb.search('"side effects"').hits} == {"Baclofen basics", "Gabapentin for nerve pain"}
    assert "Gabapentin for nerve pain" not in {h.title for h in kb.search("dizziness -gabapentin").hits}
    assert {h.title for h in kb.search("title:gabapentin").hits} == {"Gabapentin for nerve pain"}
    assert {h.title for h in kb.search("category:brands").hits} == {"Lioresal brand notes"}


def test_snippet_marks_terms_and_escapes_everything_else(kb: KnowledgeBase) -> None:
    hit = kb.search("tizanidine label").hits[0]
    assert hit.heading == "Markup in text"
    assert "<script>" not in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html and "&amp;" in hit.snippet_html and "&quot;" in hit.snippet_html
    assert "<mark>tizanidine</mark>" in hit.snippet_html
    assert [s.text for s in hit.snippet if s.match] == ["label", "tizanidine"]


def test_heading_only_match_shows_first_sentence(kb: KnowledgeBase) -> None:
    hit = next(h for h in kb.search("packaging").hits if h.heading == "Lioresal packaging")
    assert hit.snippet_html.startswith("Lioresal is sold")


def test_faq_questions_are_searchable_sections(kb: KnowledgeBase) -> None:
    hit = kb.search("alcohol tizanidine").hits[0]
    assert hit.kind == "faq" and hit.heading == "Can I drink alcohol with tizanidine?"


def test_facets_count_matches_and_filters_narrow(kb: KnowledgeBase) -> None:
    result = kb.search("dizziness")
    cats = {f.value: f.count for f in result.facets.categories}
    assert cats == {"Muscle Relaxant": 1, "Pain Relief": 2}
    narrowed = kb.search("dizziness", categories=["Pain Relief"])
    assert narrowed.total == 2 and all("Pain Relief" in h.categories for h in narrowed.hits)
    assert kb.search("tizanidine", kinds=["faq"]).total == 2


def test_grouping_by_article_counts_the_rest(kb: KnowledgeBase) -> None:
    result = kb.search("baclofen", group="article")
    assert result.groups is not None
    first = result.groups[0]
    assert first.title == "Baclofen basics"
    assert len({g.article_id for g in result.groups}) == len(result.groups)
    assert first.more == 0 or len(first.hits) == 3


def test_pagination_is_consistent(kb: KnowledgeBase) -> None:
    whole = [h.deep_link for h in kb.search("baclofen tizanidine dizziness", per_page=50).hits]
    paged = [h.deep_link for p in (1, 2, 3) for h in kb.search("baclofen tizanidine dizziness",
                                                               page=p, per_page=2).hits]
    assert paged == whole[:len(paged)]


def test_suggestions_by_prefix(kb: KnowledgeBase) -> None:
    texts = [s.text for s in kb.suggest("gaba")]
    assert "Gabapentin for nerve pain" in texts
    assert kb.suggest("") == []


def test_related_combines_tags_and_similar_text(kb: KnowledgeBase) -> None:
    related = kb.related("baclofen")
    assert related and related[0].article_id == "lioresal" and related[0].reason == "tags"


@pytest.mark.parametrize("query", [
    '"unbalanced', "AND", "OR OR", "-", "*", "?", "title:", "category:", "((", "\x00\x01\x7f", "a" * 10_000,
    "baclofen " * 2000, "-baclofen", 'tag:"', "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ 🙂", "kind:faq", "ratio:1:2", "&<>\"'",
])
def test_hostile_queries_answer_without_raising(kb: KnowledgeBase, query: str) -> None:
    result = kb.search(query)
    assert result.total >= 0
    for hit in result.hits:
        assert "<" not in hit.snippet_html.replace("<mark>", "").replace("</mark>", "")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_is_a_valid_query(kb: KnowledgeBase, query: str) -> None:
    result = kb.search(query, page=1, per_page=5)
    for hit in result.hits:
        assert "<" not in hit.snippet_html.replace("<mark>", "").replace("</mark>", "")
