"""A fresh rebuild in parts: each part's process reads, parses and writes a run of consecutive sources.

Handing parsed articles from parse workers to the writing processes cost a rebuild of light
pages a fifth of its CPU (pickled out of one process, into the coordinating one, out again and
into the writer). Here the store's writer processes (`Store.write_parts`) run the parsing
themselves: part k takes a run of consecutive sources (runs of about equal weight: bytes and a
fixed cost per page), and no article leaves its process. What the rebuild must still decide in
source order (an article id already taken by an earlier source fails the later one) is decided
by the coordinating process from each source's `Outcome`: a part parses its whole run first,
reports it, and writes only once it has the verdicts for its run, which the coordinating
process sends as soon as every source up to the run's end is decided.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection, wait

from indexer.pipeline import Job, Parsed, parse_one
from kb.documents import StoredSection, documents
from kb.errors import WriterFailed

BATCH = 32  # outcomes sent at a time
PAGE_WEIGHT = 4096  # what parsing a page costs besides its bytes, in bytes' worth (about, for light pages)


@dataclass(frozen=True)
class Outcome:
    """What became of one source, as the coordinating process needs it (the article stays in its part)."""

    index: int  # the source's place in the run
    article_id: str | None  # None: it could not be parsed, for `reason`
    reason: str | None
    sections: int
    words: tuple[str, ...]


def bounds(jobs: Sequence[Job], parts: int) -> list[tuple[int, int]]:
    """`parts` runs of consecutive jobs of about equal weight (a page's bytes and a fixed cost per page:
    a part's time is mostly its pages' parsing); none empty while there are as many jobs as parts."""
    weights = [len(job[1]) + PAGE_WEIGHT for job in jobs]
    total = sum(weights)
    cuts = [0]
    seen = 0
    for i, weight in enumerate(weights[:-1]):
        seen += weight
        need = parts - len(cuts)  # cuts still to make
        if need > 0 and (seen * parts >= total * len(cuts) or len(weights) - (i + 1) == need):
            cuts.append(i + 1)
    cuts += [len(jobs)] * (parts + 1 - len(cuts))
    return [(cuts[k], cuts[k + 1]) for k in range(parts)]


class Fanout:
    """The parts of one rebuild: `producers` for the store's writer processes, `outcomes` for this one."""

    def __init__(self, jobs: Sequence[Job], parts: int) -> None:
        self._jobs = jobs
        self._bounds = bounds(jobs, parts)
        self._pipes = [multiprocessing.Pipe() for _ in range(parts)]  # (this process's end, the part's end)
        self._refused: list[set[int]] = [set() for _ in range(parts)]

    def producers(self) -> list[Callable[[], Iterator[list[StoredSection]]]]:
        """One producer per part, run in that part's writer process."""
        return [partial(_produce, k, lo, self._jobs[lo:hi], self._pipes) for k, (lo, hi) in enumerate(self._bounds)]

    def started(self) -> None:
        """Called once the parts' processes run: this process lets go of their ends of the pipes, so a
        part that dies is seen (its pipe closes)."""
        for _, theirs in self._pipes:
            theirs.close()

    def refuse(self, index: int) -> None:
        """The source at `index` is not to be written (its part is told with the rest of its run's verdicts)."""
        part = next(k for k, (lo, hi) in enumerate(self._bounds) if lo <= index < hi)
        self._refused[part].add(index)

    def outcomes(self) -> Iterator[Outcome]:
        """Every source's outcome, in source order. Each part's verdicts go to it once the caller has
        taken (and refused or kept) the last outcome of its run."""
        ours = [mine for mine, _ in self._pipes]
        received: list[deque[Outcome]] = [deque() for _ in ours]
        done = [False] * len(ours)  # the part has reported all of its run
        for k, conn in enumerate(ours):
            while received[k] or not done[k]:
                if received[k]:
                    yield received[k].popleft()
                else:
                    _receive(ours, received, done)
            conn.send(sorted(self._refused[k]))


def _produce(k: int, lo: int, jobs: Sequence[Job], pipes: list[tuple[Connection, Connection]]
             ) -> Iterator[list[StoredSection]]:
    """In part k's process: parse its run (`jobs`, from `lo` on), report it, then yield the kept
    articles' sections in order. Off the main thread the part is a fork server's child, and this
    call (its run's jobs and the pipes) was pickled to it."""
    for j, (mine, theirs) in enumerate(pipes):
        mine.close()  # only the coordinating process reads these: a copy here would hide a dead part
        if j != k:
            theirs.close()
    conn = pipes[k][1]
    parsed: list[Parsed] = []
    batch: list[Outcome] = []
    for index, job in enumerate(jobs, start=lo):
        p = parse_one(job)
        parsed.append(p)
        batch.append(_outcome(index, p))
        if len(batch) >= BATCH or index == lo + len(jobs) - 1:
            conn.send(batch)
            batch = []
    conn.send(None)
    refused = set(conn.recv())
    for index, p in enumerate(parsed, start=lo):
        if p.article is not None and index not in refused:
            yield list(documents(p.article, p.source.key))


def _outcome(index: int, p: Parsed) -> Outcome:
    if p.article is None:
        return Outcome(index, None, p.reason, 0, ())
    return Outcome(index, p.article.article_id, None, len(p.article.sections), p.words)


def _receive(conns: list[Connection], received: list[deque[Outcome]], done: list[bool]) -> None:
    """Take what the parts still parsing have sent (all of it, so none waits on a full pipe)."""
    for ready in wait([c for c, finished in zip(conns, done, strict=True) if not finished]):
        k = next(i for i, c in enumerate(conns) if c is ready)
        try:
            message: list[Outcome] | None = conns[k].recv()
        except EOFError:
            raise WriterFailed("an index writer process stopped before it had parsed its pages; the rebuild "
                               "was abandoned and the index is unchanged") from None
        if message is None:
            done[k] = True
        else:
            received[k].extend(message)
