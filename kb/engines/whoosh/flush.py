"""Whoosh's segment writer, cheaper: text analysed by `kb.text` directly, field lengths read once a flush.

Text fields are indexed through the writer's own copy of the schema (`schema.indexing_schema`),
and the table of contents is written with the index's schema as it was. When a segment is flushed, Whoosh asks the segment's just-written length column for the
length of the document of every posting (to keep each block's shortest and longest), a seek
and a read each time: a third of a rebuild's commit. `SegmentWriter` here reads each length
column once into a list and answers from it; the postings written are the same bytes.
"""

from __future__ import annotations

from typing import Any

from whoosh.fields import Schema
from whoosh.writing import SegmentWriter as WhooshSegmentWriter

from kb.engines.whoosh.schema import indexing_schema


class SegmentWriter(WhooshSegmentWriter):  # type: ignore[misc]
    """`whoosh.writing.SegmentWriter`, indexing text with `KbText` and flushing with `Lengths`."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        toc: Schema = vars(self)["schema"]  # what Whoosh read from the table of contents
        self._toc_schema = toc
        self.schema = indexing_schema(toc)

    def _commit_toc(self, segments: list[Any]) -> None:
        self.schema = self._toc_schema  # the index keeps naming only Whoosh's field classes
        super()._commit_toc(segments)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = Lengths(pdr) if pdr is not None else None
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if pdr is not None:
            pdr.close()


class Lengths:
    """A per-document reader's `doc_field_length`, each field's column read once into a list."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._columns: dict[str, list[int | None]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        """What the reader answers (None for a stored length of zero, as Whoosh's does)."""
        try:
            return self._columns[fieldname][docnum]
        except KeyError:
            read = self._reader.doc_field_length
            self._columns[fieldname] = [read(d, fieldname, default) for d in range(self._reader.doc_count_all())]
            return self._columns[fieldname][docnum]
