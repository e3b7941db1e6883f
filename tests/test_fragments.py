"""Text-fragment deep links checked against the page they were built from: a browser scrolls to the
first match, so that match must be the section's heading (the browser tests open them in Chromium)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup

from indexer.fragments import first_match, page_text
from indexer.parse import parse_article

URL = "https://site.example/guide/"
FILLER = "<p>Some text about the medicine that says nothing in particular.</p>"


def parse(body: str) -> dict[str, str]:
    html = f'<html><head><link rel="canonical" href="{URL}"><title>T</title></head><body>{body}</body></html>'
    article = parse_article(html, source="guide.html", fallback_url="about:blank")
    return {s.heading: s.deep_link for s in article.sections if s.kind != "lead"}


def directive(link: str) -> str:
    assert link.startswith(URL + "#:~:text="), link
    return link.split("#:~:text=", 1)[1]


def test_a_heading_that_is_the_first_mention_gets_a_bare_fragment() -> None:
    links = parse(f"<main><h1>Baclofen</h1><p>Lead.</p><h2>Dosage</h2>{FILLER}<h2>Storage</h2>{FILLER}</main>")
    assert directive(links["Dosage"]) == "Dosage" and directive(links["Storage"]) == "Storage"


def test_earlier_mentions_give_the_fragment_the_words_around_the_heading() -> None:
    body = f"""<nav><a href="/">Side effects</a></nav><main><h1>Baclofen side effects</h1>
    <p>Side effects are usually mild.</p><h2>Dosage</h2><p>Start low and go slow.</p>
    <h2>Side effects</h2><p>Drowsiness comes first.</p>{FILLER}</main>"""
    d = directive(parse(body)["Side effects"])
    assert d == "slow.-,Side%20effects"  # the end of the text just before the heading


def test_a_mention_inside_the_same_line_is_told_apart_by_what_follows() -> None:
    body = """<main><h1>Guide</h1><p>Read more</p><p>Read more about doses below.</p>
    <h2>Read more</h2><p>Here it is.</p></main>"""
    d = unquote(directive(parse(body)["Read more"]))
    prefix, _, rest = d.rpartition("-,")
    start, _, suffix = rest.partition(",-")
    page = BeautifulSoup(body, "lxml")
    text = page_text(page, [])
    at = first_match(text.folded, start.lower(), prefix.lower(), suffix.lower())
    assert at is not None and text.text[at:].startswith("Read more\nHere it is.")


def test_without_any_unique_context_the_link_goes_to_the_enclosing_id() -> None:
    # A printable copy repeats the heading with the same four words either side: no fragment can tell them apart.
    copy = "<p>one two three four</p><p>Notes</p><p>five six seven eight</p>"
    body = f"""<main><h1>Guide</h1><p>Lead text.</p><div class="print">{copy}</div>
    <div id="notes-part"><p>one two three four</p><h2>Notes</h2><p>five six seven eight</p></div></main>"""
    assert parse(body)["Notes"] == URL + "#notes-part"
    assert parse(body.replace(' id="notes-part"', ""))["Notes"] == URL  # no id around it: the page


def test_a_question_only_the_json_ld_holds_links_to_the_page() -> None:
    ld = ('<script type="application/ld+json">{"@type": "FAQPage", "mainEntity": [{"@type": "Question", '
          '"name": "Is it safe with alcohol?", "acceptedAnswer": {"@type": "Answer", "text": "No, avoid it."}}]}'
          "</script>")
    links = parse(f"<main><h1>Guide</h1>{FILLER}<h2>Frequently asked questions</h2>{FILLER}</main>{ld}")
    assert links["Is it safe with alcohol?"] == URL


def test_first_match_follows_the_text_fragment_rules() -> None:
    folded = "side effects of baclofen\nwhat to know\nside effects\nmild ones"
    assert first_match(folded, "side effects") == 0
    assert first_match(folded, "side effects", prefix="know") == folded.index("side effects\nmild")
    assert first_match(folded, "side effects", suffix="mild") == folded.index("side effects\nmild")
    assert first_match(folded, "effect") is None  # a match must end at a word's end
    assert first_match(folded, "ide effects") is None  # and start at a word's start
    assert first_match(folded, "side effects", prefix="nothing") is None


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "examples" / "articles").glob("*.html")),
                         ids=lambda p: p.stem)
def test_every_example_fragment_first_matches_its_heading(path: Path) -> None:
    html = path.read_bytes()
    article = parse_article(html, source=path.name, fallback_url=path.resolve().as_uri())
    text = page_text(BeautifulSoup(html, "lxml"), [])
    for s in article.sections:
        if "#:~:text=" not in s.deep_link:
            continue
        d = unquote(s.deep_link.split("#:~:text=", 1)[1])
        prefix, _, rest = d.rpartition("-,")
        start, _, suffix = rest.partition(",-")
        at = first_match(text.folded, start.lower(), prefix.lower(), suffix.lower())
        assert at is not None and text.text[at:at + len(start)].lower() == s.heading.lower(), s.heading
        before = text.folded.rfind("\n", 0, at)
        assert not text.folded[before + 1:at].strip() or prefix, s.heading  # the heading starts its line
