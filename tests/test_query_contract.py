"""The query contract on a small site built here: title first, all words first, matched and
missing words, phrases that fall back, spelling that never rewrites a real word.

Every test searches a real index built by the real indexer from crafted pages, through
`KnowledgeBase.search` and the web app (the same data function behind both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from indexer.build import index_paths
from kb.config import Settings
from kb.ranking import Ranking
from kb.search import KnowledgeBase
from web import create_app

from support.htmlpages import page, write

PAGES = {
    "flu.html": ("Flu", {
        "What is flu": "Flu is a common viral infection of the nose, throat and lungs, caused by influenza viruses.",
        "Symptoms": "A sudden fever, an aching body, tiredness and a dry cough are the usual symptoms.",
    }),
    "bird-flu.html": ("Bird flu", {
        "About bird flu": "Bird flu is a flu of birds. Bird flu rarely spreads to people; bird flu outbreaks "
                          "are flu outbreaks in poultry farms, and the flu virus of birds differs from human flu.",
    }),
    "baclofen.html": ("Baclofen for spasticity", {
        "How baclofen works": "Baclofen is a muscle relaxant that eases spasticity. Baclofen acts on the spinal cord.",
        "Side effects": "Drowsiness and dizziness are common side effects of baclofen and can cause falls, "
                        "mostly in the first weeks.",
        "Stopping baclofen": "Stopping suddenly can cause withdrawal symptoms: lower the dose slowly.",
        "Leave a reply": "Comments are moderated; we rely on readers to stay on topic.",
    }),
    "spinal.html": ("Spinal cord injury", {
        "Medicines": "Several medicines help with the stiffness that follows an injury.",
        "Baclofen": "Baclofen is one of the medicines used for muscle stiffness after a spinal cord injury.",
    }),
    "epilepsy.html": ("Epilepsy", {
        "What causes epilepsy": "Epilepsy can follow a head injury or a stroke; often no cause is found.",
    }),
    "jme.html": ("Juvenile myoclonic epilepsy", {
        "Overview": "Juvenile myoclonic epilepsy is an epilepsy that starts in the teenage years. Epilepsy of this "
                    "kind causes jerks; epilepsy drugs control it. Epilepsy causes vary.",
    }),
    "spasticity.html": ("Spasticity", {
        "Spasticity explained": "Spasticity is stiffness: spasticity after a stroke, spasticity in multiple "
                                "sclerosis and spasticity after an injury are treated alike.",
    }),
    "stroke.html": ("Stroke", {
        "After a stroke": "After a stroke, stiffness and weakness are common; physiotherapy helps, and the "
                          "stiffness eases with stretching, stiffness exercises and time.",
    }),
    "rehab.html": ("Rehabilitation", {
        "Drugs in rehabilitation": "Rehabilitation teams review every drug a patient takes, from pain relief to "
                                   "sleep aids; after a stroke some patients are offered baclofen, and the team "
                                   "watches how well the patient copes with exercise, walking and daily tasks.",
    }),
    "additives.html": ("Food additives", {
        "Additive numbers": "Every additive has an E number; a food additive must be declared on the label.",
    }),
}


@pytest.fixture(scope="module")
def site_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crafted site, indexed by the real indexer."""
    root = tmp_path_factory.mktemp("contract")
    for name, (title, sections) in PAGES.items():
        write(root / "pages", name, page(title, sections, canonical=f"https://example.org/{name[:-5]}/"))
    index_paths([root / "pages"], Settings(index_dir=root / "index", parse_workers=1))
    return root / "index"


@pytest.fixture(scope="module")
def kb(site_index: Path) -> KnowledgeBase:
    return KnowledgeBase.open(site_index)


@pytest.fixture(scope="module")
def client(site_index: Path) -> Iterator[FlaskClient]:
    with create_app(Settings(index_dir=site_index)).test_client() as c:
        yield c


@pytest.mark.parametrize(("query", "title"), [
    ("flu", "Flu"), ("What is Flu?", "Flu"), ("baclofen", "Baclofen for spasticity"),
    ("What causes Epilepsy?", "Epilepsy"),
])
def test_the_article_titled_with_the_query_comes_first(kb: KnowledgeBase, query: str, title: str) -> None:
    assert kb.search(query).hits[0].title == title


def test_missing_terms_name_the_words_a_section_lacks(kb: KnowledgeBase) -> None:
    res = kb.search("baclofen tinnitus", per_page=50)
    assert res.hits and res.complete == 0 and res.rule == "all-words"
    for hit in res.hits:
        assert hit.matched_terms == ("baclofen",) and hit.missing_terms == ("tinnitus",)


def test_matched_terms_and_marks_leave_question_words_out(kb: KnowledgeBase) -> None:
    hit = kb.search("what can cause the side effects of baclofen").hits[0]
    assert hit.heading == "Side effects"
    assert hit.matched_terms == ("cause", "side", "effects", "baclofen") and hit.missing_terms == ()
    marked = {s.text.lower() for s in hit.snippet if s.match}
    assert "side" in marked and "can" not in marked  # the body says "can cause": "can" is not marked


def test_a_short_query_ranks_every_section_with_all_words_first(kb: KnowledgeBase, site_index: Path) -> None:
    res = kb.search("stroke baclofen", per_page=50)
    assert res.rule == "all-words" and res.complete == 1
    complete = [not h.missing_terms for h in res.hits]
    assert complete[0] and complete == sorted(complete, reverse=True)  # no complete hit after an incomplete one
    assert res.total > res.complete  # the others still count and show
    # the site makes the rule matter: by score alone, "After a stroke" (titled, headed, repeated) wins
    loose = KnowledgeBase.open(site_index, ranking=Ranking(all_words_max=0)).search("stroke baclofen")
    assert loose.hits[0].missing_terms and loose.rule == "any-words"


def test_a_long_question_keeps_soft_matching(kb: KnowledgeBase) -> None:
    res = kb.search("muscle relaxant for spasticity and stiffness after an injury of the spinal cord")
    assert res.rule == "any-words" and res.total > (res.complete or 0)


def test_a_quoted_phrase_nobody_wrote_falls_back_to_its_words(kb: KnowledgeBase) -> None:
    res = kb.search('"baclofen spinal stiffness"')
    assert res.total > 0
    assert any("quoted phrase" in n for n in res.notices)
    found = kb.search('"side effects"')  # a phrase that exists stays required, without a notice
    assert found.total and not found.notices and all(h.heading == "Side effects" for h in found.hits)


def test_a_quoted_phrase_in_a_long_question_ranks_first_without_filtering(kb: KnowledgeBase) -> None:
    res = kb.search('which "side effects" come from stopping baclofen suddenly after long use', per_page=50)
    assert res.hits[0].heading == "Side effects"
    assert any(h.heading == "Stopping baclofen" for h in res.hits)  # not a filter: the rest still answer
    short = kb.search('"side effects" baclofen', per_page=50)  # a keyword query: the phrase is required
    assert {h.heading for h in short.hits} == {"Side effects"}


@pytest.mark.parametrize("word", ["addictive", "reply", "withdrawal"])
def test_real_words_are_never_rewritten(kb: KnowledgeBase, word: str) -> None:
    res = kb.search(f"is baclofen {word}")
    assert res.corrected_query is None
    assert word in (*res.hits[0].matched_terms, *res.hits[0].missing_terms)


def test_a_real_word_the_index_lacks_gets_a_suggestion(kb: KnowledgeBase) -> None:
    res = kb.search("addictive")
    assert res.total == 0 and res.corrected_query is None and res.suggestion == "additive"


@pytest.mark.parametrize(("typo", "fixed"), [("baclofn", "baclofen"), ("dizzyness", "dizziness")])
def test_non_words_are_still_corrected(kb: KnowledgeBase, typo: str, fixed: str) -> None:
    res = kb.search(f"{typo} side effects")
    assert res.corrected_query == f"{fixed} side effects" and res.total > 0


def test_the_json_carries_the_rule_the_counts_and_each_hits_words(client: FlaskClient) -> None:
    data = client.get("/api/search?q=baclofen+tinnitus").get_json()
    assert data["rule"] == "all-words" and data["complete"] == 0 and data["total"] > 0
    assert {tuple(h["missing_terms"]) for h in data["hits"]} == {("tinnitus",)}
    assert client.get("/api/search?q=addictive").get_json()["suggestion"] == "additive"


def test_the_page_says_what_is_missing_and_what_was_searched(client: FlaskClient) -> None:
    html = client.get("/search?q=baclofen+tinnitus").get_data(as_text=True)
    assert "Missing: <s>tinnitus</s>" in html
    html = client.get("/search?q=addictive").get_data(as_text=True)
    assert "Did you mean" in html and "additive" in html
    html = client.get("/search?q=baclofn").get_data(as_text=True)
    assert '<q class="query">baclofen</q>' in html  # the heading names what was searched
    html = client.get("/search?q=%22baclofen+spinal+stiffness%22").get_data(as_text=True)
    assert "quoted phrase" in html
