"""Pages uploaded through the admin API, kept as files so that every re-index includes them.

    INDEX_DIR/uploads/<name>.html   the page exactly as it was uploaded
    INDEX_DIR/uploads/<name>.json   {"article_id", "url", "source"}: what it was uploaded as

`<name>` is a hash of the article id, so one id is one pair of files. Every `kb index` run (full
or incremental, from the CLI or `POST /api/reindex`) scans this folder as one more source root,
so an upload survives a full rebuild, and deleting its two files by hand removes it at the next
run. The page is written before its description and removed after it, so a crash between the
two leaves a page nobody indexes, never a description of a missing page.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import orjson

from indexer.sources import Source, Upload
from kb.files import write_atomic

FOLDER = "uploads"
ROOT = "uploads"  # the manifest's root for uploads; their keys are "uploads::<article id>"
LEGACY_ROOT = "api"  # uploads made before they were kept as files (kept by incremental runs only)


def folder(index_dir: Path) -> Path:
    """The uploads folder of an index folder."""
    return index_dir / FOLDER


def key_for(article_id: str) -> str:
    """The manifest key of an uploaded article."""
    return f"{ROOT}::{article_id}"


def is_upload(key: str) -> bool:
    """True for a manifest key of an article uploaded through the API (now or before uploads were files)."""
    return key.startswith((ROOT + "::", LEGACY_ROOT + "::"))


def _name(article_id: str) -> str:
    return hashlib.blake2b(article_id.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def save(index_dir: Path, upload: Upload, data: bytes) -> Source:
    """Keep an uploaded page (replacing the one with the same id); returns it as a source to index."""
    where = folder(index_dir)
    where.mkdir(parents=True, exist_ok=True)
    name = _name(upload.article_id)
    write_atomic(where / f"{name}.html", data)
    write_atomic(where / f"{name}.json", orjson.dumps({"article_id": upload.article_id, "url": upload.url,
                                                 "source": upload.source}))
    return _source(where, name, upload)


def load(index_dir: Path, article_id: str) -> tuple[Upload, bytes] | None:
    """The upload kept under an id and its page, or None."""
    where = folder(index_dir)
    name = _name(article_id)
    try:
        found = orjson.loads((where / f"{name}.json").read_bytes())
        url = found.get("url")
        return (Upload(article_id, str(url) if url else None, str(found["source"])),
                (where / f"{name}.html").read_bytes())
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def remove(index_dir: Path, article_id: str) -> None:
    """Forget an uploaded page (nothing happens when it was never kept)."""
    where = folder(index_dir)
    name = _name(article_id)
    for suffix in (".json", ".html"):
        with contextlib.suppress(FileNotFoundError):
            (where / f"{name}{suffix}").unlink()


def _source(where: Path, name: str, upload: Upload) -> Source:
    return Source(key=key_for(upload.article_id), root=ROOT, rel=f"{name}.html", path=where / f"{name}.html",
                  upload=upload)


def scan(index_dir: Path) -> tuple[list[Source], list[tuple[str, str]]]:
    """Every kept upload as a source, and the descriptions that could not be read, as problems."""
    where = folder(index_dir)
    if not where.is_dir():
        return [], []
    sources: list[Source] = []
    problems: list[tuple[str, str]] = []
    for meta in sorted(where.glob("*.json")):
        try:
            found = orjson.loads(meta.read_bytes())
            url = found.get("url")
            upload = Upload(str(found["article_id"]), str(url) if url else None, str(found["source"]))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as e:
            problems.append((str(meta), f"not an upload's description ({type(e).__name__})"))
            continue
        if meta.stem != _name(upload.article_id):
            problems.append((str(meta), "names another article than its file name says"))
            continue
        sources.append(_source(where, meta.stem, upload))
    return sources, problems
