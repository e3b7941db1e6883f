"""Security and cross-origin headers on every response.

The Content-Security-Policy allows no inline script or style at all, so templates carry no
`<script>` bodies and no `style=` attributes; everything is served from /static. CORS is
off unless `cors_origins` is configured, and then only for GET /api/*.
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


def cors(resp: Response, origins: tuple[str, ...]) -> None:
    """Let configured origins read GET /api/* responses (`*` allows any origin)."""
    if not origins or not request.path.startswith("/api/") or request.method not in ("GET", "HEAD"):
        return
    resp.vary.add("Origin")
    origin = request.headers.get("Origin")
    if "*" in origins:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in origins:
        resp.headers["Access-Control-Allow-Origin"] = origin


def register(app: Flask, settings: Settings) -> None:
    """Install the header hook on the app."""

    @app.after_request
    def security_headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        cors(resp, settings.cors_origins)
        return resp
