"""A term's postings and positions read straight from Whoosh's W3 block format: one read, no matcher.

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

`block_writer` writes the same format (the flush's side), and `block_reader` decodes its blocks to
Python values (the merge's side; this module builds on its `decode`).
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from kb.engines.whoosh.block_reader import Extent, decode, extent

__all__ = ["Extent", "extent", "positions", "read"]

_COUNT = 4  # the uint32 count of positions that starts a Positions value


def read(postfile: Any, where: Extent) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, weights) of the postings at `where` in a segment's postings file."""
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for count, mini_ids, mini_weights, _values in decode(postfile, where):
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
    for _count, _ids, _weights, values in decode(postfile, where):
        for v in values:
            found = pickle.loads(v[_COUNT:] if v.endswith(b".") else v[_COUNT:] + b".")
            gaps.extend(found)
            counts.append(len(found))
    ends = np.cumsum(counts, dtype=np.int64)
    total = np.cumsum(np.asarray(gaps, np.int64))  # positions restart at each document: take off what came before
    before = np.concatenate([np.zeros(1, np.int64), total[ends[:-1] - 1]]) if len(ends) else np.zeros(0, np.int64)
    flat = total - np.repeat(before, counts)
    return np.concatenate([np.zeros(1, np.int32), ends.astype(np.int32)]), flat.astype(np.int32)

