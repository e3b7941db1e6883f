"""A full rebuild written in parts: runs of consecutive sources, each a segment written by its own process.

Whoosh's writer works in Python per word and per posting, so on pages that parse quickly one
writer process is the whole cost of a rebuild, while the other cores wait. A fresh generation
with many sources is therefore written by up to `MAX_PARTS` processes, each adding what its
producer yields (the indexer's: it reads and parses its run of sources in the same process, so
no article crosses a process boundary), and the commit lists their segments in order. Document
numbers, and so every ranking and tie, are the ones a single writer gives. Only a fresh
generation is split: it has nothing to delete, and a part that fails fails the rebuild, whose
folder is then removed while the live index stays as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import queue
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage

from kb.documents import to_record
from kb.engines.base import Producer
from kb.engines.whoosh.flush import SegmentWriter
from kb.errors import WriterFailed

MAX_PARTS = 4  # every segment is one more term look-up per search word
MIN_SOURCES = 100  # sources per part below which the processes cost more than they save
_POLL_S = 0.5


def plan(sources: int, workers: int) -> int:
    """How many parts a fresh build of `sources` sources is written in (1: the caller's own writer)."""
    return max(1, min(workers, MAX_PARTS, sources // MIN_SOURCES))


def _context() -> Any:
    """Fork on the main thread (a producer is then inherited, not pickled); off it (the server's admin
    re-index), a fork server: forking a process whose other threads may hold locks is unsafe."""
    if threading.current_thread() is threading.main_thread():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


class Parts:
    """Writer processes for a fresh generation, one per producer; `finish` returns their segments in order."""

    def __init__(self, path: Path, producers: Sequence[Producer], limitmb: int) -> None:
        ctx = _context()
        self._results: Any = ctx.Queue()
        self._procs: list[Any] = []
        for i, produce in enumerate(producers):
            proc = ctx.Process(target=_write_part, args=(str(path), limitmb, produce, self._results, i),
                               name=f"kb-writer-{i}", daemon=True)
            proc.start()
            self._procs.append(proc)

    def finish(self) -> list[Any]:
        """Wait for every part to write its segment; the segments (Whoosh's) in order, empty parts left out."""
        done: dict[int, Any] = {}
        while len(done) < len(self._procs):
            try:
                index, segment, error = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                dead = [p for i, p in enumerate(self._procs) if i not in done and p.exitcode is not None]
                if dead and self._results.empty():
                    raise WriterFailed(f"an index writer process ({dead[0].name}) stopped with exit code "
                                       f"{dead[0].exitcode} before it wrote its part; the rebuild was abandoned "
                                       "and the index is unchanged") from None
                continue
            if error is not None:
                raise error
            done[index] = segment
        for proc in self._procs:
            proc.join()
        return [done[i] for i in range(len(self._procs)) if done[i] is not None]

    def cancel(self) -> None:
        """Stop every writer process; what they wrote is in the fresh folder the caller removes."""
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(timeout=5)
        self._results.cancel_join_thread()
        self._results.close()


def _write_part(path: str, limitmb: int, produce: Producer, results: Any, index: int) -> None:
    """A writer process: add every section its producer yields to a new segment, then report the segment."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent, even a SIGKILLed one
    try:
        ix = FileStorage(path, supports_mmap=False).open_index()
        writer = SegmentWriter(ix, _lk=False, limitmb=limitmb)  # the parent holds the index's lock
        for docs in produce():
            for doc in docs:
                writer.add_document(**to_record(doc))
        # Not `_finish()`: it would remove the temporary folder the other parts still write runs into.
        segment = writer._finalize_segment() if writer._added else None
        if segment is None:
            writer._close_segment()
        results.put((index, segment, None))
    except BaseException as e:  # noqa: BLE001  (reported to the parent, which fails the rebuild)
        results.put((index, None, e))
