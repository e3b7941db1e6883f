"""The single-writer lock of an index folder.

An `flock` on the index folder itself, then on `write.lock` inside it: the kernel releases
both when the holder dies, even by SIGKILL, so a crashed writer never leaves the index locked.
The folder cannot be deleted while it holds the index, so deleting `write.lock` by hand lets no
second writer in (the file is still locked, for writers of earlier versions). Beside it,
`write.lock.json` names the holder (pid, host, command, since) so the waiting writer can say who
it waited for.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import orjson

from kb.errors import LockTimeout
from kb.files import write_atomic

LOCK = "write.lock"  # in the index folder, whatever the engine


class WriterLock:
    """Hold the index's write lock for the duration of a `with` block."""

    def __init__(self, index_dir: Path, timeout_s: float, purpose: str = "") -> None:
        self.path = index_dir / LOCK
        self.info_path = index_dir / (LOCK + ".json")
        self.timeout_s = timeout_s
        self.purpose = purpose or " ".join(sys.argv[:4])
        self._fd: int | None = None
        self._dir_fd: int | None = None

    def __enter__(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(0.0, self.timeout_s)
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._wait(dir_fd, deadline)
            self._fd = self._lock_file(deadline)
        except BaseException:
            os.close(dir_fd)  # closing the folder's descriptor releases its lock
            raise
        self._dir_fd = dir_fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.purpose,
                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # the lock itself is what matters; the note is a courtesy
            # replaced whole, never rewritten in place: a waiting writer reads the note as it polls,
            # and a note read half-written named no holder
            write_atomic(self.info_path, orjson.dumps(info), durable=False)
        return self

    def _wait(self, fd: int, deadline: float) -> None:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(self._held_message()) from None
                time.sleep(0.05)

    def _lock_file(self, deadline: float) -> int:
        """Lock write.lock, making sure the file locked is the one the path names (it may have been
        deleted or replaced by hand meanwhile)."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                self._wait(fd, deadline)
                named = os.stat(self.path)
                held = os.fstat(fd)
            except FileNotFoundError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            if (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
                return fd
            os.close(fd)

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.info_path.unlink(missing_ok=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._dir_fd is not None:
            fcntl.flock(self._dir_fd, fcntl.LOCK_UN)
            os.close(self._dir_fd)
            self._dir_fd = None

    def _held_message(self) -> str:
        holder = "another process"
        try:
            info = orjson.loads(self.info_path.read_bytes())
            holder = f"pid {info['pid']} on {info['host']} ({info['command']!r}, since {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return (f"the index is being written by {holder}; gave up after {self.timeout_s:g}s "
                f"waiting for the lock {self.path}. Wait for it to finish or raise --lock-timeout.")
