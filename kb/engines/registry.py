"""The one place that maps a backend name to its reader and writer.

Adding an engine: a folder under `kb/engines/` with a `Backend` (reading) and a `Store`
(writing), one entry in `BACKENDS` below, and one parameter of `tests/test_contract.py`.
Engines are imported on first use, so a Whoosh site never loads the Typesense client.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.config import Settings
from kb.engines.base import Backend, CheckReport, Store
from kb.errors import ConfigError
from kb.ranking import Ranking

BACKENDS = ("whoosh", "typesense")  # the names `KB_BACKEND` accepts
# `kb` subcommands an engine brings, as "module:attribute", loaded when they run
COMMANDS = {"cluster": "kb.engines.typesense.commands:cluster"}


def check(settings: Settings) -> None:
    """Raise ConfigError unless the settings name a known backend."""
    if settings.backend not in BACKENDS:
        raise ConfigError(f"unknown backend {settings.backend!r} (known: {', '.join(BACKENDS)})")


def open_backend(settings: Settings, ranking: Ranking) -> Backend:
    """The engine the settings name, opened for reading (once per process)."""
    check(settings)
    if settings.backend == "typesense":
        from kb.engines.typesense.reader import TypesenseBackend

        return TypesenseBackend(settings, ranking)
    from kb.engines.whoosh.reader import WhooshBackend

    return WhooshBackend(settings, ranking)


def open_store(settings: Settings, full: bool) -> Store:
    """The engine the settings name, opened for one write session (under the writer lock)."""
    check(settings)
    if settings.backend == "typesense":
        from kb.engines.typesense.writer import TypesenseStore

        return TypesenseStore.open(settings, full)
    from kb.engines.whoosh.writer import WhooshStore

    return WhooshStore.open(settings, full)


def verify(settings: Settings) -> CheckReport:
    """Read every part of the live state and the previous one (`kb check`); nothing is changed."""
    check(settings)
    if settings.backend == "typesense":
        from kb.engines.typesense.check import verify as typesense_verify

        return typesense_verify(settings)
    from kb.engines.whoosh.check import verify as whoosh_verify

    return whoosh_verify(settings.index_dir)


def roll_back(settings: Settings) -> CheckReport:
    """Make the previous state the live one when it is whole (`kb check --rollback`; the caller holds
    the writer lock); raises `kb.errors.Conflict` when there is no whole previous state."""
    check(settings)
    if settings.backend == "typesense":
        from kb.engines.typesense.check import roll_back as typesense_roll_back

        return typesense_roll_back(settings)
    from kb.engines.whoosh.check import roll_back as whoosh_roll_back

    return whoosh_roll_back(settings.index_dir)


def describe(settings: Settings) -> str:
    """Where the settings' index lives, for messages (nothing is opened or contacted)."""
    check(settings)
    if settings.backend == "typesense":
        return f"Typesense collection {settings.typesense_collection!r} on {','.join(settings.typesense_nodes)}"
    return str(settings.index_dir)


@contextmanager
def scratch(settings: Settings, folder: Path) -> Iterator[Settings]:
    """Settings for a throwaway index (`kb eval`) that can never replace the one readers search,
    dropped on exit: an index in `folder`, or collections of its own on the same cluster, named
    afresh for every run (a second run never scores on top of a first one's leftovers)."""
    check(settings)
    if settings.backend == "typesense":
        from kb.engines.typesense.writer import drop_all

        own = settings.with_(typesense_collection=f"{settings.typesense_collection}-eval-{secrets.token_hex(4)}")
        try:
            yield own
        finally:
            drop_all(own)
        return
    yield settings.with_(index_dir=folder / "index")
