"""Admission: what a request's headers alone decide, before a byte of its body is read.

An admin write is refused on its headers: no admin API (403), a missing or wrong token (401),
then, for uploads, a body that is not HTML (415) or is declared larger than `max_body_bytes`
(413). The app applies this rule first (`register`); `web.connections` applies the same rule
inside waitress, so a refused body is never received, let alone buffered. No other endpoint
takes a body, and none reads one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import Blueprint, request

from kb.config import Settings
from web.errors import ApiError
from web.services import settings

REALM = 'Bearer realm="kb admin"'
HTML_TYPES = ("text/html", "application/xhtml+xml")
WRITE_METHODS = ("POST", "PUT", "DELETE")


@dataclass(frozen=True)
class Head:
    """The parts of a request's head that admission reads."""

    method: str
    path: str
    authorization: str = ""
    content_type: str = ""
    content_length: str = ""


def is_admin(method: str, path: str) -> bool:
    """True for the admin writes: POST/PUT/DELETE under /api/articles, POST /api/reindex."""
    if method not in WRITE_METHODS:
        return False
    return path == "/api/articles" or path.startswith("/api/articles/") or path == "/api/reindex"


def is_upload(method: str, path: str) -> bool:
    """True for the two requests whose body is read: POST /api/articles and PUT /api/articles/<id>."""
    return (method == "POST" and path == "/api/articles") or (method == "PUT" and path.startswith("/api/articles/"))


def refusal(head: Head, config: Settings) -> ApiError | None:
    """The error an admin write gets on its headers alone, or None when its body may be read."""
    if not is_admin(head.method, head.path):
        return None
    token = config.admin_token
    if not token:
        return ApiError(403, "admin API disabled: set KB_ADMIN_TOKEN")
    scheme, _, given = head.authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return ApiError(401, "a valid admin token is required: Authorization: Bearer <KB_ADMIN_TOKEN>",
                        headers={"WWW-Authenticate": REALM})
    if not is_upload(head.method, head.path):
        return None
    media = head.content_type.partition(";")[0].strip().lower()
    if media and media not in HTML_TYPES:
        return ApiError(415, f"the body must be the article's HTML page (Content-Type: text/html), not "
                             f"{media[:60]!r}")
    length = head.content_length.strip()
    if length:
        if not length.isdigit():
            return ApiError(400, "Content-Length must be a whole number")
        if int(length) > config.max_body_bytes:
            return ApiError(413, "The request body is larger than this server accepts (KB_MAX_BODY_MB).")
    return None


def register(bp: Blueprint) -> None:
    """Refuse admin writes on their headers before any view, and so before any body is read."""

    @bp.before_request
    def admit() -> None:
        head = Head(request.method, request.path, request.headers.get("Authorization", ""),
                    request.headers.get("Content-Type", ""), request.headers.get("Content-Length", ""))
        found = refusal(head, settings())
        if found is not None:
            raise found
