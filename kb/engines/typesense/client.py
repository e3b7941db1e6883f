"""What the Typesense reader and writer share: clients, the sections collection and its documents.

Layout for the collection name `C` (`KB_TYPESENSE_COLLECTION`, default "kb"):

    C-<millis>     one collection per full build: every version of every section, plus `commit`
    C              an alias to the live one, swapped by each full rebuild (for your own tools)
    C-meta         the live state, each source's manifest entry, the vocabulary (`kb.engines.typesense.meta`)

Every section document is one *version*: visible to the generations `gen_from <= g < gen_to`.
A commit never changes a document a reader can see, except to end its visibility (`gen_to`), so
a reader that filters on its own generation sees exactly one committed state however many
commits land while it searches. The `commit` document, written last in each commit, names the
newest generation whose writes a node has applied to that collection (nodes apply writes to
different collections in their own order).

Text is indexed as `kb.text` stems (`title_s`, `heading_s`, `body_s`), so both backends
match the same words the same way; Typesense's own typo tolerance and prefix search are off
because spelling correction happens above the engine. Display fields are stored unindexed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from kb import text
from kb.config import Settings
from kb.documents import StoredSection, from_record, to_record
from kb.errors import ConfigError, KbError

STATE = "state"
COMMIT = "commit"  # the marker document of a sections collection
TEXT_FIELDS = ("title_s", "heading_s", "body_s")
FOREVER = 2**53  # `gen_to` of a version no commit has replaced yet
IMPORT_ATTEMPTS = 3  # an import answered with a malformed body is sent again (it is idempotent)


def _config(settings: Settings) -> None:
    if not (settings.typesense_nodes and settings.typesense_api_key):
        raise ConfigError("the typesense backend needs KB_TYPESENSE_NODES (comma-separated URLs) "
                          "and KB_TYPESENSE_API_KEY (or KB_TYPESENSE_API_KEY_FILE)")


def node_dict(url: str) -> dict[str, str]:
    """One entry of the client's `nodes` from a URL like http://10.0.0.1:8108."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise ConfigError(f"KB_TYPESENSE_NODES: {url!r} is not a URL like http://host:8108")
    return {"host": parts.hostname, "port": str(parts.port or 8108), "protocol": parts.scheme}


_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _make(settings: Settings, nodes: list[dict[str, str]], **config: Any) -> Any:
    """A client, made once per process for each nodes, key and configuration: making one costs
    ~50 ms (httpx loads the system's CA certificates), and a write session needs several."""
    _config(settings)
    try:
        import typesense
    except ImportError as e:
        raise ConfigError("the typesense backend needs its client: pip install 'kb[typesense]'") from e
    # The client warns that per-collection synonyms are deprecated: they are what 0.24-29 servers have.
    logging.getLogger("typesense").setLevel(logging.ERROR)
    cache_key = (tuple(tuple(sorted(n.items())) for n in nodes), settings.typesense_api_key,
                 tuple(sorted(config.items())))
    with _CLIENTS_LOCK:
        made = _CLIENTS.get(cache_key)
        if made is None:
            options: Any = {"nodes": nodes, "api_key": settings.typesense_api_key,
                                       "healthcheck_interval_seconds": 2, **config}
            made = _CLIENTS[cache_key] = typesense.Client(options)
        return made


def client(settings: Settings, *, writer: bool = False) -> Any:
    """A Typesense client over every configured node (it fails over between them).

    A writer waits out a leader election (a few seconds) and gives a large import time to land;
    a reader moves on to the next node at once.
    """
    _config(settings)
    nodes = [node_dict(url) for url in settings.typesense_nodes]
    if writer:
        return _make(settings, nodes, connection_timeout_seconds=20, num_retries=40, retry_interval_seconds=0.5)
    return _make(settings, nodes, connection_timeout_seconds=2, num_retries=2 * len(nodes) + 1,
                 retry_interval_seconds=0.05)


def node_client(settings: Settings, url: str, timeout_s: float) -> Any:
    """A client of one node only, that never retries: the caller decides where to go next."""
    return _make(settings, [node_dict(url)], connection_timeout_seconds=timeout_s, num_retries=0,
                 retry_interval_seconds=0)


def transport_errors() -> tuple[type[BaseException], ...]:
    """What the client raises when a node did not answer, or answered 5xx: worth asking another node.

    Not its other errors (404, 400, 401…): every node would give the same answer.
    """
    import httpx
    import typesense.exceptions as te

    return (httpx.HTTPError, te.ServerError, te.ServiceUnavailable, te.HTTPStatus0Error, te.Timeout,
            ConnectionError, TimeoutError)


def import_documents(client: Any, collection: str, docs: Sequence[Mapping[str, Any]], action: str) -> None:
    """Import documents (JSONL) and check every line of the answer.

    The answer is parsed here, blank lines skipped: a follower that forwards an import sometimes
    answers with a trailing newline, which the client's own parser rejects (typesense#1494). An
    answer that is still malformed is retried: imports are upserts or updates by id, so sending one
    twice changes nothing.
    """
    if not docs:
        return
    body = b"\n".join(orjson.dumps(d) for d in docs)
    problem = ""
    for _ in range(IMPORT_ATTEMPTS):
        raw = client.collections[collection].documents.import_(body, {"action": action})
        raw = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            results = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        except orjson.JSONDecodeError:
            problem = f"an unreadable answer ({raw[:80]!r})"
            continue
        if len(results) != len(docs):
            problem = f"{len(results)} answers for {len(docs)} documents"
            continue
        failed = [r for r in results if not (isinstance(r, dict) and r.get("success"))]
        if failed:
            raise KbError(f"Typesense refused {len(failed)} document(s) of {collection}: {failed[0].get('error')}")
        return
    raise KbError(f"Typesense answered an import into {collection} with {problem}, {IMPORT_ATTEMPTS} times")


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
    """A sections collection: indexed stems, filterable keys and generations; the rest stored only."""
    return {
        "name": name,
        "fields": [
            {"name": "title_s", "type": "string"},
            {"name": "heading_s", "type": "string"},
            {"name": "body_s", "type": "string"},
            {"name": "source_key", "type": "string"},
            {"name": "article_key", "type": "string"},
            {"name": "order", "type": "int32"},
            {"name": "gen_from", "type": "int64"},
            {"name": "gen_to", "type": "int64"},
            {"name": "kind", "type": "string", "facet": True},
            {"name": "category", "type": "string[]", "facet": True},
            {"name": "tag", "type": "string[]", "facet": True},
        ],
        "default_sorting_field": "order",
        "token_separators": [],
        "symbols_to_index": [],
    }


def meta_schema(name: str) -> dict[str, Any]:
    """The meta collection: small documents whose payload is a JSON string, found by `kind`."""
    return {"name": name, "fields": [{"name": "kind", "type": "string"}]}


def key(value: str) -> str:
    """A short stable hash: document ids and filter keys with no characters Typesense must escape."""
    return hashlib.blake2b(value.encode("utf-8"), digest_size=12).hexdigest()


def visible(generation: int) -> str:
    """The filter of the section versions a generation sees."""
    return f"gen_from:<={generation} && gen_to:>{generation}"


def with_filter(extra: str, generation: int) -> str:
    """`extra` (may be empty) and the generation's visibility, as one filter_by."""
    return f"{extra} && {visible(generation)}" if extra else visible(generation)


def to_document(section: StoredSection, generation: int) -> dict[str, Any]:
    """A stored section as the Typesense document of its version first seen in `generation`."""
    doc = to_record(section)
    out = {k: v for k, v in doc.items() if k not in ("category", "tag")}
    out["id"] = f"{key(doc['id'])}g{generation}"
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
    out["gen_from"], out["gen_to"] = generation, FOREVER
    return out


def commit_marker(generation: int) -> dict[str, Any]:
    """The `commit` document: seen by no search (its versions' range is empty), read by id."""
    return {"id": COMMIT, "title_s": "", "heading_s": "", "body_s": "", "source_key": "", "article_key": "",
            "order": 0, "kind": COMMIT, "category": [], "tag": [], "gen_from": -1, "gen_to": -1,
            "generation": generation}


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


def export_rows(client: Any, collection: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """An export's documents, parsed."""
    raw = client.collections[collection].documents.export(params)
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
