"""Which node to read from: one that has applied the live state, never one that lags behind it.

A Typesense follower applies writes a moment after the leader, and a node that rejoins
replays its backlog while `/health` already says ok (for up to `--healthy-read-lag` entries, 1,000
by default). Reading from such a node gives an old state, or half of one. So kb asks every node
for its `state` document, takes the newest generation any of them has, and reads only from a node
that holds that state *and* whose sections collection has applied it (its `commit` document:
a node applies writes to different collections in its own order). Every request of one search
goes to that one node; when it fails (no answer, 5xx), the request moves to another node that
has the same state, and a node that failed is not asked again for `DOWN_S` seconds.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from kb.config import Settings
from kb.engines.typesense import client as tc
from kb.engines.typesense.meta import LAYOUT, LiveState, read_state
from kb.errors import BackendUnavailable

T = TypeVar("T")
DOWN_S = 5.0  # a node that failed is skipped this long
STATE_TIMEOUT_S = 1.0  # asking a node for the live state (a tiny document)
READ_TIMEOUT_S = 10.0  # searches and exports
CATCH_UP_S = 5.0  # how long to wait for some node to have applied the newest state


@dataclass(frozen=True)
class Reading:
    """What one node said about the live state: the state, None (no index), or that it did not answer."""

    url: str
    state: LiveState | None
    answered: bool


class Replicas:
    """Every configured node with a client of its own, and which of them are usable now."""

    def __init__(self, settings: Settings, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.settings = settings
        self.urls = tuple(u.rstrip("/") for u in settings.typesense_nodes)
        self.meta = tc.meta_name(settings)
        self._clients = {u: tc.node_client(settings, u, read_timeout_s) for u in self.urls}
        self._quick = {u: tc.node_client(settings, u, STATE_TIMEOUT_S) for u in self.urls}
        self._down: dict[str, float] = {}
        self._verified: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def client(self, url: str) -> Any:
        """The client of one node."""
        return self._clients[url]

    def mark_down(self, url: str) -> None:
        """Skip a node that failed for a while."""
        self._down[url] = time.monotonic()

    def _up(self, url: str) -> bool:
        failed = self._down.get(url)
        return failed is None or time.monotonic() - failed > DOWN_S

    def readings(self) -> list[Reading]:
        """Every node's live state (nodes that failed lately are not asked)."""
        import typesense.exceptions as te

        out = []
        for url in self.urls:
            if not self._up(url):
                out.append(Reading(url, None, False))
                continue
            try:
                out.append(Reading(url, read_state(self._quick[url], self.meta), True))
            except (te.ObjectNotFound, KeyError, ValueError, TypeError):
                out.append(Reading(url, None, True))
            except tc.transport_errors():
                self.mark_down(url)
                out.append(Reading(url, None, False))
        return out

    def applied(self, url: str, state: LiveState) -> bool:
        """Whether a node's sections collection has applied every write of `state` (cached when true)."""
        import typesense.exceptions as te

        if state.layout < LAYOUT:  # built before commit markers: nothing to check
            return True
        if self._verified.get((url, state.token)):
            return True
        try:
            marker = tc.get_document(self._quick[url], state.collection, tc.COMMIT)
        except te.ObjectNotFound:
            marker = None
        except tc.transport_errors():
            self.mark_down(url)
            return False
        ok = marker is not None and int(marker.get("generation", -1)) >= state.generation
        if ok:
            with self._lock:
                if len(self._verified) > 1000:
                    self._verified.clear()
                self._verified[(url, state.token)] = True
        return ok

    def newest(self, prefer: str | None = None, wait_s: float = CATCH_UP_S) -> tuple[LiveState | None, str | None]:
        """The newest live state any node holds and a node to read it from (`prefer` if it can).

        (None, None) when every node that answered has no index; raises BackendUnavailable when no
        node answered, or none has applied the newest state within `wait_s`.
        """
        deadline = time.monotonic() + wait_s
        while True:
            readings = self.readings()
            states = [r.state for r in readings if r.state is not None]
            if not states:
                if any(r.answered for r in readings):
                    return None, None
                raise BackendUnavailable(f"no Typesense node answered ({', '.join(self.urls)})")
            newest = max(states, key=lambda s: (s.generation, s.collection))
            holders = [r.url for r in readings if r.state == newest]
            url = self.pick(newest, holders, prefer)
            if url is not None:
                return newest, url
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"no Typesense node has applied generation {newest.generation} "
                                         f"of {newest.collection} yet ({', '.join(self.urls)})")
            time.sleep(0.05)

    def pick(self, state: LiveState, among: Iterable[str], prefer: str | None = None) -> str | None:
        """A node among these that is up and has applied `state`; `prefer` first, else in random order
        (so that many readers spread over the nodes)."""
        urls = [u for u in among if self._up(u)]
        random.shuffle(urls)
        if prefer in urls:
            urls.remove(prefer)
            urls.insert(0, prefer)
        return next((u for u in urls if self.applied(u, state)), None)

    def role(self, url: str) -> str | None:
        """A node's Raft role ("LEADER", "FOLLOWER"…), None when it does not answer.

        Raises the client's RequestUnauthorized when the key may not read `/status` (a search-only key)."""
        try:
            status = self._quick[url].api_call.get("/status", entity_type=dict)
        except tc.transport_errors():
            return None
        role = status.get("state") if isinstance(status, dict) else None
        return role if isinstance(role, str) else None

    def leader(self, wait_s: float) -> str:
        """The node that is the leader now, waiting up to `wait_s` for an election."""
        deadline = time.monotonic() + wait_s
        while True:
            for url in self.urls:
                if self.role(url) == "LEADER":
                    return url
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"no Typesense node is the leader after {wait_s:g} s "
                                         f"({', '.join(self.urls)}): is a majority of the nodes running?")
            time.sleep(0.2)

    def call(self, state: LiveState, url: str, request: Callable[[Any], T], on_switch: Callable[[str], None]
             ) -> T:
        """`request(client)` on node `url`; on no answer or a 5xx, on another node that has applied
        `state` (`on_switch` is told which), until none is left."""
        tried = []
        while True:
            try:
                return request(self._clients[url])
            except tc.transport_errors() as e:
                self.mark_down(url)
                tried.append(url)
                nxt = self.pick(state, [u for u in self.urls if u not in tried])
                if nxt is None:
                    raise BackendUnavailable(f"no Typesense node answered for generation {state.generation} of "
                                             f"{state.collection} ({', '.join(self.urls)}): {e}") from e
                url = nxt
                on_switch(url)
