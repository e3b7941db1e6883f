"""The write stage: parsed articles into the store, incrementally or as a full rebuild.

`index_paths` is the `kb index` command; `Ingestor` is the admin API's writer. Both write in a
`write_session` (the writer lock and one `kb.engines.base.Store` of the configured engine).
What changed is decided here, from the manifest's content hashes: unchanged files are skipped
and a no-op run opens no writer at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from indexer.pipeline import Parsed, parse_all, vocabulary
from indexer.session import write_session
from indexer.sources import Source, file_hash, scan
from kb.config import Settings
from kb.engines.base import write_article
from kb.errors import ArticleNotFound, BadInput
from kb.models import Article, Failure, IndexSummary

API_ROOT = "api"


def index_paths(paths: Sequence[Path], settings: Settings, *, full: bool = False,
                progress: bool = False) -> IndexSummary:
    """Index HTML files, folders and JSONL files into `settings.index_dir` (the `kb index` command)."""
    started = time.perf_counter()
    found = scan(paths)
    failures = [Failure(p, r) for p, r in found.problems]
    with write_session(settings, "kb index", full=full) as store:
        files = store.manifest.files
        jobs: list[tuple[Source, bytes, str, Settings]] = []
        unchanged = 0
        for src in found.sources:
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
        seen = {s.key for s in found.sources}
        roots = set(found.roots)
        gone = [k for k, e in files.items() if e["root"] in roots and k not in seen]
        if not store.fresh and not jobs and not gone:  # a no-op run: no writer, no commit
            return IndexSummary(unchanged=unchanged, failed=tuple(failures), sections=store.manifest.sections(),
                                seconds=time.perf_counter() - started)
        added = updated = 0
        for key in gone:
            store.delete(key)
        owners = {e["article_id"]: k for k, e in files.items() if k not in gone}
        bar = tqdm(total=len(jobs), unit="file", disable=not progress or not jobs, leave=False)
        for parsed in parse_all(jobs, settings.parse_workers):
            bar.update()
            failure = _check(parsed, owners)
            if failure is not None:
                failures.append(failure)
                continue
            assert parsed.article is not None
            src = parsed.source
            existed = src.key in files
            write_article(store, src.key, src.root, src.rel, parsed.digest, parsed.article, parsed.words)
            owners[parsed.article.article_id] = src.key
            updated += existed
            added += not existed
        bar.close()
        for key in gone:
            store.manifest.forget(key)
        store.commit()
        sections = store.manifest.sections()
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
        with write_session(self.settings, "admin API upload") as store:
            files = store.manifest.files
            key = next((k for k, e in files.items() if e["article_id"] == article.article_id),
                       f"{API_ROOT}::{article.article_id}")
            entry = files.get(key, {})
            # A file's entry keeps no hash, so the next folder re-index refreshes it from disk.
            digest = file_hash(data) if key.startswith(API_ROOT + "::") else None
            write_article(store, key, entry.get("root", API_ROOT), entry.get("rel", article.article_id),
                          digest, article, vocabulary(article))
            store.commit()
        return article

    def delete(self, article_id: str) -> None:
        """Remove an article's sections from the index."""
        with write_session(self.settings, "admin API delete") as store:
            keys = [k for k, e in store.manifest.files.items() if e["article_id"] == article_id]
            if not keys:
                raise ArticleNotFound(f"no article with id {article_id!r}")
            for key in keys:
                store.delete(key)
                store.manifest.forget(key)
            store.commit()

    def reindex(self, full: bool = False) -> IndexSummary:
        """Re-index the configured articles folder."""
        if self.settings.articles_dir is None:
            raise BadInput("no articles folder is configured (set KB_ARTICLES_DIR)")
        return index_paths([self.settings.articles_dir], self.settings, full=full)
