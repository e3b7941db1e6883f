"""Snippets: the best sentences of the matched section, with the query's terms marked.

Made from the section's stored text with the same analysis as the index (`kb.text`), so no
Whoosh highlighter and no re-reading of the page. Output is made safe here, once: every
character is escaped and `<mark>` is the only markup ever emitted.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from html import escape

from kb import text
from kb.models import Segment

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=\S)|\n+")
MAX_FRAGMENT = 220
ELLIPSIS = "…"


def _sentences(body: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(body):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(body):
        spans.append((start, len(body)))
    return spans


def _trim(body: str, start: int, end: int, hits: list[tuple[int, int]]) -> tuple[int, int]:
    """Cut a long sentence to a window around its first match, at word boundaries."""
    if end - start <= MAX_FRAGMENT:
        return start, end
    first = hits[0][0] if hits else start
    lo = max(start, first - MAX_FRAGMENT // 3)
    if lo > start:
        space = body.find(" ", lo, first) if first > lo else -1
        lo = space + 1 if space != -1 else lo
    hi = min(end, lo + MAX_FRAGMENT)
    if hi < end:
        space = body.rfind(" ", lo, hi)
        hi = space if space > lo else hi
    return lo, hi


def make(body: str, stems: Collection[str], max_fragments: int = 2) -> tuple[str, tuple[Segment, ...]]:
    """The snippet of a section for a query's stems: (safe HTML, segments)."""
    body = body.strip()
    if not body:
        return "", ()
    # One pass over the body finds every matching word (cached word -> term lookups), then
    # each sentence takes the matches that fall inside it.
    matches = [(m.start(), m.end(), st) for m in text.WORD_RE.finditer(body)
               if (st := text.term(m.group())) is not None and st in stems]
    sentences = _sentences(body)
    scored = []
    k = 0
    for idx, (s, e) in enumerate(sentences):
        while k < len(matches) and matches[k][0] < s:
            k += 1
        j = k
        while j < len(matches) and matches[j][1] <= e:
            j += 1
        inside = matches[k:j]
        hits = [(a, b) for a, b, _ in inside]
        scored.append((len({st for _, _, st in inside}) * 10 + len(hits), idx, s, e, hits))
        k = j
    best = sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))[:max_fragments]
    if not best:
        best = scored[:1]  # only the heading matched: the section's first sentence
    best.sort(key=lambda x: x[1])
    segments: list[Segment] = []
    cursor_end = 0
    for n, (_, _idx, s, e, hits) in enumerate(best):
        lo, hi = _trim(body, s, e, hits)
        if lo > cursor_end or (n == 0 and lo > 0):
            segments.append(Segment(ELLIPSIS + " " if n == 0 else " " + ELLIPSIS + " ", False))
        elif n > 0:
            segments.append(Segment(" ", False))
        pos = lo
        for hs, he in hits:
            if hs < lo or he > hi:
                continue
            if hs > pos:
                segments.append(Segment(body[pos:hs], False))
            segments.append(Segment(body[hs:he], True))
            pos = he
        if hi > pos:
            segments.append(Segment(body[pos:hi], False))
        cursor_end = e
        if hi < e:
            segments.append(Segment(" " + ELLIPSIS, False))
            cursor_end = e + 1
    if cursor_end < len(body) and not segments[-1].text.endswith(ELLIPSIS):
        segments.append(Segment(" " + ELLIPSIS, False))
    merged: list[Segment] = []
    for seg in segments:
        text_ = " ".join(seg.text.split("\n"))
        if merged and merged[-1].match == seg.match:
            merged[-1] = Segment(merged[-1].text + text_, seg.match)
        else:
            merged.append(Segment(text_, seg.match))
    html = "".join(f"<mark>{escape(s.text)}</mark>" if s.match else escape(s.text) for s in merged)
    return html, tuple(merged)
