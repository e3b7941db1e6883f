"""Parse stage, article ids: the stable id of an article, from its canonical URL or its source path.

An id is what the API and the local article view address an article by, so it must survive
re-indexing and read well in a URL: the canonical URL's path (else its query, else its host),
else the file's path without `.html`; lowercased, accents stripped, runs of other characters
made "-", and never a route of the API's own (`…/related`).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit

_ID_SEGMENT = re.compile(r"[^a-z0-9._-]+")


def _segment(seg: str) -> str:
    ascii_seg = unicodedata.normalize("NFKD", seg).encode("ascii", "ignore").decode()
    slug = _ID_SEGMENT.sub("-", ascii_seg.lower()).strip("-")
    if not slug and seg.strip():  # a non-Latin path segment: keep it, percent-encoded
        slug = _ID_SEGMENT.sub("", quote(seg, safe="").lower().replace("%", ""))
    return "" if set(slug) <= {"."} else slug


def clean_id(path: str) -> str:
    """A path as an article id: lowercase [a-z0-9._/-], no empty, "." or ".." segments."""
    return "/".join(s for s in (_segment(p) for p in path.replace("\\", "/").split("/")) if s)


def article_id_for(url: str, source: str) -> str:
    """The stable article id: the canonical URL's path (else host), else the source path."""
    if url:
        parts = urlsplit(url)
        found = (
            clean_id(unquote(parts.path)) or clean_id(unquote(parts.query)) or clean_id(parts.hostname or "")
        )
        if found:
            return _unreserved(found)
    return _unreserved(clean_id(re.sub(r"\.html?$", "", source.strip(), flags=re.I)) or "article")


def _unreserved(article_id: str) -> str:
    """Keep ids off the API's own routes: `…/related` would read as the related-articles endpoint."""
    return article_id + "-page" if article_id == "related" or article_id.endswith("/related") else article_id
