"""Finding what to index: HTML files under folders, single files, and BEIR-style JSONL records.

Each source has a stable key (`<root>::<path under root>`), the root it was found under (so
files gone from an indexed folder can be removed) and a content hash (so unchanged files
are skipped without parsing).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

HTML_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True)
class Source:
    """One thing to index: a file, or one record of a JSONL file."""

    key: str
    root: str
    rel: str  # path under the root (POSIX), or the record id
    path: Path
    record: bytes | None = None  # the raw JSONL line for records
    upload: Upload | None = None  # for a page uploaded through the admin API: its id and URL

    @property
    def is_record(self) -> bool:
        """True for a JSONL record, false for an HTML file."""
        return self.record is not None


@dataclass(frozen=True)
class Upload:
    """What an uploaded page was sent with: the id it is kept under and the URL given for it."""

    article_id: str
    url: str | None
    source: str  # the name its id falls back to when the page has no canonical link


@dataclass(frozen=True)
class Scan:
    """What a set of paths holds: the sources, the roots scanned, and paths that were unusable."""

    sources: tuple[Source, ...]
    roots: tuple[str, ...]
    problems: tuple[tuple[str, str], ...]


def file_hash(data: bytes) -> str:
    """The content hash that decides whether a file changed."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def not_regular(mode: int) -> str | None:
    """Why a file of this mode is never read (FIFOs block, devices never end), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return f"not a regular file ({KINDS.get(stat.S_IFMT(mode), 'a special file')}): skipped"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _walk_html(root: Path, follow_symlinks: bool) -> Iterator[Path | tuple[str, str]]:
    """HTML files under root, recursively, never around a loop; special files and symlinks that lead
    out of the folder (unless `follow_symlinks`) come out as (path, reason) problems instead."""
    real_root = os.path.realpath(root)
    outside = "a symlink to {} outside {}: not followed (set follow_symlinks to follow it)"
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in seen:
            dirnames[:] = []
            continue
        seen.add(ident)
        kept = []
        for d in sorted(d for d in dirnames if not d.startswith(".")):
            target = os.path.realpath(os.path.join(dirpath, d))
            if not follow_symlinks and not _inside(target, real_root):
                yield (os.path.join(dirpath, d), outside.format(target, root))
            else:
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.lower().endswith(HTML_SUFFIXES) or name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            target = os.path.realpath(path)
            if not follow_symlinks and not _inside(target, real_root):
                yield (path, outside.format(target, root))
                continue
            try:
                why = not_regular(os.stat(path).st_mode)
            except OSError as e:
                why = f"cannot read: {e.strerror or e}"
            if why:
                yield (path, why)
            else:
                yield Path(path)


def _records(path: Path, root: str) -> Iterator[Source | tuple[str, str]]:
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = orjson.loads(line)
                rid = str(rec["_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                yield (f"{path}:{lineno}", "not a JSON record with an _id")
                continue
            yield Source(key=f"{root}::{rid}", root=root, rel=rid, path=path, record=line)


def scan(paths: Sequence[Path], follow_symlinks: bool = False) -> Scan:
    """Expand the paths given to `kb index` into sources; special files and symlinks that lead out of a
    folder (unless `follow_symlinks`) are reported as problems, never read."""
    sources: list[Source] = []
    roots: list[str] = []
    problems: list[tuple[str, str]] = []
    seen_keys: set[str] = set()

    def add(src: Source) -> None:
        if src.key not in seen_keys:
            seen_keys.add(src.key)
            sources.append(src)

    for given in paths:
        path = Path(given)
        if path.is_dir():
            root = path.resolve().as_posix()
            roots.append(root)
            for f in _walk_html(path, follow_symlinks):
                if isinstance(f, tuple):
                    problems.append(f)
                    continue
                rel = f.relative_to(path).as_posix()
                add(Source(key=f"{root}::{rel}", root=root, rel=rel, path=f))
        elif path.is_file() and path.suffix.lower() == ".jsonl":
            jsonl_root = path.resolve().as_posix()
            roots.append(jsonl_root)
            try:
                for item in _records(path, jsonl_root):
                    if isinstance(item, Source):
                        add(item)
                    else:
                        problems.append(item)
            except OSError as e:
                problems.append((str(path), f"cannot read: {e.strerror}"))
        elif path.is_file():
            parent = path.resolve().parent.as_posix()
            add(Source(key=f"{parent}::{path.name}", root=parent, rel=path.name, path=path))
        elif path.exists():
            problems.append((str(path), not_regular(path.stat().st_mode) or "cannot be indexed"))
        else:
            problems.append((str(path), "no such file or folder"))
    return Scan(tuple(sources), tuple(roots), tuple(problems))
