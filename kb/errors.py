"""The few errors kb raises on purpose; each says when it is raised and what to do."""

from __future__ import annotations


class KbError(Exception):
    """Base of every error kb raises deliberately; its message is meant for a person."""


class ConfigError(KbError):
    """A setting or the config file is invalid (bad TOML, unknown key, wrong type)."""


class IndexMissing(KbError):
    """No index exists at the given folder yet: run `kb index` first."""


class IndexDamaged(KbError):
    """The index exists but a file of it cannot be read (truncated, emptied, not JSON): run `kb check`."""


class Conflict(KbError):
    """A write that would lose data is refused: an article that comes from a file, a full re-index
    of a missing or empty folder, a rebuild another writer's commit overtook."""


class WriterFailed(KbError):
    """A process writing part of a full rebuild stopped before it finished (killed, out of memory):
    the rebuild is abandoned and the live index is unchanged."""


class LockTimeout(KbError):
    """Another writer holds the index lock and did not release it in time."""


class ArticleNotFound(KbError):
    """No article with that id is in the index."""


class BadInput(KbError):
    """A file or upload cannot be indexed: empty, binary, oversized, or no article text."""


class BackendUnavailable(IndexMissing):
    """The search cluster did not answer (every node down, or no leader for a write)."""


class ClusterError(KbError):
    """A local Typesense node (`kb.engines.typesense.cluster`) is missing its binary, cannot start, or did not answer in time."""
