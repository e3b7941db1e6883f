"""Finding what to index: HTML files under folders, single files, and BEIR-style JSONL records.

Each source has a stable key (`<root>::<path under root>`), the root it was found under (so
files gone from an indexed folder can be removed) and a content hash (so unchanged files
are skipped without parsing).
"""

from __future__ import annotations

import hashlib
import os
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

    @property
    def is_record(self) -> bool:
        """True for a JSONL record, false for an HTML file."""
        return self.record is not None


@dataclass(frozen=True)
class Scan:
    """What a set of paths holds: the sources, the roots scanned, and paths that were unusable."""

    sources: tuple[Source, ...]
    roots: tuple[str, ...]
    problems: tuple[tuple[str, str], ...]


def file_hash(data: bytes) -> str:
    """The content hash that decides whether a file changed."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _walk_html(root: Path) -> Iterator[Path]:
    """HTML files under root, recursively, following symlinks but never around a loop."""
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
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(HTML_SUFFIXES) and not name.startswith("."):
                yield Path(dirpath) / name


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


def scan(paths: Sequence[Path]) -> Scan:
    """Expand the paths given to `kb index` into sources."""
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
            for f in _walk_html(path):
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
        else:
            problems.append((str(path), "no such file or folder"))
    return Scan(tuple(sources), tuple(roots), tuple(problems))
