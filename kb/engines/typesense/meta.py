"""The meta collection `C-meta`: the live state, the manifest and the vocabulary, written by the change.

    state          the live collection and generation, the section count, recent commit times
    s<hash>        one per source of collection X (kind `src:X`): its manifest entry
    vocab:X        the spelling vocabulary of X as of generation `upto` (kind `vocab:X`)
    vocab:X:N      the counts commit N added to it (kind `vocabd:X`)

An edit rewrites its source's entry and adds a delta of the words it counted: a few kilobytes
of Raft log, whatever the size of the site. When the deltas outgrow a quarter of the vocabulary,
a commit folds them into a new `vocab:X` (so the log grows by a bounded multiple of the deltas,
never by the whole vocabulary per edit).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kb.engines.typesense import client as tc

LAYOUT = 2  # the document layout of this module and `client`; another one means a full rebuild
HISTORY = 64  # recent commits whose times the state keeps (to know when old versions can go)
FOLD_MIN_BYTES = 16_384  # deltas smaller than this are never folded
FOLD_SHARE = 4  # deltas are folded when they outgrow 1/FOLD_SHARE of the vocabulary
GRACE_S = 30.0  # how long a commit keeps the versions it ended: readers use a generation ~1 s past the next


@dataclass(frozen=True)
class LiveState:
    """The `state` document: the live collection, its generation and how many sections it shows."""

    collection: str
    generation: int
    sections: int = -1  # -1: not recorded
    schema: int = 0
    layout: int = 0
    history: tuple[tuple[int, int], ...] = ()  # (generation, commit time in ms)
    collected: int = 0  # versions with gen_to <= this are deleted

    @property
    def token(self) -> str:
        """Identifies the committed state (ETags, caches)."""
        return f"{self.collection}:{self.generation}"

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> LiveState:
        """From the stored document."""
        return cls(str(doc["collection"]), int(doc.get("generation", 0)), int(doc.get("sections", -1)),
                   int(doc.get("schema", 0)), int(doc.get("layout", 0)),
                   tuple((int(g), int(t)) for g, t in doc.get("history", ())), int(doc.get("collected", 0)))

    def document(self) -> dict[str, Any]:
        """As stored."""
        return {"id": tc.STATE, "kind": tc.STATE, "collection": self.collection, "generation": self.generation,
                "sections": self.sections, "schema": self.schema, "layout": self.layout,
                "history": [list(h) for h in self.history], "collected": self.collected}

    def next(self, collection: str, sections: int, schema: int, now_ms: int | None = None) -> LiveState:
        """The state after a commit."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        history = (*self.history, (self.generation + 1, now))[-HISTORY:]
        return LiveState(collection, self.generation + 1, sections, schema, LAYOUT, history, self.collected)

    def retired_before(self, grace_s: float, now_ms: int | None = None) -> int:
        """The newest generation committed more than `grace_s` ago: no reader can still be looking at
        a generation older than it, so versions whose `gen_to` is at most it can be deleted."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        old = [g for g, t in self.history if t <= now - grace_s * 1000]
        return max(old, default=0)


def read_state(client: Any, meta: str) -> LiveState | None:
    """The live state, or None when nothing was ever committed."""
    doc = tc.get_document(client, meta, tc.STATE)
    return LiveState.of(doc) if doc and doc.get("collection") else None


def _src_kind(collection: str) -> str:
    return f"src:{collection}"


def _src_id(collection: str, source: str) -> str:
    return "s" + tc.key(f"{collection}\0{source}")


def read_manifest(client: Any, meta: str, collection: str) -> dict[str, dict[str, Any]]:
    """Every source's manifest entry for a collection."""
    rows = tc.export_rows(client, meta, {"filter_by": f"kind:=`{_src_kind(collection)}`"})
    return {row["key"]: tc.loads(row.get("data"), {}) for row in rows if "key" in row}


def source_documents(collection: str, entries: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The meta documents of these sources' entries."""
    kind = _src_kind(collection)
    return [{"id": _src_id(collection, k), "kind": kind, "key": k, "data": tc.dumps(dict(v))}
            for k, v in entries.items()]


def delete_sources(client: Any, meta: str, collection: str, sources: Iterable[str]) -> None:
    """Delete these sources' entries."""
    ids = [_src_id(collection, k) for k in sources]
    for i in range(0, len(ids), 100):
        client.collections[meta].documents.delete({"filter_by": "id:[" + ",".join(ids[i:i + 100]) + "]"})


@dataclass
class Vocabulary:
    """A collection's vocabulary as stored: the folded base and the deltas since."""

    counts: dict[str, int] = field(default_factory=dict)
    upto: int = 0  # the generation the base was written at
    base_bytes: int = 0
    delta_bytes: int = 0


def read_vocabulary(client: Any, meta: str, collection: str, generation: int | None = None) -> Vocabulary:
    """The vocabulary as of `generation` (None: the latest): the base plus the deltas up to it.

    The deltas are read before the base: a commit that folds them in between gives a base that
    already holds them, never a base without them and no deltas."""
    deltas = tc.export_rows(client, meta, {"filter_by": f"kind:=`vocabd:{collection}`"})
    base = tc.get_document(client, meta, f"vocab:{collection}") or {}
    vocab = Vocabulary(dict(tc.loads(base.get("data"), {})), int(base.get("upto", 0)), len(base.get("data") or ""))
    for d in sorted(deltas, key=lambda d: int(d.get("generation", 0))):
        gen = int(d.get("generation", 0))
        vocab.delta_bytes += len(d.get("data") or "")
        if gen <= vocab.upto or (generation is not None and gen > generation):
            continue
        for word, n in tc.loads(d.get("data"), {}).items():
            vocab.counts[word] = vocab.counts.get(word, 0) + int(n)
    return vocab


def vocabulary_documents(collection: str, generation: int, stored: Vocabulary, now: Mapping[str, int]
                         ) -> tuple[list[dict[str, Any]], bool]:
    """What a commit of `generation` writes for the vocabulary `now`: a delta, or a new base when the
    deltas would outgrow a quarter of it. The flag says the old deltas are to be deleted."""
    before = stored.counts
    delta = {w: n - before.get(w, 0) for w, n in now.items() if n != before.get(w, 0)}
    if not delta:
        return [], False
    data = tc.dumps(delta)
    if stored.delta_bytes + len(data) > max(FOLD_MIN_BYTES, stored.base_bytes // FOLD_SHARE):
        return [{"id": f"vocab:{collection}", "kind": f"vocab:{collection}", "upto": generation,
                 "data": tc.dumps(dict(now))}], True
    return [{"id": delta_id(collection, generation), "kind": f"vocabd:{collection}", "generation": generation,
             "data": data}], False


def delta_id(collection: str, generation: int) -> str:
    """The id of the vocabulary delta of one commit."""
    return f"vocab:{collection}:{generation}"


def base_vocabulary(collection: str, generation: int, counts: Mapping[str, int]) -> dict[str, Any]:
    """The vocabulary of a new collection."""
    return {"id": f"vocab:{collection}", "kind": f"vocab:{collection}", "upto": generation,
            "data": tc.dumps(dict(counts))}


def delete_deltas(client: Any, meta: str, collection: str) -> None:
    """Delete a collection's vocabulary deltas (after they were folded into its base)."""
    client.collections[meta].documents.delete({"filter_by": f"kind:=`vocabd:{collection}`"})


def drop(client: Any, meta: str, collection: str) -> None:
    """Delete everything the meta collection holds for a dropped collection."""
    kinds = ",".join(f"`{k}:{collection}`" for k in ("src", "vocab", "vocabd"))
    client.collections[meta].documents.delete({"filter_by": f"kind:=[{kinds}]"})
