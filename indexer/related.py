"""Parse stage, related links: the "See also" boxes of an article, kept as links, not text.

Three shapes are recognised while the walk (`indexer.sections`) runs: a box that a
`RELATED_RULES` selector of `indexer.clean` matches, a block that starts with a label
("See also: …", "Related articles") and holds little but links, and a list of links right
after a heading that is such a label. Each link is kept once, in page order, as its text
and absolute URL; fragment-only, script, mail and phone links are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, Tag

from indexer.anchors import browser_url
from indexer.element_text import NO_TEXT_TAGS

RELATED_LABEL = re.compile(
    r"(?:see also|related(?: posts?| articles?| reading| content| stories| links)?|read also|"
    r"also read|read more|further reading|you may also like|recommended(?: reading)?)"
    r"\s*[:：»›>\-–—]*",
    re.I,
)
LABEL_BOX_TAGS = frozenset({"p", "div", "section", "aside"})
_LINK_LIST_TAGS = frozenset({"ul", "ol", "div", "p"})
_MAX_LABEL = 40
_MAX_BOX_EXTRA_CHARS = 40  # text beside the label and the links a link box may carry

_SKIP_HREF = re.compile(r"\s*(?:#|javascript:|mailto:|tel:|data:)", re.I)


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a related box: its text and absolute URL."""

    title: str
    url: str


def _norm(text: str) -> str:
    return " ".join(text.split())


def first_text(el: Tag, limit: int = 8) -> str:
    """The first non-blank string inside `el`, stripped, looking at no more than `limit` nodes."""
    stack: list[Iterator[PageElement]] = [iter(el.contents)]
    while stack and limit > 0:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        limit -= 1
        if type(node) is NavigableString:
            if not node.isspace():
                return node.strip()
        elif isinstance(node, Tag) and node.name not in NO_TEXT_TAGS:
            stack.append(iter(node.contents))
    return ""


def box_links(el: Tag, base_url: str) -> list[Link]:
    """The links inside a related box, in order, without fragment-only and script links."""
    out: list[Link] = []
    for a in el.find_all("a", href=True):
        href = a.get("href")
        if not isinstance(href, str) or _SKIP_HREF.match(href):
            continue
        title = _norm(a.get_text(" "))
        if not title or RELATED_LABEL.fullmatch(title):
            continue
        url = browser_url(href, base_url)
        if url is None:
            continue
        out.append(Link(title, url))
    return out


def label_box_links(el: Tag, base_url: str) -> list[Link] | None:
    """The links of a labelled box ("See also: …"), or None when `el` is not such a box."""
    if el.name not in LABEL_BOX_TAGS:
        return None
    first = el.contents[0] if el.contents else None
    if type(first) is NavigableString and not first.isspace():
        if len(first) > _MAX_LABEL * 2:  # a paragraph, not a label: the common case, decided cheaply
            return None
        label = first.strip()
    else:
        label = first_text(el)
    if not label or len(label) > _MAX_LABEL or RELATED_LABEL.fullmatch(label) is None:
        return None
    links = box_links(el, base_url)
    if not links:
        return None
    extra = len(_norm(el.get_text(" "))) - len(label) - sum(len(x.title) + 1 for x in links)
    return links if extra <= _MAX_BOX_EXTRA_CHARS else None


def links_only(el: Tag, base_url: str) -> list[Link] | None:
    """The links of an unlabelled list of links (after a "Related" heading), else None."""
    if el.name not in _LINK_LIST_TAGS:
        return None
    links = box_links(el, base_url)
    if not links:
        return None
    extra = len(_norm(el.get_text(" "))) - sum(len(x.title) + 1 for x in links)
    return links if extra <= _MAX_BOX_EXTRA_CHARS else None


class Related:
    """The related links met during one walk, each URL once, in page order."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._links: dict[str, Link] = {}

    def add(self, links: list[Link]) -> None:
        """Keep links not kept yet."""
        for link in links:
            self._links.setdefault(link.url, link)

    def take_box(self, el: Tag) -> None:
        """A box a related rule matched: all its links."""
        self.add(box_links(el, self._url))

    def take_labelled(self, el: Tag) -> bool:
        """Whether `el` is a labelled box of links ("See also: …"); its links are kept if so."""
        links = label_box_links(el, self._url)
        if links is None:
            return False
        self.add(links)
        return True

    def take_after_label(self, heading: Tag, text: str) -> Tag | None:
        """The list of links after a heading labelled like a related box (its links are kept), else None."""
        if not RELATED_LABEL.fullmatch(text):
            return None
        sibling = heading.find_next_sibling()
        links = links_only(sibling, self._url) if sibling is not None else None
        if sibling is None or not links:
            return None
        self.add(links)
        return sibling

    def links(self) -> tuple[Link, ...]:
        """The links kept, in the order they were met."""
        return tuple(self._links.values())
