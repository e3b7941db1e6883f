"""Parse stage, outline: sections being filled, then finished into `kb.models.Section`s.

While the walk (`indexer.sections`) runs, an `Outline` holds the drafts it has opened.
Rules chosen here:
- the lead (text before the first heading) has kind "lead", the article title as heading,
  breadcrumb (), anchor "lead" and the page URL as deep link; without text it is dropped;
- a section without text of its own is dropped, but its heading stays in the
  breadcrumbs of its subsections (breadcrumbs are built while walking, not from output);
- an FAQ entry's breadcrumb is the enclosing non-FAQ section's breadcrumb plus the question;
- FAQPage JSON-LD adds the questions the HTML did not show, and turns a plain section
  whose heading is one of its questions into an FAQ entry; nothing is duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer import faq
from indexer.anchors import LEAD_ANCHOR, Anchors, id_link, page_url, text_fragment_link
from indexer.lines import BlockDraft
from kb.models import Block, Section, SectionKind


@dataclass(eq=False, slots=True)
class Draft:
    """A section while it is being filled."""

    heading: str
    crumb: tuple[str, ...]
    kind: SectionKind
    level: int
    element_id: str
    faq_zone: bool  # questions may open here: an FAQ section, its subsections, an FAQ entry
    lines: list[str] = field(default_factory=list)
    blocks: list[BlockDraft] = field(default_factory=list)

    def structure(self) -> tuple[Block, ...]:
        """The lines as blocks (paragraphs only for a draft filled without structure)."""
        if self.blocks:
            return tuple(b.done() for b in self.blocks)
        return tuple(Block("paragraph", (line,)) for line in self.lines)


class Outline:
    """The drafts opened so far while walking: the lead, the open headings and the open FAQ entry."""

    def __init__(self, title: str) -> None:
        self.lead = Draft(title, (), "lead", 0, "", False)
        self.drafts = [self.lead]
        self.stack: list[Draft] = []  # open heading sections, outermost first
        self.current = self.lead  # receives lines
        self.faq_owner: object = None  # the element whose end closes the open FAQ entry
        self.faq_open = False
        self.sections: list[list[str]] = []  # enclosing <section>s: [id, "used" once a heading took it]

    def section_id(self) -> str:
        """The id of the innermost enclosing `<section>`s that no heading has used yet."""
        for entry in reversed(self.sections):
            if entry[1]:
                return ""
            entry[1] = "used"
            if entry[0]:
                return entry[0]
        return ""

    def parent_at(self, level: int) -> Draft | None:
        """Close the open sections a heading of `level` ends; the one it nests in, if any."""
        stack = self.stack
        while stack and stack[-1].level >= level:
            stack.pop()
        return stack[-1] if stack else None

    def open_section(self, d: Draft) -> None:
        """A heading's section opens (after `parent_at`): lines go to it."""
        self.drafts.append(d)
        self.stack.append(d)
        self.current = d

    def open_faq(self, question: str, element_id: str, owner: object) -> None:
        """An FAQ entry opens; a question met inside another question's section is its sibling."""
        base = next((d for d in reversed(self.stack) if d.kind != "faq"), self.lead)
        d = Draft(question, (*base.crumb, question), "faq", 99, element_id, True)
        self.drafts.append(d)
        self.current, self.faq_owner, self.faq_open = d, owner, True

    def close_faq(self) -> None:
        """The open FAQ entry ends: lines go back to the innermost open section."""
        self.current = self.stack[-1] if self.stack else self.lead
        self.faq_owner, self.faq_open = None, False


def merge_linked_faq(drafts: list[Draft], pairs: tuple[tuple[str, str], ...]) -> None:
    """Add FAQPage JSON-LD pairs the HTML did not show; mark sections they name as FAQ."""
    if not pairs:
        return
    by_question = {faq.question_key(d.heading): d for d in drafts[1:] if d.lines}
    parent = next((d for d in drafts[1:] if d.kind == "section" and faq.is_faq_title(d.heading)), None)
    for question, answer in pairs:
        key = faq.question_key(question)
        known = by_question.get(key)
        if known is not None:
            known.kind = "faq"
        elif answer:
            crumb = (*(parent.crumb if parent else ()), question)
            by_question[key] = Draft(question, crumb, "faq", 99, "", True, answer.split("\n"))
            drafts.append(by_question[key])


def finish(drafts: list[Draft], url: str, page_ids: set[str]) -> tuple[Section, ...]:
    """The drafts that have text as sections, with unique anchors and deep links (drafts[0]: the lead)."""
    anchors = Anchors(page_ids)
    out: list[Section] = []
    for i, d in enumerate(drafts):
        if not d.lines:
            continue
        text = "\n".join(d.lines)
        if i == 0:
            out.append(Section(LEAD_ANCHOR, d.heading, (), "lead", text, page_url(url), d.structure()))
            continue
        if d.element_id:
            # A repeated id still links to the page, but the local view needs its own anchor.
            anchor = d.element_id if anchors.real(d.element_id) else anchors.generate(d.heading)
            link = id_link(url, d.element_id)
        else:
            anchor = anchors.generate(d.heading)
            link = text_fragment_link(url, d.heading)
        out.append(Section(anchor, d.heading, d.crumb, d.kind, text, link, d.structure()))
    return tuple(out)
