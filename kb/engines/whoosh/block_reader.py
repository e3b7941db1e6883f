"""Whoosh's W3 postings blocks decoded to plain Python values, without numpy: the merge's side.

`blocks` reads a term's postings into numpy arrays for searches; a commit that merges small
segments reads *every* posting of each, and Whoosh's own way (`SegmentWriter.add_reader` through
`reader.iter_postings`) takes each term through a hash look-up in the term file, a matcher that
seeks and reads each block's header and then its data in separate calls, and four method calls per
posting: half of an upload's time after a day of different edits, when nearly every commit
merges. Here a segment's term file is read in one call and walked in memory, its postings are read
in one call, and each term's blocks are decoded into the same (document, weight, value) postings
the writer's pool keeps (`flush.SegmentWriter.add_postings_to_pool`). Kept numpy-free like
`block_writer`: writing never loads numpy.
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo, W3TermsReader

_LENGTH = struct.Struct("!i")
_ROW = struct.Struct("!ii")  # a term file row: key length, value length (`whoosh.filedb.filetables`)
_FIELD = struct.Struct("!H")  # a key starts with its field's number

Extent = int  # offset << 32 | length, in the segment's postings file
Posting = tuple[int, float, Any]  # (document number, weight, encoded value), as the writer's pool keeps them


def extent(info: Any) -> Extent | None:
    """Where a term's postings are, from its term info; None when they are inlined in it."""
    if not isinstance(info, W3TermInfo) or info.is_inlined():
        return None
    offset, length = info.extent()
    if isinstance(length, tuple):  # whoosh3's from_bytes keeps the length as unpack's 1-tuple
        length = length[0]
    return int(offset) << 32 | int(length) if 0 <= length < 1 << 32 else None


def decode(postfile: Any, where: Extent) -> Iterator[tuple[int, Any, Any, Any]]:
    """Each block of the postings at `where`: (count, delta-encoded ids, weights, values), as pickled."""
    return _decode(postfile.get(where >> 32, where & 0xFFFFFFFF), 0)


def _decode(data: bytes, pos: int) -> Iterator[tuple[int, Any, Any, Any]]:
    if data[pos:pos + 4] != WHOOSH3_HEADER_MAGIC:
        raise ValueError("not the start of a W3 postings list")
    view = memoryview(data)
    pos += 4
    last = False
    while not last:
        (length,) = _LENGTH.unpack_from(data, pos)
        pos += _LENGTH.size
        last = length < 0
        end = pos + abs(length)
        stream = io.BytesIO(view[pos:end])
        count, _maxid, _maxweight, compressed, _mn, _mx = pickle.load(stream)
        body = view[pos + stream.tell():end]
        yield count, *pickle.loads(zlib.decompress(body) if compressed else body)
        pos = end


def _postings(data: bytes, pos: int, fixed_size: int | None) -> list[Posting]:
    """Every posting of the postings list starting at `pos` as Whoosh's matcher gives them: weights
    of 1.0 or one shared weight, written once per block, spread out; values cut at the format's fixed
    size, if it has one."""
    found: list[Posting] = []
    for count, mini_ids, weights, values in _decode(data, pos):
        ids = list(accumulate(mini_ids))
        if weights is None:
            weights = (1.0,) * count
        elif isinstance(weights, float):
            weights = (weights,) * count
        if fixed_size is None or fixed_size < 0:
            pass
        elif fixed_size == 0:
            values = (None,) * count
        else:
            values = [values[i:i + fixed_size] for i in range(0, len(values), fixed_size)]
        found.extend(zip(ids, weights, values, strict=True))
    return found


def segment_postings(reader: Any, fixed_sizes: dict[str, int | None]) -> Iterator[tuple[str, bytes, list[Posting]]]:
    """(field, term, postings) of every term of the fields in `fixed_sizes` (each format's fixed value
    size) a segment reader holds, in the term file's order, deleted sections included. The term file
    and the postings are each read in one call; a term this cannot read (inlined postings, a term
    file other than W3's) through Whoosh's matcher."""
    terms = reader._terms
    if not isinstance(terms, W3TermsReader):
        for fieldname, btext in reader.all_terms():
            if fieldname in fixed_sizes:
                yield fieldname, btext, _matched(reader, fieldname, btext)
        return
    table = terms._tindex
    rows = table.dbfile.get(table.startofdata, table.endofdata - table.startofdata)
    fields = terms._fieldunmap
    entries: list[tuple[str, bytes, Any]] = []
    pos, end = 0, len(rows)
    while pos < end:
        keylen, datalen = _ROW.unpack_from(rows, pos)
        pos += _ROW.size
        fieldname = fields[_FIELD.unpack_from(rows, pos)[0]]
        if fieldname in fixed_sizes:
            entries.append((fieldname, rows[pos + 2:pos + keylen], rows[pos + keylen:pos + keylen + datalen]))
        pos += keylen + datalen
    infos = [(f, t, W3TermInfo.from_bytes(v)) for f, t, v in entries]
    wheres = [extent(info) for _, _, info in infos]
    spans = [w for w in wheres if w is not None]
    first = min((w >> 32 for w in spans), default=0)
    last = max(((w >> 32) + (w & 0xFFFFFFFF) for w in spans), default=0)
    data = terms._postfile.get(first, last - first) if spans else b""
    for (fieldname, btext, _), where in zip(infos, wheres, strict=True):
        if where is None:
            yield fieldname, btext, _matched(reader, fieldname, btext)
        else:
            yield fieldname, btext, _postings(data, (where >> 32) - first, fixed_sizes[fieldname])


def _matched(reader: Any, fieldname: str, btext: bytes) -> list[Posting]:
    """A term's postings through Whoosh's matcher, deleted sections included (`postings` leaves them out)."""
    m = reader._terms.matcher(fieldname, btext, reader.schema[fieldname].format)
    found: list[Posting] = []
    while m.is_active():
        found.append((m.id(), m.weight(), m.value()))
        m.next()
    return found
