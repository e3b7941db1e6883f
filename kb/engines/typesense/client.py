"""What the Typesense reader and writer share: the client, the collections and their documents.

Layout for the collection name `C` (`KB_TYPESENSE_COLLECTION`, default "kb"):

    C-<millis>     one collection per full build; sections with pre-analysed text fields
    C              an alias to the live one, swapped by each full rebuild (for your own tools)
    C-meta         documents `state` (live collection, generation), `manifest:<coll>`, `vocab:<coll>`

Text is indexed as `kb.text` stems (`title_s`, `heading_s`, `body_s`), so both backends
match the same words the same way; Typesense's own typo tolerance and prefix search are off
because spelling correction happens above the engine. Display fields are stored unindexed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from kb import text
from kb.config import Settings
from kb.documents import StoredSection, from_record, to_record
from kb.errors import ConfigError

STATE = "state"
TEXT_FIELDS = ("title_s", "heading_s", "body_s")


def client(settings: Settings, *, writer: bool = False) -> Any:
    """A Typesense client over every configured node (it fails over between them)."""
    if not (settings.typesense_nodes and settings.typesense_api_key):
        raise ConfigError("the typesense backend needs KB_TYPESENSE_NODES (comma-separated URLs) "
                          "and KB_TYPESENSE_API_KEY")
    try:
        import typesense
    except ImportError as e:
        raise ConfigError("the typesense backend needs its client: pip install 'kb[typesense]'") from e
    nodes = []
    for url in settings.typesense_nodes:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if not parts.hostname:
            raise ConfigError(f"KB_TYPESENSE_NODES: {url!r} is not a URL like http://host:8108")
        nodes.append({"host": parts.hostname, "port": str(parts.port or 8108), "protocol": parts.scheme})
    # The client warns that per-collection synonyms are deprecated: they are what 0.24-29 servers have.
    logging.getLogger("typesense").setLevel(logging.ERROR)
    config: Any = {
        "nodes": nodes,
        "api_key": settings.typesense_api_key,
        "connection_timeout_seconds": 2,
        # A writer waits out a leader election (a few seconds); a reader moves on to the next node.
        "num_retries": 40 if writer else 2 * len(nodes) + 1,
        "retry_interval_seconds": 0.5 if writer else 0.05,
        "healthcheck_interval_seconds": 2,
    }
    return typesense.Client(config)


def transport_errors() -> tuple[type[BaseException], ...]:
    """What the client raises when no node answered: its own errors (OSErrors) and httpx's."""
    import httpx

    return (OSError, httpx.HTTPError)


class CommitCounter:
    """The commits this process has made: a reader that last looked at the live state before the
    latest of them reads it again at once, instead of trusting it for up to a second. One
    counter per process (`LOCAL_COMMITS`), since a writer and the readers it must refresh meet
    nowhere else (the admin API's writer is found through an entry point)."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def note(self) -> None:
        """Count a commit."""
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        """How many commits so far."""
        return self._count


LOCAL_COMMITS = CommitCounter()


def get_document(client: Any, collection: str, doc_id: str) -> dict[str, Any] | None:
    """A document by id, or None when the collection or the document does not exist."""
    import typesense.exceptions as te

    try:
        return client.collections[collection].documents[doc_id].retrieve()
    except te.ObjectNotFound:
        return None


def meta_name(settings: Settings) -> str:
    """The collection of the state, manifest and vocabulary documents."""
    return f"{settings.typesense_collection}-meta"


def sections_schema(name: str) -> dict[str, Any]:
    """A sections collection: indexed stems, filterable keys; everything else is stored only."""
    return {
        "name": name,
        "fields": [
            {"name": "title_s", "type": "string"},
            {"name": "heading_s", "type": "string"},
            {"name": "body_s", "type": "string"},
            {"name": "source_key", "type": "string"},
            {"name": "article_key", "type": "string"},
            {"name": "order", "type": "int32"},
            {"name": "kind", "type": "string", "facet": True},
            {"name": "category", "type": "string[]", "facet": True},
            {"name": "tag", "type": "string[]", "facet": True},
        ],
        "default_sorting_field": "order",
        "token_separators": [],
        "symbols_to_index": [],
    }


def meta_schema(name: str) -> dict[str, Any]:
    """The meta collection: a few documents whose payload is a JSON string."""
    return {"name": name, "fields": [{"name": "kind", "type": "string"}]}


def key(value: str) -> str:
    """A short stable hash: document ids and filter keys with no characters Typesense must escape."""
    return hashlib.blake2b(value.encode("utf-8"), digest_size=12).hexdigest()


def to_document(section: StoredSection) -> dict[str, Any]:
    """A stored section as a Typesense document: its record, plus stems, keys and field lengths."""
    doc = to_record(section)
    out = {k: v for k, v in doc.items() if k not in ("category", "tag")}
    out["id"] = key(doc["id"])
    out["key"] = doc["id"]
    out["source_key"] = key(doc["source"])
    out["article_key"] = key(doc["article_id"])
    out["title_s"] = " ".join(text.terms(doc["title"]))
    out["heading_s"] = " ".join(text.terms(doc["heading"]))
    out["body_s"] = " ".join(text.terms(doc["body"]))
    for f in ("title", "heading", "body"):  # field lengths, for BM25's length normalisation
        out[f + "_n"] = out[f + "_s"].count(" ") + 1 if out[f + "_s"] else 0
    out["category"] = [c for c in section.category_keys if c]
    out["tag"] = [t for t in section.tag_keys if t]
    return out


def from_document(doc: Mapping[str, Any]) -> StoredSection:
    """A Typesense document (its stored fields) as a `StoredSection`."""
    return from_record(doc)


def filter_value(values: list[str]) -> str | None:
    """A filter_by list of exact values, backtick-quoted; None when a value cannot be quoted."""
    if any("`" in v for v in values):
        return None
    return "[" + ",".join(f"`{v}`" for v in values) + "]"


def dumps(value: Any) -> str:
    """JSON text for a meta document's payload."""
    return orjson.dumps(value).decode()


def loads(value: str | None, default: Any) -> Any:
    """A meta document's payload, or `default`."""
    return orjson.loads(value) if value else default
