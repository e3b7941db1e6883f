"""A write session: the writer lock held and one store open, abandoned cleanly on any failure.

Every writer (`kb index`, the admin API's uploads and deletions) goes through `write_session`,
so the rule is written once: whatever is raised inside (a parse crash, a full disk, Ctrl-C)
cancels the store's uncommitted writes before the lock is released, and the live index stays
exactly as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from indexer.lock import WriterLock
from kb.config import Settings
from kb.engines.base import Store
from kb.engines.registry import open_store


@contextlib.contextmanager
def write_session(settings: Settings, purpose: str, *, full: bool = False) -> Iterator[Store]:
    """Hold the writer lock and open the settings' store (a fresh one with `full`); the caller commits."""
    with WriterLock(settings.index_dir, settings.lock_timeout_s, purpose):
        store = open_store(settings, full)
        try:
            yield store
        except BaseException:
            with contextlib.suppress(Exception):  # a second failure (a full disk) must not hide the first
                store.cancel()
            raise
