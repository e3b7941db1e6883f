"""Search-as-you-type: titles, headings and medicine names that match what was typed so far.

A sorted list of every title, heading and medicine name, built once per generation; a
prefix matches the start of an entry or of any of its words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kb import text
from kb.models import Suggestion

_RANK = {"title": 0, "medicine": 1, "heading": 2}


@dataclass(frozen=True)
class SuggestList:
    """(folded text, suggestion) pairs, deduplicated."""

    entries: tuple[tuple[str, Suggestion], ...]

    @classmethod
    def build(cls, docs: Iterable[tuple[int, dict[str, Any]]], medicines: Iterable[str]) -> SuggestList:
        """Entries from the stored fields of every section and the medicine names."""
        seen: dict[str, Suggestion] = {}
        for _, f in docs:
            if f.get("order") == 0 and f.get("title"):
                key = text.normalize_phrase(f["title"])
                seen.setdefault(key, Suggestion(f["title"], "title", f["article_id"]))
            meta = f.get("meta") or {}
            heading = meta.get("heading") or ""
            if heading and f.get("kind") != "lead":
                key = text.normalize_phrase(heading)
                seen.setdefault(key, Suggestion(heading, "heading", f["article_id"], meta.get("anchor")))
        for name in medicines:
            seen.setdefault(name, Suggestion(name, "medicine"))
        ordered = sorted(seen.items(), key=lambda kv: (_RANK[kv[1].kind], kv[0]))
        return cls(tuple(ordered))

    def match(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Up to `limit` suggestions for a prefix: whole-entry prefix matches first."""
        p = text.normalize_phrase(prefix)
        if len(p) < 2:
            return []
        first: list[Suggestion] = []
        later: list[Suggestion] = []
        for key, sug in self.entries:
            if key.startswith(p):
                first.append(sug)
            elif f" {p}" in f" {key}":
                later.append(sug)
            if len(first) >= limit:
                break
        return (first + later)[:limit]
