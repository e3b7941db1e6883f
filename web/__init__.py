"""The web stage: a Flask app serving the search pages and the JSON API over one knowledge base.

`create_app(settings)` is the only way in (there is no module-level app), so `flask --app web
run` builds one from the `KB_*` environment and tests pass their own settings. `web`
imports `kb` only; the admin API's writer is injected or found through an entry point.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import Flask, url_for

from kb.config import Settings
from web import api, caching, errors, pages, security, services
from web.json_provider import OrjsonProvider

__all__ = ["create_app"]


def _asset_versions(static: Path) -> dict[str, str]:
    """A short content hash per static file, appended as ?v= so assets can be cached for a year."""
    return {p.relative_to(static).as_posix(): hashlib.blake2b(p.read_bytes(), digest_size=6).hexdigest()
            for p in sorted(static.rglob("*")) if p.is_file()}


def create_app(settings: Settings | None = None, *, ingestor: object | None = None) -> Flask:
    """Build the app over the index in `settings.index_dir` (settings from `KB_*` when None).

    `ingestor` is the admin API's writer (anything with put/delete/reindex); when None, the
    `default` entry of the `kb.ingestors` entry point group is loaded.
    """
    if settings is None:
        settings = Settings.from_env(os.environ)
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    writer = ingestor if ingestor is not None else services.default_ingestor(settings)
    services.install(app, settings, writer)  # type: ignore[arg-type]  # duck-typed writer

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.health)
    errors.register(app)
    caching.register(app, settings)
    security.register(app, settings)

    versions = _asset_versions(Path(app.static_folder or ""))

    def asset(name: str) -> str:
        return url_for("static", filename=name, v=versions.get(name))

    @app.context_processor
    def template_globals() -> dict[str, object]:
        return {"asset": asset, "max_query_chars": settings.max_query_chars, "site_name": settings.site_name}

    return app
