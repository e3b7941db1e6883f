"""Parse stage, text flow: the walk's strings gathered into finished lines.

The walk (`indexer.sections`) hands over every text node it meets and says where lines
and table rows begin and end. Text is kept as fragments until a line ends; then its
whitespace is collapsed and the line goes to the walker's `emit` with how many of its
characters sat inside internal links (a line made of links is chrome, see `indexer.lines`).
A table row's cells are joined by " | ", and `<pre>` keeps its line breaks.
"""

from __future__ import annotations

from collections.abc import Callable

from indexer.element_text import INVISIBLE

Emit = Callable[[str, int, tuple[str, ...]], None]  # (line, link characters, the row's cells or ())


class TextFlow:
    """The line being gathered, the open table row's cells, `<pre>` depth and link text."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.line: list[str] = []
        self.line_links = 0  # characters of the current line inside links
        self.links_open = 0
        self.frag = self.line  # where text goes: the line, or the current table cell
        self.cells: list[list[str]] | None = None
        self.pre = 0

    def add(self, s: str) -> None:
        """A text node met by the walk."""
        if self.pre:
            self._pre_text(s)
        elif self.frag or not s.isspace():  # leading blanks of a line do not matter
            self.frag.append(s)
            if self.links_open:
                self.line_links += len(s) - s.count(" ")

    def flush(self) -> None:
        """End the current line (inside a table row, only a space between fragments)."""
        if self.cells is not None:
            self.frag.append(" ")
            return
        if not self.line:
            return
        text = " ".join(INVISIBLE.sub("", "".join(self.line)).split())
        links, self.line_links = self.line_links, 0
        self.line.clear()
        if text:
            self._emit(text, links, ())

    def own_line(self, text: str) -> None:
        """Text that stands on a line of its own (a heading that does not open a section)."""
        self.flush()
        self.frag.append(text)
        self.flush()

    def drop_line(self) -> None:
        """Forget the line gathered so far."""
        self.line.clear()

    def _pre_text(self, s: str) -> None:
        if "\n" in s:
            *done, rest = s.split("\n")
            for part in done:
                self.frag.append(part)
                self.flush()
            self.frag.append(rest)
        else:
            self.frag.append(s)

    def start_row(self) -> None:
        """A table row opens: its cells gather apart until it ends."""
        self.flush()
        self.cells = []
        self.frag = []  # stray text between cells

    def start_cell(self) -> None:
        """A cell of the open row opens."""
        assert self.cells is not None
        cell: list[str] = []
        self.cells.append(cell)
        self.frag = cell

    def end_row(self) -> None:
        """The open row ends: its non-empty cells make one line."""
        cells, self.cells, self.frag = self.cells or [], None, self.line
        parts = tuple(t for t in (" ".join("".join(c).split()) for c in cells) if t)
        links, self.line_links = self.line_links, 0
        if parts:
            self._emit(" | ".join(parts), links, parts)

    def end(self) -> None:
        """The walk of one root is over: end an unclosed row and the last line."""
        if self.cells is not None:
            self.end_row()
        self.flush()
