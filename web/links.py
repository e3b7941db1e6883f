"""Links to source pages, made safe for an `href`: stored URLs come from the pages themselves.

A page's canonical link, og:url or "See also" links can say `javascript:`; browsers also
drop tabs and newlines inside a URL and controls and spaces around it, so `java\tscript:`
runs too. Only http(s), file and relative URLs reach an `href`; anything else becomes `#`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

SAFE_SCHEMES = frozenset({"http", "https", "file", ""})
_DROPPED = re.compile(r"[\t\n\r]")
_EDGES = "".join(map(chr, range(0x21)))  # C0 controls and space, as the URL parser strips them


@lru_cache(maxsize=8192)  # pure, and a results page asks for the same few dozen URLs
def safe_href(url: str) -> str:
    """The URL when a browser would navigate to it as http(s), file or relative; else `#`."""
    normalised = _DROPPED.sub("", url).strip(_EDGES)
    try:
        scheme = urlsplit(normalised).scheme.lower()
    except ValueError:
        return "#"
    return normalised if scheme in SAFE_SCHEMES else "#"
