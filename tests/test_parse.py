"""Parser tests: inline HTML in, `Article` / `Section` dataclasses out."""

from __future__ import annotations

import time

import pytest
import soupsieve
from bs4 import BeautifulSoup, Tag

from indexer.clean import RELATED_RULES, REMOVE_RULES
from indexer.parse import decode_html, parse_article
from indexer.selectors import SelectorSet
from kb.config import Settings
from kb.errors import BadInput, ConfigError
from kb.models import Article, RelatedLink, Section

URL = "https://site.example/guide/page/"
FILE_URL = "file:///site/guide/page.html"


def parse(html: str | bytes, *, source: str = "guide/page.html", settings: Settings | None = None) -> Article:
    return parse_article(html, source=source, fallback_url=FILE_URL, settings=settings)


def doc(body: str, head: str = "", *, lang: str = "en") -> str:
    return f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


def canonical(url: str = URL) -> str:
    return f'<link rel="canonical" href="{url}">'


def texts(article: Article) -> str:
    return "\n".join(s.text for s in article.sections)


def frag(heading: str, url: str = URL) -> str:
    return f"{url}#:~:text={heading}"


# -- identity, title, URL ----------------------------------------------------------------


def test_article_id_is_the_canonical_path_lowercased_without_slashes() -> None:
    a = parse(doc("<p>Text</p>", canonical("https://x.example/Baclofen/Everything-About-Baclofen/")))
    assert a.article_id == "baclofen/everything-about-baclofen"
    assert a.url == "https://x.example/Baclofen/Everything-About-Baclofen/"


def test_article_id_falls_back_to_og_url_then_to_the_source_without_extension() -> None:
    og = '<meta property="og:url" content="https://x.example/from-og/">'
    assert parse(doc("<p>Text</p>", og)).article_id == "from-og"
    a = parse(doc("<p>Text</p>"), source="baclofen/Guide.HTML")
    assert (a.article_id, a.url) == ("baclofen/guide", "")  # a file: fallback is no site URL


def test_article_id_is_the_host_when_the_canonical_path_is_empty() -> None:
    assert parse(doc("<p>Text</p>", canonical("https://x.example/"))).article_id == "x.example"


def test_article_id_is_slugified_and_never_climbs_out_of_the_root() -> None:
    a = parse(doc("<p>Text</p>", canonical("https://x.example/a/../b c/%C3%A9t%C3%A9/")))
    assert a.article_id == "a/b-c/ete"
    b = parse(doc("<p>Text</p>"), source="../../etc/Pass Wd.htm")
    assert b.article_id == "etc/pass-wd"
    assert not b.article_id.startswith("/") and ".." not in b.article_id.split("/")


def test_title_prefers_the_articles_h1_over_og_title_and_the_title_tag() -> None:
    head = '<title>Tag title | Site</title><meta property="og:title" content="OG title">'
    a = parse(doc("<article><header><h1>Page <em>heading</em></h1></header><p>Text</p></article>", head))
    assert a.title == "Page heading"
    assert parse(doc("<article><p>Text</p></article>", head)).title == "OG title"


def test_title_falls_back_to_json_ld_headline_then_title_tag_without_site_suffix() -> None:
    ld = '<script type="application/ld+json">{"@type": "Article", "headline": "LD headline"}</script>'
    assert parse(doc("<p>Text</p>", "<title>T | Site</title>" + ld)).title == "LD headline"
    site = '<meta property="og:site_name" content="Pharmacy Example">'
    assert parse(doc("<p>Text</p>", "<title>Dosage – Pharmacy Example</title>" + site)).title == "Dosage"
    assert parse(doc("<p>Text</p>", "<title>Dosage | Anything</title>")).title == "Dosage"
    # A dash is only a separator when what follows is the site name.
    assert (
        parse(doc("<p>Text</p>", "<title>Long-term use - a guide</title>")).title == "Long-term use - a guide"
    )


def test_site_banner_h1_is_not_the_title() -> None:
    body = '<header class="site-header"><h1>Site Name</h1></header><main><p>Text</p></main>'
    assert parse(doc(body, "<title>Real title | Site Name</title>")).title == "Real title"


# -- metadata ------------------------------------------------------------------------------


def test_categories_and_tags_are_deduplicated_in_page_order() -> None:
    head = (
        '<meta property="article:section" content="Muscle Relaxant">'
        '<meta property="article:tag" content="Baclofen">'
        '<script type="application/ld+json">{"@type": "BlogPosting", "articleSection": ["Muscle relaxant", "Pain"],'
        ' "keywords": "baclofen, Spasticity"}</script>'
    )
    body = (
        "<article><p>Text</p><footer>"
        '<a href="/c/mr/" rel="category tag">Muscle Relaxant</a> <a href="/c/ms/" rel="category">MS</a>'
        '<a href="/t/b/" rel="tag">Baclofen</a> <a href="/t/b2/" rel="tag">Baclofen</a> <a href="/t/d/" rel="tag">Dosage</a>'
        "</footer></article>"
        '<aside><a href="/t/other/" rel="tag">Sidebar tag</a></aside>'
    )
    a = parse(doc(body, head))
    assert a.categories == ("Muscle Relaxant", "Pain", "MS")
    assert a.tags == ("Baclofen", "Spasticity", "Dosage")


def test_json_ld_keywords_may_be_a_list() -> None:
    ld = '<script type="application/ld+json">{"@type": "Article", "keywords": ["A", "b", "a"]}</script>'
    assert parse(doc("<p>Text</p>", ld)).tags == ("A", "b")


def test_dates_come_from_meta_then_time_elements_then_json_ld_graph() -> None:
    meta = '<meta property="article:published_time" content="2024-03-12T09:15:00+00:00">'
    times = (
        '<article><time class="entry-date published" datetime="2024-01-01T00:00:00Z">Jan 1</time>'
        '<time class="updated" datetime="2024-05-02T16:40:00+00:00">May 2</time><p>Text</p></article>'
    )
    a = parse(doc(times, meta))
    assert (a.published, a.modified) == ("2024-03-12T09:15:00+00:00", "2024-05-02T16:40:00+00:00")
    graph = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "WebSite", "name": "S"},'
        '{"@type": ["Article"], "datePublished": "2023-01-02", "dateModified": "2023-02-03T04:05:06+01:00"}]}'
        "</script>"
    )
    b = parse(doc("<p>Text</p>", graph))
    assert (b.published, b.modified) == ("2023-01-02", "2023-02-03T04:05:06+01:00")


def test_dates_that_are_not_iso_8601_are_ignored() -> None:
    a = parse(doc('<article><time class="published" datetime="March 12, 2024">x</time><p>Text</p></article>'))
    assert a.published is None


def test_description_and_language() -> None:
    head = '<meta name="description" content="  The   summary. ">'
    a = parse(doc("<p>Text</p>", head, lang="en-GB"))
    assert (a.description, a.lang) == ("The summary.", "en-GB")
    og = '<meta property="og:description" content="From OG">'
    assert parse(doc("<p>Text</p>", og)).description == "From OG"


# -- content container and cleaning ----------------------------------------------------------


BOILERPLATE_PAGE = doc(
    """
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<div id="cookie-notice" class="cookie-notice">We use cookies</div>
<header class="site-header"><p>Site tagline</p><nav><a href="/">Home menu</a></nav></header>
<nav class="breadcrumbs"><a href="/">Crumb home</a></nav>
<main><article>
<header class="entry-header"><h1>Title</h1><div class="entry-meta">Posted on <time>May 1</time> by <span class="author">Ed</span></div></header>
<div class="entry-content">
<div id="ez-toc-container"><p>Contents</p><ul><li><a href="#a">TOC entry</a></li></ul></div>
<div class="product-box"><p>Pill (Pill)</p><p class="price">$0,51 per pill</p><a class="button" href="/buy">Order Now</a></div>
<p>Kept paragraph.</p>
<div class="sharedaddy"><h3>Share this</h3><a href="#">Facebook</a></div>
<div class="newsletter-signup"><p>Subscribe to our newsletter</p></div>
<div hidden>Hidden text</div><span aria-hidden="true">Icon text</span>
<noscript>Enable JS</noscript><svg><text>SVG text</text></svg><button>Click</button>
<template><p>Template text</p></template><form><label>Form label</label></form>
<iframe src="/ad"></iframe>
<div class="author-box"><p>About the author</p></div>
</div>
<footer class="entry-footer">Tagged Footer</footer>
</article>
<nav class="navigation post-navigation"><a href="/prev" rel="prev">Previous post title</a></nav>
<div id="comments" class="comments-area"><h3>Leave a Reply</h3></div>
</main>
<aside class="widget-area"><h2>Recent Posts</h2></aside>
<footer class="site-footer">All rights reserved</footer>
"""
)


def test_boilerplate_is_removed_and_only_article_text_is_kept() -> None:
    a = parse(BOILERPLATE_PAGE)
    assert a.sections == (Section("lead", "Title", (), "lead", "Kept paragraph.", ""),)


@pytest.mark.parametrize("name", ["commentArea", "commentarea", "comment-list"])
def test_a_comment_area_bigger_than_the_article_is_never_taken_for_it(name: str) -> None:
    """Readers' comments named like `commentArea` are page chrome, however much text they hold;
    `commentary`, an article genre, is not."""
    comments = "".join(f"<div class='c'><p>Reader {i} says the price of pills went up again this year "
                       f"and that nobody at the pharmacy could explain why.</p></div>" for i in range(30))
    page = doc(f"<article class='text_post'><h1>Kenyans pay rent by phone</h1><p>Mobile money lets Kenyans "
               f"pay rent, buy groceries and settle school fees from a basic phone.</p>"
               f"<p>Agents in every village turn cash into credit and back.</p></article>"
               f"<article class='{name}'><h3>Comments</h3>{comments}</article>")
    a = parse(page)
    assert "Mobile money lets Kenyans" in texts(a) and "Reader" not in texts(a)
    commentary = parse(doc("<div class='commentary'><h1>Our view</h1><p>Rent by phone is a quiet revolution "
                           "in how Kenyans manage money every month.</p></div>"))
    assert "quiet revolution" in texts(commentary)


def test_site_owner_selectors_are_removed_too() -> None:
    page = doc(
        "<main><p>Keep me.</p><p class='promo'>Promo</p><div id='x'><p>Deep <b>bold</b></p></div></main>"
    )
    settings = Settings(remove_selectors=(".promo", "#x > p b"))
    assert texts(parse(page, settings=settings)) == "Keep me.\nDeep"


def test_an_invalid_site_owner_selector_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid CSS selector"):
        parse(doc("<p>x</p>"), settings=Settings(remove_selectors=("p[",)))


def test_the_most_specific_container_wins_and_sidebar_candidates_are_ignored() -> None:
    body = (
        '<aside><div class="entry-content"><p>Sidebar excerpt with a lot of words in it, longer than the article.'
        " Sidebar excerpt with a lot of words in it, longer than the article.</p></div></aside>"
        "<main><article><p>Article intro outside the content div.</p>"
        '<div class="entry-content"><p>Body text.</p></div></article></main>'
    )
    assert texts(parse(doc(body))) == "Body text."


def test_text_density_finds_the_article_without_semantic_containers() -> None:
    para = "<p>This paragraph is long enough to count as real article text in the density fallback.</p>"
    body = (
        '<div id="top"><a href="/">Home</a> <a href="/a">About</a></div>'
        f'<div id="wrap"><div id="text"><h2>Heading</h2>{para * 3}</div>'
        '<div id="side"><p>Short side note.</p></div></div>'
    )
    a = parse(doc(body))
    assert [s.heading for s in a.sections] == ["Heading"]
    assert "Home" not in texts(a) and "side note" not in texts(a)


def test_a_sections_own_header_with_a_content_heading_is_kept() -> None:
    body = "<article><h1>T</h1><section><header><h2>Dosage</h2><p>Subtitle</p></header><p>Body.</p></section></article>"
    a = parse(doc(body))
    assert [(s.heading, s.text) for s in a.sections] == [("Dosage", "Subtitle\nBody.")]


def test_lists_tables_blockquotes_and_pre_become_lines() -> None:
    body = """<main>
    <ul><li>One <b>bold</b></li><li>Two<ul><li>Two-a</li></ul></li></ul>
    <table><thead><tr><th>Drug</th><th>Dose</th></tr></thead>
    <tbody><tr><td>Baclofen</td><td><p>5 mg</p><p>tid</p></td></tr><tr><td></td><td>only</td></tr></tbody></table>
    <blockquote><p>Quoted words.</p><footer>— Mayo Clinic</footer></blockquote>
    <pre>line 1
  line 2</pre>
    <p>a<br>b</p>
    </main>"""
    assert texts(parse(doc(body))).split("\n") == [
        "One bold", "Two", "Two-a", "Drug | Dose", "Baclofen | 5 mg tid", "only",
        "Quoted words.", "— Mayo Clinic", "line 1", "line 2", "a", "b",
    ]  # fmt: skip


def test_entities_are_decoded_and_whitespace_normalised() -> None:
    body = "<main><p>Fish&nbsp;&amp;\n\t chips &ndash; &#8220;good&#8221;&hellip;\u200b</p></main>"
    assert texts(parse(doc(body))) == "Fish & chips – “good”…"


def test_script_style_and_event_handlers_never_become_text() -> None:
    body = (
        "<main><p onclick=\"alert('x')\">Visible<script>document.write('evil')</script></p>"
        "<style>p { color: red }</style><p>After</p></main>"
    )
    assert texts(parse(doc(body))) == "Visible\nAfter"


# -- sections ----------------------------------------------------------------------------------


SECTIONED = doc(
    """<article><h1>Guide</h1><p>Intro text.</p>
<h2 id="uses">Uses</h2><p>Uses text.</p>
<h3>Common Side Effects:</h3><ul><li>Drowsiness</li></ul>
<h2>Empty parent</h2>
<h3>Child A</h3><p>A text.</p>
<h4>Grandchild</h4><p>G text.</p>
<h3>Child B</h3><p>B text.</p>
<h5>Small heading</h5><p>Small text.</p>
</article>""",
    canonical(),
)


def test_sections_follow_h2_to_h4_with_breadcrumbs_and_the_lead_first() -> None:
    assert parse(SECTIONED).sections == (
        Section("lead", "Guide", (), "lead", "Intro text.", URL),
        Section("uses", "Uses", ("Uses",), "section", "Uses text.", URL + "#uses"),
        Section("common-side-effects", "Common Side Effects:", ("Uses", "Common Side Effects:"), "section",
                "Drowsiness", frag("Common%20Side%20Effects%3A")),
        Section("child-a", "Child A", ("Empty parent", "Child A"), "section", "A text.", frag("Child%20A")),
        Section("grandchild", "Grandchild", ("Empty parent", "Child A", "Grandchild"), "section", "G text.",
                frag("Grandchild")),
        Section("child-b", "Child B", ("Empty parent", "Child B"), "section", "B text.\nSmall heading\nSmall text.",
                frag("Child%20B")),
    )  # fmt: skip


def test_split_levels_come_from_settings() -> None:
    a = parse(SECTIONED, settings=Settings(split_levels=(2,)))
    assert [s.heading for s in a.sections] == ["Guide", "Uses", "Empty parent"]
    assert a.sections[1].text == "Uses text.\nCommon Side Effects:\nDrowsiness"


def test_no_lead_when_the_page_starts_with_a_heading() -> None:
    a = parse(doc("<main><h2>First</h2><p>Text.</p></main>"))
    assert [s.kind for s in a.sections] == ["section"]


def test_text_before_the_title_inside_the_container_is_not_lead() -> None:
    a = parse(doc('<main><p class="kicker-x">Nerve Pain</p><h1>Title</h1><p>Real lead.</p></main>'))
    assert a.sections[0].text == "Real lead."


# -- anchors and deep links ----------------------------------------------------------------------


def test_enclosing_section_id_or_inner_anchor_give_deep_links() -> None:
    body = """<main>
    <section id="dosage"><h2>Dosage</h2><p>D.</p><h3>Kids</h3><p>K.</p></section>
    <h2><a id="warn"></a>Warnings</h2><p>W.</p>
    <h2><span class="ez-toc-section" id="Side_Effects"></span>Side Effects</h2><p>S.</p>
    <a name="old"></a><h2>Old style</h2><p>O.</p>
    </main>"""
    a = parse(doc(body, canonical()))
    assert [(s.anchor, s.deep_link) for s in a.sections] == [
        ("dosage", URL + "#dosage"),
        ("kids", frag("Kids")),
        ("warn", URL + "#warn"),
        ("Side_Effects", URL + "#Side_Effects"),
        ("old", URL + "#old"),
    ]


def test_generated_anchors_are_unique_and_never_collide_with_page_ids() -> None:
    body = """<main><p id="dose">x</p>
    <h2>Dose</h2><p>1</p><h2>Dose</h2><p>2</p><h2 id="dose-2">Real</h2><p>3</p><h2>Dose</h2><p>4</p>
    <h2>Lead</h2><p>5</p></main>"""
    a = parse(doc(body))
    assert [s.anchor for s in a.sections] == ["lead", "dose-3", "dose-4", "dose-2", "dose-5", "lead-2"]


def test_text_fragments_percent_encode_dash_comma_and_ampersand() -> None:
    a = parse(doc("<main><h2>Long-term use, risks & benefits</h2><p>x</p></main>", canonical()))
    assert a.sections[0].deep_link == frag("Long%2Dterm%20use%2C%20risks%20%26%20benefits")
    assert a.sections[0].anchor == "long-term-use-risks-benefits"


# -- FAQ -------------------------------------------------------------------------------------------


def test_alternating_question_and_answer_list_gives_faq_sections() -> None:
    body = """<main><h2>Frequently Asked Questions about X</h2>
    <ol class="faq"><li><strong>How long does X take?</strong></li><li>A few days.</li>
    <li><strong>Can X be taken with food?</strong></li><li>Yes.</li></ol>
    <p>More sources:</p></main>"""
    a = parse(doc(body, canonical()))
    faq = "Frequently Asked Questions about X"
    assert a.sections == (
        Section("frequently-asked-questions-about-x", faq, (faq,), "section", "More sources:",
                frag("Frequently%20Asked%20Questions%20about%20X")),
        Section("how-long-does-x-take", "How long does X take?", (faq, "How long does X take?"), "faq",
                "A few days.", frag("How%20long%20does%20X%20take%3F")),
        Section("can-x-be-taken-with-food", "Can X be taken with food?", (faq, "Can X be taken with food?"),
                "faq", "Yes.", frag("Can%20X%20be%20taken%20with%20food%3F")),
    )  # fmt: skip


def test_sub_headings_of_an_faq_section_are_questions_and_an_empty_faq_heading_is_dropped() -> None:
    body = "<main><h2>FAQ</h2><h3>Is it safe?</h3><p>Mostly.</p><h3>Dose?</h3><p>5 mg.</p><h2>Next</h2><p>n</p></main>"
    a = parse(doc(body))
    assert [(s.kind, s.breadcrumb, s.text) for s in a.sections] == [
        ("faq", ("FAQ", "Is it safe?"), "Mostly."),
        ("faq", ("FAQ", "Dose?"), "5 mg."),
        ("section", ("Next",), "n"),
    ]


def test_bold_questions_in_an_faq_section_open_faq_entries() -> None:
    body = """<main><h2>Common questions</h2>
    <p><strong>Can I drive?</strong></p><p>Not at first.</p><p>Ask your doctor.</p>
    <p><b>Is it addictive?</b> It can be.</p>
    <p>Q: Does it expire?</p><p>A: Yes, after two years.</p></main>"""
    a = parse(doc(body))
    assert [(s.kind, s.breadcrumb, s.text) for s in a.sections] == [
        ("faq", ("Common questions", "Can I drive?"), "Not at first.\nAsk your doctor."),
        ("faq", ("Common questions", "Is it addictive?"), "It can be."),
        ("faq", ("Common questions", "Does it expire?"), "Yes, after two years."),
    ]


def test_details_and_definition_lists_give_faq_entries() -> None:
    body = """<main><h2>Dosing</h2><p>Intro.</p>
    <details id="q1"><summary>Can I split the tablet?</summary><p>Yes, along the score.</p></details>
    <dl><dt>What if I miss a dose?</dt><dd>Take it when you remember.</dd></dl>
    <dl><dt>Term</dt><dd>Definition.</dd></dl></main>"""
    a = parse(doc(body, canonical()))
    assert [(s.kind, s.anchor, s.breadcrumb, s.text) for s in a.sections] == [
        ("section", "dosing", ("Dosing",), "Intro.\nTerm\nDefinition."),
        ("faq", "q1", ("Dosing", "Can I split the tablet?"), "Yes, along the score."),
        ("faq", "what-if-i-miss-a-dose", ("Dosing", "What if I miss a dose?"), "Take it when you remember."),
    ]
    assert a.sections[1].deep_link == URL + "#q1"


FAQ_LD = """<script type="application/ld+json">{"@context": "https://schema.org", "@type": "FAQPage",
"mainEntity": [
 {"@type": "Question", "name": "Is it safe?", "acceptedAnswer": {"@type": "Answer", "text": "<p>Mostly.</p><p>Ask.</p>"}},
 {"@type": "Question", "name": "Only in JSON-LD?", "acceptedAnswer": {"@type": "Answer", "text": "Yes &amp; no."}}
]}</script>"""


def test_faq_json_ld_fills_in_questions_the_html_does_not_show_without_duplicates() -> None:
    a = parse(doc("<main><h2>FAQ</h2><h3>Is it safe?</h3><p>Mostly.</p></main>", FAQ_LD))
    assert [(s.kind, s.heading, s.breadcrumb, s.text) for s in a.sections] == [
        ("faq", "Is it safe?", ("FAQ", "Is it safe?"), "Mostly."),
        ("faq", "Only in JSON-LD?", ("FAQ", "Only in JSON-LD?"), "Yes & no."),
    ]


def test_faq_json_ld_on_a_page_without_html_faq_and_marks_matching_sections() -> None:
    a = parse(doc("<main><p>Lead.</p><h2>Is it safe?</h2><p>Mostly.</p></main>", FAQ_LD))
    assert [(s.kind, s.heading, s.breadcrumb, s.text) for s in a.sections] == [
        ("lead", a.title, (), "Lead."),
        ("faq", "Is it safe?", ("Is it safe?",), "Mostly."),
        ("faq", "Only in JSON-LD?", ("Only in JSON-LD?",), "Yes & no."),
    ]


# -- related links -----------------------------------------------------------------------------------


def test_see_also_boxes_become_related_links_and_leave_the_text() -> None:
    body = """<main><p>Before.</p>
    <div class="see-also"><span class="see-also__label">See also</span>&nbsp; <a href="/one/">First article</a></div>
    <p><strong>Read also:</strong> <a href="https://x.example/two/">Second article</a></p>
    <p>Middle.</p>
    <h3>Related posts</h3><ul><li><a href="/three/">Third</a></li><li><a href="/one/">First again</a></li></ul>
    <div class="jp-relatedposts"><a href="/four/">Fourth</a></div>
    <p>See also the <a href="/doc/">package leaflet</a> for all details of dosing in children and adults.</p>
    </main>"""
    a = parse(doc(body, canonical("https://x.example/guide/")))
    assert a.related == (
        RelatedLink("First article", "https://x.example/one/"),
        RelatedLink("Second article", "https://x.example/two/"),
        RelatedLink("Third", "https://x.example/three/"),
        RelatedLink("Fourth", "https://x.example/four/"),
    )
    assert texts(a) == (
        "Before.\nMiddle.\nSee also the package leaflet for all details of dosing in children and adults."
    )


# -- encodings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "<p>café</p>"),
        ("<p>café</p>".encode("utf-16"), "<p>café</p>"),
        (
            b'<meta charset="windows-1252"><p>caf\xe9 \x93q\x94</p>',
            '<meta charset="windows-1252"><p>café “q”</p>',
        ),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>\xe9</p>',
            '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>é</p>',
        ),
        (b'<meta charset="koi8-r"><p>\xf0\xd2\xc9\xd7\xc5\xd4</p>', '<meta charset="koi8-r"><p>Привет</p>'),
        (b"<p>caf\xc3\xa9</p>", "<p>café</p>"),
        (b"<p>caf\xe9</p>", "<p>café</p>"),
    ],
)
def test_decode_html_honours_bom_and_declared_charsets(data: bytes, expected: str) -> None:
    assert decode_html(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b'<meta charset="base64"><p>x\xff</p>',
        b'<meta charset="utf-7"><p>+ADw-script</p>',
        b'<meta charset="no-such-codec"><p>\x81\x8d</p>',
        b'<meta charset="shift_jis"><p>\x82\xa0\xff\xff</p>',
        b"\xff\xfe\x00",
        b"",
    ],
)
def test_decode_html_never_raises(data: bytes) -> None:
    assert isinstance(decode_html(data), str)


def test_mostly_utf8_with_a_stray_byte_stays_utf8() -> None:
    assert decode_html("<p>café – naïve</p>".encode() + b"\x92") == "<p>café – naïve</p>\ufffd"


def test_legacy_encoded_bytes_parse_to_correct_text() -> None:
    a = parse(
        b'<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body><p>\x93Caf\xe9\x94</p></body></html>'
    )
    assert (a.title, texts(a)) == ("Café", "“Café”")


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        ("   \n\t", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("".join(chr(i % 9) for i in range(2000)), "binary"),
        ("Just plain text, no markup at all.", "not HTML"),
        ('{"json": true}', "not HTML"),
        (doc("<nav><a href='/'>Home</a></nav><script>var x = 1;</script>"), "no article text"),
    ],
)
def test_bad_input_raises_with_a_reason(data: bytes | str, reason: str) -> None:
    with pytest.raises(BadInput, match=reason):
        parse(data)


def test_oversized_input_is_bad_input() -> None:
    with pytest.raises(BadInput, match="too large"):
        parse(doc("<p>" + "x" * 2000 + "</p>").encode(), settings=Settings(max_file_bytes=1000))


# -- robustness -----------------------------------------------------------------------------------------


def test_ten_thousand_deep_nesting_neither_recurses_nor_hangs() -> None:
    html = "<div>" * 10_000 + "text" + "</div>" * 10_000
    started = time.perf_counter()
    try:
        a = parse(html)
    except BadInput:
        pass
    else:
        assert texts(a) == "text"
    assert time.perf_counter() - started < 10


def test_deep_nesting_inside_headings_and_lists_is_walked_iteratively() -> None:
    deep = "<span>" * 5_000 + "deep heading" + "</span>" * 5_000
    html = doc(
        f"<main><h2>{deep}</h2><ul>{'<li><ul>' * 3_000}<li>leaf</li>{'</ul></li>' * 3_000}</ul></main>"
    )
    a = parse(html)
    assert a.sections[0].heading == "deep heading" and a.sections[0].text.endswith("leaf")


def test_ten_thousand_headings_parse_in_reasonable_time_with_unique_anchors() -> None:
    html = doc("<article>" + "<h2>Same</h2><p>text</p>" * 10_000 + "</article>")
    started = time.perf_counter()
    a = parse(html)
    assert time.perf_counter() - started < 15
    assert len(a.sections) == 10_000
    assert len({s.anchor for s in a.sections}) == 10_000


def test_hostile_json_ld_is_ignored() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "Article", "headline": </script>'
        '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>"
        '<script type="application/ld+json">{"@type": 5, "keywords": {"x": 1}, "datePublished": ["x"]}</script>'
    )
    a = parse(doc("<p>Text</p>", head))
    assert (a.tags, a.published, texts(a)) == ((), None, "Text")


# -- the fast selector index agrees with soupsieve ------------------------------------------------------

SELECTOR_PAGE = """<html><body>
<div class="entry-content toc"><p class="price x">1</p><p class="Product-Box__Price">2</p></div>
<nav class="toc"></nav><div id="toc_container"></div><div id="ez-toc-container" class="ez-toc-v2"></div>
<div class="cookie-notice" id="cookie-law-info-bar" aria-label="Cookie consent"></div>
<div aria-hidden="true" hidden style="display:none"></div><div aria-label="Breadcrumbs" class="rank-math-breadcrumb"></div>
<a rel="category tag" href="#">c</a><a rel="tag" href="#">t</a><a rel="prev" href="#">p</a><a class="button btn">b</a>
<section class="ad-slot ad"></section><ins class="adsbygoogle"></ins><div id="div-gpt-ad-1"></div>
<div class="jp-relatedposts see-also SeeAlso read-more"></div><div class="Article_byline__x Newsletter_box__y"></div>
<header class="entry-header"></header><footer></footer><aside></aside><div role="navigation"></div>
<div class="blog-item-meta-wrapper node__meta field--name-field-tags post-card-tags"></div>
</body></html>"""


@pytest.mark.parametrize("rule", [*REMOVE_RULES, *RELATED_RULES])
def test_fast_selector_matching_agrees_with_soupsieve(rule: str) -> None:
    soup = BeautifulSoup(SELECTOR_PAGE, "lxml")
    fast = SelectorSet([rule])  # validated by soupsieve, as a site owner's rule would be
    slow = soupsieve.compile(rule)
    for el in soup.find_all(True):
        assert isinstance(el, Tag)
        assert (fast.matches(el) or id(el) in fast.select(soup)) == slow.match(el), (rule, el.name, el.attrs)


def test_an_unmarked_time_in_the_article_is_the_last_resort_publication_date() -> None:
    body = '<article><div class="x"><time datetime="2024-04-09T12:00:00.000Z">April 9</time></div><p>Text</p></article>'
    assert parse(doc(body)).published == "2024-04-09T12:00:00.000Z"
    aside = '<article><p>Text</p></article><aside><time datetime="2020-01-01">old</time></aside>'
    assert parse(doc(aside)).published is None


def test_an_id_ending_in_related_is_kept_off_the_related_route() -> None:
    html = ('<html><head><title>T</title><link rel="canonical" href="https://site.example/news/related/"></head>'
            '<body><article><h1>T</h1><p>Some article text here.</p></article></body></html>')
    article = parse_article(html, source="x.html", fallback_url="https://site.example/x")
    assert article.article_id == "news/related-page"
