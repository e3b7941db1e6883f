"""A term's postings written straight in Whoosh's W3 block format (`blocks` reads it): no per-posting calls.

This is the flush's side, kept apart from `blocks` so that writing never loads numpy (a no-op
`kb index` opens a writer's modules, not a reader's). Whoosh's `W3PostingsWriter` takes each
posting through `add_posting` (type asserts, three appends, four comparisons) and compresses every
block with `zlib.compress`, even the one-posting blocks that most terms have, whose few dozen
bytes zlib makes longer. `write` builds each block from a slice of the term's postings and
compresses only blocks of `COMPRESS_FROM` bytes or more, with a window sized to the block
(`_deflate`): every block reads back the same (the compressed flag is per block, and Whoosh's
reader honours it).
"""

from __future__ import annotations

import pickle
import struct
import zlib
from array import array
from itertools import pairwise
from typing import Any

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import _INT_SIZE, _LONG_SIZE
from whoosh.util.numeric import length_to_byte

_LENGTH = struct.Struct("!i")
_INFO = struct.Struct("!BfIBBfIIqi")  # W3TermInfo: flags, weight, df, min/max length bytes, max weight, ids, extent
assert _INFO.size == W3TermInfo._struct.size + _LONG_SIZE + _INT_SIZE
COMPRESS_FROM = 96  # bytes of pickled block below which zlib saves nothing: it lengthens most of them (see `write`)


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
