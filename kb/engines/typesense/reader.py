"""The Typesense backend: the same knowledge base on a replicated Typesense cluster.

`TypesenseBackend` is opened once per process. At most once a second (at once after a commit of
its own process) it asks every node for the live state and picks a node that has applied the
newest one (`replicas`); each search then gets a `view.TypesenseView` of that generation.
Synonyms are expanded above the engine, at query time, as for Whoosh, so the collection has none
of its own. Snippets, grouping, spelling and the exact-heading bonus stay in `kb.search`.
Typesense objects never leave `kb.engines.typesense`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kb.config import Settings
from kb.engines.typesense import client as tc
from kb.engines.typesense import scoring
from kb.engines.typesense.generation import Generation
from kb.engines.typesense.meta import LAYOUT
from kb.engines.typesense.replicas import Replicas
from kb.engines.typesense.view import TypesenseView
from kb.errors import BackendUnavailable, IndexMissing
from kb.ranking import Ranking

STATE_TTL_S = 1.0  # how long a reader trusts the live state it read (its own process's writes: at once)


class TypesenseBackend:
    """The Typesense cluster named by the settings; thread-safe, opened once per process."""

    def __init__(self, settings: Settings, ranking: Ranking) -> None:
        self.settings = settings
        self.replicas = Replicas(settings)
        self.analysed: dict[str, scoring.Analysed] = {}
        self.stored: dict[str, bytes] = {}
        self._current: tuple[Generation, str] | None = None
        self._refreshing = threading.Lock()
        self._read_at = 0.0
        self._writes = -1

    def describe(self) -> str:
        """The nodes and the collection."""
        return f"Typesense {','.join(self.settings.typesense_nodes)} (collection {self.settings.typesense_collection})"

    def token(self) -> str | None:
        """The live state's generation (read at most once a second), None when there is no index."""
        try:
            with self.view() as v:
                return v.token
        except IndexMissing:
            return None

    def prefer(self, url: str) -> None:
        """Read the current generation from this node from now on (the last one failed)."""
        current = self._current
        if current is not None:
            self._current = (current[0], url)

    def damage(self) -> str | None:
        """The cluster keeps its own replicas whole: a state that answers is the live one."""
        return None

    @contextmanager
    def view(self) -> Iterator[TypesenseView]:
        """The live state, read at most once a second (a request to each node saved on every search);
        a commit made by this process is seen at once, one made elsewhere within `STATE_TTL_S`."""
        import typesense.exceptions as te

        commits = tc.LOCAL_COMMITS.count
        try:
            if self._current is None or self._writes != commits or time.monotonic() - self._read_at > STATE_TTL_S:
                self._refresh(commits)
            current = self._current
            assert current is not None
            yield TypesenseView(self, *current)
        except tc.transport_errors() as e:  # every node failed
            raise BackendUnavailable(f"{self.describe()} did not answer: {e}") from e
        except (te.RequestUnauthorized, te.RequestForbidden) as e:
            raise BackendUnavailable(f"{self.describe()} refused KB_TYPESENSE_API_KEY: {e}") from e
        except te.ObjectNotFound as e:  # the collection went while this view read it (two rebuilds since)
            self._read_at = 0.0
            raise BackendUnavailable(f"{self.describe()}: the live collection changed mid-search: {e}") from e

    def _refresh(self, commits: int) -> None:
        """Read the newest live state from the nodes; while another thread does, use the current one."""
        must = self._current is None or self._writes != commits
        if not self._refreshing.acquire(blocking=must):
            return
        try:
            if not must and time.monotonic() - self._read_at <= STATE_TTL_S:
                return  # another thread refreshed meanwhile
            old = self._current
            try:
                state, url = self.replicas.newest(prefer=old[1] if old else None)
            except BackendUnavailable:
                if old is None or not any(r.answered for r in self.replicas.readings()):
                    raise
                state, url = old[0].state, old[1]  # no node has the newest state yet: keep this one a moment
            if state is None or url is None:
                raise IndexMissing(f"no index in {self.describe()}: build one with `kb index PATH` "
                                   "and KB_BACKEND=typesense")
            if state.layout != LAYOUT:
                raise IndexMissing(f"the index in {self.describe()} was built by an older kb: rebuild it with "
                                   "`kb index PATH --full`")
            if old is not None and old[0].token == state.token:
                gen = old[0]
                gen.seen = time.monotonic()
            else:  # carried over from the newest generation whose tables were built
                prev = old[0] if old is not None else None
                gen = Generation(state, prev if prev is None or "tables" in prev.memos else prev.base)
            self._current = (gen, url)
            self._read_at, self._writes = time.monotonic(), commits
        finally:
            self._refreshing.release()
