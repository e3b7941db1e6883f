"""A bounded, thread-safe least-recently-used cache of derived data, bounded by an estimate of bytes.

Readers keep per-generation values here that cost real time to rebuild (a section's stored
fields, its text read for snippets) and are the same for every query. The bound is a budget in
bytes that the caller estimates per entry, so a handful of long sections cannot push the
process past what a count bound would promise.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """Entries by key, the least recently used dropped first once their sizes pass `budget`."""

    def __init__(self, budget: int, size: Callable[[V], int]) -> None:
        self.budget = budget
        self._size = size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self.used = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        """The entry, marked as just used; None when absent."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> V:
        """Keep `value` under `key` (dropping the oldest entries past the budget); returns it."""
        weight = self._size(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self._items[key] = (value, weight)
            self.used += weight
            while self.used > self.budget and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self.used -= dropped
        return value
