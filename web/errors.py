"""Errors, one shape per surface: JSON `{"error": {"code", "message"}}` under /api, an HTML page elsewhere.

Routing 404s and 405s, oversized bodies (413), kb's own errors and any unexpected
exception all come through here; no traceback ever reaches a client.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from kb.errors import (
    ArticleNotFound,
    BackendUnavailable,
    BadInput,
    Conflict,
    IndexDamaged,
    IndexMissing,
    KbError,
    LockTimeout,
)
from web.json_provider import json_response
from web.services import settings

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}
INDEX_MISSING_MESSAGE = "No index yet: build one with `kb index PATH` and it is picked up without a restart."
RETRY_AFTER_S = "5"
# Headers of an HTTP error worth passing on (Allow on 405, WWW-Authenticate on 401).
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ApiError(Exception):
    """An error with its HTTP status, a machine-readable code and a message for people."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    """A 400 for a bad query parameter."""
    return ApiError(400, message)


def wants_json() -> bool:
    """True on the JSON surfaces: everything under /api/ and the health check."""
    return request.path.startswith("/api/") or request.path in ("/api", "/healthz")


def error_response(err: ApiError) -> Response:
    """Render an error in the shape of the surface it happened on."""
    if wants_json():
        return json_response({"error": {"code": err.code, "message": err.message}}, err.status, err.headers)
    html = render_template("error.html", status=err.status, code=err.code, message=err.message,
                           index_missing=err.code == "index_missing",
                           q=request.args.get("q", "")[: settings().max_query_chars])
    resp = Response(html, status=err.status, mimetype="text/html")
    for name, value in err.headers.items():
        resp.headers[name] = value
    return resp


def from_http(e: HTTPException) -> ApiError:
    """The ApiError of a Werkzeug HTTP exception (routing 404/405, 413, aborts)."""
    status = e.code or 500
    kept = {k: v for k, v in e.get_headers() if k in _KEPT_HEADERS}
    message = e.description or e.name
    if status == 404 and e.description == type(e).description:
        message = f"Nothing at {request.path[:200]}"
    if status == 405:
        message = f"{request.method} is not allowed on {request.path[:200]}"
    if status == 413:
        message = "The request body is larger than this server accepts (KB_MAX_BODY_MB)."
    return ApiError(status, message, headers=kept)


def from_kb(e: KbError) -> ApiError:
    """The ApiError of one of kb's own errors."""
    if isinstance(e, ArticleNotFound):
        return ApiError(404, str(e))
    if isinstance(e, BackendUnavailable):
        log.error("search backend unavailable: %s", e)  # names the nodes: for the log only
        return ApiError(503, "The search service did not answer; try again in a few seconds.", "unavailable",
                        {"Retry-After": RETRY_AFTER_S})
    if isinstance(e, IndexMissing):
        return ApiError(503, INDEX_MISSING_MESSAGE, "index_missing", {"Retry-After": RETRY_AFTER_S})
    if isinstance(e, IndexDamaged):
        log.error("index damaged: %s", e)
        return ApiError(503, "The index is damaged; the operator has been told (run `kb check`).",
                        "index_damaged", {"Retry-After": RETRY_AFTER_S})
    if isinstance(e, Conflict):
        return ApiError(409, str(e))
    if isinstance(e, BadInput):
        return ApiError(422, str(e))
    if isinstance(e, LockTimeout):
        log.warning("write refused: %s", e)  # names the lock file and its holder: for the log only
        return ApiError(503, "The index is busy with another write; try again in a few seconds.", "locked",
                        {"Retry-After": RETRY_AFTER_S})
    log.error("kb error: %s", e)
    return ApiError(500, "The server could not complete the request.")


def register(app: Flask) -> None:
    """Install the error handlers on the app."""

    @app.errorhandler(ApiError)
    def on_api_error(e: ApiError) -> Response:
        return error_response(e)

    @app.errorhandler(HTTPException)
    def on_http_error(e: HTTPException) -> Response:
        return error_response(from_http(e))

    @app.errorhandler(KbError)
    def on_kb_error(e: KbError) -> Response:
        return error_response(from_kb(e))

    @app.errorhandler(Exception)
    def on_unexpected(e: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "Something went wrong on our side. Please try again."))
