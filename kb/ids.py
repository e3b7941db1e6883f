"""Article ids: which ones a URL can address.

An id is an opaque key, never a path, but it travels in URLs (`/api/articles/<id>`,
`/articles/<id>`), and some strings cannot come back from one: a client or proxy resolves `.`
and `..` segments, a doubled slash is merged, `…/related` is the related-articles endpoint.
Writers refuse such ids (with the reason) and the web answers 404 for them, by this one rule.
"""

from __future__ import annotations

MAX_ID_CHARS = 1000
RESERVED_TAIL = "related"  # GET /api/articles/<id>/related


def unaddressable(article_id: str) -> str | None:
    """Why an id cannot be addressed in a URL, or None when it can."""
    if not article_id:
        return "it is empty"
    if len(article_id) > MAX_ID_CHARS:
        return f"it is longer than {MAX_ID_CHARS:,} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in article_id):
        return "it has a control character"
    if "\\" in article_id:
        return "it has a backslash"
    segments = article_id.split("/")
    if any(s == "" for s in segments):
        return "it has an empty segment (a leading, trailing or doubled slash)"
    if any(set(s) <= {"."} for s in segments):
        return "it has a '.' or '..' segment, which URLs resolve away"
    if len(segments) > 1 and segments[-1] == RESERVED_TAIL:
        return f"it ends in '/{RESERVED_TAIL}', the related-articles endpoint"
    return None
