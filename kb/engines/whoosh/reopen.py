"""A searcher on a new commit that reuses the segment readers a commit left unchanged (Lucene's `openIfChanged`).

Whoosh opens a searcher by reading the table of contents and opening a reader for every
segment: each segment's term file, postings, stored fields and columns. After a commit that
adds one small segment, every worker did that for every pooled searcher, for segments that
had not changed: on the light pages after a day of different uploads (6-8 segments), ~20 ms
of each commit in each worker.

Here a searcher of the previous commit, idle in its pool, is handed to the next snapshot
(`kb.engines.whoosh.snapshot`), and its segment readers are taken over for the segments the
new commit still lists with the same deleted sections. A segment whose deletions changed
gets a new reader (a Whoosh reader answers `is_deleted` from its segment as it was read),
and readers of segments merged away are closed. Segments never change once written, so
what a reused reader reads is what a new one would.
"""

from __future__ import annotations

from typing import Any

from whoosh.reading import EmptyReader, IndexReader, MultiReader, SegmentReader
from whoosh.scoring import WeightingModel
from whoosh.searching import Searcher


def open_searcher(ix: Any, weighting: WeightingModel, donor: Searcher | None = None) -> Searcher:
    """A searcher of the index's latest commit, reusing what it can of `donor`'s readers
    (the donor is used up: its readers are reused or closed)."""
    toc = ix._read_toc()
    spare: dict[str, IndexReader] = {}
    if donor is not None:
        for r, _ in donor.reader().leaf_readers():
            seg = r.segment() if isinstance(r, SegmentReader) else None
            if seg is None:
                r.close()
            else:
                spare[seg.segment_id()] = r
    readers: list[IndexReader] = []
    try:
        for seg in toc.segments:
            old = spare.pop(seg.segment_id(), None)
            if old is not None and _same_deletions(old.segment(), seg):
                old._gen = toc.generation  # what a lone segment's reader reports as the commit it reads
                readers.append(old)
                continue
            if old is not None:
                old.close()
            readers.append(SegmentReader(ix.storage, toc.schema, seg, generation=toc.generation))
    except BaseException:
        for r in readers:
            r.close()
        raise
    finally:
        for r in spare.values():
            r.close()
    if not readers:
        reader: IndexReader = EmptyReader(toc.schema)
    elif len(readers) == 1:
        reader = readers[0]
    else:
        reader = MultiReader(readers, generation=toc.generation)
    return Searcher(reader, fromindex=ix, weighting=weighting)


def _same_deletions(old: Any, new: Any) -> bool:
    """Whether two states of one segment have the same deleted sections."""
    if old.deleted_count() != new.deleted_count():
        return False
    return old.deleted_count() == 0 or set(old.deleted_docs()) == set(new.deleted_docs())
