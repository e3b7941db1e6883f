"""Parse stage, container: which part of the page is the article, chosen by its text.

One iterative pass measures every element: its text and link text (`Mass`), and scores the
blocks that hold prose of their own (any block: a `<p>`, a `<div>` set with `<br>`s, a cell, a
`<span>`-set text) in the manner of Readability: each block's score goes to its parent, and less
to its further ancestors, so the element that gathers the most prose wins. Link-heavy elements
are discounted by their link density.

The page's semantic containers (`itemprop=articleBody`, content classes, `<article>`, `<main>`)
are then weighed against that choice by their text, not accepted for their kind alone: a teaser
card or a comment `<article>` loses to the post, a content `div` holding a third of a body split
over sibling blocks loses to their common parent. Elements holding most of the page's prose are
`protected`: no removal rule (a "sidebar" or "breadcrumb" in a theme's class names) drops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bs4.element import NavigableString, PageElement, Tag

from indexer.clean import COMMENT_NAMES, class_text, in_page_chrome
from indexer.element_text import BLOCK_TAGS, NO_TEXT_TAGS, is_hidden

_MIN_BLOCK = 25  # characters: shorter blocks say nothing about where the text is
_ANCESTOR_SHARE = (1.0, 0.5, 1 / 6, 1 / 9, 1 / 12)  # Readability's per-level split of a block's score
_PROTECT_SHARE = 0.5  # an element holding this share of the page's prose is never removed
_CONTAINED_SHARE = 0.6  # a semantic container inside the densest element must hold this much of it
_DISJOINT_SHARE = 0.9  # a semantic container beside it must hold about as much prose
_MIN_MISSING = 200  # characters of prose a semantic container may leave out, whatever the share
_SIBLING_SHARE = 0.2  # a sibling scoring this share of the container's score continues it (Readability)
_SIBLING_LINKS = 0.33  # ... unless this much of its text is links
_PARAGRAPH_TAGS = frozenset({
    "p", "pre", "li", "dd", "dt", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "caption",
})  # fmt: skip
_STRUCTURAL_CHROME = frozenset({"aside", "nav", "header", "footer", "form"})
_CHROME_ROLES = frozenset({"complementary", "navigation", "banner", "contentinfo", "search"})


@dataclass(slots=True)
class Mass:
    """What one element holds: characters of text, of link text, and its prose score."""

    text: int = 0
    links: int = 0
    score: float = 0.0

    @property
    def prose(self) -> int:
        """Characters of text outside links."""
        return self.text - self.links

    @property
    def link_density(self) -> float:
        """The share of the text that sits in links."""
        return self.links / self.text if self.text else 0.0


@dataclass
class Measure:
    """Every element's `Mass`, by `id()`; the page's total prose."""

    masses: dict[int, Mass] = field(default_factory=dict)
    elements: dict[int, Tag] = field(default_factory=dict)
    total_prose: int = 0

    def of(self, el: Tag) -> Mass:
        """The element's mass (empty for one the pass did not reach)."""
        return self.masses.get(id(el)) or Mass()

    def protected(self) -> set[int]:
        """`id()`s of the elements that hold most of the page's prose (a chain of ancestors).

        Only class and id names are overruled, and not those of comment areas: an `<aside>`,
        `<nav>`, `<header>` or `<footer>` says what it is by its tag, and a comment list is never
        the article, whatever they hold."""
        floor = self.total_prose * _PROTECT_SHARE
        return {k for k, m in self.masses.items() if m.prose >= floor > 0 and _may_spare(self.elements[k])}


def _may_spare(el: Tag) -> bool:
    if el.name in _STRUCTURAL_CHROME or el.get("role") in _CHROME_ROLES:
        return False
    return not (el.attrs and COMMENT_NAMES.search(f"{el.get('id') or ''} {class_text(el)}"))


def _own_block(stack: Sequence[Tag]) -> Tag | None:
    for el in reversed(stack):
        if el.name in BLOCK_TAGS or el.name in ("td", "th"):
            return el
    return stack[-1] if stack else None


def measure(root: Tag) -> Measure:
    """One iterative post-order pass over `root`: each element's text, link text and score."""
    out = Measure()
    masses = out.masses
    own: dict[int, list[int]] = {}  # block id -> [own text, own link text, commas]
    path: list[Tag] = []
    links_open = 0
    todo: list[PageElement | tuple[Tag, bool]] = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, tuple):
            el, is_link = node
            path.pop()
            links_open -= is_link
            m = masses[id(el)]
            if path:
                parent = masses[id(path[-1])]
                parent.text += m.text
                parent.links += m.links
            continue
        if type(node) is NavigableString:
            n = len(node.strip())
            if n and path:
                block = _own_block(path)
                if block is not None:
                    acc = own.setdefault(id(block), [0, 0, 0])
                    acc[0] += n
                    acc[2] += node.count(",")
                    if links_open:
                        acc[1] += n
                leaf = masses[id(path[-1])]
                leaf.text += n
                if links_open:
                    leaf.links += n
            continue
        if type(node) is not Tag or node.name in NO_TEXT_TAGS or is_hidden(node):
            continue
        is_link = node.name == "a"
        masses[id(node)] = Mass()
        out.elements[id(node)] = node
        path.append(node)
        links_open += is_link
        todo.append((node, is_link))
        todo.extend(reversed(node.contents))
    out.total_prose = out.of(root).prose
    _score_blocks(out, own, out.protected())
    return out


def _score_blocks(out: Measure, own: dict[int, list[int]], protected: set[int]) -> None:
    """Readability's scoring: a prose block's score goes up its ancestors, less at each level.

    Blocks in page chrome (comments, sidebars, navigation) score nothing, unless the "chrome"
    is the element holding most of the page's prose (a theme's `div.penci_sidebar` around it)."""
    for key, (text, links, commas) in own.items():
        if text - links < _MIN_BLOCK or links > text / 2:
            continue
        if in_page_chrome(out.elements[key], spare=protected):
            continue
        points = 1 + commas + min((text - links) // 100, 3)
        block = out.elements[key]
        # A paragraph's score goes to what holds it; a div or cell with text of its own (lines set
        # with <br>, spans) is itself what holds that text, as if its lines were paragraphs.
        node: Tag | None = block.parent if block.name in _PARAGRAPH_TAGS else block
        for share in _ANCESTOR_SHARE:
            if node is None or id(node) not in out.masses:
                break
            out.masses[id(node)].score += points * share
            node = node.parent


def densest(measured: Measure) -> Tag | None:
    """The element with the best prose score after its link density is discounted."""
    best, best_score = None, 0.0
    for key, m in measured.masses.items():
        if m.score <= 0:
            continue
        final = m.score * (1 - m.link_density)
        if final > best_score:
            best, best_score = measured.elements[key], final
    return best


def _contains(outer: Tag, inner: Tag) -> bool:
    node: Tag | None = inner
    while node is not None:
        if node is outer:
            return True
        node = node.parent
    return False


def weigh(candidate: Tag, dense: Tag, measured: Measure) -> bool:
    """Whether a semantic container may stand for the article, given the densest element."""
    mine, theirs = measured.of(candidate).prose, measured.of(dense).prose
    if mine <= 0:
        return False
    if _contains(candidate, dense) or theirs - mine < _MIN_MISSING:
        return True
    if _contains(dense, candidate):
        return mine >= theirs * _CONTAINED_SHARE
    return mine >= theirs * _DISJOINT_SHARE


def with_continuations(container: Tag, measured: Measure, spare: set[int]) -> list[Tag]:
    """The container and the sibling blocks that continue its body, in document order.

    A body split over sibling blocks (`div#page1`, `div#page2`; `div.article__body` three times)
    scores in each block, and the best block alone would lose the rest: a sibling of the same tag
    and classes that scores a fifth of the container's score, with few links, comes along."""
    parent = container.parent
    own = measured.of(container)
    if parent is None or own.score <= 0:
        return [container]
    out: list[Tag] = []
    for sib in parent.children:
        if sib is container:
            out.append(sib)
            continue
        if type(sib) is not Tag or id(sib) not in measured.masses:
            continue
        m = measured.of(sib)
        if m.link_density >= _SIBLING_LINKS or in_page_chrome(sib, spare=spare):
            continue
        same_kind = sib.name == container.name and sib.get("class") == container.get("class")
        if same_kind and m.score >= max(own.score * _SIBLING_SHARE, 1.0):
            out.append(sib)
    return out
