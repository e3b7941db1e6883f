"""Parse stage, splitting: the content container's text as sections that follow headings.

One iterative walk over the container cleans, extracts text and splits at once:
removed elements are skipped (never mutated out of the tree), "See also" boxes become
related links, headings at `split_levels` open sections, and FAQ questions open `faq`
entries. Lists give one line per item, tables one line per row (cells joined by " | "),
`<pre>` keeps its lines. Text before the first heading is the lead.

The rules for the lead, empty sections and breadcrumbs are in `indexer.outline`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, Tag

from indexer import faq
from indexer.clean import LABEL_BOX_TAGS, RELATED_LABEL, Cleaner, Link, box_links, label_box_links, links_only
from indexer.element_text import BLOCK_TAGS, INVISIBLE, NO_TEXT_TAGS, element_text
from indexer.outline import Draft, finish, merge_linked_faq
from kb.models import Section

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_ANCHOR_CHILDREN = frozenset({"a", "span"})
_EXCEPTIONS = frozenset({"header", "footer"})  # removal rules that `Cleaner.removes` may overrule
# Lines that are only a shop's or blog's call to action, wherever they appear.
_BOILERPLATE_LINE = re.compile(
    r"(?:order now|buy now|add to cart|read more|continue reading|skip to content|"
    r"[$€£]\s?\d+(?:[.,]\d+)? per (?:pill|tablet|capsule|pack|dose))\W*",
    re.I,
)

# What leaving an element must undo.
_F_BLOCK, _F_ROW, _F_PRE, _F_FAQ, _F_QA, _F_SECTION = 1, 2, 4, 8, 16, 32


def _heading_id(h: Tag) -> str:
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


class _Walker:
    def __init__(
        self,
        *,
        title: str,
        title_el: Tag | None,
        url: str,
        levels: frozenset[int],
        cleaner: Cleaner,
        skip: set[int],
        spare: set[int],
    ) -> None:
        self.title = title
        self.title_el = title_el
        self.url = url
        self.levels = levels
        self.cleaner = cleaner
        self.is_related, self.removed = cleaner.matchers()  # bound once: called for every element
        self.skip = skip  # id()s of elements not to enter
        self.spare = spare  # id()s of elements no rule removes: they hold most of the page's text
        self.lead = Draft(title, (), "lead", 0, "", False)
        self.drafts = [self.lead]
        self.stack: list[Draft] = []  # open heading sections, outermost first
        self.current = self.lead  # receives lines
        self.faq_owner: Tag | None = None  # leaving it ends the open FAQ entry
        self.faq_open = False
        self.line: list[str] = []
        self.frag = self.line  # where text goes: the line, or the current table cell
        self.cells: list[list[str]] | None = None
        self.pre = 0
        self.faq_marks = 0  # depth inside elements whose class/id says "faq"
        self.qa_lists = 0
        self.sections: list[list[str]] = []  # enclosing <section>s: [id, "used" once a heading took it]
        self.related: dict[str, Link] = {}

    # -- text -------------------------------------------------------------------------
    def flush(self) -> None:
        if self.cells is not None:
            self.frag.append(" ")
            return
        if not self.line:
            return
        text = " ".join(INVISIBLE.sub("", "".join(self.line)).split())
        self.line.clear()
        if not text or _BOILERPLATE_LINE.fullmatch(text):
            return
        if self.current.kind == "faq" and not self.current.lines and self.faq_open:
            text = faq.strip_answer_prefix(text)
        self.current.lines.append(text)

    def text(self, s: str) -> None:
        if self.pre and "\n" in s:
            *done, rest = s.split("\n")
            for part in done:
                self.frag.append(part)
                self.flush()
            self.frag.append(rest)
        else:
            self.frag.append(s)

    def end_row(self) -> None:
        cells, self.cells, self.frag = self.cells or [], None, self.line
        parts = [t for t in (" ".join("".join(c).split()) for c in cells) if t]
        if parts:
            self.line.append(" | ".join(parts))
            self.flush()

    # -- sections ---------------------------------------------------------------------
    @property
    def section(self) -> Draft:
        return self.stack[-1] if self.stack else self.lead

    def in_faq(self) -> bool:
        return self.faq_marks > 0 or self.qa_lists > 0 or self.current.faq_zone

    def open_faq(self, question: str, element_id: str, owner: Tag | None) -> None:
        self.close_faq()
        self.flush()
        # A question met inside another question's section is its sibling, not its child.
        base = next((d for d in reversed(self.stack) if d.kind != "faq"), self.lead)
        d = Draft(question, (*base.crumb, question), "faq", 99, element_id, True)
        self.drafts.append(d)
        self.current, self.faq_owner, self.faq_open = d, owner, True

    def close_faq(self) -> None:
        if self.faq_open:
            self.flush()
            self.current, self.faq_owner, self.faq_open = self.section, None, False

    def section_id(self) -> str:
        """The id of the innermost enclosing `<section>`s that no heading has used yet."""
        for entry in reversed(self.sections):
            if entry[1]:
                return ""
            entry[1] = "used"
            if entry[0]:
                return entry[0]
        return ""

    def heading(self, node: Tag) -> None:
        level = int(node.name[1])
        text = element_text(node)
        if not text:
            return
        if level == 1 and text.casefold() == self.title.casefold():
            self.title_reached()
            return
        if self.cells is not None or level not in self.levels:
            self.flush()
            self.frag.append(text)
            self.flush()
            return
        if RELATED_LABEL.fullmatch(text):
            sibling = node.find_next_sibling()
            links = links_only(sibling, self.url) if sibling is not None else None
            if sibling is not None and links:
                self.add_related(links)
                self.skip.add(id(sibling))
                return
        self.close_faq()
        self.flush()
        element_id = _heading_id(node) or self.section_id()
        while self.stack and self.stack[-1].level >= level:
            self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        titled = faq.is_faq_title(text)
        question = not titled and (
            (parent is not None and parent.faq_zone) or self.faq_marks > 0 or faq.has_question_mark(node)
        )
        d = Draft(text, (*(parent.crumb if parent else ()), text), "faq" if question else "section",
                  level, element_id, titled or question)  # fmt: skip
        self.drafts.append(d)
        self.stack.append(d)
        self.current = d

    def title_reached(self) -> None:
        """Text before the title inside the container is a kicker, breadcrumb or date: drop it."""
        if self.current is self.lead:
            self.line.clear()
            self.lead.lines.clear()

    def add_related(self, links: list[Link]) -> None:
        for link in links:
            self.related.setdefault(link.url, link)

    # -- the walk ---------------------------------------------------------------------
    def enter(self, node: Tag) -> int:
        """Handle entering an element: -1 to skip its subtree, else what leaving it must undo."""
        name = node.name
        if name in NO_TEXT_TAGS or id(node) in self.skip:
            return -1
        if node is self.title_el:
            self.title_reached()
            return -1
        if node.attrs and self.is_related(node) and id(node) not in self.spare:
            self.add_related(box_links(node, self.url))
            return -1
        if name in LABEL_BOX_TAGS and (links := label_box_links(node, self.url)) is not None:
            self.add_related(links)
            return -1
        if (self.removed(node) and (name not in _EXCEPTIONS or self.cleaner.removes(node))
                and id(node) not in self.spare):
            return -1
        if name in _HEADINGS:
            self.heading(node)
            return -1
        if name == "br":
            self.flush()
            return -1
        if name == "hr":
            self.flush()
            return -1
        flags = 0
        marked = faq.has_faq_mark(node) or (name == "dl" and faq.is_faq_dl(node))
        if marked:
            self.faq_marks += 1
            flags |= _F_FAQ
        if name == "details":
            summary = node.find("summary")
            summary_text = element_text(summary) if summary is not None else ""
            if summary_text:
                element_id = node.get("id") or (summary.get("id") if summary is not None else "") or ""
                self.open_faq(summary_text, element_id if isinstance(element_id, str) else "", node)
                self.skip.add(id(summary))
        elif name in ("ul", "ol") and faq.is_qa_list(node, strict=not self.in_faq()):
            self.qa_lists += 1
            flags |= _F_QA
        elif self.faq_marks or self.qa_lists or self.current.faq_zone:  # in_faq(), inlined: hot path
            question = faq.question_of(node, in_list=self.qa_lists > 0)
            if question is not None:
                if marked:  # the subtree is skipped, so leave() will not undo the mark
                    self.faq_marks -= 1
                own = node.get("id")
                self.open_faq(question, own if isinstance(own, str) else "", node.parent)
                return -1
            lead_q = faq.leading_question(node)
            if lead_q is not None:
                self.open_faq(lead_q[0], "", node.parent)
                self.skip.add(id(lead_q[1]))
        if name == "tr" and self.cells is None:
            self.flush()
            self.cells = []
            self.frag = []  # stray text between cells
            return flags | _F_ROW
        if name in ("td", "th") and self.cells is not None:
            cell: list[str] = []
            self.cells.append(cell)
            self.frag = cell
            return flags
        if name == "pre":
            self.pre += 1
            flags |= _F_PRE
        if name == "section":
            ident = node.get("id")
            self.sections.append([ident if isinstance(ident, str) else "", ""])
            flags |= _F_SECTION
        if name in BLOCK_TAGS:
            self.flush()
            flags |= _F_BLOCK
        return flags

    def leave(self, node: Tag, flags: int) -> None:
        if flags & _F_ROW:
            self.end_row()
        elif flags & _F_BLOCK:
            self.flush()
        if flags & _F_PRE:
            self.pre -= 1
        if flags & _F_FAQ:
            self.faq_marks -= 1
        if flags & _F_QA:
            self.qa_lists -= 1
        if flags & _F_SECTION:
            self.sections.pop()
        if node is self.faq_owner:
            self.close_faq()

    def run(self, root: Tag) -> None:
        stack: list[PageElement | tuple[Tag, int]] = list(reversed(root.contents))
        while stack:
            node = stack.pop()
            if type(node) is NavigableString:
                if self.pre:
                    self.text(node)
                elif self.frag or not node.isspace():  # leading blanks of a line do not matter
                    self.frag.append(node)
            elif type(node) is Tag:
                flags = self.enter(node)
                if flags >= 0:
                    stack.append((node, flags))
                    stack.extend(reversed(node.contents))
            elif isinstance(node, tuple):
                self.leave(*node)
        if self.cells is not None:
            self.end_row()
        self.close_faq()
        self.flush()


@dataclass(frozen=True)
class Split:
    """The splitter's result: sections in document order and the related links found."""

    sections: tuple[Section, ...]
    related: tuple[Link, ...]


def split_sections(
    container: Tag,
    *,
    title: str,
    title_el: Tag | None,
    url: str,
    split_levels: tuple[int, ...],
    cleaner: Cleaner,
    skip: set[int],
    page_ids: set[str],
    spare: set[int] | None = None,
    linked_faq: tuple[tuple[str, str], ...] = (),
) -> Split:
    """Walk the content container once and return its sections and related links."""
    walker = _Walker(
        title=title, title_el=title_el, url=url, levels=frozenset(split_levels), cleaner=cleaner, skip=skip,
        spare=spare or set(),
    )
    walker.run(container)
    merge_linked_faq(walker.drafts, linked_faq)
    return Split(finish(walker.drafts, url, page_ids), tuple(walker.related.values()))
