"""The on-disk layout of an index folder, shared by the writer and the readers.

    INDEX_DIR/
      CURRENT            name of the live generation, replaced atomically (os.replace)
      gen-<n>/           one Whoosh index per generation, plus its manifest.json and vocab.json
      write.lock         the writer's lock (`indexer.lock`; not this module's business)

A full rebuild writes `gen-<n+1>` beside the live one and then swaps CURRENT, so open
searchers keep answering from the old generation and a crash leaves the old one live.
Incremental updates commit into the live generation; Whoosh commits are atomic themselves.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import orjson

from kb import files

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
VOCAB = "vocab.json"
_GEN_RE = re.compile(r"^gen-(\d+)$")


# CURRENT's name by the file's identity (`kb.files.identity`): every switch replaces CURRENT with a new file,
# so a reader checking for a commit on each search stats it instead of opening and reading it.
_NAMES: dict[Path, tuple[tuple[int, ...], str]] = {}


def _current_name(index_dir: Path) -> str | None:
    """What CURRENT says (stripped), or None when it is missing."""
    path = index_dir / CURRENT
    key = files.identity(path)
    if key is None:
        return None
    hit = _NAMES.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        name = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(_NAMES) >= 16:
        _NAMES.clear()
    _NAMES[path] = (key, name)  # a switch between the stat and the read only leaves an unused key
    return name


def _live(index_dir: Path) -> tuple[Path, os.stat_result] | None:
    """The live generation's folder and its stat, or None."""
    name = _current_name(index_dir)
    if name is None or not _GEN_RE.match(name):
        return None
    path = index_dir / name
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (path, st) if stat.S_ISDIR(st.st_mode) else None


def current_generation(index_dir: Path) -> Path | None:
    """The live generation's folder, or None when nothing was ever committed."""
    found = _live(index_dir)
    return None if found is None else found[0]


def current_problem(index_dir: Path) -> str | None:
    """Why CURRENT names no live generation although it exists (emptied, garbled, or naming a folder
    that is gone); None when it is fine or absent (no index yet)."""
    try:
        raw = (index_dir / CURRENT).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        return f"{CURRENT} cannot be read ({e.strerror or e})"
    name = raw.decode("utf-8", "replace").strip()
    if not _GEN_RE.match(name):
        return f"{CURRENT} does not name a generation ({raw[:40]!r})"
    if not (index_dir / name).is_dir():
        return f"{CURRENT} names {name}, which is not there"
    return None


def generation_number(path: Path) -> int:
    """The number of a generation folder (gen-000012 -> 12)."""
    m = _GEN_RE.match(path.name)
    return int(m.group(1)) if m else -1


def generations(index_dir: Path) -> list[Path]:
    """All generation folders, oldest first."""
    if not index_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in index_dir.iterdir() if (m := _GEN_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def next_generation(index_dir: Path) -> Path:
    """A new, empty generation folder numbered after every existing one."""
    existing = generations(index_dir)
    n = int(_GEN_RE.match(existing[-1].name).group(1)) + 1 if existing else 1  # type: ignore[union-attr]
    path = index_dir / f"gen-{n:06d}"
    path.mkdir(parents=True)
    return path


def switch_to(index_dir: Path, generation: Path) -> None:
    """Make `generation` the live one, atomically."""
    files.write_atomic(index_dir / CURRENT, generation.name.encode() + b"\n")
    try:  # make the rename durable too
        fd = os.open(index_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def read_json(path: Path, default: Any) -> Any:
    """A JSON file's content, or `default` when it is missing or unreadable."""
    try:
        return _loads(path.read_bytes(), default)
    except FileNotFoundError:
        return default


def _loads(data: bytes, default: Any) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return default


_PARSED: dict[Path, tuple[bytes, Any]] = {}  # a few JSON files read often (the vocabulary), by path


def read_json_shared(path: Path, default: Any) -> Any:
    """`read_json`, returning the same object while the file's bytes are unchanged: each commit
    rewrites the vocabulary, mostly with what it already held. Callers must not change it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return default
    hit = _PARSED.get(path)
    if hit is not None and hit[0] == data:
        return hit[1]
    parsed = _loads(data, default)
    if parsed is default:
        return default
    if len(_PARSED) >= 8:
        _PARSED.clear()
    _PARSED[path] = (data, parsed)
    return parsed


def generation_token(index_dir: Path) -> tuple[str, int] | None:
    """A cheap fingerprint that changes whenever a commit or a swap lands (two stat calls)."""
    found = _live(index_dir)
    return None if found is None else (found[0].name, found[1].st_mtime_ns)
