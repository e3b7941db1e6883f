"""The JSON blueprint under /api: search, articles, related, suggestions, and the admin writes.

Read endpoints return the `to_dict()` shapes of `kb.models`; `/api/search` shares its data
function with the results page. Writes need `Authorization: Bearer <KB_ADMIN_TOKEN>` and go
through the injected writer (see `web.services`); the next search sees them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request, url_for

from kb.errors import ArticleNotFound, BackendUnavailable, IndexDamaged, IndexMissing
from kb.ids import unaddressable
from web import admission
from web.errors import INDEX_MISSING_MESSAGE, RETRY_AFTER_S, ApiError
from web.json_provider import json_response
from web.openapi import document
from web.params import check_article_id, run_search
from web.services import Ingestor, ingestor, knowledge_base, settings

bp = Blueprint("api", __name__, url_prefix="/api")
health = Blueprint("health", __name__)
admission.register(bp)

WRITE_GATE = "kb.write_gate"


@bp.get("/search")
def search() -> Response:
    """Search sections (or articles with group=article): the SearchPage as JSON."""
    _args, page = run_search(knowledge_base(), request.args, api=True)
    if page.page > page.pages:
        raise ApiError(404, f"page {page.page} is past the last page of results ({page.pages})")
    return json_response(page.to_dict())


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> Response:
    """One article as indexed."""
    return json_response(knowledge_base().article(check_article_id(article_id)).to_dict())


@bp.get("/articles/<path:article_id>/related")
def related(article_id: str) -> Response:
    """Articles related to one."""
    found = knowledge_base().related(check_article_id(article_id))
    return json_response({"article_id": article_id, "related": [r.to_dict() for r in found]})


@bp.get("/suggest")
def suggest() -> Response:
    """Search-as-you-type suggestions for what has been typed so far."""
    q = request.args.get("q")
    if q is None:
        raise ApiError(400, "the q parameter is required (what has been typed so far)")
    q = q[: settings().max_query_chars]
    found = knowledge_base().suggest(q) if q.strip() else []
    root = request.script_root  # a suggestion's url is a path of this app, wherever it is mounted
    return json_response({"query": q, "suggestions": [{**s.to_dict(), "url": root + s.url} for s in found]})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return json_response(document())


@health.get("/healthz")
def healthz() -> Response:
    """Liveness and readiness: 200 with the index size; 503 with the reason while there is no index,
    or while the live index is damaged (even when an older generation still answers searches)."""
    kb = knowledge_base()
    try:
        stats = kb.stats()
    except BackendUnavailable:  # its message names the nodes: for the log only
        error = {"code": "unavailable", "message": "The search service did not answer."}
        return json_response({"status": "unavailable", "error": error}, 503, {"Retry-After": RETRY_AFTER_S})
    except IndexDamaged as e:
        error = {"code": "index_damaged", "message": str(e)}
        return json_response({"status": "unavailable", "error": error}, 503, {"Retry-After": RETRY_AFTER_S})
    except IndexMissing:  # its message names a server path: say what to do instead
        error = {"code": "index_missing", "message": INDEX_MISSING_MESSAGE}
        return json_response({"status": "unavailable", "error": error}, 503, {"Retry-After": RETRY_AFTER_S})
    damage = kb.damage()
    if damage is not None:  # searches answer from an older generation: say so, and why
        error = {"code": "index_damaged", "message": damage}
        return json_response({"status": "degraded", "error": error, **stats}, 503,
                             {"Retry-After": RETRY_AFTER_S})
    return json_response({"status": "ok", **stats})


# -- admin ---------------------------------------------------------------------------------


def writer() -> Ingestor:
    """The writer, after checking the bearer token; 403 when the admin API is off, 401 on a bad token."""
    head = admission.Head(request.method, request.path, request.headers.get("Authorization", ""))
    found = admission.refusal(head, settings())
    if found is not None:
        raise found
    w = ingestor()
    if w is None:
        raise ApiError(503, "no writer is installed (the 'kb.ingestors' entry point did not load)",
                       "no_writer")
    return w


@contextlib.contextmanager
def writing() -> Iterator[Ingestor]:
    """The writer, for one write at a time per process: a second write is told to come back
    (503, Retry-After) at once instead of holding a request thread that readers need while it
    waits for the index lock."""
    w = writer()
    gate = current_app.extensions.setdefault(WRITE_GATE, threading.Lock())
    if not gate.acquire(blocking=False):
        raise ApiError(503, "Another write is in progress on this server; try again in a few seconds.",
                       "locked", {"Retry-After": RETRY_AFTER_S})
    try:
        yield w
    finally:
        gate.release()


def _url() -> str | None:
    url = request.args.get("url") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ApiError(400, f"url must be an absolute http(s) URL, not {url[:80]!r}")
    return url


def _body() -> bytes:
    data = request.get_data(cache=False)
    if not data.strip():
        raise ApiError(422, "the request body must be the article's HTML")
    return data


def _written(article: object, status: int) -> Response:
    article_id = str(getattr(article, "article_id", ""))
    sections = getattr(article, "sections", ())
    body = {"article_id": article_id, "title": str(getattr(article, "title", "")), "sections": len(sections)}
    return json_response(body, status, {"Location": url_for("api.article", article_id=article_id)})


def _exists(article_id: str) -> bool:
    try:
        knowledge_base().article(article_id)
    except (ArticleNotFound, IndexMissing, IndexDamaged):
        return False
    return True


@bp.post("/articles")
def create_article() -> Response:
    """Index an uploaded HTML page (`?url=` names its source when the page has no canonical link)."""
    url = _url()
    with writing() as w:
        return _written(w.put(_body(), url=url), 201)


@bp.put("/articles/<path:article_id>")
def replace_article(article_id: str) -> Response:
    """Replace an uploaded article with a new HTML page (201 when the id was new)."""
    why = unaddressable(article_id)
    if why is not None:  # refused with the reason: it could never be read, replaced or deleted
        raise ApiError(422, f"the article id cannot be addressed in a URL: {why}")
    url = _url()
    with writing() as w:
        existed = _exists(article_id)
        article = w.put(_body(), url=url, article_id=article_id)
    return _written(article, 200 if existed else 201)


@bp.delete("/articles/<path:article_id>")
def delete_article(article_id: str) -> Response:
    """Remove an uploaded article from the index."""
    check_article_id(article_id)
    with writing() as w:
        w.delete(article_id)
    return Response(status=204)


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")


@bp.post("/reindex")
def reindex() -> Response:
    """Re-index the configured articles folder (`?full=1` rebuilds from scratch; a full rebuild of a
    missing or empty folder is refused with 409 unless `allow_empty=1`)."""
    with writing() as w:
        return json_response(w.reindex(full=_flag("full"), allow_empty=_flag("allow_empty")).to_dict())
