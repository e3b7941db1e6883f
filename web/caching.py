"""HTTP caching: Cache-Control by kind of response, and ETags that let a client skip a search.

A search page's body includes the time it took, so hashing the body would give a new ETag
every time. Pages and JSON that depend only on the index are instead tagged with a weak
ETag of (this build, the index generation, the URL): If-None-Match is answered with 304
before the view runs, and the tag changes as soon as a write commits. Other GET responses
(the OpenAPI document) get a hash of their body.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, Response, g, request

from kb.config import Settings
from kb.errors import KbError
from web.services import knowledge_base

PUBLIC_CACHE = "public, max-age=60"
NO_STORE = "no-store"
STATIC_MAX_AGE_S = 365 * 24 * 3600  # asset URLs carry a content hash (?v=), so they can live long
UNCACHED_PATHS = ("/healthz",)
# Endpoints whose 200 responses depend only on the index, the URL and this build.
INDEX_BOUND = frozenset({"pages.index", "pages.search", "pages.article", "api.search", "api.article",
                         "api.related", "api.suggest"})
_WEB_DIR = Path(__file__).resolve().parent


def build_id(settings: Settings) -> str:
    """A digest of this app's code, templates, assets and settings: a new build means new ETags."""
    h = hashlib.blake2b(repr(settings).encode(), digest_size=12)
    for path in sorted(_WEB_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html", ".css", ".js", ".svg"):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def cache_control(resp: Response) -> None:
    """Cache-Control: no-store for errors, writes and health; long for versioned assets; public otherwise."""
    if request.endpoint == "static":
        if resp.status_code in (200, 304) and "v" in request.args:
            resp.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE_S}, immutable"
        return
    safe = request.method in ("GET", "HEAD")
    if not safe or resp.status_code >= 400 or request.path in UNCACHED_PATHS:
        resp.headers["Cache-Control"] = NO_STORE
    elif resp.status_code in (200, 304) and "Cache-Control" not in resp.headers:
        resp.headers["Cache-Control"] = PUBLIC_CACHE


class ETags:
    """Computes and checks the ETags of one app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.build = build_id(settings)

    def token(self) -> str | None:
        """The live index state's token, as cheap as the engine makes it (two stat calls for Whoosh)."""
        try:
            return knowledge_base().token()
        except KbError:
            return None

    def index_tag(self) -> str | None:
        """The weak ETag of this request when its answer depends only on the index, else None.

        Worked out once per request, before the view runs, and kept for the response: the answer
        comes from that state of the index or a later one, so a commit landing mid-request can
        only make a client ask again, never give it a 304 for an answer it does not hold."""
        if "kb_index_tag" not in g:
            g.kb_index_tag = self._index_tag()
        tag: str | None = g.kb_index_tag
        return tag

    def _index_tag(self) -> str | None:
        if request.method not in ("GET", "HEAD") or request.endpoint not in INDEX_BOUND:
            return None
        token = self.token()
        if token is None:
            return None
        key = f"{self.build}\0{token}\0{request.full_path}"
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()

    def not_modified(self) -> Response | None:
        """A 304 when the client already holds the current answer (checked before the view runs)."""
        tag = self.index_tag()
        if tag is None or not request.if_none_match.contains_weak(tag):
            return None
        resp = Response(status=304)
        resp.set_etag(tag, weak=True)
        return resp

    def tag(self, resp: Response) -> Response:
        """Give a GET 200 its ETag and answer If-None-Match on body-hashed responses."""
        if request.method not in ("GET", "HEAD") or resp.status_code != 200 or "ETag" in resp.headers:
            return resp
        if resp.direct_passthrough or resp.is_streamed or resp.headers.get("Cache-Control") == NO_STORE:
            return resp
        tag = self.index_tag()
        if tag is not None:
            resp.set_etag(tag, weak=True)
            return resp
        resp.add_etag()
        resp.make_conditional(request)  # turns the response into a 304 in place when the tag matches
        return resp


def register(app: Flask, settings: Settings) -> None:
    """Install the caching hooks on the app."""
    etags = ETags(settings)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = None  # decided per request in cache_control()

    @app.before_request
    def answer_not_modified() -> Response | None:
        return etags.not_modified()

    @app.after_request
    def cache_headers(resp: Response) -> Response:
        cache_control(resp)
        return etags.tag(resp)
