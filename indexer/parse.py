"""Parse stage: one HTML page in, one `Article` out. Pure: no I/O, no global state.

The page is decoded (`indexer.decode`), parsed once by BeautifulSoup with lxml, scanned
once for metadata (`indexer.meta`), and its content container walked once
(`indexer.sections`), with the removal rules of `indexer.clean`. BeautifulSoup objects
never leave the `indexer` parse modules; callers only see `kb.models` types.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning

from indexer.anchors import site_url
from indexer.clean import cleaner_for, in_page_chrome
from indexer.container import Measure, densest, measure, weigh, with_continuations
from indexer.decode import binary_reason, close_title, decode_html, looks_like_html
from indexer.fragments import land
from indexer.meta import TIER_MAIN, PageScan, read_metadata, scan, title_h1
from indexer.sections import split_sections
from kb.config import Settings
from kb.errors import BadInput
from kb.models import Article, RelatedLink

__all__ = ["decode_html", "parse_article"]

# An XHTML page starts with an XML declaration and is still HTML: browsers parse it as HTML, and so do
# we on purpose. Only this module's own parse is spared the warning, which readers cannot act on.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning, module=re.escape(__name__) + r"\Z")

def _candidate_container(page: PageScan, measured: Measure, dense: Tag | None, spare: set[int]) -> Tag | None:
    """The most specific semantic container that holds the article's text, if one does.

    Tiers (itemprop, content class, `<article>`, role=main, `<main>`) are tried in order, but a
    container only counts when its text stands up to the densest element's (`container.weigh`),
    and within a tier the one with the most prose wins: the kind breaks ties, it is no gate.
    """
    by_tier: dict[int, list[Tag]] = {}
    for tier, el in page.candidates:
        by_tier.setdefault(tier, []).append(el)
    for tier in range(TIER_MAIN + 1):
        found = [
            el for el in by_tier.get(tier, ())
            if not in_page_chrome(el, spare=spare) and (dense is None or weigh(el, dense, measured))
        ]  # fmt: skip
        if not found:
            continue
        sizes = [(measured.of(el).prose, -n, el) for n, el in enumerate(found)]
        size, _, best = max(sizes, key=lambda s: (s[0], s[1]))
        if size > 0:
            return best
    return None


def _to_text(data: bytes | str, settings: Settings) -> str:
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) > settings.max_file_bytes:
            raise BadInput(f"file too large ({len(data)} bytes; the limit is {settings.max_file_bytes})")
        text = decode_html(bytes(data))
    else:
        if len(data) > settings.max_file_bytes:
            raise BadInput(
                f"input too large ({len(data)} characters; the limit is {settings.max_file_bytes})"
            )
        text = data
    if not text.strip():
        raise BadInput("empty input")
    reason = binary_reason(text)
    if reason:
        raise BadInput(reason)
    if not looks_like_html(text):
        raise BadInput("not HTML (no HTML tags found)")
    return close_title(text)


def parse_article(
    data: bytes | str, *, source: str, fallback_url: str, settings: Settings | None = None
) -> Article:
    """Parse one HTML page into an `Article`; raise `BadInput` if it holds no article text."""
    settings = settings or Settings()
    text = _to_text(data, settings)
    try:
        return _parse(text, source=source, fallback_url=fallback_url, settings=settings)
    except RecursionError as e:  # every walk is iterative; this is a last line of defence
        raise BadInput("HTML nested too deeply to parse") from e


def _parse(text: str, *, source: str, fallback_url: str, settings: Settings) -> Article:
    soup = BeautifulSoup(text, "lxml")
    page = scan(soup)
    cleaner = cleaner_for(tuple(settings.remove_selectors), tuple(settings.split_levels))
    root = page.body or soup
    measured = measure(root)
    spare = measured.protected()
    dense = densest(measured)
    container = _candidate_container(page, measured, dense, spare) or dense or root
    roots = with_continuations(container, measured, spare) if container is dense else [container]
    heading_el = title_h1(page, container, spare)
    meta = read_metadata(page, container, heading_el, source=source, fallback_url=fallback_url, spare=spare)
    skip: set[int] = set()
    for el in roots:
        skip |= cleaner.complex_removals(el)
    split = split_sections(
        roots,
        title=meta.title or source,
        title_el=heading_el,
        url=meta.url,
        split_levels=tuple(settings.split_levels),
        cleaner=cleaner,
        skip=skip - spare,
        spare=spare,
        host=page.home_host(meta.url),
        page_ids=page.ids,
        linked_faq=meta.faq,
    )
    if not split.sections:
        raise BadInput("no article text found")
    sections = split.sections
    title = meta.title or next((s.heading for s in sections if s.kind != "lead"), "") or meta.article_id
    if not meta.title and sections[0].kind == "lead":
        sections = (replace(sections[0], heading=title), *sections[1:])
    url = site_url(meta.url)  # a file: or about: fallback is no link a reader can open
    sections = land(sections, root=page.body or soup, containers=[container], url=url)
    return Article(
        article_id=meta.article_id,
        title=title,
        url=url,
        categories=meta.categories,
        tags=meta.tags,
        published=meta.published,
        modified=meta.modified,
        description=meta.description,
        lang=meta.lang,
        related=tuple(RelatedLink(link.title, link.url) for link in split.related if site_url(link.url)),
        sections=sections,
    )
