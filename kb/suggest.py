"""Search-as-you-type: titles, headings and medicine names that match what was typed so far.

A sorted list of every title, heading and medicine name, built once per generation, each with
where choosing it goes (the article, the section in it, a search for the name); a prefix
matches the start of an entry or of any of its words. Entry starts are found by bisection in
each kind's sorted keys, word starts by `str.find` over all keys joined, so a lookup costs the
same at 100 entries or 100,000 (a search with no results asks once a word).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from urllib.parse import quote, urlencode

from kb import text
from kb.documents import Outline
from kb.models import Suggestion

_RANK = {"title": 0, "medicine": 1, "heading": 2}
# Quoted as the web app's `url_for` quotes a path, a query and an anchor (so the links are equal).
_PATH_SAFE = "!$&'()*+,/:;=@"
_QUERY_SAFE = "!$'()*,/:;?@"
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


def article_path(article_id: str, anchor: str | None = None) -> str:
    """The web app's path of an article's local view, at a section's anchor when given."""
    path = "/articles/" + quote(article_id, safe=_PATH_SAFE)
    return path + ("#" + quote(anchor, safe=_ANCHOR_SAFE) if anchor else "")


def search_path(query: str) -> str:
    """The web app's path of the results page for a query."""
    return "/search?" + urlencode({"q": query}, safe=_QUERY_SAFE)


@dataclass(frozen=True)
class SuggestList:
    """(folded text, suggestion) pairs, deduplicated."""

    entries: tuple[tuple[str, Suggestion], ...]  # by kind (titles, medicines, headings), then key
    _groups: tuple[tuple[int, tuple[str, ...]], ...] = field(init=False, repr=False)  # (first entry, keys) per kind
    _joined: str = field(init=False, repr=False)  # "\0 key" for every entry, end to end
    _starts: tuple[int, ...] = field(init=False, repr=False)  # where each entry starts in _joined

    def __post_init__(self) -> None:
        groups: list[tuple[int, list[str]]] = []
        last_kind = None
        for i, (key, sug) in enumerate(self.entries):
            if sug.kind != last_kind:
                groups.append((i, []))
                last_kind = sug.kind
            groups[-1][1].append(key)
        keys = [key for key, _ in self.entries]
        object.__setattr__(self, "_groups", tuple((i, tuple(k)) for i, k in groups))
        object.__setattr__(self, "_joined", "".join(f"\0 {k}" for k in keys))
        object.__setattr__(self, "_starts", tuple(accumulate((len(k) + 2 for k in keys), initial=0))[:-1])

    @classmethod
    def build(cls, sections: Iterable[Outline], medicines: Iterable[str]) -> SuggestList:
        """Entries from every section's title and heading, and the medicine names."""
        seen: dict[str, Suggestion] = {}
        for f in sections:
            if f.order == 0 and f.title:
                key = text.normalize_phrase(f.title)
                if key not in seen:
                    seen[key] = Suggestion(f.title, "title", f.article_id, url=article_path(f.article_id))
            if f.heading and f.kind != "lead":
                key = text.normalize_phrase(f.heading)
                if key not in seen:
                    seen[key] = Suggestion(f.heading, "heading", f.article_id, f.anchor, f.title,
                                           article_path(f.article_id, f.anchor))
        for name in medicines:
            seen.setdefault(name, Suggestion(name, "medicine", url=search_path(name)))
        ordered = sorted(seen.items(), key=lambda kv: (_RANK[kv[1].kind], kv[0]))
        return cls(tuple(ordered))

    def match(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Up to `limit` suggestions for a prefix: whole-entry prefix matches first, then entries
        with a later word that starts with it, each in list order."""
        p = text.normalize_phrase(prefix)
        if len(p) < 2:
            return []
        first: list[Suggestion] = []
        for start, keys in self._groups:
            lo, hi = bisect_left(keys, p), bisect_right(keys, p + "\U0010ffff")
            first.extend(sug for _, sug in self.entries[start + lo:start + min(hi, lo + limit - len(first))])
            if len(first) >= limit:
                return first
        later: list[Suggestion] = []
        needle, joined, starts = " " + p, self._joined, self._starts
        at = joined.find(needle)
        while at != -1 and len(first) + len(later) < limit:
            i = bisect_right(starts, at) - 1
            key, sug = self.entries[i]
            if not key.startswith(p):  # those were all taken above
                later.append(sug)
            # on to the next entry: one suggestion per entry
            at = joined.find(needle, starts[i + 1] if i + 1 < len(starts) else len(joined))
        return first + later
