"""Parse stage, landing: deep links whose text fragment first matches the section's own heading.

A browser scrolls a `#:~:text=…` link to the *first* match of its text on the whole page, so a
bare "Side effects" lands on an h1, a lead or a menu item that says it earlier. Here the page's
visible text is laid out as a browser's find sees it (one line per block, whitespace collapsed,
case ignored), the heading's own place in it is found, and the link gets just enough of the
page's text around the heading (`prefix-,`, `,-suffix`, one to four words, WICG text fragments)
for that place to be the first match. When no such context exists the link goes to the nearest
id that encloses the heading, else to the page itself. A page without a site URL gets no deep
links at all (the reader's links then go to the local article view).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from bs4.element import NavigableString, PageElement, Tag

from indexer.anchors import id_link, page_url, text_fragment_link
from kb.models import Section

MAX_CONTEXT_WORDS = 4
# Not rendered, so never matched (noscript: a browser with scripts on does not show it).
_UNSEEN = frozenset({"script", "style", "noscript", "template", "head", "title", "meta", "link", "select",
                     "textarea", "input", "button", "iframe", "object", "embed", "canvas", "video", "audio",
                     "img", "svg", "math"})
# Elements laid out as blocks by default: a text fragment's text never spans two of them.
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p",
    "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "br",
})  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_INVISIBLE = re.compile("[\u200b\ufeff\u00ad]")
_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True)
class Placed:
    """An element and where its text starts and ends in the page's text."""

    start: int
    end: int
    element: Tag


@dataclass(frozen=True)
class PageText:
    """A page's visible text as find-in-page sees it, with where headings and ids sit in it."""

    text: str  # blocks on their own lines, whitespace collapsed to one space
    folded: str  # the same, lower-cased character by character (same offsets)
    headings: tuple[Placed, ...]  # h1-h6, in page order
    with_ids: tuple[Placed, ...]  # elements with an id, in page order
    containers: tuple[Placed, ...]  # the article's containers


def _fold(text: str) -> str:
    """Lower-cased with the offsets of `text` (a character whose lower case is longer, "İ", stays)."""
    low = text.lower()
    if len(low) == len(text):  # no character grew, and none ever shrinks: the same offsets
        return low
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _hidden(el: Tag) -> bool:
    attrs = el.attrs
    if not attrs:
        return False
    style = attrs.get("style")
    return "hidden" in attrs or (isinstance(style, str) and "display:none" in style.replace(" ", "").lower())


def page_text(root: Tag, containers: Sequence[Tag]) -> PageText:
    """Walk the page once (iteratively) and lay out its visible text."""
    out: list[str] = []
    length = 0
    pending = ""  # the separator owed before the next text: "", " " or "\n"
    wanted = {id(c) for c in containers}
    opened: dict[int, int] = {}
    headings: list[Placed] = []
    with_ids: list[Placed] = []
    boxes: list[Placed] = []
    stack: list[PageElement | tuple[Tag, bool]] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            el, block = node
            if block:
                pending = "\n" if length else ""
            start = opened.pop(id(el))
            placed = Placed(start, length, el)
            if el.name in _HEADINGS:
                headings.append(placed)
            if el.get("id"):
                with_ids.append(placed)
            if id(el) in wanted:
                boxes.append(placed)
            continue
        if type(node) is NavigableString:
            chunk = _INVISIBLE.sub("", node)
            words = chunk.split()
            if not words:
                if chunk and length and pending != "\n":
                    pending = " "
                continue
            if chunk[0].isspace() and length and pending != "\n":
                pending = " "
            if pending:
                out.append(pending)
                length += 1
                pending = ""
            joined = " ".join(words)
            out.append(joined)
            length += len(joined)
            if chunk[-1].isspace():
                pending = " "
            continue
        if not isinstance(node, Tag) or node.name in _UNSEEN or _hidden(node):
            continue
        block = node.name in _BLOCKS
        if block and length:
            pending = "\n"
        opened[id(node)] = length + (1 if pending and length else 0)
        stack.append((node, block))
        stack.extend(reversed(node.contents))
    text = "".join(out)
    by_start = sorted(headings, key=lambda p: p.start)
    return PageText(text, _fold(text), tuple(by_start), tuple(sorted(with_ids, key=lambda p: p.start)),
                    tuple(sorted(boxes, key=lambda p: p.start)))


def _is_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and _WORD_CHAR.match(text[i]) is not None


def _starts_word(text: str, i: int) -> bool:
    return not (_is_word(text, i - 1) and _is_word(text, i))


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \n":
        i += 1
    return i


def _occurrences(text: str, needle: str, start: int = 0) -> Iterator[int]:
    at = text.find(needle, start)
    while at != -1:
        yield at
        at = text.find(needle, at + 1)


def first_match(folded: str, start: str, prefix: str = "", suffix: str = "") -> int | None:
    """Where a browser puts a text directive's `start` on this page (WICG "find a range from a
    text directive"), or None when nothing matches; all arguments already folded."""
    if not start:
        return None

    def suffix_ok(end: int) -> bool:
        if not suffix:
            return _starts_word(folded, end)
        at = _skip_space(folded, end)
        return folded.startswith(suffix, at) and _starts_word(folded, at + len(suffix))

    if prefix:
        for p in _occurrences(folded, prefix):
            if not _starts_word(folded, p):
                continue
            at = _skip_space(folded, p + len(prefix))
            if folded.startswith(start, at) and suffix_ok(at + len(start)):
                return at
        return None
    for at in _occurrences(folded, start):
        if _starts_word(folded, at) and suffix_ok(at + len(start)):
            return at
    return None


def _words_before(page: PageText, at: int) -> list[str]:
    """The words of the text right before `at`, within one block (the previous one if `at` opens its own)."""
    line_start = page.text.rfind("\n", 0, at) + 1
    before = page.text[line_start:at].split()
    if not before and line_start > 0:
        prev_start = page.text.rfind("\n", 0, line_start - 1) + 1
        before = page.text[prev_start:line_start - 1].split()
    return before


def _words_after(page: PageText, end: int) -> list[str]:
    """The words of the text right after `end`, within one block (the next one if `end` closes its own)."""
    line_end = page.text.find("\n", end)
    line_end = len(page.text) if line_end == -1 else line_end
    after = page.text[end:line_end].split()
    if not after and line_end < len(page.text):
        next_end = page.text.find("\n", line_end + 1)
        after = page.text[line_end + 1:len(page.text) if next_end == -1 else next_end].split()
    return after


def directive(page: PageText, at: int, heading: str) -> tuple[str, str, str] | None:
    """(prefix, start, suffix) from the page's own text whose first match is the heading at `at`."""
    start = page.text[at:at + len(heading)]
    before, after = _words_before(page, at), _words_after(page, at + len(heading))
    tries: list[tuple[str, str]] = [("", "")]
    for n in range(1, MAX_CONTEXT_WORDS + 1):
        if n <= len(before):
            tries.append((" ".join(before[-n:]), ""))
        if n <= len(after):
            tries.append(("", " ".join(after[:n])))
    for n in range(1, MAX_CONTEXT_WORDS + 1):
        if n <= max(len(before), len(after)) and before and after:
            tries.append((" ".join(before[-n:]), " ".join(after[:n])))
    for prefix, suffix in dict.fromkeys(tries):
        if first_match(page.folded, _fold(start), _fold(prefix), _fold(suffix)) == at:
            return prefix, start, suffix
    return None


def _in_containers(page: PageText, at: int) -> bool:
    return not page.containers or any(c.start <= at < c.end for c in page.containers)


def _place(page: PageText, heading: str, after: int) -> int | None:
    """Where the section's heading sits: an h1-h6 saying exactly it, else the first mention of
    it in the article's containers; at or after `after` (sections come in page order)."""
    key = _fold(heading)
    for h in page.headings:
        if h.start < after or not _in_containers(page, h.start):
            continue
        at = page.folded.find(key, h.start, h.end)
        if at != -1 and _starts_word(page.folded, at) and _starts_word(page.folded, at + len(key)):
            return at
    for at in _occurrences(page.folded, key, after):
        if _starts_word(page.folded, at) and _starts_word(page.folded, at + len(key)) and _in_containers(page, at):
            return at
    return None


def _enclosing_id(page: PageText, at: int) -> str | None:
    """The id of the innermost element around `at` that has one."""
    best: Placed | None = None
    for p in page.with_ids:
        if p.start > at:
            break
        if p.end > at and (best is None or p.start >= best.start):
            best = p
    ident = best.element.get("id") if best is not None else None
    return ident if isinstance(ident, str) else None


def land(sections: Sequence[Section], *, root: Tag, containers: Sequence[Tag], url: str) -> tuple[Section, ...]:
    """The sections with deep links that land: text fragments checked against this page's text.

    `url` is the article's site URL ("" when it has none: then no section has a deep link)."""
    if not url:
        return tuple(replace(s, deep_link="") for s in sections)
    if not any("#:~:text=" in s.deep_link for s in sections):
        return tuple(sections)
    page = page_text(root, containers)
    out: list[Section] = []
    cursor = 0
    for s in sections:
        if "#:~:text=" not in s.deep_link:
            out.append(s)
            continue
        at = _place(page, s.heading, cursor)
        if at is None:
            at = _place(page, s.heading, 0)
        if at is None:  # not on the page as text (a question only the page's JSON-LD holds)
            out.append(replace(s, deep_link=page_url(url)))
            continue
        cursor = at + 1
        found = directive(page, at, s.heading)
        if found is not None:
            link = text_fragment_link(url, found[1], prefix=found[0], suffix=found[2])
        else:
            ident = _enclosing_id(page, at)
            link = id_link(url, ident) if ident else page_url(url)
        out.append(replace(s, deep_link=link))
    return tuple(out)
