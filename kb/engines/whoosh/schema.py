"""The Whoosh schema: field names and the analyzer that feeds `kb.text`'s terms to Whoosh.

One Whoosh document per section, its fields those of `kb.documents.to_record`. Every field a
hit needs is stored, so a search never re-reads the source page.

Whoosh pickles the analyzer's import path into each index's table of contents: indexes built
before the engines had their own folders name `kb.schema.KbTokenizer`, which `kb/schema.py`
keeps importable.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.formats import Positions

from kb import text


class KbTokenizer(Tokenizer):  # type: ignore[misc]
    """The whole analysis chain of `kb.text` as one Whoosh tokenizer (fewer generator layers)."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        pos = start_pos
        for start, end, word, stemmed in text.spans(value):
            if stemmed is not None:
                t.text = stemmed
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = word
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar, t.endchar = start_char + start, start_char + end
                yield t
            pos += 1  # stop words keep their slot so phrase positions stay honest


ANALYZER = KbTokenizer()
TEXT_FIELDS = ("title", "heading", "body")


class KbText(TEXT):  # type: ignore[misc]
    """A TEXT field whose indexing reads `kb.text`'s terms straight off the text (writers only).

    Whoosh indexes a text through a Token per word and generator layers (`unstopped`,
    `Positions.word_values`): 60% of a rebuild's writer time on light pages. This gives the
    same postings (term bytes, frequency, weight and encoded positions) from one cached look-up
    per word. Only a writer's copy of the schema holds it (`indexing_schema`): an index's table of
    contents names Whoosh's TEXT, so every kb version, older ones included, reads it.
    """

    def index(self, value: str, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        """(term bytes, frequency, weight, encoded positions) for each term of `value`."""
        if not isinstance(value, str) or kwargs or type(self.format) is not Positions:
            yield from super().index(value, **kwargs)
            return
        encode = self.format.encode
        boost = self.format.field_boost
        for t, found in text.term_positions(value).items():
            if len(found) == 1 and found[0] < 8192:  # most words of a section: the encoding is the position's
                value_bytes = _ONE_POSITION.get(found[0])
                if value_bytes is None:
                    value_bytes = _ONE_POSITION[found[0]] = encode(found)
            else:
                value_bytes = encode(found)
            yield t.encode("utf-8"), len(found), len(found) * boost, value_bytes


_ONE_POSITION: dict[int, bytes] = {}  # Positions' encoding of a lone word at each position


def indexing_schema(schema: Schema) -> Schema:
    """A writer's copy of an index's schema: its TEXT fields analysed by `KbTokenizer` index through
    `KbText.index`; everything else is the same objects."""
    fast = copy.copy(schema)
    fast._fields = dict(schema._fields)
    for name, field in schema._fields.items():
        if type(field) is TEXT and isinstance(field.analyzer, KbTokenizer):
            twin = copy.copy(field)
            twin.__class__ = KbText
            fast._fields[name] = twin
    return fast


def make_schema() -> Schema:
    """The schema of a kb index."""
    return Schema(
        id=ID(stored=True, unique=True),  # "<source>#<order>"
        source=ID(stored=True),  # the file (or record) the section came from
        article_id=ID(stored=True),
        order=NUMERIC(stored=True),
        kind=ID(stored=True),
        title=TEXT(analyzer=ANALYZER, stored=True),
        heading=TEXT(analyzer=ANALYZER),  # the breadcrumb, FAQ questions included
        body=TEXT(analyzer=ANALYZER, stored=True),
        category=KEYWORD(commas=True, lowercase=True),
        tag=KEYWORD(commas=True, lowercase=True),
        meta=STORED(),  # display fields of the hit (dict)
        article=STORED(),  # article-level metadata, on the first section only (dict)
    )
