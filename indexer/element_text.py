"""Parse stage, element text: whitespace normalisation, the visible text of one small element, and
the id a heading links to.

Everything here walks iteratively: a 10,000-deep page must not hit the recursion limit.
"""

from __future__ import annotations

import re

from bs4.element import NavigableString, PageElement, Tag

# Zero-width space, BOM and soft hyphen: invisible, and they split words for the index.
INVISIBLE = re.compile("[\u200b\ufeff\u00ad]")

BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li", "dl", "dt",
    "dd", "table", "thead", "tbody", "tfoot", "caption", "figure", "figcaption", "address",
    "fieldset", "legend", "details", "summary", "center", "hgroup", "header", "footer", "aside",
    "nav", "form", "menu", "dir", "h1", "h2", "h3", "h4", "h5", "h6", "option", "noscript",
})  # fmt: skip
NO_TEXT_TAGS = frozenset({
    "script", "style", "noscript", "template", "svg", "math", "head", "title", "meta", "link",
    "img", "picture", "source", "track", "area", "wbr", "button", "input", "select", "textarea",
    "iframe", "object", "embed", "canvas", "video", "audio",
})  # fmt: skip
_PERMALINK_MARKS = frozenset({"#", "¶", "§", "🔗", "link", "permalink", "anchor"})
_ANCHOR_CHILDREN = frozenset({"a", "span"})


def norm(text: str) -> str:
    """Whitespace collapsed to single spaces, invisible characters dropped, ends stripped."""
    return " ".join(INVISIBLE.sub("", text).split())


def is_hidden(el: Tag) -> bool:
    """Whether the element is hidden from readers by an attribute."""
    attrs = el.attrs
    return bool(attrs) and ("hidden" in attrs or attrs.get("aria-hidden") == "true")


def _is_permalink(el: Tag) -> bool:
    """A heading's "¶"/"#" self-link, which is decoration rather than heading text."""
    href = el.get("href")
    return isinstance(href, str) and href.startswith("#") and norm(el.get_text()).lower() in _PERMALINK_MARKS


def element_text(el: Tag) -> str:
    """The visible text of a small element (a heading, a question), whitespace-normalised."""
    parts: list[str] = []
    stack: list[PageElement | str] = [el]
    while stack:
        node = stack.pop()
        if type(node) is NavigableString or type(node) is str:
            parts.append(node)
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in NO_TEXT_TAGS or is_hidden(node) or (name == "a" and _is_permalink(node)):
            continue
        if name == "br":
            parts.append(" ")
            continue
        if name in BLOCK_TAGS:
            parts.append(" ")
            stack.append(" ")
        stack.extend(reversed(node.contents))
    return norm("".join(parts))


def text_length(el: Tag) -> int:
    """How many characters of text the element holds (markup and scripts excluded)."""
    return sum(len(n) for n in el.descendants if type(n) is NavigableString)


def has_text(el: Tag) -> bool:
    """Whether the element holds any non-blank text (stops at the first)."""
    return any(type(n) is NavigableString and not n.isspace() for n in el.descendants)


def heading_id(h: Tag) -> str:
    """The heading's own id, an `<a id/name>`/`<span id>` inside it, or an empty anchor just before it."""
    own = h.get("id")
    if isinstance(own, str) and own.strip():
        return own.strip()
    for child in h.children:
        if isinstance(child, Tag) and child.name in _ANCHOR_CHILDREN:
            value = child.get("id") or (child.get("name") if child.name == "a" else None)
            if isinstance(value, str) and value.strip():
                return value.strip()
    prev = h.previous_sibling
    while type(prev) is NavigableString and prev.isspace():
        prev = prev.previous_sibling
    if isinstance(prev, Tag) and prev.name == "a" and not prev.get_text().strip():
        value = prev.get("id") or prev.get("name")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
