"""Settings: built once at the edge (CLI options, `KB_*` environment, a test) and passed down.

Nothing below the CLI, the app factory or a test reads `os.environ`. A site owner's
TOML config file (`KB_CONFIG` or `--config`) adds removal selectors, synonyms and limits:

    [parse]
    remove = [".newsletter-signup", "#cookie-banner"]   # extra CSS selectors to drop
    split_levels = [2, 3, 4]                           # heading levels that start a section
    max_file_mb = 10

    [search]
    synonyms = "my-synonyms.txt"                       # relative to the config file
    max_query_chars = 500

    [index]
    base_url = "https://www.example.com/"              # URL of the articles folder, for pages without a canonical link

    [web]
    cors_origins = ["https://www.example.com"]
    site_name = "Example Pharmacy answers"             # the site's name on its pages
    client_timeout_s = 10                              # `kb serve` drops idle or slower clients
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kb.errors import ConfigError

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults a fresh install can run on."""

    index_dir: Path = Path(".kb-index")
    articles_dir: Path | None = None
    base_url: str | None = None  # the site's URL for the articles folder: links for pages without a canonical
    remove_selectors: tuple[str, ...] = ()
    split_levels: tuple[int, ...] = (2, 3, 4)
    max_file_bytes: int = 10 * MB
    parse_timeout_s: float = 30.0
    lock_timeout_s: float = 10.0
    synonyms_file: Path | None = None
    max_query_chars: int = 500
    admin_token: str | None = None
    max_body_bytes: int = 10 * MB
    cors_origins: tuple[str, ...] = ()
    site_name: str = "Knowledge base"  # what the pages call the site: the header, page titles, the home page
    follow_symlinks: bool = False  # follow symlinks that lead out of an indexed folder
    client_timeout_s: float = 10.0  # `kb serve`: idle connections and requests slower than this are dropped
    max_connections: int = 1000  # `kb serve`: open connections per process
    max_client_connections: int = 32  # `kb serve`: open connections per client address, per process
    parse_workers: int = 0  # 0: one per core
    backend: str = "whoosh"  # or "typesense" (a cluster; `pip install 'kb[typesense]'`)
    typesense_nodes: tuple[str, ...] = ()  # e.g. ("http://10.0.0.1:8108", "http://10.0.0.2:8108")
    typesense_api_key: str | None = None
    typesense_collection: str = "kb"  # the alias readers search; full rebuilds swap it to a new collection

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str = "KB_") -> Settings:
        """Settings from `KB_*` variables, on top of the config file named by `KB_CONFIG`."""
        base = cls.from_file(Path(environ[prefix + "CONFIG"])) if environ.get(prefix + "CONFIG") else cls()

        def get(name: str) -> str | None:
            value = environ.get(prefix + name)
            return value if value not in (None, "") else None

        changes: dict[str, Any] = {}
        if (v := get("INDEX_DIR")) is not None:
            changes["index_dir"] = Path(v)
        if (v := get("ARTICLES_DIR")) is not None:
            changes["articles_dir"] = Path(v)
        if (v := get("BASE_URL")) is not None:
            changes["base_url"] = v
        if (v := get("SYNONYMS")) is not None:
            changes["synonyms_file"] = Path(v)
        if (v := get("ADMIN_TOKEN")) is not None:
            changes["admin_token"] = v
        if (v := get("BACKEND")) is not None:
            changes["backend"] = v.strip().lower()
        if (v := get("TYPESENSE_NODES")) is not None:
            changes["typesense_nodes"] = tuple(n.strip() for n in v.split(",") if n.strip())
        if (v := get("TYPESENSE_API_KEY")) is not None:
            changes["typesense_api_key"] = v
        elif (v := get("TYPESENSE_API_KEY_FILE")) is not None:  # a key kept out of the environment
            try:
                changes["typesense_api_key"] = Path(v).read_text(encoding="utf-8").strip() or None
            except OSError as e:
                raise ConfigError(f"{prefix}TYPESENSE_API_KEY_FILE: cannot read {v}: {e.strerror}") from e
        if (v := get("TYPESENSE_COLLECTION")) is not None:
            changes["typesense_collection"] = v
        if (v := get("SITE_NAME")) is not None and v.strip():
            changes["site_name"] = " ".join(v.split())
        if (v := get("CORS_ORIGINS")) is not None:
            changes["cors_origins"] = tuple(o.strip() for o in v.split(",") if o.strip())
        if (v := get("FOLLOW_SYMLINKS")) is not None:
            changes["follow_symlinks"] = v.strip().lower() in ("1", "true", "yes", "on")
        for name, key, conv in (
            ("CLIENT_TIMEOUT", "client_timeout_s", float),
            ("MAX_CONNECTIONS", "max_connections", int),
            ("MAX_CLIENT_CONNECTIONS", "max_client_connections", int),
            ("MAX_QUERY_CHARS", "max_query_chars", int),
            ("MAX_FILE_MB", "max_file_bytes", lambda s: int(float(s) * MB)),
            ("MAX_BODY_MB", "max_body_bytes", lambda s: int(float(s) * MB)),
            ("LOCK_TIMEOUT", "lock_timeout_s", float),
            ("PARSE_WORKERS", "parse_workers", int),
        ):
            if (v := get(name)) is not None:
                try:
                    changes[key] = conv(v)
                except ValueError as e:
                    raise ConfigError(f"{prefix}{name}={v!r} is not a number") from e
        return base.with_(**changes)

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        """Settings from a TOML config file; unknown keys are an error, not silently ignored."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"config file not found: {path}") from e
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
        known = {"parse": {"remove", "split_levels", "max_file_mb", "timeout_s"},
                 "search": {"synonyms", "max_query_chars"},
                 "web": {"cors_origins", "max_body_mb", "site_name", "client_timeout_s", "max_connections",
                         "max_client_connections"},
                 "index": {"dir", "articles", "base_url", "follow_symlinks"}}
        for table, values in data.items():
            if table not in known or not isinstance(values, dict):
                raise ConfigError(f"{path}: unknown table [{table}] (known: {', '.join(sorted(known))})")
            unknown = set(values) - known[table]
            if unknown:
                raise ConfigError(f"{path}: unknown key(s) in [{table}]: {', '.join(sorted(unknown))}")
        parse, search, web, index = (data.get(t, {}) for t in ("parse", "search", "web", "index"))
        here = path.parent
        try:
            changes: dict[str, Any] = {
                "remove_selectors": tuple(str(s) for s in parse.get("remove", ())),
                "split_levels": tuple(int(n) for n in parse.get("split_levels", (2, 3, 4))),
                "max_file_bytes": int(float(parse.get("max_file_mb", 10)) * MB),
                "parse_timeout_s": float(parse.get("timeout_s", 30.0)),
                "max_query_chars": int(search.get("max_query_chars", 500)),
                "cors_origins": tuple(str(o) for o in web.get("cors_origins", ())),
                "max_body_bytes": int(float(web.get("max_body_mb", 10)) * MB),
                "client_timeout_s": float(web.get("client_timeout_s", 10.0)),
                "max_connections": int(web.get("max_connections", 1000)),
                "max_client_connections": int(web.get("max_client_connections", 32)),
                "follow_symlinks": bool(index.get("follow_symlinks", False)),
            }
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{path}: {e}") from e
        if not set(changes["split_levels"]) <= {1, 2, 3, 4, 5, 6}:
            raise ConfigError(f"{path}: split_levels must be heading levels 1-6")
        if "synonyms" in search:
            changes["synonyms_file"] = here / str(search["synonyms"])
        if "dir" in index:
            changes["index_dir"] = here / str(index["dir"])
        if str(web.get("site_name", "")).strip():
            changes["site_name"] = " ".join(str(web["site_name"]).split())
        if "base_url" in index:
            changes["base_url"] = str(index["base_url"])
        if "articles" in index:
            changes["articles_dir"] = here / str(index["articles"])
        return cls().with_(**changes)
