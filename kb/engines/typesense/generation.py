"""One generation of the live Typesense collection, as every view of it shares it.

A generation is named by the live state a node reported (`meta.LiveState`). The tables built
for it (`tables`: the doc table, known stems, spelling vocabulary, suggestions) and other memos
are kept here, built once under a lock and shared by every thread; `base` is the generation read
before, whose tables a new one carries over until its own are built.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kb.engines.typesense.meta import LiveState


class Generation:
    """Per-generation tables shared by every view of one live state; `base` is the generation read
    before it, whose tables it can carry over (until its own are built)."""

    def __init__(self, state: LiveState, base: Generation | None = None) -> None:
        self.state = state
        self.collection = state.collection
        self.token = state.token
        self.memos: dict[str, Any] = {}
        self.tables_lock = threading.Lock()
        self.base = base if base is not None and base.collection == state.collection else None
        self.seen = time.monotonic()  # when a node last said this is the live generation
