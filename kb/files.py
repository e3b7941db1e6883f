"""Files kb replaces whole: written beside the old one and renamed over it, and known by their identity.

Readers of the index folder (searches, a waiting writer, `kb check`) may read a file at any
moment, so kb never rewrites one in place: `write_atomic` writes a temporary file and renames it
over the old one, so a reader sees the old content or the new, never a torn one. And since every
save makes a new file, `identity` (device, inode, size, times) changes with every save, which
lets a process keep what it parsed of a file for as long as the identity holds.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a file so readers see the old content or the new, never a torn one; with `durable`,
    the content is on disk (fsync) before the rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def identity(path: Path) -> tuple[int, ...] | None:
    """A file's identity (device, inode, size, modified and changed times), None when it cannot be
    stat'ed. A file saved with `write_atomic` gets a new one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns
