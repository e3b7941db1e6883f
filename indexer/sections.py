"""Parse stage, splitting: the content container's text as sections that follow headings.

One iterative walk over the container cleans, extracts text and splits at once:
removed elements are skipped (never mutated out of the tree), "See also" boxes become
related links, headings at `split_levels` open sections, and FAQ questions open `faq`
entries. Lists give one line per item, tables one line per row (cells joined by " | "),
`<pre>` keeps its lines. Text before the first heading is the lead.

The rules for the lead, empty sections and breadcrumbs are in `indexer.outline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4.element import NavigableString, PageElement, Tag

from indexer import faq
from indexer.clean import LABEL_BOX_TAGS, RELATED_LABEL, Cleaner, Link, box_links, label_box_links, links_only
from indexer.element_text import BLOCK_TAGS, INVISIBLE, NO_TEXT_TAGS, element_text
from indexer.lines import add_line, is_chrome_line
from indexer.outline import Draft, finish, merge_linked_faq
from kb.models import BlockKind, Section

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_ANCHOR_CHILDREN = frozenset({"a", "span"})
_EXCEPTIONS = frozenset({"header", "footer"})  # removal rules that `Cleaner.removes` may overrule
_LISTS = frozenset({"ul", "ol", "dl"})

SKIP = -1  # `enter`'s answer for a subtree not to walk
# What leaving an element must undo (bits of `enter`'s answer).
_F_BLOCK, _F_ROW, _F_PRE, _F_FAQ, _F_QA, _F_SECTION, _F_LINK, _F_LIST, _F_TABLE = (1 << n for n in range(9))


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
        host: str,
        levels: frozenset[int],
        cleaner: Cleaner,
        skip: set[int],
        spare: set[int],
    ) -> None:
        self.title = title
        self.title_el = title_el
        self.url = url
        self.host = host
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
        self.line_links = 0  # characters of the current line inside links
        self.links_open = 0
        self.structure: list[tuple[BlockKind, int]] = []  # open lists and tables, innermost last
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
        links, self.line_links = self.line_links, 0
        self.line.clear()
        if text:
            self.emit(text, links)

    def emit(self, text: str, links: int, row: tuple[str, ...] = ()) -> None:
        """Keep one finished line (a paragraph line, a list item, a table row) unless it is chrome."""
        if is_chrome_line(text, links):
            return
        if self.current.kind == "faq" and not self.current.lines and self.faq_open:
            text = faq.strip_answer_prefix(text)
        self.current.lines.append(text)
        kind, owner = self.structure[-1] if self.structure else ("paragraph", 0)
        add_line(self.current.blocks, text, "table" if row else kind, owner, row)

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
        parts = tuple(t for t in (" ".join("".join(c).split()) for c in cells) if t)
        links, self.line_links = self.line_links, 0
        if parts:
            self.emit(" | ".join(parts), links, parts)

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
        """Handle entering an element: `SKIP` for a subtree not to walk, else what leaving it undoes."""
        name = node.name
        if self.dropped(node, name):
            return SKIP
        if name in _HEADINGS:
            self.heading(node)
            return SKIP
        if name == "br" or name == "hr":
            self.flush()
            return SKIP
        flags = self.enter_faq(node, name)
        if flags == SKIP:
            return SKIP
        return flags | self.enter_structure(node, name)

    def internal_link(self, node: Tag) -> bool:
        """Whether a link stays on this site (relative, or to the page's own host)."""
        href = node.get("href")
        if not isinstance(href, str):
            return True
        host = urlsplit(href.strip()).netloc.lower()
        return not host or host == self.host

    def dropped(self, node: Tag, name: str) -> bool:
        """Whether the element is not text: no-text tags, removals, related boxes, the title."""
        if name in NO_TEXT_TAGS or id(node) in self.skip:
            return True
        if node is self.title_el:
            self.title_reached()
            return True
        spared = id(node) in self.spare
        if node.attrs and not spared and self.is_related(node):
            self.add_related(box_links(node, self.url))
            return True
        if name in LABEL_BOX_TAGS and (links := label_box_links(node, self.url)) is not None:
            self.add_related(links)
            return True
        return (not spared and self.removed(node)
                and (name not in _EXCEPTIONS or self.cleaner.removes(node)))  # fmt: skip

    def enter_faq(self, node: Tag, name: str) -> int:
        """FAQ marks, `<details>` questions, Q&A lists and questions inside FAQ zones."""
        flags = 0
        marked = faq.has_faq_mark(node) or (name == "dl" and faq.is_faq_dl(node))
        if marked:
            self.faq_marks += 1
            flags |= _F_FAQ
        if name == "details":
            self.open_details(node)
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
                return SKIP
            lead_q = faq.leading_question(node)
            if lead_q is not None:
                self.open_faq(lead_q[0], "", node.parent)
                self.skip.add(id(lead_q[1]))
        return flags

    def open_details(self, node: Tag) -> None:
        summary = node.find("summary")
        summary_text = element_text(summary) if summary is not None else ""
        if summary_text:
            element_id = node.get("id") or (summary.get("id") if summary is not None else "") or ""
            self.open_faq(summary_text, element_id if isinstance(element_id, str) else "", node)
            self.skip.add(id(summary))

    def enter_structure(self, node: Tag, name: str) -> int:
        """Rows and cells, `<pre>`, `<section>` ids, lists, tables, links and blocks."""
        if name == "a":
            if self.internal_link(node):  # a link out (a source, a citation) reads as prose
                self.links_open += 1
                return _F_LINK
            return 0
        if name == "tr" and self.cells is None:
            self.flush()
            self.cells = []
            self.frag = []  # stray text between cells
            return _F_ROW
        if name in ("td", "th") and self.cells is not None:
            cell: list[str] = []
            self.cells.append(cell)
            self.frag = cell
            return 0
        flags = 0
        if name == "pre":
            self.pre += 1
            flags |= _F_PRE
        elif name == "section":
            ident = node.get("id")
            self.sections.append([ident if isinstance(ident, str) else "", ""])
            flags |= _F_SECTION
        elif name in _LISTS or name == "table":
            self.flush()
            self.structure.append(("table", id(node)) if name == "table" else ("list", id(node)))
            flags |= _F_TABLE if name == "table" else _F_LIST
        if name in BLOCK_TAGS:
            self.flush()
            flags |= _F_BLOCK
        return flags

    def leave(self, node: Tag, flags: int) -> None:
        if flags & _F_LINK:
            self.links_open -= 1
            return
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
        if flags & (_F_LIST | _F_TABLE):
            self.structure.pop()
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
                    if self.links_open:
                        self.line_links += len(node) - node.count(" ")
            elif type(node) is Tag:
                flags = self.enter(node)
                if flags != SKIP:
                    stack.append((node, flags))
                    stack.extend(reversed(node.contents))
            elif isinstance(node, tuple):
                self.leave(*node)
        if self.cells is not None:
            self.end_row()
        self.flush()

    def finish(self) -> None:
        self.close_faq()
        self.flush()


@dataclass(frozen=True)
class Split:
    """The splitter's result: sections in document order and the related links found."""

    sections: tuple[Section, ...]
    related: tuple[Link, ...]


def split_sections(
    roots: Sequence[Tag],
    *,
    title: str,
    title_el: Tag | None,
    url: str,
    split_levels: tuple[int, ...],
    cleaner: Cleaner,
    skip: set[int],
    page_ids: set[str],
    spare: set[int] | None = None,
    host: str = "",
    linked_faq: tuple[tuple[str, str], ...] = (),
) -> Split:
    """Walk the content container (and the blocks that continue it) once: sections and related links."""
    walker = _Walker(
        title=title, title_el=title_el, url=url, host=host, levels=frozenset(split_levels), cleaner=cleaner, skip=skip,
        spare=spare or set(),
    )
    for root in roots:
        walker.run(root)
    walker.finish()
    merge_linked_faq(walker.drafts, linked_faq)
    return Split(finish(walker.drafts, url, page_ids), tuple(walker.related.values()))
