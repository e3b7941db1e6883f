"""JSON out of the app: Flask's JSON provider backed by orjson (fast, and strict about types)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import JSONProvider

_OPTIONS = orjson.OPT_NON_STR_KEYS


class OrjsonProvider(JSONProvider):
    """`flask.jsonify` and `app.json.response` through orjson."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise to a JSON string."""
        return orjson.dumps(obj, option=_OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON string or bytes."""
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON response (bytes straight from orjson, no str round trip)."""
        return json_response(self._prepare_response_obj(args, kwargs))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with a status and extra headers."""
    resp = Response(orjson.dumps(data, option=_OPTIONS), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp
