"""A full rebuild written in parts: runs of consecutive sections, each a segment written by its own process.

Whoosh's writer works in Python per word and per posting, so on pages that parse quickly one
writer process is the whole cost of a rebuild, while the other cores wait. A fresh generation
with many sources is therefore written by up to `MAX_PARTS` processes: the first part's sections
go to the first process, the next part's to the second, and so on, and the commit lists their
segments in that order. Document numbers, and so every ranking and tie, are the ones a single
writer gives. Only a fresh generation is split: it has nothing to delete, and a part that fails
fails the rebuild, whose folder is then removed while the live index stays as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import queue
import signal
import threading
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage

from kb.engines.whoosh.flush import SegmentWriter

MAX_PARTS = 4  # every segment is one more term look-up per search word
MIN_SOURCES = 100  # sources per part below which the processes cost more than they save
BATCH = 64  # records handed over at a time
_POLL_S = 0.5

Record = dict[str, Any]


def plan(sources: int, workers: int) -> int:
    """How many parts a fresh build of `sources` sources is written in (1: the caller's own writer)."""
    if threading.current_thread() is not threading.main_thread():
        return 1  # forking a threaded server is unsafe, and its re-index runs in the background anyway
    return max(1, min(workers, MAX_PARTS, sources // MIN_SOURCES))


class Parts:
    """Writer processes for a fresh generation, fed in order; `finish` returns their segments in order."""

    def __init__(self, path: Path, parts: int, expected: int, limitmb: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self._expected = max(1, expected)
        self._seen = 0
        self._batch: list[Record] = []
        self._current = 0
        self._results: Any = ctx.Queue()
        self._inboxes: list[Any] = []
        self._procs: list[Any] = []
        for i in range(parts):
            inbox = ctx.Queue()  # a feeder thread: putting never waits for a busy writer
            proc = ctx.Process(target=_write_part, args=(str(path), limitmb, inbox, self._results, i),
                               name=f"kb-writer-{i}", daemon=True)
            proc.start()
            self._inboxes.append(inbox)
            self._procs.append(proc)

    def add(self, records: list[Record]) -> None:
        """Hand one source's records to the part its place in the run falls in."""
        part = min(len(self._procs) - 1, self._seen * len(self._procs) // self._expected)
        self._seen += 1
        if part != self._current:
            self._flush()
            self._current = part
        self._batch.extend(records)
        if len(self._batch) >= BATCH:
            self._flush()

    def finish(self) -> list[Any]:
        """Wait for every part to write its segment; the segments (Whoosh's) in order, empty parts left out."""
        self._flush()
        for inbox in self._inboxes:
            inbox.put(None)
        done: dict[int, Any] = {}
        while len(done) < len(self._procs):
            try:
                index, segment, error = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                dead = [p for i, p in enumerate(self._procs) if i not in done and p.exitcode is not None]
                if dead and self._results.empty():
                    raise RuntimeError(f"an index writer process ({dead[0].name}) stopped with exit code "
                                       f"{dead[0].exitcode} before it wrote its part") from None
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
        for q in (*self._inboxes, self._results):
            q.cancel_join_thread()
            q.close()

    def _flush(self) -> None:
        if self._batch:
            self._inboxes[self._current].put(self._batch)
            self._batch = []


def _write_part(path: str, limitmb: int, inbox: Any, results: Any, index: int) -> None:
    """A writer process: add every record it is handed to a new segment, then report the segment."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent, even a SIGKILLed one
    try:
        ix = FileStorage(path, supports_mmap=False).open_index()
        writer = SegmentWriter(ix, _lk=False, limitmb=limitmb)  # the parent holds the index's lock
        while (batch := inbox.get()) is not None:
            for record in batch:
                writer.add_document(**record)
        # Not `_finish()`: it would remove the temporary folder the other parts still write runs into.
        segment = writer._finalize_segment() if writer._added else None
        if segment is None:
            writer._close_segment()
        results.put((index, segment, None))
    except BaseException as e:  # noqa: BLE001  (reported to the parent, which fails the rebuild)
        results.put((index, None, e))
