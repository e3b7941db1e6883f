"""Whoosh's segment writer, cheaper: postings grouped by term as they come, flushed term by term.

Text fields are indexed through the writer's own copy of the schema (`schema.indexing_schema`),
and the table of contents is written with the index's schema as it was. Three costs of Whoosh's
writer are avoided, each giving the same postings (blocks that read back as Whoosh's; the bytes
differ only where small blocks are left uncompressed and repeated position encodings shared):

* Whoosh keeps every posting as a 5-tuple in one list and sorts the whole list at the flush
  (a million tuples for 7,000 light sections). `GroupingPool` keeps one list per (field, term),
  filled in document order, and sorts only the terms.
* The flush asked the just-written length column for each posting's document length (to keep
  each block's shortest and longest), a seek and a read each time. `Lengths` reads each column
  once.
* Whoosh's `add_postings` checks the order and dispatches each posting through three calls,
  and its postings writer takes each one through `add_posting`; `SegmentWriter` writes each
  term's blocks from slices of its postings (`block_writer.write`), compressing only the blocks zlib
  can shorten.

A pool that outgrows its memory limit spills sorted runs to disk as Whoosh's does, and is then
flushed by Whoosh's own loop.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import Schema
from whoosh.system import pack_ushort
from whoosh.writing import PostingPool
from whoosh.writing import SegmentWriter as WhooshSegmentWriter

from kb.engines.whoosh import block_reader, block_writer
from kb.engines.whoosh.schema import indexing_schema

Posting = tuple[int, float, bytes | None]  # (document number, weight, encoded value)
_POSTING_BYTES = 100  # what one posting costs in memory, about (Whoosh counts ~150 for its tuple)


class GroupingPool(PostingPool):  # type: ignore[misc]
    """Whoosh's posting pool, keeping postings grouped by (field, term) until it has to spill."""

    def __init__(self, tempstore: Any, segment: Any, limitmb: int) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb)
        self.groups: dict[tuple[str, bytes], list[Posting]] = {}
        self.in_order = True  # each group's postings came in ascending document order

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """Add one (field, term, document, weight, value) posting (merges and Whoosh's own callers)."""
        fieldname, tbytes, docnum, weight, vbytes = item
        group = self.groups.setdefault((fieldname, tbytes), [])
        if group and group[-1][0] >= docnum:
            self.in_order = False
        group.append((docnum, weight, vbytes))
        self.grew(1)

    def grew(self, postings: int) -> None:
        """Count postings added straight to `groups`; past the memory limit, spill a sorted run."""
        self.currentsize += postings * _POSTING_BYTES
        if self.currentsize > self.limit:
            self.save()

    def save(self) -> None:
        """Write what is held as one sorted run on disk (Whoosh's format), and start afresh."""
        self.current = [(f, t, *p) for (f, t), group in self.groups.items() for p in group]
        self.groups = {}
        self.in_order = True
        super().save()

    def items(self, maxfiles: int = 128) -> Any:
        """Every posting as Whoosh's sorted 5-tuples."""
        if self.runs:
            return super().items(maxfiles)
        return sorted((f, t, *p) for (f, t), group in self.groups.items() for p in group)

    def sorted_groups(self) -> list[tuple[tuple[str, bytes], list[Posting]]]:
        """(field, term) -> postings in Whoosh's order, when nothing was spilled."""
        assert not self.runs
        if not self.in_order:
            for group in self.groups.values():
                group.sort()
        return sorted(self.groups.items())


class SegmentWriter(WhooshSegmentWriter):  # type: ignore[misc]
    """`whoosh.writing.SegmentWriter`, indexing text with `KbText` and pooling by term (see the module)."""

    def __init__(self, ix: Any, limitmb: int = 128, **kwargs: Any) -> None:
        super().__init__(ix, limitmb=limitmb, **kwargs)
        toc: Schema = vars(self)["schema"]  # what Whoosh read from the table of contents
        self._toc_schema = toc
        self.schema = indexing_schema(toc)
        self.pool = GroupingPool(self._tempstorage, self.newsegment, limitmb)
        # Spelling words and term vectors take Whoosh's own path (a kb schema has neither).
        self._plain = not any(f.separate_spelling() or f.vector for _, f in self.schema.items())

    def add_document(self, **fields: Any) -> None:
        """Whoosh's `add_document` for a document without boosts or `_stored_` values, its postings
        added to the pool's groups directly."""
        if not self._plain or any(name.startswith("_") for name in fields):
            super().add_document(**fields)
            return
        self._check_state()
        schema = self.schema
        names = sorted(fields)
        self._check_fields(schema, names)
        docnum = self.docnum
        groups = self.pool.groups
        pdw = self.perdocwriter
        added = 0
        pdw.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    scorable = field.scorable
                    for tbytes, freq, weight, vbytes in field.index(value):
                        if scorable:
                            length += freq
                        # `* 1.0`: Whoosh multiplies by the field boost, so a weight is always a float
                        posting = (docnum, weight * 1.0, vbytes)
                        group = groups.get((name, tbytes))
                        if group is None:
                            groups[(name, tbytes)] = [posting]
                        else:
                            group.append(posting)
                        added += 1
                pdw.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    pdw.add_column_value(name, column, field.to_column_value(value))
        except Exception:
            pdw.cancel_doc()
            raise
        pdw.finish_doc()
        self._added = True
        self.docnum += 1
        self.pool.grew(added)

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: dict[int, int] | None) -> None:
        """Pool a merged segment's live postings under their new document numbers (`add_reader`'s
        second half), read in bulk (`block_reader`) where Whoosh takes each posting through a matcher."""
        if not self._plain:
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        schema = self.schema
        deleted = reader.deleted_docs_set
        pool = self.pool
        sizes = {name: field.format.fixed_value_size() for name, field in schema.items() if field.indexed}
        for fieldname, btext, found in block_reader.segment_postings(reader, sizes):
            if deleted:
                found = [p for p in found if p[0] not in deleted]
            if not found:
                continue
            moved = [(docmap[d] if docmap is not None else startdoc + d, w, v) for d, w, v in found]
            group = pool.groups.get((fieldname, btext))
            if group is None:
                pool.groups[(fieldname, btext)] = moved
            else:
                if group[-1][0] >= moved[0][0]:
                    pool.in_order = False
                group.extend(moved)
            pool.grew(len(moved))  # may spill what is held to disk, and start afresh

    def _commit_toc(self, segments: list[Any]) -> None:
        self.schema = self._toc_schema  # the index keeps naming only Whoosh's field classes
        super()._commit_toc(segments)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = Lengths(pdr, self.schema) if pdr is not None else None
        if self.pool.runs:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        else:
            _write_groups(self.fieldwriter, self.schema, lengths, self.pool.sorted_groups())
        self.fieldwriter.close()
        if pdr is not None:
            pdr.close()


def _write_groups(fw: Any, schema: Schema, lengths: Lengths | None,
                  groups: list[tuple[tuple[str, bytes], list[Posting]]]) -> None:
    """What Whoosh's `FieldWriter.add_postings` writes for these postings, a term at a time, each
    term's blocks built by `block_writer.write` (the term file gets the same rows)."""
    field = None
    column: list[int | None] = []
    codec = fw._codec
    blocklimit, compression = codec._blocklimit, codec._compression
    terms, postfile = fw._tindex, fw._postfile
    if type(codec) is not W3Codec or codec._inlinelimit > 1:  # not the format `block_writer.write` writes
        fw.add_postings(schema, lengths, ((f, t, d, w, b"" if v is None else v) for (f, t), group in groups
                                          for d, w, v in group))
        return
    fixed: int | None = None
    for (fieldname, btext), postings in groups:
        postings = [p for p in postings if p[0] != -1] if postings[0][0] == -1 else postings  # spelling words
        if not postings:
            continue
        if fieldname != field:
            if field is not None:
                fw.finish_field()
            fw.start_field(fieldname, schema[fieldname])
            field = fieldname
            column = lengths.column(fieldname) if lengths is not None else []
            fixed = schema[fieldname].format.fixed_value_size()
            key = pack_ushort(fw._fieldid)
        terms.add(key + btext, block_writer.write(postfile, postings, column, fixed, blocklimit, compression))
    if field is not None:
        fw.finish_field()


class Lengths:
    """A per-document reader's `doc_field_length`, each field's column read once into a list."""

    def __init__(self, reader: Any, schema: Schema) -> None:
        self._reader = reader
        self._schema = schema
        self._columns: dict[str, list[int | None]] = {}

    def column(self, fieldname: str) -> list[int | None]:
        """Every document's length in the field, as `doc_field_length` answers; [] for a field whose
        lengths are not kept (not scorable: Whoosh would look for the missing column per document)."""
        found = self._columns.get(fieldname)
        if found is None:
            read = self._reader.doc_field_length
            found = self._columns[fieldname] = [read(d, fieldname, 0) for d in range(self._reader.doc_count_all())] \
                if self._schema[fieldname].scorable else []
        return found

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        """What the reader answers (None for a stored length of zero, as Whoosh's does)."""
        column = self.column(fieldname)
        return column[docnum] if column else default
