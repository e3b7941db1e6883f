"""A term's postings read and written straight in Whoosh's W3 block format: no matcher, no per-posting calls.

A first-seen search reads a few terms' postings in every segment. Through Whoosh that is a
hash look-up in the term file (several small reads) and a matcher that seeks and reads each
block's header, then its data: about as much time as the scoring. Here the extent of each
term's postings (where they start, how long) is kept from the pass that reads a segment's
frequency table anyway, and the postings are read in one call and decoded from memory.
The format (whoosh-reloaded's `whoosh3.W3PostingsWriter`; the version is pinned):

    b"\\0\\0\\0\\x03"  then blocks: int32 length (negative for the last block),
    pickled (count, max id, max weight, compressed?, min length, max length),
    then the data: a pickle, zlib-compressed when flagged, of
    (delta-encoded ids, weights: None for all 1.0, one float for all alike, or a tuple, values).

Writing (`write`) is the flush's side: Whoosh's `W3PostingsWriter` takes each posting through
`add_posting` (type asserts, three appends, four comparisons) and compresses every block with
`zlib.compress`, even the one-posting blocks that most terms have, whose few dozen bytes zlib
makes longer. `write` builds each block from a slice of the term's postings, compresses only
blocks of `COMPRESS_FROM` bytes or more, with a window sized to the block (`_deflate`): every
block reads back the same (the compressed flag is per block, and Whoosh's reader honours it).
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from array import array
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import _INT_SIZE, _LONG_SIZE
from whoosh.util.numeric import length_to_byte

_LENGTH = struct.Struct("!i")
_COUNT = 4  # the uint32 count of positions that starts a Positions value
_INFO = struct.Struct("!BfIBBfIIqi")  # W3TermInfo: flags, weight, df, min/max length bytes, max weight, ids, extent
assert _INFO.size == W3TermInfo._struct.size + _LONG_SIZE + _INT_SIZE
COMPRESS_FROM = 96  # bytes of pickled block below which zlib saves nothing: it lengthens most of them (see `write`)

Extent = int  # offset << 32 | length, in the segment's postings file


def extent(info: Any) -> Extent | None:
    """Where a term's postings are, from its term info; None when they are inlined in it."""
    if not isinstance(info, W3TermInfo) or info.is_inlined():
        return None
    offset, length = info.extent()
    if isinstance(length, tuple):  # whoosh3's from_bytes keeps the length as unpack's 1-tuple
        length = length[0]
    return int(offset) << 32 | int(length) if 0 <= length < 1 << 32 else None


def _blocks(postfile: Any, where: Extent) -> Iterator[tuple[int, Any, Any, Any]]:
    """Each block of the postings at `where`: (count, delta-encoded ids, weights, values)."""
    data = postfile.get(where >> 32, where & 0xFFFFFFFF)
    if data[:4] != WHOOSH3_HEADER_MAGIC:
        raise ValueError("not the start of a W3 postings list")
    view = memoryview(data)
    pos = 4
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


def read(postfile: Any, where: Extent) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, weights) of the postings at `where` in a segment's postings file."""
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for count, mini_ids, mini_weights, _values in _blocks(postfile, where):
        ids.append(np.cumsum(np.asarray(mini_ids, np.int64)))
        if mini_weights is None:
            weights.append(np.ones(count, np.float64))
        elif isinstance(mini_weights, float):
            weights.append(np.full(count, mini_weights, np.float64))
        else:
            weights.append(np.asarray(mini_weights, np.float64))
    if len(ids) == 1:
        return ids[0], weights[0]
    return np.concatenate(ids), np.concatenate(weights)


def positions(postfile: Any, where: Extent) -> tuple[np.ndarray, np.ndarray]:
    """The word positions of the postings at `where`, as int32 (offsets, flat): document i's are
    `flat[offsets[i]:offsets[i + 1]]`. Each value is Whoosh's `Positions` encoding: a count, then
    a pickled list of gaps (its final STOP byte sometimes left off)."""
    gaps: list[int] = []
    counts: list[int] = []
    for _count, _ids, _weights, values in _blocks(postfile, where):
        for v in values:
            found = pickle.loads(v[_COUNT:] if v.endswith(b".") else v[_COUNT:] + b".")
            gaps.extend(found)
            counts.append(len(found))
    ends = np.cumsum(counts, dtype=np.int64)
    total = np.cumsum(np.asarray(gaps, np.int64))  # positions restart at each document: take off what came before
    before = np.concatenate([np.zeros(1, np.int64), total[ends[:-1] - 1]]) if len(ends) else np.zeros(0, np.int64)
    flat = total - np.repeat(before, counts)
    return np.concatenate([np.zeros(1, np.int32), ends.astype(np.int32)]), flat.astype(np.int32)


def _deflate(data: bytes, level: int) -> bytes:
    """A zlib stream of `data` with a window and hash table no larger than it needs: `zlib.compress`
    sets up a 32 KB window and a 64 KB table each call, most of the cost of a block of a few
    hundred bytes (~60 against ~8 µs). Any zlib reader takes the stream (its header states the window)."""
    bits = min(15, max(9, len(data).bit_length()))
    stream = zlib.compressobj(level, zlib.DEFLATED, bits, bits - 7)
    return stream.compress(data) + stream.flush()


def write(postfile: Any, postings: list[tuple[int, float, bytes | None]], lengths: list[int | None],
          fixed_size: int | None, blocklimit: int, compression: int) -> bytes:
    """Write one term's postings, (document, weight, encoded value) in document order, as W3 blocks
    at the postings file's end; the term's `W3TermInfo` bytes (never inlined: kb's codec inlines
    nothing). `lengths` is each document's length in the field ([] when the codec keeps none)."""
    start = postfile.tell()
    weight_total: float = 0
    min_length: int | None = None
    max_length = 0
    max_weight: float = 0  # an int 0, as Whoosh's, unless a weight is above it
    count = len(postings)
    for at in range(0, count, blocklimit):
        block = postings[at:at + blocklimit]
        ids = [p[0] for p in block]
        weights = array("f", [p[1] for p in block])
        values = [p[2] for p in block if p[2]]
        block_max = max(0, max(p[1] for p in block))  # Whoosh's order: an int 0 unless a weight is above it
        lens = [n for n in (lengths[d] for d in ids) if n] if lengths else []
        block_min = min(lens) if lens else None
        block_top = max(lens) if lens else 0
        first = weights[0]
        data = pickle.dumps((
            (ids[0], *[b - a for a, b in pairwise(ids)]),
            None if all(w == 1.0 for w in weights) else first if all(w == first for w in weights) else tuple(weights),
            tuple(values) if fixed_size is None or fixed_size < 0 else None if fixed_size == 0 else b"".join(values),
        ), 2)
        comp = compression if len(data) >= COMPRESS_FROM else 0
        if comp:
            data = _deflate(data, comp)
        info = pickle.dumps((len(ids), ids[-1], block_max, comp, length_to_byte(block_min),
                             length_to_byte(block_top)), 2)
        size = len(info) + len(data)
        postfile.write((WHOOSH3_HEADER_MAGIC if at == 0 else b"")
                       + _LENGTH.pack(-size if at + blocklimit >= count else size) + info + data)
        weight_total += sum(weights)
        if block_min is not None:
            min_length = block_min if min_length is None else min(min_length, block_min)
        max_length = max(max_length, block_top)
        max_weight = max(max_weight, block_max)
    return _INFO.pack(0, weight_total, count, length_to_byte(min_length), length_to_byte(max_length), max_weight,
                      postings[0][0], postings[-1][0], start, postfile.tell() - start)
