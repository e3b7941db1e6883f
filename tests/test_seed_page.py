"""The seed page from the issue, parsed for real: metadata, sections, FAQ, related, no boilerplate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.parse import parse_article
from kb.models import Article, RelatedLink

SEED_HTML = Path("/work/shared/articles/everything-you-need-to-know-about-baclofen.html")
SEED_TEXT = Path("/work/shared/seeds/000_707be3bd6e6d2ed7.txt")
TITLE = "Everything You Need to Know About Baclofen – Uses, Side Effects, Dosage, and More"
URL = "https://pharmacy.example/baclofen/everything-you-need-to-know-about-baclofen/"
H2S = {
    "Short general description of Baclofen",
    "Potential Side Effects and Risks of Muscle Relaxant Medications",
    "Long-term Implications of Baclofen Therapy on Patients’ Quality of Life and Overall Health",
    "Impact of Patient’s Age or Weight on Baclofen’s Effectiveness and Dosage Requirements",
    "Main Classes or Categories of Muscle Relaxant Drugs",
    "Combining Baclofen and other Medications like Gabapentin",
    "Frequently Asked Questions about Baclofen",
}
BOILERPLATE = (
    "Order Now", "$0,51", "Dosage: 10mg, 25mg", "Baclofen (Baclofen)", "Leave a Reply", "Recent Posts",
    "All rights reserved", "Skip to content", "Affordable medications online", "Posted on", "See also",
    "Muscle Relaxants", "Pain Relief", "About Us", "Contact", "Post Comment", "Privacy Policy", "Category:",
    "Tags:", "not a substitute for professional medical advice",
)  # fmt: skip
# Seed-text lines that are page furniture rather than article paragraphs.
LIST_MARK = re.compile(r"^(?:•|\d+\.)\s+")  # the plain-text rendering numbers and bullets list items
SEED_FURNITURE = re.compile(
    r"Baclofen \(Baclofen\)|Dosage: 10mg, 25mg|\$0,51 per pill|Order Now|See also\s|Category:|Tags:"
)


@pytest.fixture(scope="module")
def article() -> Article:
    if not SEED_HTML.exists():
        pytest.skip(f"seed page not available: {SEED_HTML} is absent on this machine")
    return parse_article(
        SEED_HTML.read_bytes(), source="baclofen/everything.html", fallback_url=SEED_HTML.as_uri()
    )


def test_metadata(article: Article) -> None:
    assert article.title == TITLE
    assert article.url == URL
    assert article.article_id == "baclofen/everything-you-need-to-know-about-baclofen"
    assert article.categories == ("Muscle Relaxant",)
    assert article.tags == ("Baclofen",)
    assert article.published == "2024-03-12T09:15:00+00:00"
    assert article.modified == "2024-05-02T16:40:00+00:00"
    assert article.lang == "en-US"
    assert article.description.startswith("Baclofen is a commonly prescribed muscle relaxant")


def test_all_h2_sections_and_their_h3_subsections(article: Article) -> None:
    non_lead = [s for s in article.sections if s.kind != "lead"]
    assert {s.breadcrumb[0] for s in non_lead} == H2S
    subsections = [s for s in non_lead if s.kind == "section" and len(s.breadcrumb) == 2]
    assert len(subsections) == 10
    assert subsections[0].breadcrumb == (
        "Potential Side Effects and Risks of Muscle Relaxant Medications",
        "Common Side Effects:",
    )
    assert all(s.heading == s.breadcrumb[-1] for s in non_lead)


def test_the_lead_is_absent_because_only_a_product_box_precedes_the_first_heading(article: Article) -> None:
    assert article.sections[0].kind == "section"
    assert article.sections[0].anchor == "short-general-description-of-baclofen"
    assert article.sections[0].deep_link == URL + "#short-general-description-of-baclofen"


def test_the_five_faq_pairs(article: Article) -> None:
    faqs = [s for s in article.sections if s.kind == "faq"]
    assert [s.heading for s in faqs] == [
        "How long does Baclofen take to work?",
        "Can Baclofen be taken with food?",
        "How often can Baclofen be taken?",
        "Can Baclofen be stopped abruptly?",
        "What should I do if I miss a dose of Baclofen?",
    ]
    assert all(s.breadcrumb == ("Frequently Asked Questions about Baclofen", s.heading) for s in faqs)
    assert faqs[1].text == (
        "Baclofen can be taken with or without food. However, taking it with food may help reduce the "
        "possibility of stomach upset."
    )
    assert faqs[0].deep_link == URL + "#:~:text=How%20long%20does%20Baclofen%20take%20to%20work%3F"


def test_see_also_targets_are_related_links(article: Article) -> None:
    assert article.related == (
        RelatedLink(
            "Exploring the Popularity of Baclofen as an Affordable Muscle Relaxant Option in the USA",
            "https://pharmacy.example/exploring-the-popularity-of-baclofen/",
        ),
        RelatedLink(
            "The Benefits and Uses of Robaxin as a Muscle Relaxant Medication",
            "https://pharmacy.example/the-benefits-and-uses-of-robaxin/",
        ),
        RelatedLink(
            "How Online Pharmacies Can Save You Money on Robaxin and Other Muscle Relaxers",
            "https://pharmacy.example/how-online-pharmacies-can-save-you-money-on-robaxin/",
        ),
    )


def test_not_one_word_of_boilerplate(article: Article) -> None:
    text = "\n".join(f"{s.heading}\n{s.text}" for s in article.sections)
    for phrase in BOILERPLATE:
        assert phrase not in text, phrase
    for title in ("Exploring the Popularity of Baclofen", "The Benefits and Uses of Robaxin"):
        assert title not in text  # post navigation and "See also" titles are not text


def test_every_paragraph_of_the_seed_text_is_in_the_sections(article: Article) -> None:
    if not SEED_TEXT.exists():
        pytest.skip(f"seed text not available: {SEED_TEXT} is absent on this machine")
    parsed = " ".join(" ".join(f"{s.heading}\n{s.text}" for s in article.sections).split())
    lines = [
        LIST_MARK.sub("", " ".join(line.split()))
        for line in SEED_TEXT.read_text(encoding="utf-8").splitlines()
    ]
    paragraphs = [line for line in lines[1:] if line and not SEED_FURNITURE.search(line)]
    assert len(paragraphs) > 80
    missing = [p for p in paragraphs if p not in parsed]
    assert missing == []
