"""The JSON blueprint under /api: search, articles, related, suggestions, and the admin writes.

Read endpoints return the `to_dict()` shapes of `kb.models`; `/api/search` shares its data
function with the results page. Writes need `Authorization: Bearer <KB_ADMIN_TOKEN>` and go
through the injected writer (see `web.services`); the next search sees them.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request, url_for

from kb.errors import ArticleNotFound, BackendUnavailable, IndexMissing
from web.errors import INDEX_MISSING_MESSAGE, RETRY_AFTER_S, ApiError
from web.json_provider import json_response
from web.openapi import document
from web.params import check_article_id, run_search
from web.services import Ingestor, ingestor, knowledge_base, settings

bp = Blueprint("api", __name__, url_prefix="/api")
health = Blueprint("health", __name__)

REALM = 'Bearer realm="kb admin"'


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
    """Liveness and readiness: 200 with the index size, 503 while there is no index."""
    try:
        stats = knowledge_base().stats()
    except BackendUnavailable:  # its message names the nodes: for the log only
        error = {"code": "unavailable", "message": "The search service did not answer."}
        return json_response({"status": "unavailable", "error": error}, 503, {"Retry-After": RETRY_AFTER_S})
    except IndexMissing:  # its message names a server path: say what to do instead
        error = {"code": "index_missing", "message": INDEX_MISSING_MESSAGE}
        return json_response({"status": "unavailable", "error": error}, 503, {"Retry-After": RETRY_AFTER_S})
    return json_response({"status": "ok", **stats})


# -- admin ---------------------------------------------------------------------------------


def writer() -> Ingestor:
    """The writer, after checking the bearer token; 403 when the admin API is off, 401 on a bad token."""
    token = settings().admin_token
    if not token:
        raise ApiError(403, "admin API disabled: set KB_ADMIN_TOKEN")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "a valid admin token is required: Authorization: Bearer <KB_ADMIN_TOKEN>",
                       headers={"WWW-Authenticate": REALM})
    found = ingestor()
    if found is None:
        raise ApiError(503, "no writer is installed (the 'kb.ingestors' entry point did not load)",
                       "no_writer")
    return found


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
    except (ArticleNotFound, IndexMissing):
        return False
    return True


@bp.post("/articles")
def create_article() -> Response:
    """Index an uploaded HTML page (`?url=` names its source when the page has no canonical link)."""
    w = writer()
    return _written(w.put(_body(), url=request.args.get("url") or None), 201)


@bp.put("/articles/<path:article_id>")
def replace_article(article_id: str) -> Response:
    """Replace an article with an uploaded HTML page (201 when the id was new)."""
    w = writer()
    check_article_id(article_id)
    existed = _exists(article_id)
    article = w.put(_body(), url=request.args.get("url") or None, article_id=article_id)
    return _written(article, 200 if existed else 201)


@bp.delete("/articles/<path:article_id>")
def delete_article(article_id: str) -> Response:
    """Remove an article from the index."""
    writer().delete(check_article_id(article_id))
    return Response(status=204)


@bp.post("/reindex")
def reindex() -> Response:
    """Re-index the configured articles folder (`?full=1` rebuilds from scratch)."""
    w = writer()
    full = request.args.get("full", "").lower() in ("1", "true", "yes")
    return json_response(w.reindex(full=full).to_dict())
