"""Parse stage, splitting: the content container's text as sections that follow headings.

One iterative walk over the container cleans, extracts text and splits at once:
removed elements are skipped (never mutated out of the tree), "See also" boxes become
related links, headings at `split_levels` open sections, and FAQ questions open `faq`
entries. Lists give one line per item, tables one line per row (cells joined by " | "),
`<pre>` keeps its lines. Text before the first heading is the lead.

The walk decides what each element is; three helpers keep what it found: `indexer.textflow`
gathers text into lines and table rows, `indexer.outline` holds the sections opened so far (and
the rules for the lead, empty sections and breadcrumbs), `indexer.related` the related links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, Tag

from indexer import faq
from indexer.anchors import same_site
from indexer.clean import Cleaner
from indexer.element_text import BLOCK_TAGS, NO_TEXT_TAGS, element_text, heading_id
from indexer.lines import add_line, is_chrome_line
from indexer.outline import Draft, Outline, finish, merge_linked_faq
from indexer.related import LABEL_BOX_TAGS, Link, Related
from indexer.textflow import TextFlow
from kb.models import BlockKind, Section

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_EXCEPTIONS = frozenset({"header", "footer"})  # removal rules that `Cleaner.removes` may overrule
_LISTS = frozenset({"ul", "ol", "dl"})

SKIP = -1  # `enter`'s answer for a subtree not to walk
# What leaving an element must undo (bits of `enter`'s answer).
_F_BLOCK, _F_ROW, _F_PRE, _F_FAQ, _F_QA, _F_SECTION, _F_LINK, _F_LIST, _F_TABLE = (1 << n for n in range(9))


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
        self.outline = Outline(title)
        self.flow = TextFlow(self.emit)
        self.flush = self.flow.flush
        self.structure: list[tuple[BlockKind, int]] = []  # open lists and tables, innermost last
        self.faq_marks = 0  # depth inside elements whose class/id says "faq"
        self.qa_lists = 0
        self.related = Related(url)

    # -- text -------------------------------------------------------------------------
    def emit(self, text: str, links: int, row: tuple[str, ...] = ()) -> None:
        """Keep one finished line (a paragraph line, a list item, a table row) unless it is chrome."""
        if is_chrome_line(text, links):
            return
        outline = self.outline
        current = outline.current
        if current.kind == "faq" and not current.lines and outline.faq_open:
            text = faq.strip_answer_prefix(text)
        current.lines.append(text)
        kind, owner = self.structure[-1] if self.structure else ("paragraph", 0)
        add_line(current.blocks, text, "table" if row else kind, owner, row)

    # -- sections ---------------------------------------------------------------------
    def open_faq(self, question: str, element_id: str, owner: Tag | None) -> None:
        self.close_faq()
        self.flush()
        self.outline.open_faq(question, element_id, owner)

    def close_faq(self) -> None:
        if self.outline.faq_open:
            self.flush()
            self.outline.close_faq()

    def heading(self, node: Tag) -> None:
        level = int(node.name[1])
        text = element_text(node)
        if not text:
            return
        if level == 1 and text.casefold() == self.title.casefold():
            self.title_reached()
            return
        if self.flow.cells is not None or level not in self.levels:
            self.flow.own_line(text)
            return
        if (links_list := self.related.take_after_label(node, text)) is not None:
            self.skip.add(id(links_list))
            return
        self.close_faq()
        self.flush()
        element_id = heading_id(node) or self.outline.section_id()
        parent = self.outline.parent_at(level)
        titled = faq.is_faq_title(text)
        question = not titled and (
            (parent is not None and parent.faq_zone) or self.faq_marks > 0 or faq.has_question_mark(node)
        )
        d = Draft(text, (*(parent.crumb if parent else ()), text), "faq" if question else "section",
                  level, element_id, titled or question)  # fmt: skip
        self.outline.open_section(d)

    def title_reached(self) -> None:
        """Text before the title inside the container is a kicker, breadcrumb or date: drop it."""
        if self.outline.current is self.outline.lead:
            self.flow.drop_line()
            self.outline.lead.lines.clear()

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

    def dropped(self, node: Tag, name: str) -> bool:
        """Whether the element is not text: no-text tags, removals, related boxes, the title."""
        if name in NO_TEXT_TAGS or id(node) in self.skip:
            return True
        if node is self.title_el:
            self.title_reached()
            return True
        spared = id(node) in self.spare
        if node.attrs and not spared and self.is_related(node):
            self.related.take_box(node)
            return True
        if name in LABEL_BOX_TAGS and self.related.take_labelled(node):
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
        in_faq = bool(self.faq_marks or self.qa_lists or self.outline.current.faq_zone)
        if name == "details":
            self.open_details(node)
        elif name in ("ul", "ol") and faq.is_qa_list(node, strict=not in_faq):
            self.qa_lists += 1
            flags |= _F_QA
        elif in_faq:
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
        found = faq.details_question(node)
        if found is not None:
            self.open_faq(found.question, found.element_id, node)
            self.skip.add(id(found.summary))

    def enter_structure(self, node: Tag, name: str) -> int:
        """Rows and cells, `<pre>`, `<section>` ids, lists, tables, links and blocks."""
        flow = self.flow
        if name == "a":
            if same_site(node.get("href"), self.host):  # a link out (a source, a citation) reads as prose
                flow.links_open += 1
                return _F_LINK
            return 0
        if name == "tr" and flow.cells is None:
            flow.start_row()
            return _F_ROW
        if name in ("td", "th") and flow.cells is not None:
            flow.start_cell()
            return 0
        flags = 0
        if name == "pre":
            flow.pre += 1
            flags |= _F_PRE
        elif name == "section":
            ident = node.get("id")
            self.outline.sections.append([ident if isinstance(ident, str) else "", ""])
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
            self.flow.links_open -= 1
            return
        if flags & _F_ROW:
            self.flow.end_row()
        elif flags & _F_BLOCK:
            self.flush()
        if flags & _F_PRE:
            self.flow.pre -= 1
        if flags & _F_FAQ:
            self.faq_marks -= 1
        if flags & _F_QA:
            self.qa_lists -= 1
        if flags & _F_SECTION:
            self.outline.sections.pop()
        if flags & (_F_LIST | _F_TABLE):
            self.structure.pop()
        if node is self.outline.faq_owner:
            self.close_faq()

    def run(self, root: Tag) -> None:
        stack: list[PageElement | tuple[Tag, int]] = list(reversed(root.contents))
        add = self.flow.add
        while stack:
            node = stack.pop()
            if type(node) is NavigableString:
                add(node)
            elif type(node) is Tag:
                flags = self.enter(node)
                if flags != SKIP:
                    stack.append((node, flags))
                    stack.extend(reversed(node.contents))
            elif isinstance(node, tuple):
                self.leave(*node)
        self.flow.end()

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
    drafts = walker.outline.drafts
    merge_linked_faq(drafts, linked_faq)
    return Split(finish(drafts, url, page_ids), walker.related.links())
