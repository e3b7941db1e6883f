"""Parse stage, FAQ detection: which headings, blocks and lists are questions.

A question opens an FAQ entry whose answer is what follows it, up to the next question,
the next heading or the end of the element that holds the pairs (a list, a `<dl>`, a
`<details>`). These predicates only look at one element and its small subtree; the
section splitter decides when to ask them (inside an FAQ section or FAQ markup).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bs4.element import NavigableString, Tag

from indexer.clean import class_text
from indexer.element_text import element_text

# Headings that title an FAQ section: their sub-headings and bold lines are questions.
FAQ_TITLE = re.compile(
    r"\b(?:faqs?|f\.a\.q|frequently[ -]asked[ -]questions?|common questions|"
    r"questions (?:and|&) answers|q\s*&\s*a)\b",
    re.I,
)
_FAQ_MARK = re.compile(r"faq", re.I)  # in a class or id: FAQ markup from a plugin or theme
_QUESTION_MARK = re.compile(r"question(?!s)|faq[-_]*(?:q|title|head(?:er|ing)?|toggle)\b", re.I)
_Q_PREFIX = re.compile(r"(?:Q|Question)\s*\d*\s*[:.)]\s*(.+\?)", re.I | re.S)
_A_PREFIX = re.compile(r"(?:A|Answer)\s*[:)]\s*", re.I)
_BOLD = frozenset({"strong", "b"})
_MAX_QUESTION = 300


def is_faq_title(heading: str) -> bool:
    """Whether a heading names an FAQ section ("FAQ", "Frequently asked questions" …)."""
    return FAQ_TITLE.search(heading) is not None


def has_faq_mark(el: Tag) -> bool:
    """Whether the element's class or id marks it as FAQ markup."""
    attrs = el.attrs
    if not attrs:
        return False
    ident = attrs.get("id")
    marks = f"{ident if isinstance(ident, str) else ''} {class_text(el)}"
    return _FAQ_MARK.search(marks) is not None


def has_question_mark(el: Tag) -> bool:
    """Whether the element's class says it is a question ("faq-question", "rank-math-question")."""
    return bool(el.attrs) and _QUESTION_MARK.search(class_text(el)) is not None


def bold_text(el: Tag) -> str | None:
    """The element's text when every word of it is bold (`<strong>`/`<b>`), else None."""
    if el.name in _BOLD:
        return element_text(el) or None
    found = False
    for node in el.descendants:
        if type(node) is not NavigableString or node.isspace():
            continue
        parent = node.parent
        while parent is not None and parent is not el and parent.name not in _BOLD:
            parent = parent.parent
        if parent is None or parent is el:
            return None
        found = True
    return (element_text(el) or None) if found else None


def _questionish(text: str | None) -> bool:
    return bool(text) and len(text or "") <= _MAX_QUESTION and not is_faq_title(text or "")


def question_of(el: Tag, *, in_list: bool) -> str | None:
    """The question this whole element is, inside FAQ context, or None.

    A class naming a question, a `<dt>`, or a `<p>`/`<li>` that is all bold and ends in "?"
    (in a verified question/answer list any all-bold item), or a "Q: …?" paragraph.
    """
    name = el.name
    if has_question_mark(el) or name == "dt":
        text = element_text(el)
        return text if _questionish(text) else None
    if name not in ("p", "li"):
        return None
    bold = bold_text(el)
    if bold is not None:
        return bold if _questionish(bold) and (bold.endswith("?") or (in_list and name == "li")) else None
    if name == "p":
        m = _Q_PREFIX.fullmatch(element_text(el))
        if m and _questionish(m.group(1)):
            return m.group(1)
    return None


def leading_question(el: Tag) -> tuple[str, Tag] | None:
    """A paragraph that opens with a bold question and goes on with its answer: (question, bold tag)."""
    if el.name != "p":
        return None
    for child in el.children:
        if type(child) is NavigableString and child.isspace():
            continue
        if isinstance(child, Tag) and child.name in _BOLD:
            q = element_text(child)
            if q.endswith("?") and _questionish(q):
                return q, child
        return None
    return None


class DetailsQuestion(NamedTuple):
    """A `<details>` element's question: its summary's text, the anchor to link to, the summary."""

    question: str
    element_id: str
    summary: Tag


def details_question(el: Tag) -> DetailsQuestion | None:
    """The question a `<details>` element asks in its `<summary>`, or None without one."""
    summary = el.find("summary")
    if summary is None:
        return None
    text = element_text(summary)
    if not text:
        return None
    element_id = el.get("id") or summary.get("id") or ""
    return DetailsQuestion(text, element_id if isinstance(element_id, str) else "", summary)


def is_qa_list(el: Tag, *, strict: bool) -> bool:
    """Whether a list alternates question items (all bold) and answer items.

    `strict` (outside FAQ context) also requires every question to end in "?".
    """
    items = [c for c in el.children if isinstance(c, Tag) and c.name == "li"]
    if len(items) < 2 or len(items) % 2:
        return False
    for i, li in enumerate(items):
        q = bold_text(li)
        if i % 2 == 0:
            if q is None or (strict and not q.endswith("?")):
                return False
        elif q is not None and q.endswith("?"):
            return False
    return True


def is_faq_dl(el: Tag) -> bool:
    """Whether a `<dl>` holds questions: one of its terms ends in "?"."""
    return any(element_text(dt).endswith("?") for dt in el.find_all("dt", limit=50))


def strip_answer_prefix(line: str) -> str:
    """The first line of an answer without its "A:" / "Answer:" label."""
    m = _A_PREFIX.match(line)
    return line[m.end() :] if m and m.end() < len(line) else line


def question_key(text: str) -> str:
    """How questions are compared across HTML and JSON-LD: casefolded, no trailing "?"."""
    return " ".join(text.casefold().split()).rstrip(" ?")
