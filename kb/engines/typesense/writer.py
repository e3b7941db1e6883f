"""The Typesense store: sections into a Typesense collection, one generation per commit.

A full rebuild imports into a new collection (`C-<millis>`) that no reader sees; the commit
points the `state` document (and the alias `C`) at it, then drops all but the previous
collection. An incremental commit of generation N never touches what readers of N-1 see:
it adds the new versions of the changed sections (visible from N), ends the visibility of the
versions they replace (`gen_to` = N), writes only the changed sources' manifest entries and a
vocabulary delta (`meta`), then the `commit` marker and the `state` document. Readers switch to
N only when they read the new state, from a node that has applied all of it.

Crash safety: before any section is written, the touched sources' manifest entries are saved
with hash None (a crash costs a re-parse on the next run), and the next session first undoes
what an unfinished commit left (versions from after the live generation, visibility it ended).
Versions that no generation of the last `meta.GRACE_S` seconds can see are deleted by a later commit.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from kb.config import Settings
from kb.documents import SCHEMA_VERSION, StoredSection
from kb.engines.base import Manifest, Producer
from kb.engines.typesense import client as tc
from kb.engines.typesense import meta as tm
from kb.engines.typesense.replicas import Replicas
from kb.errors import BackendUnavailable, KbError

BATCH = 500
WRITE_WAIT_S = 30.0  # for a leader to be elected, and for it to answer
log = logging.getLogger(__name__)


class TypesenseStore:
    """One write session against the cluster the settings name."""

    def __init__(self, settings: Settings, client: Any, reader: Any, state: tm.LiveState | None, collection: str,
                 fresh: bool, manifest: Manifest, vocab: tm.Vocabulary) -> None:
        self.settings = settings
        self.client = client
        self.reader = reader  # a client of the node that was the leader: it has applied every commit
        self.state = state
        self.collection = collection
        self.fresh = fresh
        self.manifest = manifest
        self.vocab = vocab
        self.generation = (state.generation if state else 0) + 1  # the one this session commits
        self.meta = tc.meta_name(settings)
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
        replicas = Replicas(settings, read_timeout_s=60)
        reader = replicas.client(replicas.leader(WRITE_WAIT_S))
        # A write the leader answers only once it has applied every earlier write to the meta
        # collection: after it, reading from the leader gives the latest state and manifest.
        tc.import_documents(client, meta, [{"id": "writer", "kind": "writer", "at": int(time.time() * 1000)}],
                            "upsert")
        state = tm.read_state(reader, meta)
        if (state is not None and not full and state.schema == SCHEMA_VERSION and state.layout == tm.LAYOUT
                and _exists(reader, state.collection)):
            # the same for the sections collection: rewrite its marker (the live generation, or an
            # unfinished commit's, which `_recover` undoes)
            tc.import_documents(client, state.collection, [tc.commit_marker(state.generation)], "upsert")
            _recover(client, reader, meta, state)
            vocab = tm.read_vocabulary(reader, meta, state.collection, state.generation)
            manifest = Manifest(tm.read_manifest(reader, meta, state.collection), dict(vocab.counts))
            return cls(settings, client, reader, state, state.collection, False, manifest, vocab)
        name = f"{settings.typesense_collection}-{int(time.time() * 1000)}"
        client.collections.create(tc.sections_schema(name))
        return cls(settings, client, reader, state, name, True, Manifest(), tm.Vocabulary())

    def delete(self, key: str) -> None:
        """End a source's sections' visibility at the commit."""
        self._deletes.append(tc.key(key))

    def parts(self, sources: int) -> int:
        """One: a fresh collection is streamed in batches as it is (Typesense indexes in parallel itself)."""
        return 1

    def write_parts(self, producers: Sequence[Producer]) -> None:
        """Not used: `parts` is always one."""
        raise NotImplementedError("a Typesense store is written through add()")

    def add(self, docs: list[StoredSection]) -> None:
        """Add one source's sections (streamed into a fresh collection, buffered for the live one)."""
        generation = 0 if self.fresh else self.generation
        self._docs.extend(tc.to_document(d, generation) for d in docs)
        if self.fresh and len(self._docs) >= BATCH:  # nobody reads a fresh collection: stream it in
            with _answering(self.settings):
                self._flush()

    def commit(self) -> None:
        """Write the new generation and make it the live one."""
        with _answering(self.settings):
            if self.fresh:
                self._commit_fresh()
            else:
                self._commit_changes()
            tc.LOCAL_COMMITS.note()

    def cancel(self) -> None:
        """Forget buffered changes; a fresh collection nobody points at is dropped."""
        self._docs, self._deletes = [], []
        if self.fresh:
            with _answering(self.settings):
                self.client.collections[self.collection].delete()

    def _commit_fresh(self) -> None:
        self._flush()
        m = self.manifest
        tc.import_documents(self.client, self.meta, tm.source_documents(self.collection, m.files), "upsert")
        tc.import_documents(self.client, self.meta, [tm.base_vocabulary(self.collection, self.generation, m.vocab)],
                            "upsert")
        self._publish()
        self.client.aliases.upsert(self.settings.typesense_collection, {"collection_name": self.collection})
        self._drop_stale()

    def _commit_changes(self) -> None:
        m = self.manifest
        pending = m.pending()
        tc.import_documents(self.client, self.meta,
                            tm.source_documents(self.collection, {k: pending[k] for k in m.touched if k in pending}),
                            "upsert")
        self._flush()
        self._retire()
        docs, fold = tm.vocabulary_documents(self.collection, self.generation, self.vocab, m.vocab)
        tc.import_documents(self.client, self.meta, docs, "upsert")
        if fold:
            tm.delete_deltas(self.client, self.meta, self.collection)
        self._publish()
        # only now the touched sources' real hashes: a crash before this costs a re-parse of them
        tc.import_documents(self.client, self.meta,
                            tm.source_documents(self.collection, {k: m.files[k] for k in m.touched if k in m.files}),
                            "upsert")
        tm.delete_sources(self.client, self.meta, self.collection, [k for k in m.touched if k not in m.files])

    def _publish(self) -> None:
        """The marker, then the state: the new generation goes live."""
        tc.import_documents(self.client, self.collection, [tc.commit_marker(self.generation)], "upsert")
        base = self.state or tm.LiveState(self.collection, 0)
        new = base.next(self.collection, self.manifest.sections(), SCHEMA_VERSION)
        if not self.fresh:
            new = self._collect(new)
        tc.import_documents(self.client, self.meta, [new.document()], "upsert")

    def _retire(self) -> None:
        """End the visibility of the deleted and replaced sources' current versions at this generation."""
        live = self.generation - 1
        keys, self._deletes = list(dict.fromkeys(self._deletes)), []
        ids: list[str] = []
        for i in range(0, len(keys), 100):
            flt = tc.with_filter("source_key:[" + ",".join(keys[i:i + 100]) + "]", live)
            ids += [r["id"] for r in tc.export_rows(self.reader, self.collection, {"filter_by": flt,
                                                                                  "include_fields": "id"})]
        for i in range(0, len(ids), BATCH):
            tc.import_documents(self.client, self.collection,
                                [{"id": d, "gen_to": self.generation} for d in ids[i:i + BATCH]], "update")

    def _collect(self, new: tm.LiveState) -> tm.LiveState:
        """Delete the versions no reader can still see (their last generation ended over `meta.GRACE_S` ago)."""
        upto = new.retired_before(tm.GRACE_S)
        if upto <= new.collected:
            return new
        self.client.collections[self.collection].documents.delete(
            {"filter_by": f"gen_to:<={upto} && gen_from:>=0"})  # not the marker (gen_from -1)
        return tm.LiveState(new.collection, new.generation, new.sections, new.schema, new.layout, new.history, upto)

    def _flush(self) -> None:
        docs, self._docs = self._docs, []
        for i in range(0, len(docs), BATCH):
            tc.import_documents(self.client, self.collection, docs[i:i + BATCH], "upsert")

    def _drop_stale(self) -> None:
        """Drop this knowledge base's collections but the live one and the one it replaced."""
        prefix = self.settings.typesense_collection + "-"
        keep = {self.collection, self.state.collection if self.state else None, self.meta}
        for c in self.client.collections.retrieve():
            name = c["name"]
            if name.startswith(prefix) and name[len(prefix):].isdigit() and name not in keep:
                self.client.collections[name].delete()
                tm.drop(self.client, self.meta, name)


def drop_all(settings: Settings) -> None:
    """Delete a knowledge base from the cluster: its alias, its collections and its meta collection."""
    import typesense.exceptions as te

    with _answering(settings):
        client = tc.client(settings, writer=True)
        prefix = settings.typesense_collection + "-"
        with contextlib.suppress(te.ObjectNotFound):
            client.aliases[settings.typesense_collection].delete()
        for c in client.collections.retrieve():
            name = c["name"]
            if name == tc.meta_name(settings) or (name.startswith(prefix) and name[len(prefix):].isdigit()):
                with contextlib.suppress(te.ObjectNotFound):
                    client.collections[name].delete()


def _recover(client: Any, reader: Any, meta: str, state: tm.LiveState) -> None:
    """Undo what an unfinished commit left: versions from after the live generation, the
    visibility it ended of the live generation's versions, its vocabulary delta."""
    import typesense.exceptions as te

    live, coll = state.generation, state.collection
    with contextlib.suppress(te.ObjectNotFound):
        client.collections[meta].documents[tm.delta_id(coll, live + 1)].delete()
    if tc.export_rows(reader, coll, {"filter_by": f"gen_from:>{live}", "include_fields": "id"}):
        client.collections[coll].documents.delete({"filter_by": f"gen_from:>{live}"})
    ended = tc.export_rows(reader, coll, {"filter_by": f"gen_to:>{live} && gen_to:<{tc.FOREVER}",
                                          "include_fields": "id"})
    for i in range(0, len(ended), BATCH):
        tc.import_documents(client, coll, [{"id": r["id"], "gen_to": tc.FOREVER} for r in ended[i:i + BATCH]],
                            "update")
    if ended:
        log.warning("undid an unfinished commit in %s (%d versions)", coll, len(ended))


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
    except te.TypesenseClientError as e:
        raise KbError(f"the Typesense cluster refused a write: {type(e).__name__}: {e}. "
                      "What was committed before is unchanged.") from e


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
