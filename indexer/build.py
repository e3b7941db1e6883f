"""The write stage: parsed articles into the store, incrementally or as a full rebuild.

`index_paths` is the `kb index` command; `Ingestor` is the admin API's writer. Both write in a
`write_session` (the writer lock and one `kb.engines.base.Store` of the configured engine).
What changed is decided here, from the manifest's content hashes: unchanged files are skipped
and a no-op run opens no writer at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tqdm import tqdm

from indexer import uploads
from indexer.fanout import Fanout
from indexer.pipeline import Job, parse_all
from indexer.session import write_session
from indexer.sources import Scan, Source, Upload, file_hash, not_regular, scan
from kb.config import Settings
from kb.engines.base import Store, write_article
from kb.errors import ArticleNotFound, BadInput, Conflict
from kb.ids import unaddressable
from kb.models import Article, Failure, IndexSummary

READ_CHUNK = 1 << 20


def index_paths(paths: Sequence[Path], settings: Settings, *, full: bool = False, allow_empty: bool = False,
                progress: bool = False, purpose: str = "kb index") -> IndexSummary:
    """Index HTML files, folders and JSONL files into `settings.index_dir` (the `kb index` command).

    Pages uploaded through the admin API (`indexer.uploads`) are always included. A full rebuild
    of a path that is missing or holds nothing to index raises `Conflict` and changes nothing,
    unless `allow_empty` says emptying is meant.
    """
    started = time.perf_counter()
    found = scan(paths, settings.follow_symlinks)
    if full and not allow_empty:
        _refuse_empty(paths, found)
    kept, kept_problems = uploads.scan(settings.index_dir)
    failures = [Failure(p, r) for p, r in (*found.problems, *kept_problems)]
    sources = (*kept, *found.sources)  # uploads first: an id already uploaded keeps its upload
    with write_session(settings, purpose, full=full) as store:
        files = store.manifest.files
        jobs: list[Job] = []
        unchanged = 0
        for src in sources:
            try:
                data = _read(src, settings)
            except BadInput as e:
                failures.append(Failure(str(src.path if not src.is_record else f"{src.path}#{src.rel}"), str(e)))
                continue
            digest = file_hash(data)
            if files.get(src.key, {}).get("hash") == digest:
                unchanged += 1
                continue
            jobs.append((src, data, digest, settings))
        seen = {s.key for s in sources}
        roots = {*found.roots, uploads.ROOT}
        gone = [k for k, e in files.items() if e["root"] in roots and k not in seen]
        if not store.fresh and not jobs and not gone:  # a no-op run: no writer, no commit
            return IndexSummary(unchanged=unchanged, failed=tuple(failures), sections=store.manifest.sections(),
                                seconds=time.perf_counter() - started)
        added = updated = 0
        for key in gone:
            store.delete(key)
        owners = {e["article_id"]: k for k, e in files.items() if k not in gone}
        bar = tqdm(total=len(jobs), unit="file", disable=not progress or not jobs, leave=False)
        try:
            if (parts := store.parts(len(jobs))) > 1:  # a fresh rebuild of many: parsed where it is written
                added = _write_in_parts(store, jobs, parts, owners, failures, bar)
            else:
                for parsed in parse_all(jobs, settings.parse_workers):
                    bar.update()
                    src = parsed.source
                    article = parsed.article
                    failure = _check(src, article.article_id if article else None, parsed.reason, owners)
                    if failure is not None:
                        failures.append(failure)
                        continue
                    assert article is not None
                    existed = src.key in files
                    write_article(store, src.key, src.root, src.rel, parsed.digest, article, parsed.words)
                    owners[article.article_id] = src.key
                    updated += existed
                    added += not existed
            for key in gone:
                store.manifest.forget(key)
            if full and not allow_empty and not any(e["root"] != uploads.ROOT for e in files.values()):
                raise Conflict(f"the full re-index of {_names(paths)} indexed no article (see the files skipped); "
                               "the index is unchanged. Pass --allow-empty to empty it on purpose.")
            # the parts (or the one writer) still write and flush: say so, or the bar sits at 100 %
            bar.set_description_str("writing the index")
            store.commit()
        finally:
            bar.close()
        sections = store.manifest.sections()
    return IndexSummary(added=added, updated=updated, unchanged=unchanged, removed=len(gone),
                        failed=tuple(failures), sections=sections, seconds=time.perf_counter() - started)


def _write_in_parts(store: Store, jobs: list[Job], parts: int, owners: dict[str, str], failures: list[Failure],
                    bar: tqdm[Any]) -> int:
    """Have `parts` of the store's writer processes parse and write the jobs (`indexer.fanout`), deciding
    here, in source order, what fails; how many articles were written."""
    fan = Fanout(jobs, parts)
    store.write_parts(fan.producers())
    fan.started()
    added = 0
    for out in fan.outcomes():
        bar.update()
        src, digest = jobs[out.index][0], jobs[out.index][2]
        failure = _check(src, out.article_id, out.reason, owners)
        if failure is not None:
            failures.append(failure)
            fan.refuse(out.index)
            continue
        assert out.article_id is not None
        store.manifest.record(src.key, src.root, src.rel, digest, out.article_id, out.sections, out.words)
        owners[out.article_id] = src.key
        added += 1  # a fresh store has no sources yet
    return added


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _refuse_empty(paths: Sequence[Path], found: Scan) -> None:
    """A full rebuild replaces the whole index: refuse one whose source is missing or empty."""
    by_root: dict[str, int] = {}
    for src in found.sources:
        by_root[src.root] = by_root.get(src.root, 0) + 1
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise Conflict(f"{path} does not exist: a full re-index of it would empty the index, which is "
                           "unchanged. Check the path, or pass --allow-empty to empty the index on purpose.")
        if (path.is_dir() or path.suffix.lower() == ".jsonl") and not by_root.get(path.resolve().as_posix()):
            raise Conflict(f"{path} holds nothing to index: a full re-index of it would empty the index, which "
                           "is unchanged. Pass --allow-empty to empty the index on purpose.")


def _read(src: Source, settings: Settings) -> bytes:
    """A source's bytes: regular files only, and never more than the size limit, by bytes actually read
    (a device or a growing file reports a size that means nothing)."""
    if src.record is not None:
        return src.record
    limit = settings.max_file_bytes
    shown = f"{limit / 1e6:.1f} MB" if limit >= 100_000 else f"{limit:,} bytes"
    too_large = f"file too large (over the {shown} limit)"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it)
        fd = os.open(src.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        raise BadInput(f"cannot read: {e.strerror or e}") from e
    try:
        st = os.fstat(fd)
        why = not_regular(st.st_mode)
        if why:
            raise BadInput(why)
        if st.st_size > limit:
            raise BadInput(too_large)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(READ_CHUNK, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise BadInput(too_large)
        return b"".join(chunks)
    except OSError as e:
        raise BadInput(f"cannot read: {e.strerror or e}") from e
    finally:
        os.close(fd)


def _check(src: Source, article_id: str | None, reason: str | None, owners: dict[str, str]) -> Failure | None:
    """Why a source's article cannot go in the index (unparsed, unaddressable, or an id an earlier source has)."""
    where = f"{src.path}#{src.rel}" if src.is_record else str(src.path)
    if article_id is None:
        return Failure(where, reason or "could not be parsed")
    why = unaddressable(article_id)
    if why is not None:
        return Failure(where, f"its article id {article_id[:80]!r} cannot be addressed in a URL: {why} "
                              "(give the page a canonical link that can)")
    owner = owners.get(article_id)
    if owner is not None and owner != src.key:
        return Failure(where, f"duplicate article id {article_id!r} (already indexed from {_origin(owner)})")
    return None


def _origin(key: str) -> str:
    return "an upload through the admin API" if uploads.is_upload(key) else key.split("::", 1)[-1]


def _source_for_upload(data: bytes, url: str | None) -> str:
    """The id an upload falls back to without a canonical link: its URL's path, else its hash."""
    if url:
        parts = urlsplit(url)
        path = parts.path.strip("/")
        if path or parts.netloc:
            return path or parts.netloc
    return f"upload-{file_hash(data)[:12]}"


def check_url(url: str | None) -> None:
    """Raise BadInput unless `url` is absent or an absolute http(s) URL."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(ord(c) < 33 for c in url):
        raise BadInput(f"the url must be an absolute http(s) URL, not {url[:80]!r}")


class Ingestor:
    """Add, replace and delete uploaded articles, and re-index the articles folder: the admin API's writer.

    Uses the same parser, the same manifest and the same lock as `kb index`. The rule that keeps
    API writes durable: an upload is kept as a file in the index's uploads folder, which every
    re-index includes; an article that comes from a file is changed by editing the file, so
    PUT and DELETE on it (or an upload with its id) raise `Conflict` and change nothing.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def put(self, data: bytes, *, url: str | None = None, article_id: str | None = None) -> Article:
        """Parse an uploaded page, keep it and index it, replacing the upload with the same id."""
        if len(data) > self.settings.max_body_bytes:
            raise BadInput("page too large")
        check_url(url)
        # The page's own canonical URL wins; `url` stands in for pages that have none.
        upload = Upload(article_id or "", url, article_id or _source_for_upload(data, url))
        job = Source(key="", root=uploads.ROOT, rel="", path=Path(uploads.FOLDER), upload=upload)
        parsed = next(parse_all([(job, data, "", self.settings)], 1))  # under the parse time limit
        if parsed.article is None:
            raise BadInput(parsed.reason or "the page could not be parsed")
        article = parsed.article
        why = unaddressable(article.article_id)
        if why is not None:
            raise BadInput(f"the article id {article.article_id[:80]!r} cannot be addressed in a URL: {why}; "
                           "give the page a canonical link that can, or PUT it under an id that can")
        upload = replace(upload, article_id=article.article_id)
        index_dir = self.settings.index_dir
        with write_session(self.settings, "admin API upload") as store:
            files = store.manifest.files
            owned = [k for k, e in files.items() if e["article_id"] == article.article_id]
            _refuse_files(owned, article.article_id, "replace")
            before = uploads.load(index_dir, article.article_id)
            src = uploads.save(index_dir, upload, data)
            try:
                for key in owned:
                    if key != src.key:  # an upload made before uploads were files: now it is one
                        store.delete(key)
                        store.manifest.forget(key)
                write_article(store, src.key, src.root, src.rel, file_hash(data), article, parsed.words)
                store.commit()
            except BaseException:  # what is kept must stay what is indexed
                if before is None:
                    uploads.remove(index_dir, article.article_id)
                else:
                    uploads.save(index_dir, *before)
                raise
        return article

    def delete(self, article_id: str) -> None:
        """Remove an uploaded article: its kept file and its sections."""
        with write_session(self.settings, "admin API delete") as store:
            keys = [k for k, e in store.manifest.files.items() if e["article_id"] == article_id]
            if not keys:
                raise ArticleNotFound(f"no article with id {article_id!r}")
            _refuse_files(keys, article_id, "delete")
            uploads.remove(self.settings.index_dir, article_id)  # first: a crash after it is healed by the next run
            for key in keys:
                store.delete(key)
                store.manifest.forget(key)
            store.commit()

    def reindex(self, full: bool = False, allow_empty: bool = False) -> IndexSummary:
        """Re-index the configured articles folder (and the uploads)."""
        if self.settings.articles_dir is None:
            raise BadInput("no articles folder is configured (set KB_ARTICLES_DIR)")
        return index_paths([self.settings.articles_dir], self.settings, full=full, allow_empty=allow_empty,
                           purpose=f"admin API re-index (kb serve, pid {os.getpid()})")


def _refuse_files(keys: list[str], article_id: str, verb: str) -> None:
    files = [k.split("::", 1) for k in keys if not uploads.is_upload(k)]
    if files:
        root, rel = files[0]
        where = rel if root.endswith(".jsonl") else f"{root.rstrip('/')}/{rel}"
        raise Conflict(f"the article {article_id!r} comes from the file {where}: edit or delete that file "
                       f"and re-index; the API can {verb} only articles uploaded through it")

