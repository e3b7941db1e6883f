"""The write stage: sections into the Whoosh index, incrementally or as a new generation.

Incremental runs commit into the live generation (a Whoosh commit is atomic: a process
killed mid-write leaves the last commit readable). `--full` builds a new generation beside
the live one and swaps `CURRENT` only once it is committed. Every write holds `WriterLock`.

The manifest (`manifest.json` in the generation) maps each source key to its content hash.
Before a commit, every source the commit touches is marked with hash None, so a crash
between the commit and the manifest's final write only costs a re-parse on the next run.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from tqdm import tqdm
from whoosh import index as whoosh_index
from whoosh.writing import IndexWriter

from indexer.lock import WriterLock
from indexer.pipeline import Parsed, parse_all, vocabulary
from indexer.sources import Source, file_hash, scan
from kb import layout
from kb.config import Settings
from kb.errors import ArticleNotFound, BadInput
from kb.models import Article, Failure, IndexSummary
from kb.schema import SCHEMA_VERSION, documents, make_schema

API_ROOT = "api"


@dataclass
class _Generation:
    """The generation being written and its bookkeeping."""

    path: Path
    fresh: bool
    files: dict[str, dict[str, Any]]
    vocab: dict[str, int]
    touched: set[str] = field(default_factory=set)
    removed: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, index_dir: Path, full: bool) -> _Generation:
        live = layout.current_generation(index_dir)
        if live is not None and not full:
            manifest = layout.read_json(live / layout.MANIFEST, {})
            if manifest.get("schema") == SCHEMA_VERSION and whoosh_index.exists_in(str(live)):
                return cls(live, False, manifest.get("files", {}), layout.read_json(live / layout.VOCAB, {}))
        _remove_stale(index_dir, keep=live)
        path = layout.next_generation(index_dir)
        whoosh_index.create_in(str(path), make_schema())
        return cls(path, True, {}, {})

    def remove(self, key: str) -> None:
        """Forget a source (its documents are deleted by the caller's writer)."""
        self.touched.add(key)
        entry = self.files.pop(key, None)
        if entry is not None:
            self.removed[key] = entry

    def save(self, pending: bool) -> None:
        files = self.files
        if pending:
            # Every source this commit touches, removed ones included, is marked unknown until the
            # commit has landed: a crash in between costs a re-parse, never a stranded page.
            files = {k: ({**v, "hash": None} if k in self.touched else v) for k, v in files.items()}
            files.update({k: {**v, "hash": None} for k, v in self.removed.items()})
        layout.write_atomic(self.path / layout.MANIFEST,
                            orjson.dumps({"schema": SCHEMA_VERSION, "files": files}))
        if not pending:
            layout.write_atomic(self.path / layout.VOCAB, orjson.dumps(self.vocab))


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


def _writer(gen: _Generation) -> IndexWriter:
    ix = whoosh_index.open_dir(str(gen.path))
    return ix.writer(limitmb=256)


def _merge_policy(writer: IndexWriter, segments: list[Any]) -> list[Any]:
    """Merge segments that are small or mostly deleted; drop empty ones; keep the rest.

    Whoosh's default never merges fewer than five segments and keeps fully deleted ones, so
    a site that adds articles one by one piles up segments and every search pays for each.
    """
    from whoosh.reading import SegmentReader

    live_total = sum(seg.doc_count() for seg in segments) or 1
    keep = []
    merge = []
    for seg in segments:
        live, total = seg.doc_count(), seg.doc_count_all()
        if live == 0:
            continue  # a fully deleted segment: drop it
        if live < 0.1 * live_total or (total - live) > 0.2 * total:
            merge.append(seg)
        else:
            keep.append(seg)
    for seg in merge:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
    return keep


def _cancel(writer: IndexWriter) -> None:
    """Abandon a writer without letting a second failure (a full disk) hide the first."""
    with contextlib.suppress(Exception):
        writer.cancel()


def _commit(gen: _Generation, writer: IndexWriter, index_dir: Path) -> None:
    gen.save(pending=True)
    if gen.fresh:
        writer.commit(merge=False)
    else:
        writer.commit(mergetype=_merge_policy)
    gen.save(pending=False)
    if gen.fresh:
        layout.switch_to(index_dir, gen.path)
        _remove_stale(index_dir, keep=gen.path)  # keeps the generation just replaced, for open readers


def _add(writer: IndexWriter, gen: _Generation, key: str, root: str, rel: str, digest: str | None,
         article: Article, words: Iterable[str]) -> None:
    if not gen.fresh:
        writer.delete_by_term("source", key)
    for doc in documents(article, key):
        writer.add_document(**doc)
    gen.files[key] = {"hash": digest, "article_id": article.article_id, "root": root, "rel": rel,
                      "sections": len(article.sections)}
    gen.touched.add(key)
    for w in words:
        gen.vocab[w] = gen.vocab.get(w, 0) + 1


def index_paths(paths: Sequence[Path], settings: Settings, *, full: bool = False,
                progress: bool = False) -> IndexSummary:
    """Index HTML files, folders and JSONL files into `settings.index_dir` (the `kb index` command)."""
    started = time.perf_counter()
    found = scan(paths)
    failures = [Failure(p, r) for p, r in found.problems]
    index_dir = settings.index_dir
    with WriterLock(index_dir, settings.lock_timeout_s, "kb index"):
        gen = _Generation.open(index_dir, full)
        jobs: list[tuple[Source, bytes, str, Settings]] = []
        unchanged = 0
        for src in found.sources:
            try:
                data = _read(src, settings)
            except BadInput as e:
                failures.append(Failure(str(src.path if not src.is_record else f"{src.path}#{src.rel}"), str(e)))
                continue
            digest = file_hash(data)
            if gen.files.get(src.key, {}).get("hash") == digest:
                unchanged += 1
                continue
            jobs.append((src, data, digest, settings))
        seen = {s.key for s in found.sources}
        roots = set(found.roots)
        gone = [k for k, e in gen.files.items() if e["root"] in roots and k not in seen]
        if not gen.fresh and not jobs and not gone:  # a no-op run: no writer, no commit
            sections = sum(int(e.get("sections", 0)) for e in gen.files.values())
            return IndexSummary(unchanged=unchanged, failed=tuple(failures), sections=sections,
                                seconds=time.perf_counter() - started)
        writer = _writer(gen)
        added = updated = 0
        try:
            for key in gone:
                writer.delete_by_term("source", key)
            owners = {e["article_id"]: k for k, e in gen.files.items() if k not in gone}
            bar = tqdm(total=len(jobs), unit="file", disable=not progress or not jobs, leave=False)
            for parsed in parse_all(jobs, settings.parse_workers):
                bar.update()
                failure = _check(parsed, owners)
                if failure is not None:
                    failures.append(failure)
                    continue
                assert parsed.article is not None
                src = parsed.source
                existed = src.key in gen.files
                _add(writer, gen, src.key, src.root, src.rel, parsed.digest, parsed.article, parsed.words)
                owners[parsed.article.article_id] = src.key
                updated += existed
                added += not existed
            bar.close()
            for key in gone:
                gen.remove(key)
            _commit(gen, writer, index_dir)
        except BaseException:
            _cancel(writer)
            raise
        sections = sum(int(e.get("sections", 0)) for e in gen.files.values())
    return IndexSummary(added=added, updated=updated, unchanged=unchanged, removed=len(gone),
                        failed=tuple(failures), sections=sections, seconds=time.perf_counter() - started)


def _read(src: Source, settings: Settings) -> bytes:
    if src.record is not None:
        return src.record
    try:
        size = src.path.stat().st_size
        if size > settings.max_file_bytes:
            raise BadInput(f"file too large ({size / 1e6:.1f} MB; the limit is "
                           f"{settings.max_file_bytes / 1e6:.1f} MB)")
        return src.path.read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read: {e.strerror or e}") from e


def _check(parsed: Parsed, owners: dict[str, str]) -> Failure | None:
    src = parsed.source
    where = f"{src.path}#{src.rel}" if src.is_record else str(src.path)
    if parsed.article is None:
        return Failure(where, parsed.reason or "could not be parsed")
    owner = owners.get(parsed.article.article_id)
    if owner is not None and owner != src.key:
        return Failure(where, f"duplicate article id {parsed.article.article_id!r} "
                              f"(already indexed from {owner.split('::', 1)[-1]})")
    return None


def _source_for_upload(data: bytes, url: str | None) -> str:
    """The id an upload falls back to without a canonical link: its URL's path, else its hash."""
    if url:
        parts = urlsplit(url)
        path = parts.path.strip("/")
        if path or parts.netloc:
            return path or parts.netloc
    return f"upload-{file_hash(data)[:12]}"


class Ingestor:
    """Add, replace and delete single articles, and re-index a folder: the admin API's writer.

    Uses the same parser, the same manifest and the same lock as `kb index`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def put(self, data: bytes, *, url: str | None = None, article_id: str | None = None) -> Article:
        """Parse an uploaded page and index it, replacing any article with the same id."""
        from indexer.parse import parse_article

        if len(data) > self.settings.max_body_bytes:
            raise BadInput("page too large")
        # The page's own canonical URL wins; `url` stands in for pages that have none.
        source = article_id or _source_for_upload(data, url)
        article = parse_article(data, source=source, fallback_url=url or "about:blank", settings=self.settings)
        if article_id:
            article = replace(article, article_id=article_id)
        with WriterLock(self.settings.index_dir, self.settings.lock_timeout_s, "admin API upload"):
            gen = _Generation.open(self.settings.index_dir, full=False)
            key = next((k for k, e in gen.files.items() if e["article_id"] == article.article_id),
                       f"{API_ROOT}::{article.article_id}")
            writer = _writer(gen)
            try:
                entry = gen.files.get(key, {})
                # A file's entry keeps no hash, so the next folder re-index refreshes it from disk.
                digest = file_hash(data) if key.startswith(API_ROOT + "::") else None
                _add(writer, gen, key, entry.get("root", API_ROOT), entry.get("rel", article.article_id),
                     digest, article, vocabulary(article))
                _commit(gen, writer, self.settings.index_dir)
            except BaseException:
                _cancel(writer)
                raise
        return article

    def delete(self, article_id: str) -> None:
        """Remove an article's sections from the index."""
        with WriterLock(self.settings.index_dir, self.settings.lock_timeout_s, "admin API delete"):
            gen = _Generation.open(self.settings.index_dir, full=False)
            keys = [k for k, e in gen.files.items() if e["article_id"] == article_id]
            if not keys:
                raise ArticleNotFound(f"no article with id {article_id!r}")
            writer = _writer(gen)
            try:
                for key in keys:
                    writer.delete_by_term("source", key)
                    gen.remove(key)
                _commit(gen, writer, self.settings.index_dir)
            except BaseException:
                _cancel(writer)
                raise

    def reindex(self, full: bool = False) -> IndexSummary:
        """Re-index the configured articles folder."""
        if self.settings.articles_dir is None:
            raise BadInput("no articles folder is configured (set KB_ARTICLES_DIR)")
        return index_paths([self.settings.articles_dir], self.settings, full=full)
