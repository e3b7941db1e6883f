"""Where the indexer writes: the manifest it keeps, and the stores behind it (Whoosh or Typesense).

A `Store` is one write session, opened under the writer lock. It holds the manifest (each
source key's content hash, article id and section count) and the spelling vocabulary, takes
deletions and new documents, and commits them. The crash-safety rule is the same for every
store: before documents are written, every source the session touches is saved with hash
None, so a crash in between costs a re-parse on the next run, never a stranded page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kb.config import Settings
from kb.models import Article
from kb.schema import documents


@dataclass
class Manifest:
    """What the index holds, by source key, plus the spelling vocabulary (word -> sections)."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    removed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, key: str, root: str, rel: str, digest: str | None, article: Article,
               words: Iterable[str]) -> None:
        """Note a source written in this session."""
        self.files[key] = {"hash": digest, "article_id": article.article_id, "root": root, "rel": rel,
                           "sections": len(article.sections)}
        self.touched.add(key)
        for w in words:
            self.vocab[w] = self.vocab.get(w, 0) + 1

    def forget(self, key: str) -> None:
        """Forget a source (its documents are deleted through the store)."""
        self.touched.add(key)
        entry = self.files.pop(key, None)
        if entry is not None:
            self.removed[key] = entry

    def pending(self) -> dict[str, dict[str, Any]]:
        """The files as saved before a commit: every touched source, removed ones too, marked unknown."""
        files = {k: ({**v, "hash": None} if k in self.touched else v) for k, v in self.files.items()}
        files.update({k: {**v, "hash": None} for k, v in self.removed.items()})
        return files

    def sections(self) -> int:
        """How many sections the index holds, by the manifest."""
        return sum(int(e.get("sections", 0)) for e in self.files.values())


class Store(Protocol):
    """One write session: deletions and additions, then one commit (or a cancel)."""

    manifest: Manifest
    fresh: bool  # a new, empty index that replaces the live one on commit

    def delete(self, key: str) -> None:
        """Delete a source's sections."""

    def add(self, docs: list[dict[str, Any]]) -> None:
        """Add the index documents of one source (`kb.schema.documents`)."""

    def commit(self) -> None:
        """Make everything written visible (and, for a fresh store, make it the live index)."""

    def cancel(self) -> None:
        """Abandon what was written; the live index stays as it was."""


def open_store(settings: Settings, full: bool) -> Store:
    """The store the settings name, opened for one write session (under the writer lock)."""
    if settings.backend == "typesense":
        from indexer.typesense_store import TypesenseStore

        return TypesenseStore.open(settings, full)
    from indexer.whoosh_store import WhooshStore

    return WhooshStore.open(settings.index_dir, full)


def write_article(store: Store, key: str, root: str, rel: str, digest: str | None, article: Article,
                  words: Iterable[str]) -> None:
    """Replace a source's sections with an article's and note it in the manifest."""
    if not store.fresh:
        store.delete(key)
    store.add(list(documents(article, key)))
    store.manifest.record(key, root, rel, digest, article, words)
