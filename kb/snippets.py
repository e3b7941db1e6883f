"""Snippets: the best sentences of the matched section, with the query's terms marked.

Made from the section's stored text with the same analysis as the index (`kb.text`), so no
Whoosh highlighter and no re-reading of the page. Output is made safe here, once: every
character is escaped and `<mark>` is the only markup ever emitted.

Two steps, so a reader can keep the first: `analyse` reads a body once into its words (their
offsets and terms) and sentences, whatever the query; `render` picks and marks the sentences
for one query's stems, touching only the words that match.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Collection
from html import escape
from typing import NamedTuple

from kb import text
from kb.models import Segment

# A sentence ends at . ! ? or … (then any closing quotes or brackets, then space) or at a newline.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)]*\s+(?=\S)|\n+")
MAX_FRAGMENT = 220
ELLIPSIS = "…"


class Source(NamedTuple):
    """A body read for snippets: its non-stop words (offsets and terms) and its sentences.

    Offsets are packed C ints in bytes and the rest strings, so a cache of thousands of these
    adds nothing for the cycle collector to walk."""

    body: str
    starts: bytes
    ends: bytes
    terms: tuple[str, ...]
    sentence_starts: bytes
    sentence_ends: bytes

    def size(self) -> int:
        """Roughly the bytes it holds (for bounding caches)."""
        return 200 + len(self.body) + 8 * len(self.terms) + len(self.starts) * 2 + len(self.sentence_ends) * 2


def _sentences(body: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(body):
        end = m.start() if body[m.start()] == "\n" else m.start() + 1  # keep the end mark
        if end > start:
            spans.append((start, end))
        start = m.end()
    if start < len(body):
        spans.append((start, len(body)))
    return spans


def analyse(body: str) -> Source:
    """Read a section's body once: what any query's snippet of it needs."""
    body = body.strip()
    starts, ends = array("i"), array("i")
    terms: list[str] = []
    for m in text.WORD_RE.finditer(body):
        st = text.term(m.group())
        if st is not None:
            starts.append(m.start())
            ends.append(m.end())
            terms.append(st)
    sentences = _sentences(body)
    return Source(body, starts.tobytes(), ends.tobytes(), tuple(terms),
                  array("i", (s for s, _ in sentences)).tobytes(), array("i", (e for _, e in sentences)).tobytes())


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


def render(src: Source, stems: Collection[str], max_fragments: int = 2) -> tuple[str, tuple[Segment, ...]]:
    """The snippet of an analysed section for a query's stems: (safe HTML, segments).

    Sentences rank by distinct stems matched (x10) plus matches, earlier first on ties; the best
    `max_fragments` show in text order, or the first sentence when only the heading matched.
    """
    body = src.body
    if not body:
        return "", ()
    terms = src.terms
    starts, ends = memoryview(src.starts).cast("i"), memoryview(src.ends).cast("i")
    sentence_starts, sentence_ends = memoryview(src.sentence_starts).cast("i"), memoryview(src.sentence_ends).cast("i")
    by_sentence: dict[int, list[int]] = {}
    for i, st in enumerate(terms):
        if st in stems:  # words never straddle a sentence end, so its start places it
            by_sentence.setdefault(bisect_right(sentence_ends, starts[i]), []).append(i)
    best = sorted(((len({terms[i] for i in idx}) * 10 + len(idx), n) for n, idx in by_sentence.items()),
                  key=lambda x: (-x[0], x[1]))[:max_fragments]
    chosen = sorted(n for _, n in best) if best else [0]
    segments: list[Segment] = []
    cursor_end = 0
    for rank, n in enumerate(chosen):
        s, e = sentence_starts[n], sentence_ends[n]
        hits = [(starts[i], ends[i]) for i in by_sentence.get(n, ())]
        lo, hi = _trim(body, s, e, hits)
        if lo > cursor_end or (rank == 0 and lo > 0):
            segments.append(Segment(ELLIPSIS + " " if rank == 0 else " " + ELLIPSIS + " ", False))
        elif rank > 0:
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
        text_ = seg.text.replace("\n", " ")
        if merged and merged[-1].match == seg.match:
            merged[-1] = Segment(merged[-1].text + text_, seg.match)
        else:
            merged.append(Segment(text_, seg.match))
    html = "".join(f"<mark>{escape(s.text)}</mark>" if s.match else escape(s.text) for s in merged)
    return html, tuple(merged)
