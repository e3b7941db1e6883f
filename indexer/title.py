"""Parse stage, title: which text on the page is the article's title.

Precedence: the `<h1>` of the article itself (inside its `<article>`/h-entry, or inside the
content container when it agrees with the page's own title); then `og:title`, then the
JSON-LD headline; then a heading or headline-classed element whose text the `<title>` repeats
(the `<title>` is usually "Headline - Site"); then an `<h1>` outside page chrome that agrees
with the `<title>`; then the `<title>` without its site part. A heading in page chrome, a
caption or a navigation label is never the title, and a page with any title text never gets
its file name as title.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bs4 import Tag

from indexer.clean import in_page_chrome
from indexer.element_text import element_text

_TITLE_SEPARATORS = (" | ", " – ", " — ", " - ", " -- ", " · ", " :: ", " » ", " / ", " > ", " : ")
_WORD = re.compile(r"\w+")
_DOMAIN = re.compile(r"\b[\w-]+\.(?:com|net|org|co\.uk|co|info|biz|news|tv|[a-z]{2})\b", re.I)
_HEADLINE_WORDS = 4  # a title part this long is the headline ...
_SITE_WORDS = 4  # ... when every other part is no longer than this
_AGREEMENT = 0.6  # share of a heading's words the reference title must repeat
_MAX_HEADLINE = 300  # characters: longer "headline" elements are teasers or bodies


@dataclass(frozen=True)
class TitleSources:
    """What the page offers as title: its own tags and metadata, in plain text."""

    h1: str  # the article's `<h1>`, as `meta.title_h1` found it ("" without one)
    h1_in_article: bool  # that `<h1>` sits in an `<article>`/h-entry, not just in the container
    og_title: str
    headline: str  # JSON-LD
    doc_title: str  # the `<title>`
    site_name: str  # og:site_name


def words(text: str) -> list[str]:
    """Lowercased words of a text, punctuation and quotes dropped."""
    return _WORD.findall(text.casefold())


def agrees(heading: str, reference: str) -> bool:
    """Whether `reference` repeats most of the heading's words (the heading is that title)."""
    mine = words(heading)
    if not mine:
        return False
    theirs = set(words(reference))
    return sum(w in theirs for w in mine) >= _AGREEMENT * len(mine)


def strip_site_suffix(title: str, site_name: str) -> str:
    """A `<title>` without its site part: " | Site", " – og:site_name", or a part naming a domain."""
    if site_name:
        for sep in _TITLE_SEPARATORS:
            suffix = (sep + site_name).casefold()
            if title.casefold().endswith(suffix) and len(title) > len(suffix):
                return title[: -len(suffix)].strip()
    if " | " in title:
        head = title.rsplit(" | ", 1)[0].strip()
        if head:
            return head
    for sep in _TITLE_SEPARATORS:
        parts = [p.strip() for p in title.split(sep)]
        if len(parts) > 1:
            kept = [p for p in parts if p and not _DOMAIN.search(p)]
            if kept and len(kept) < len(parts):
                title = sep.join(kept)
            break
    return _headline_part(title)


def _headline_part(title: str) -> str:
    """"Site - A headline of some words" -> the headline: the one part of four words or more.

    Only when the other parts are short (a site or section name), so "Long-term use - a guide"
    stays whole."""
    for sep in _TITLE_SEPARATORS:
        parts = [p.strip() for p in title.split(sep) if p.strip()]
        if len(parts) < 2:
            continue
        sizes = [len(words(p)) for p in parts]
        best = max(range(len(parts)), key=lambda i: sizes[i])
        others = [n for i, n in enumerate(sizes) if i != best]
        if sizes[best] >= _HEADLINE_WORDS and max(others) <= _SITE_WORDS:
            return parts[best]
        return title
    return title


def title_in_headings(headings: list[Tag], doc_title: str, spare: AbstractSet[int] = frozenset()) -> str:
    """The longest heading (or headline-classed element) whose words the `<title>` holds in order."""
    if not doc_title:
        return ""
    target = " ".join(words(doc_title))
    best = ""
    for el in headings:
        text = element_text(el)
        if not text or len(text) > _MAX_HEADLINE or len(text) <= len(best):
            continue
        key = " ".join(words(text))
        if key.count(" ") >= 1 and f" {key} " in f" {target} " and not in_page_chrome(el, spare=spare):
            best = text
    return best


def choose_title(
    src: TitleSources, headings: list[Tag], h1s: list[Tag], spare: AbstractSet[int] = frozenset()
) -> str:
    """The article's title by the precedence above ("" when the page has no title text at all)."""
    reference = src.og_title or src.headline or src.doc_title
    if src.h1 and (src.h1_in_article or not reference or agrees(src.h1, reference)):
        return src.h1
    if src.og_title or src.headline:
        return src.og_title or src.headline
    found = title_in_headings(headings, src.doc_title, spare)
    if found:
        return found
    for h1 in h1s:
        text = element_text(h1)
        if text and not in_page_chrome(h1, spare=spare) and (not src.doc_title or agrees(text, src.doc_title)):
            return text
    return strip_site_suffix(src.doc_title, src.site_name) or src.h1 or _first_headline(headings, spare)


def _first_headline(headings: list[Tag], spare: AbstractSet[int]) -> str:
    """Without any title tag or metadata: the first headline-classed element or heading outside chrome."""
    for el in headings:
        text = element_text(el)
        if text and len(text) <= _MAX_HEADLINE and not in_page_chrome(el, spare=spare):
            return text
    return ""
