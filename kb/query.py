"""Query understanding, before any engine: what a reader typed, as words, phrases and filters.

Any string at all parses: unbalanced quotes close at the end, lone operators and syntax
characters (`*`, `?`, `(`, `AND`) are plain text, control characters are dropped. Supported:
`"a phrase"`, `-word` / `-"a phrase"` to exclude, and the field prefixes `title:`,
`heading:`, `category:`, `tag:` and `kind:` (with a word or a quoted value).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace

from kb import text

FIELDS = ("title", "heading", "category", "tag", "kind")
_TOKEN_RE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)(?:"|$)|(\S+))')
_OPERATORS = frozenset({"and", "or", "not", "&&", "||", "!"})


@dataclass(frozen=True)
class TypedWord:
    """A plain query word as typed (its `start`/`end` locate it in the cleaned query)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class ParsedQuery:
    """A query taken apart: what to score, what to require, what to exclude, what to filter by."""

    cleaned: str
    words: tuple[TypedWord, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    fielded: tuple[tuple[str, str], ...] = ()  # (field, value) for title:/heading:
    filters: tuple[tuple[str, str], ...] = ()  # (field, value) for category:/tag:/kind:
    notices: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """True when there is nothing to search for or filter by."""
        return not (self.words or self.phrases or self.fielded or self.filters)


def clean(raw: str, max_chars: int) -> tuple[str, tuple[str, ...]]:
    """Drop control characters, normalise Unicode and whitespace, cap the length."""
    notices: list[str] = []
    s = unicodedata.normalize("NFC", raw)
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in s)
    s = " ".join(s.split())
    if len(s) > max_chars:
        s = s[:max_chars].rsplit(" ", 1)[0] if " " in s[:max_chars] else s[:max_chars]
        notices.append(f"Your query was cut to its first {max_chars} characters.")
    return s, tuple(notices)


def parse(raw: str, max_chars: int = 500) -> ParsedQuery:
    """Parse a reader's query; never raises."""
    cleaned, notices = clean(raw, max_chars)
    words: list[TypedWord] = []
    phrases: list[str] = []
    excluded: list[str] = []
    fielded: list[tuple[str, str]] = []
    filters: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(cleaned):
        neg, fieldname, quoted, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        if fieldname and fieldname.lower() not in FIELDS:
            # "ratio:1" or "http://..." are text, not fields: take the whole token as words
            bare = f"{fieldname}:{quoted if quoted is not None else bare or ''}"
            fieldname = None
            quoted = None
        value = quoted if quoted is not None else (bare or "")
        if not text.words(value):
            continue  # only punctuation / operators' symbols: nothing to search for
        if fieldname:
            f = fieldname.lower()
            if neg:
                excluded.append(value)
            elif f in ("category", "tag", "kind"):
                filters.append((f, value.strip()))
            else:
                fielded.append((f, value))
        elif neg:
            excluded.append(value)
        elif quoted is not None:
            if len(text.words(value)) > 1:
                phrases.append(value)
            else:
                words.append(TypedWord(value.strip(), m.start(3), m.start(3) + len(value)))
        elif value.lower() in _OPERATORS:
            continue
        else:
            for wm in text.WORD_RE.finditer(value):
                start = m.start(4) + wm.start()
                words.append(TypedWord(wm.group(), start, start + len(wm.group())))
    return ParsedQuery(cleaned, tuple(words), tuple(phrases), tuple(excluded), tuple(fielded),
                       tuple(filters), notices)


def loosen(parsed: ParsedQuery) -> ParsedQuery:
    """The query with its quoted phrases as plain words: the fallback when no section holds a phrase."""
    words = list(parsed.words)
    for phrase in parsed.phrases:
        at = parsed.cleaned.find(phrase)
        base = max(at, 0)
        for wm in text.WORD_RE.finditer(phrase):
            start = base + wm.start() if at >= 0 else 0
            words.append(TypedWord(wm.group(), start, start + len(wm.group()) if at >= 0 else 0))
    words.sort(key=lambda w: w.start)
    notice = ("No section holds the quoted phrase" + ("s " if len(parsed.phrases) > 1 else " ")
              + ", ".join(f"“{p}”" for p in parsed.phrases) + ": showing sections with its words instead.")
    return replace(parsed, words=tuple(words), phrases=(), notices=(*parsed.notices, notice))
