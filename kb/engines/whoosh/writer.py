"""The Whoosh store: generations of a Whoosh index in the folder `layout` describes.

Incremental runs commit into the live generation (a Whoosh commit is atomic: a process
killed mid-write leaves the last commit readable). `--full` builds a new generation beside
the live one and swaps `CURRENT` only once it is committed, and only if the live generation
is still the one it started from (another writer's commit is never thrown away). The manifest
(`manifest.json`) and vocabulary (`vocab.json`) live in the generation's folder; an incremental
run refuses to start when either is damaged rather than silently rebuild from the paths it was given.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import IndexWriter

from kb.config import Settings
from kb.documents import SCHEMA_VERSION, StoredSection, to_record
from kb.engines.base import Manifest, Producer
from kb.engines.whoosh import layout, merging
from kb.engines.whoosh.flush import SegmentWriter
from kb.engines.whoosh.parts import Parts, plan
from kb.engines.whoosh.schema import make_schema
from kb.errors import Conflict, IndexDamaged
from kb.files import identity, write_atomic

_UNREADABLE = object()
LIMIT_MB = 256  # the posting pool of each writer


class WhooshStore:
    """One write session on a generation; the writer opens at the first write, so no-op runs stay cheap."""

    def __init__(self, index_dir: Path, path: Path, fresh: bool, manifest: Manifest,
                 base: tuple[str, int] | None = None, workers: int = 1) -> None:
        self.index_dir = index_dir
        self.path = path
        self.fresh = fresh
        self.manifest = manifest
        self.base = base  # the live state a fresh generation replaces
        self.workers = workers
        self._writer: IndexWriter | None = None
        self._parts: Parts | None = None

    @classmethod
    def open(cls, settings: Settings, full: bool) -> WhooshStore:
        """The live generation for an incremental run, or a new empty one for a full rebuild."""
        index_dir = settings.index_dir
        live = layout.current_generation(index_dir)
        if not full and (problem := layout.current_problem(index_dir)) is not None:
            raise IndexDamaged(_refusal(index_dir, problem))
        if live is not None and not full:
            saved = _read_kept(live / layout.MANIFEST)
            if not isinstance(saved, dict) or not whoosh_index.exists_in(str(live)):
                what = layout.MANIFEST if not isinstance(saved, dict) else "its Whoosh index"
                raise IndexDamaged(_refusal(index_dir, f"{what} in {live.name} is missing or damaged"))
            if saved.get("schema") == SCHEMA_VERSION:
                vocab = _read_kept(live / layout.VOCAB)
                if not isinstance(vocab, dict) or not isinstance(saved.get("files"), dict):
                    what = layout.VOCAB if not isinstance(vocab, dict) else layout.MANIFEST
                    raise IndexDamaged(_refusal(index_dir, f"{what} in {live.name} is damaged"))
                # copies: the session changes them, and the parsed files may be kept for the next one
                return cls(index_dir, live, False, Manifest(dict(saved["files"]), dict(vocab)))
            # another schema version: rebuilt from scratch, as documented
        if live is not None:  # with CURRENT damaged, every generation is kept for `kb check --rollback`
            _remove_stale(index_dir, keep=live)
        base = layout.generation_token(index_dir)
        path = layout.next_generation(index_dir)
        whoosh_index.create_in(str(path), make_schema())
        return cls(index_dir, path, True, Manifest(), base, settings.parse_workers or os.cpu_count() or 1)

    def writer(self) -> IndexWriter:
        """The generation's writer, opened on first use."""
        if self._writer is None:
            # Not memory-mapped: Whoosh copies each mapped file it opens (the big segment's term
            # file, to find the sections a delete replaces), ~30 ms an upload; a read opens a window.
            storage = FileStorage(str(self.path), supports_mmap=False)
            self._writer = SegmentWriter(storage.open_index(), limitmb=LIMIT_MB)
        return self._writer

    def parts(self, sources: int) -> int:
        """How many processes write this store's sources: several for a fresh generation of many (`parts`)."""
        return plan(sources, self.workers) if self.fresh and self._parts is None else 1

    def write_parts(self, producers: Sequence[Producer]) -> None:
        """Start one writer process per producer, each writing a segment of the fresh generation (`parts`)."""
        if not self.fresh or self._parts is not None:
            raise RuntimeError("only a fresh generation is written in parts, and once")
        self.writer()  # the index's lock first
        self._parts = Parts(self.path, producers, LIMIT_MB)

    def delete(self, key: str) -> None:
        """Delete a source's sections."""
        self.writer().delete_by_term("source", key)

    def add(self, docs: list[StoredSection]) -> None:
        """Add one source's sections."""
        if self._parts is not None:
            raise RuntimeError("a generation written in parts takes its sections from their producers")
        w = self.writer()
        for doc in docs:
            w.add_document(**to_record(doc))

    def commit(self) -> None:
        """Commit with the pending-manifest protocol; a fresh generation then becomes CURRENT."""
        writer = self.writer()
        self._save(pending=True)
        if self._parts is not None:
            _commit_parts(writer, self._parts.finish())
            self._parts = None
        elif self.fresh:
            writer.commit(merge=False)
        else:
            writer.commit(mergetype=_merge_policy)
        self._writer = None
        self._save(pending=False)
        if self.fresh:
            now = layout.generation_token(self.index_dir)
            if now != self.base:  # only a writer that got past the lock can have done this
                shutil.rmtree(self.path, ignore_errors=True)
                raise Conflict(f"another writer committed to {self.index_dir} while this full rebuild ran "
                               f"({_name(self.base)} became {_name(now)}); the rebuild was abandoned so that "
                               "work is kept. Run it again.")
            layout.switch_to(self.index_dir, self.path)
            _remove_stale(self.index_dir, keep=self.path)  # keeps the generation just replaced, for open readers

    def cancel(self) -> None:
        """Abandon the writer without letting a second failure (a full disk) hide the first; a fresh
        generation that never went live is removed."""
        if self._parts is not None:
            self._parts.cancel()
            self._parts = None
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.cancel()
            self._writer = None
        if self.fresh and layout.current_generation(self.index_dir) != self.path:
            shutil.rmtree(self.path, ignore_errors=True)

    def _save(self, pending: bool) -> None:
        m = self.manifest
        files = m.pending() if pending else m.files
        saved = {"schema": SCHEMA_VERSION, "files": files}
        write_atomic(self.path / layout.MANIFEST, orjson.dumps(saved))
        if not pending:
            write_atomic(self.path / layout.VOCAB, orjson.dumps(m.vocab))
            _keep(self.path / layout.MANIFEST, {**saved, "files": dict(files)})
            _keep(self.path / layout.VOCAB, dict(m.vocab))


def _commit_parts(writer: Any, segments: list[Any]) -> None:
    """Commit a fresh generation whose sections the parts' processes wrote: their segments, in order
    (what `whoosh.multiproc.MpWriter` does with `multisegment=True`; this writer added nothing)."""
    writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()


def _name(token: tuple[str, int] | None) -> str:
    return "no index" if token is None else f"{token[0]} (modified {token[1]})"


# The manifest and vocabulary this process last read or wrote, by path and `kb.files.identity` (each
# save replaces the file): the admin API's uploads, one after another in one server process, would
# otherwise parse 1.5 MB of manifest and 300 KB of vocabulary (3,633 light pages) again for each
# one (upload median 60.7 -> 52.3 ms without it). Never handed out to be changed.
_KEPT: dict[Path, tuple[tuple[int, ...], object]] = {}


def _read_kept(path: Path) -> object:
    """`_read`, answered from what this process last read or wrote while the file is the same one."""
    key = identity(path)
    hit = _KEPT.get(path)
    if key is not None and hit is not None and hit[0] == key:
        return hit[1]
    found = _read(path)
    if key is not None and isinstance(found, dict) and identity(path) == key:  # not replaced while read
        _keep(path, found, key)
    return found


def _keep(path: Path, value: object, key: tuple[int, ...] | None = None) -> None:
    key = key or identity(path)
    if key is None:
        return
    if len(_KEPT) >= 8:
        _KEPT.clear()
    _KEPT[path] = (key, value)


def _read(path: Path) -> object:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError):
        return _UNREADABLE


def _refusal(index_dir: Path, problem: str) -> str:
    return (f"the index in {index_dir} is damaged: {problem}. Nothing was written: an incremental run "
            f"would rebuild it from the given paths alone. Run `kb check --index {index_dir}` (and "
            "`--rollback` to return to the previous generation), or rebuild it on purpose with "
            "`kb index PATH... --full`.")


def _remove_stale(index_dir: Path, keep: Path | None) -> None:
    """Delete generations other than the live one and the one just before it (left by crashes or swaps)."""
    gens = layout.generations(index_dir)
    keep_names = {keep.name} if keep else set()
    if keep is not None:
        older = [g for g in gens if g.name < keep.name]
        if older:
            keep_names.add(older[-1].name)
    for g in gens:
        if g.name not in keep_names:
            shutil.rmtree(g, ignore_errors=True)


def _merge_policy(writer: IndexWriter, segments: list[Any]) -> list[Any]:
    """Merge what `merging.decide` picks into the commit's new segment; drop empty segments; keep the rest."""
    from whoosh.reading import SegmentReader

    decision = merging.decide([(seg.doc_count(), seg.doc_count_all()) for seg in segments])
    for i in decision.merge:
        reader = SegmentReader(writer.storage, writer.schema, segments[i])
        writer.add_reader(reader)
        reader.close()
    return [segments[i] for i in decision.keep]
