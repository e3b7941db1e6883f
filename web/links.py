"""Links to source pages, made safe for an `href`: stored URLs come from the pages themselves.

A page's canonical link, og:url or "See also" links can say `javascript:`; browsers also
drop tabs and newlines inside a URL and controls and spaces around it, so `java\tscript:`
runs too. Only http(s) URLs ever reach a reader's `href` as a source link: anything else
(`javascript:`, `file:` from an index built before articles without a site URL got none,
an empty URL) is no source link at all, and the page links to the local article view instead.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
_DROPPED = re.compile(r"[\t\n\r]")
_EDGES = "".join(map(chr, range(0x21)))  # C0 controls and space, as the URL parser strips them


@lru_cache(maxsize=8192)  # pure, and a results page asks for the same few dozen URLs
def site_href(url: str) -> str | None:
    """The URL when a browser would open it as an http(s) page; else None (no link to the site)."""
    normalised = _DROPPED.sub("", url).strip(_EDGES)
    try:
        parts = urlsplit(normalised)
    except ValueError:
        return None
    return normalised if parts.scheme.lower() in WEB_SCHEMES and parts.netloc else None


@lru_cache(maxsize=1024)
def site_host(url: str) -> str:
    """The host a source link goes to, as a reader would name it ("pharmacy.example")."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")
