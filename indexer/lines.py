"""Parse stage, lines: which lines of text are the article's, and the blocks they form.

The walk (`indexer.sections`) hands over one line at a time with how much of it sat in links.
A line is page chrome, not article text, when it is only a call to action ("Order now"), a
short line made of links (a list of other stories, "Home | News | Sport", share buttons), or a
date on its own. Kept lines go to the open section and to its structure: consecutive items of
one list form a list block, rows of one table a table block, anything else is a paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.models import Block, BlockKind

_BOILERPLATE_LINE = re.compile(
    r"(?:order now|buy now|add to cart|read more|continue reading|skip to content|"
    r"[$€£]\s?\d+(?:[.,]\d+)? per (?:pill|tablet|capsule|pack|dose))\W*",
    re.I,
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_LINE = re.compile(
    rf"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?"
    rf"(?:\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}})"
    rf"(?:,?\s+(?:at\s+)?\d{{1,2}}[:.]\d{{2}}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{{2,4}})?)?",
    re.I,
)
_LINK_LINE_SHARE = 0.7  # a line this much made of link text ...
_LINK_LINE_WORDS = 12  # ... and no longer than this is navigation, not prose


def is_chrome_line(text: str, link_chars: int) -> bool:
    """Whether a line is page chrome: a call to action, a short run of links, or a lone date."""
    if _BOILERPLATE_LINE.fullmatch(text) or _DATE_LINE.fullmatch(text):
        return True
    chars = len(text) - text.count(" ")
    return chars > 0 and link_chars >= chars * _LINK_LINE_SHARE and text.count(" ") < _LINK_LINE_WORDS


@dataclass(eq=False, slots=True)
class BlockDraft:
    """A block while it is being filled."""

    kind: BlockKind
    owner: int  # id() of the list or table element; 0 for a paragraph
    lines: list[str] = field(default_factory=list)
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def done(self) -> Block:
        """The finished block."""
        return Block(self.kind, tuple(self.lines), tuple(self.rows) if self.kind == "table" else ())


def add_line(blocks: list[BlockDraft], text: str, kind: BlockKind, owner: int,
             row: tuple[str, ...] = ()) -> None:
    """Put one kept line in its block: the open list/table block of the same element, else a new one."""
    last = blocks[-1] if blocks else None
    if last is None or kind == "paragraph" or last.kind != kind or last.owner != owner:
        last = BlockDraft(kind, owner)
        blocks.append(last)
    last.lines.append(text)
    if kind == "table":
        last.rows.append(row or (text,))
