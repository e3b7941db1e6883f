"""Parse stage, selector matching: CSS removal rules compiled into a hash index.

soupsieve checks every selector of a list against every element, which for the ~150
default rules costs several times the HTML parse itself. Nearly all rules are one
compound selector (`nav`, `.toc`, `a[rel~=tag]`, `[class*=share]`), so those are indexed by
tag, id, class and attribute name, with the `class`/`id` substring tests folded into one
regex each, and checked per element during the single content walk. Anything else
(combinators, pseudo-classes, selector lists soupsieve alone understands) is compiled
with soupsieve and matched once per document. Site owners' rules are validated by
soupsieve first, so both paths accept exactly the same syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import soupsieve
from bs4 import Tag

from kb.errors import ConfigError

_IDENT = r"-?[_a-zA-Z\u00a0-\uffff][\w\u00a0-\uffff-]*"
_PART = re.compile(
    rf"""
    \#(?P<id>{_IDENT})
  | \.(?P<cls>{_IDENT})
  | \[\s*(?P<attr>[a-zA-Z_][\w:.-]*)\s*
      (?:(?P<op>[~|^$*]?=)\s*
         (?:"(?P<dq>[^"\\]*)"|'(?P<sq>[^'\\]*)'|(?P<bare>{_IDENT}))
         \s*(?P<flag>[iIsS](?=\s*\]))?\s*)?
    \]
    """,
    re.X,
)
_TAG = re.compile(r"\*|[a-zA-Z][a-zA-Z0-9-]*")


@dataclass(frozen=True, slots=True)
class _AttrTest:
    """One `[name op value]` condition."""

    name: str
    op: str  # "" tests presence only
    value: str
    icase: bool

    def ok(self, attrs: dict[str, object]) -> bool:
        raw = attrs.get(self.name)
        if raw is None:
            return False
        if not self.op:
            return True
        actual = " ".join(raw) if isinstance(raw, list) else str(raw)
        want = self.value
        if self.icase:
            actual, want = actual.lower(), want.lower()
        op = self.op
        if op == "=":
            return actual == want
        if op == "~=":
            return bool(want) and want in actual.split()
        if op == "|=":
            return actual == want or actual.startswith(want + "-")
        if not want:  # ^= $= *= with an empty value never match (CSS Selectors 4)
            return False
        if op == "^=":
            return actual.startswith(want)
        if op == "$=":
            return actual.endswith(want)
        return want in actual

    def pattern(self) -> str | None:
        """The test as a regex over the attribute's text (case folded apart), or None if it has none."""
        v = re.escape(self.value.lower() if self.icase else self.value)
        if self.op == "=":
            return rf"\A{v}\Z"
        if self.op == "~=" and self.value and not re.search(r"\s", self.value):
            return rf"(?:\A|\s){v}(?:\s|\Z)"
        if self.op == "|=":
            return rf"\A{v}(?:-|\Z)"
        if self.op == "^=" and self.value:
            return rf"\A{v}"
        if self.op == "$=" and self.value:
            return rf"{v}\Z"
        if self.op == "*=" and self.value:
            return v
        return None


def _trie_regex(words: list[str]) -> str:
    """One regex alternation of literal words, factored as a trie (far faster than a flat `a|b|c`)."""
    trie: dict[str, dict[str, Any]] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class _TextTests:
    """Many single-attribute tests on one attribute (`class` or `id`), run as two regexes."""

    def __init__(self, tests: list[_AttrTest]) -> None:
        compiled: list[re.Pattern[str] | None] = []
        for icase in (False, True):
            group = [t for t in tests if t.icase == icase]
            words = [t.value.lower() if icase else t.value for t in group if t.op == "*="]
            others = [p for t in group if t.op != "*=" and (p := t.pattern()) is not None]
            parts = ([_trie_regex(words)] if words else []) + others
            compiled.append(re.compile("|".join(parts)) if parts else None)
        self._exact, self._folded = compiled

    def search(self, text: str) -> bool:
        if self._exact is not None and self._exact.search(text):
            return True
        return self._folded is not None and self._folded.search(text.lower()) is not None


@dataclass(frozen=True, slots=True)
class _Compound:
    """A compound selector: an optional tag name plus id, class and attribute tests."""

    tag: str | None
    ids: tuple[str, ...]
    classes: frozenset[str]
    tests: tuple[_AttrTest, ...]

    def ok(self, el: Tag) -> bool:
        if self.tag is not None and el.name != self.tag:
            return False
        attrs: dict[str, object] = el.attrs  # type: ignore[assignment]
        if self.ids and any(attrs.get("id") != i for i in self.ids):
            return False
        if self.classes:
            have = attrs.get("class")
            if not have or not self.classes.issubset(have if isinstance(have, list) else str(have).split()):
                return False
        return all(t.ok(attrs) for t in self.tests)


def _parse_compound(selector: str) -> _Compound | None:
    """A compound selector from its text, or None when it needs soupsieve."""
    s = selector.strip()
    pos, tag = 0, None
    if m := _TAG.match(s):
        tag = None if m.group() == "*" else m.group().lower()
        pos = m.end()
    ids: list[str] = []
    classes: list[str] = []
    tests: list[_AttrTest] = []
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            return None
        if m["id"]:
            ids.append(m["id"])
        elif m["cls"]:
            classes.append(m["cls"])
        else:
            value = next((v for v in (m["dq"], m["sq"], m["bare"]) if v is not None), "")
            flag = (m["flag"] or "").lower()
            tests.append(_AttrTest(m["attr"].lower(), m["op"] or "", value, flag == "i"))
        pos = m.end()
    if tag is None and not (ids or classes or tests):
        return None  # "*" alone: leave it to soupsieve rather than special-case it
    return _Compound(tag, tuple(ids), frozenset(classes), tuple(tests))


def split_selector_list(text: str) -> list[str]:
    """Split a selector list at its top-level commas (not inside quotes, brackets or parens)."""
    out: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return [s for s in out if s]


class SelectorSet:
    """Compiled selectors: `matches(el)` for the indexed ones, `select(root)` for the rest."""

    def __init__(self, selectors: Iterable[str], *, checked: Iterable[str] = ()) -> None:
        """Compile `selectors` (a site owner's: validated by soupsieve) and `checked` (built-in
        rules, already known to be valid; the test suite holds both paths to soupsieve's answer)."""
        self._plain_tags: set[str] = set()
        self._by_tag: dict[str, list[_Compound]] = {}
        self._by_id: dict[str, list[_Compound]] = {}
        self._by_class: dict[str, list[_Compound]] = {}
        self._by_attr: dict[str, list[_Compound]] = {}
        attr_tests: dict[str, list[_AttrTest]] = {"class": [], "id": []}
        complex_: list[str] = []
        for selector in selectors:
            try:
                soupsieve.compile(selector)
            except (soupsieve.SelectorSyntaxError, ValueError, TypeError) as e:
                raise ConfigError(f"invalid CSS selector {selector!r}: {e}") from e
        for selector in (*checked, *selectors):
            for part in split_selector_list(selector):
                c = _parse_compound(part)
                if c is None:
                    complex_.append(part)
                elif c.tag and not (c.ids or c.classes or c.tests):
                    self._plain_tags.add(c.tag)
                elif c.ids:
                    self._by_id.setdefault(c.ids[0], []).append(c)
                elif c.classes:
                    self._by_class.setdefault(min(c.classes), []).append(c)
                elif c.tag:
                    self._by_tag.setdefault(c.tag, []).append(c)
                elif len(c.tests) == 1 and c.tests[0].name in attr_tests and c.tests[0].pattern() is not None:
                    attr_tests[c.tests[0].name].append(c.tests[0])
                else:
                    self._by_attr.setdefault(c.tests[0].name, []).append(c)
        self._class_tests = _TextTests(attr_tests["class"])
        self._id_tests = _TextTests(attr_tests["id"])
        self._complex = soupsieve.compile(", ".join(complex_)) if complex_ else None

    @property
    def has_complex(self) -> bool:
        """Whether some selectors need a per-document `select` pass."""
        return self._complex is not None

    def select(self, root: Tag) -> set[int]:
        """The ids (`id()`) of the elements under `root` matched by the complex selectors."""
        if self._complex is None:
            return set()
        return {id(el) for el in self._complex.select(root)}

    def matches(self, el: Tag) -> bool:
        """Whether one of the indexed (simple) selectors matches the element."""
        name = el.name
        if name in self._plain_tags:
            return True
        rules = self._by_tag.get(name)
        if rules is not None and any(r.ok(el) for r in rules):
            return True
        attrs = el.attrs
        if not attrs:
            return False
        for key in attrs:
            rules = self._by_attr.get(key)
            if rules is not None and any(r.ok(el) for r in rules):
                return True
        value = attrs.get("class")
        if value:
            classes = value.split() if isinstance(value, str) else value
            for c in classes:
                rules = self._by_class.get(c)
                if rules is not None and any(r.ok(el) for r in rules):
                    return True
            if self._class_tests.search(" ".join(classes)):
                return True
        ident = attrs.get("id")
        if ident and isinstance(ident, str):
            rules = self._by_id.get(ident)
            if rules is not None and any(r.ok(el) for r in rules):
                return True
            if self._id_tests.search(ident):
                return True
        return False
