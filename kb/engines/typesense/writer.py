"""The Typesense store: sections into a Typesense collection, with zero-downtime full rebuilds.

A full rebuild imports into a new collection (`C-<millis>`) that no reader sees; the commit
points the alias `C` and the `state` document at it, then drops all but the previous
collection. An incremental run buffers its changes and, at the commit, saves the manifest
with every touched source marked unknown, applies deletions and upserts, then saves the
final manifest and bumps the generation readers key their caches on. Typesense has no
multi-document transactions: during those few seconds readers may see part of the change,
and a crash between costs only a re-parse on the next run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from kb.config import Settings
from kb.documents import SCHEMA_VERSION, StoredSection
from kb.engines.base import Manifest
from kb.engines.typesense import client as tc
from kb.errors import BackendUnavailable, KbError

BATCH = 500
log = logging.getLogger(__name__)


class TypesenseStore:
    """One write session against the cluster the settings name."""

    def __init__(self, settings: Settings, client: Any, collection: str, fresh: bool, manifest: Manifest,
                 generation: int, previous: str | None) -> None:
        self.settings = settings
        self.client = client
        self.collection = collection
        self.fresh = fresh
        self.manifest = manifest
        self.generation = generation
        self.previous = previous
        self._deletes: list[str] = []
        self._docs: list[dict[str, Any]] = []

    @classmethod
    def open(cls, settings: Settings, full: bool) -> TypesenseStore:
        """The live collection for an incremental run, or a new empty one for a full rebuild."""
        with _answering(settings):
            return cls._open(settings, full)

    @classmethod
    def _open(cls, settings: Settings, full: bool) -> TypesenseStore:
        client = tc.client(settings, writer=True)
        meta = tc.meta_name(settings)
        _ensure(client, tc.meta_schema(meta))
        state = tc.get_document(client, meta, tc.STATE) or {}
        live = state.get("collection")
        generation = int(state.get("generation", 0))
        if live and not full and state.get("schema") == SCHEMA_VERSION and _exists(client, live):
            manifest = Manifest(tc.loads((tc.get_document(client, meta, f"manifest:{live}") or {}).get("data"), {}),
                                tc.loads((tc.get_document(client, meta, f"vocab:{live}") or {}).get("data"), {}))
            store = cls(settings, client, live, False, manifest, generation, None)
        else:
            name = f"{settings.typesense_collection}-{int(time.time() * 1000)}"
            client.collections.create(tc.sections_schema(name))
            store = cls(settings, client, name, True, Manifest(), generation, live)
        return store

    def delete(self, key: str) -> None:
        """Delete a source's sections at the commit."""
        self._deletes.append(tc.key(key))

    def add(self, docs: list[StoredSection]) -> None:
        """Add one source's sections (streamed into a fresh collection, buffered for the live one)."""
        self._docs.extend(tc.to_document(d) for d in docs)
        if self.fresh and len(self._docs) >= BATCH:  # nobody reads a fresh collection: stream it in
            with _answering(self.settings):
                self._flush()

    def commit(self) -> None:
        """Apply the changes, save the manifest, bump the generation; a fresh collection becomes live."""
        with _answering(self.settings):
            self._commit()

    def _commit(self) -> None:
        meta = self.client.collections[tc.meta_name(self.settings)].documents
        if not self.fresh:
            self._save(meta, pending=True)
            for i in range(0, len(self._deletes), 100):
                keys = ",".join(self._deletes[i:i + 100])
                self.client.collections[self.collection].documents.delete({"filter_by": f"source_key:[{keys}]"})
            self._deletes = []
        self._flush()
        self._save(meta, pending=False)
        meta.upsert({"id": tc.STATE, "kind": tc.STATE, "collection": self.collection, "schema": SCHEMA_VERSION,
                     "generation": self.generation + 1})
        tc.LOCAL_COMMITS.note()
        if self.fresh:
            self.client.aliases.upsert(self.settings.typesense_collection, {"collection_name": self.collection})
            self._drop_stale()

    def cancel(self) -> None:
        """Forget buffered changes; a fresh collection nobody points at is dropped."""
        self._docs, self._deletes = [], []
        if self.fresh:
            self.client.collections[self.collection].delete()

    def _flush(self) -> None:
        docs, self._docs = self._docs, []
        for i in range(0, len(docs), BATCH):
            results = self.client.collections[self.collection].documents.import_(docs[i:i + BATCH],
                                                                                 {"action": "upsert"})
            failed = [r for r in results if not r.get("success")]
            if failed:
                raise KbError(f"Typesense refused {len(failed)} section(s): {failed[0].get('error')}")

    def _save(self, meta: Any, pending: bool) -> None:
        m = self.manifest
        meta.upsert({"id": f"manifest:{self.collection}", "kind": "manifest",
                     "data": tc.dumps(m.pending() if pending else m.files)})
        if not pending:
            meta.upsert({"id": f"vocab:{self.collection}", "kind": "vocab", "data": tc.dumps(m.vocab)})

    def _drop_stale(self) -> None:
        """Drop this knowledge base's collections but the live one and the one it replaced."""
        prefix = self.settings.typesense_collection + "-"
        keep = {self.collection, self.previous, tc.meta_name(self.settings)}
        meta = self.client.collections[tc.meta_name(self.settings)].documents
        for c in self.client.collections.retrieve():
            name = c["name"]
            if name.startswith(prefix) and name[len(prefix):].isdigit() and name not in keep:
                self.client.collections[name].delete()
                for doc in (f"manifest:{name}", f"vocab:{name}"):
                    try:
                        meta[doc].delete()
                    except Exception:  # noqa: BLE001 (already gone)
                        log.debug("no %s to delete", doc)


@contextlib.contextmanager
def _answering(settings: Settings) -> Iterator[None]:
    """Turn "no node answered" (after the client's retries) or a refused key into one clear error."""
    import typesense.exceptions as te

    try:
        yield
    except (te.RequestUnauthorized, te.RequestForbidden) as e:
        raise KbError(f"the Typesense cluster refused KB_TYPESENSE_API_KEY for writing ({e}): the writer needs a "
                      "key with collections, documents and aliases rights. Nothing was changed.") from e
    except tc.transport_errors() as e:
        raise BackendUnavailable(f"the Typesense cluster ({', '.join(settings.typesense_nodes)}) did not answer: "
                                 f"{e}. What was committed before is unchanged.") from e


def _exists(client: Any, name: str) -> bool:
    import typesense.exceptions as te

    try:
        client.collections[name].retrieve()
        return True
    except te.ObjectNotFound:
        return False


def _ensure(client: Any, schema: dict[str, Any]) -> None:
    import typesense.exceptions as te

    if not _exists(client, schema["name"]):
        with contextlib.suppress(te.ObjectAlreadyExists):  # another writer made it meanwhile
            client.collections.create(schema)
