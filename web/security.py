"""Security and cross-origin headers on every response.

The Content-Security-Policy allows no inline script or style at all, so templates carry no
`<script>` bodies and no `style=` attributes; everything is served from /static. CORS is
off unless `cors_origins` is configured, and then only for GET /api/*: a preflight
(OPTIONS with Access-Control-Request-Method) from an allowed origin for GET or HEAD is
answered with the Access-Control-Allow-* headers; any other preflight gets none, so the
browser does not send the request.
"""

from __future__ import annotations

from flask import Flask, Response, request

from kb.config import Settings

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


READ_METHODS = ("GET", "HEAD")
# Request headers a cross-origin reader may send (beyond the CORS-safelisted ones)
ALLOWED_HEADERS = ("If-None-Match", "Accept", "Accept-Language", "Content-Language")
PREFLIGHT_MAX_AGE_S = "600"


def cors(resp: Response, origins: tuple[str, ...]) -> None:
    """Let configured origins read GET /api/* responses (`*` allows any origin), preflights included."""
    if not origins or not request.path.startswith("/api/"):
        return
    preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
    if request.method not in READ_METHODS and not preflight:
        return
    resp.vary.add("Origin")
    origin = request.headers.get("Origin")
    if "*" in origins:
        allowed = "*"
    elif origin and origin in origins:
        allowed = origin
    else:
        return
    if preflight:
        wanted = request.headers.get("Access-Control-Request-Method", "").upper()
        asked = [h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()]
        if wanted not in READ_METHODS or any(h.lower() not in {a.lower() for a in ALLOWED_HEADERS} for h in asked):
            return  # no Allow-* headers: the browser will not send the request
        resp.headers["Access-Control-Allow-Methods"] = ", ".join(READ_METHODS)
        resp.headers["Access-Control-Allow-Headers"] = ", ".join(ALLOWED_HEADERS)
        resp.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE_S
        resp.vary.update(("Access-Control-Request-Method", "Access-Control-Request-Headers"))
    resp.headers["Access-Control-Allow-Origin"] = allowed


def register(app: Flask, settings: Settings) -> None:
    """Install the header hook on the app."""

    @app.after_request
    def security_headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        cors(resp, settings.cors_origins)
        return resp
