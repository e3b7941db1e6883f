"""The app's two services: the knowledge base it reads and the writer the admin API uses.

Both live in `app.extensions`, made once by the app factory. The knowledge base is opened
once per app; when no index exists yet the app still starts, and every call retries, so
the index is picked up as soon as `kb index` has built one (kb refreshes itself after that).
The writer is found through the `kb.ingestors` entry point, so `web` never imports `indexer`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from importlib.metadata import entry_points
from typing import Any, Protocol, cast

from flask import Flask, current_app

from kb.config import Settings
from kb.errors import IndexDamaged, IndexMissing
from kb.search import KnowledgeBase

log = logging.getLogger(__name__)

KB_KEY = "kb"
INGESTOR_KEY = "kb.ingestor"
SETTINGS_KEY = "kb.settings"
ENTRY_POINT_GROUP = "kb.ingestors"


class Ingestor(Protocol):
    """What the admin API needs from a writer (duck-typed: `indexer.build.Ingestor` fits)."""

    def put(self, data: bytes, *, url: str | None = None, article_id: str | None = None) -> Any:
        """Index one page, replacing the article with the same id; returns the Article."""

    def delete(self, article_id: str) -> None:
        """Remove one article."""

    def reindex(self, full: bool = False, allow_empty: bool = False) -> Any:
        """Re-index the configured folder; returns an IndexSummary."""


def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """Open the knowledge base, or a not-yet-usable one whose calls raise IndexMissing until an index exists."""
    try:
        return KnowledgeBase.open(settings=settings)
    except IndexDamaged as e:  # the server still starts: /healthz and the API say why (503)
        log.error("%s", e)
        return KnowledgeBase(settings)
    except IndexMissing:
        log.warning("no index in %s yet: pages say so and /healthz answers 503 until one is built",
                    settings.index_dir)
        # Every KnowledgeBase call re-reads the generation token, so this object starts
        # answering on its own once `kb index` has committed a generation.
        return KnowledgeBase(settings)


def default_ingestor(settings: Settings) -> Ingestor | None:
    """The writer registered as `default` in the `kb.ingestors` entry point group, or None."""
    found = entry_points(group=ENTRY_POINT_GROUP, name="default")
    for ep in found:
        try:
            factory = ep.load()
            return cast(Ingestor, factory(settings))
        except Exception:  # a broken plug-in must not stop the read-only site
            log.exception("could not load the ingestor %s; the admin write API is off", ep.value)
            return None
    log.warning("no %r entry point named 'default': the admin write API is off", ENTRY_POINT_GROUP)
    return None


def install(app: Flask, settings: Settings, ingestor: Ingestor | None) -> None:
    """Put the settings, the knowledge base and the writer into `app.extensions`."""
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[KB_KEY] = open_knowledge_base(settings)
    app.extensions[INGESTOR_KEY] = ingestor


def warm(app: Flask) -> None:
    """Build the knowledge base's per-generation tables before the first request; a missing or
    unreachable index is left for the pages to report."""
    with contextlib.suppress(IndexMissing, IndexDamaged):
        cast(KnowledgeBase, app.extensions[KB_KEY]).warm()


def keep_warm(app: Flask, every_s: float = 1.0, stop: threading.Event | None = None) -> threading.Thread:
    """Warm again every `every_s` seconds in a daemon thread (until `stop` is set), so a generation
    that a re-index lands has its tables built in the background rather than by its first readers.
    A pass over a generation already warm costs a view and three lookups."""
    stopping = stop or threading.Event()

    def loop() -> None:
        while not stopping.wait(every_s):
            try:
                warm(app)
            except Exception:  # a reader error is the pages' to report; the warmer keeps going
                log.exception("warming the knowledge base failed")

    thread = threading.Thread(target=loop, name="kb-warm", daemon=True)
    thread.start()
    return thread


def knowledge_base() -> KnowledgeBase:
    """The current app's knowledge base."""
    return cast(KnowledgeBase, current_app.extensions[KB_KEY])


def settings() -> Settings:
    """The current app's settings."""
    return cast(Settings, current_app.extensions[SETTINGS_KEY])


def ingestor() -> Ingestor | None:
    """The current app's writer, or None when none is installed."""
    return cast("Ingestor | None", current_app.extensions[INGESTOR_KEY])
