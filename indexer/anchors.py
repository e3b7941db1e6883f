"""Parse stage, links: section anchors and the deep links that always land.

A heading with a real id links to `url#id`. Without one the deep link is a text fragment
(`url#:~:text=…`, percent-encoded per the WICG spec, which reserves `-`, `,` and `&`) and
the section gets a generated anchor for the local article view: a slug of its heading,
unique within the article and never equal to an id that exists on the page. Which words a
text fragment needs so that it lands on the heading is worked out in `indexer.fragments`.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urljoin, urlsplit

LEAD_ANCHOR = "lead"
_MAX_SLUG = 80
_NON_WORD = re.compile(r"[^\w]+")
_APOSTROPHES = re.compile(r"['’]")


def page_url(url: str) -> str:
    """The URL without its fragment: the base every deep link is built on."""
    return url.split("#", 1)[0]


def id_link(url: str, anchor: str) -> str:
    """A deep link to an element id."""
    return f"{page_url(url)}#{quote(anchor, safe='!$&()*+,;=:@/?-._~')}"


def text_fragment_link(url: str, text: str, *, prefix: str = "", suffix: str = "") -> str:
    """A deep link that scrolls to the first occurrence of `text` (a text fragment), optionally
    only where `prefix` comes just before it and `suffix` just after (`prefix-,text,-suffix`)."""
    directive = _fragment_part(text)
    if prefix:
        directive = f"{_fragment_part(prefix)}-,{directive}"
    if suffix:
        directive = f"{directive},-{_fragment_part(suffix)}"
    return f"{page_url(url)}#:~:text={directive}"


def _fragment_part(text: str) -> str:
    """Percent-encoded for a text directive, which reserves `-`, `,` and `&` too."""
    return quote(text, safe="").replace("-", "%2D")


def site_url(url: str) -> str:
    """The URL when it is a web address a reader can open (http or https), else "" (no site URL)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""


def slugify(text: str) -> str:
    """A lowercase, hyphenated anchor slug of a heading ("" when nothing is left)."""
    slug = _NON_WORD.sub("-", _APOSTROPHES.sub("", unicodedata.normalize("NFKC", text).lower())).strip("-_")
    if len(slug) > _MAX_SLUG:
        slug = slug[:_MAX_SLUG].rsplit("-", 1)[0] or slug[:_MAX_SLUG]
    return slug


class Anchors:
    """Hands out unique anchors, avoiding every id the page already uses."""

    def __init__(self, page_ids: set[str]) -> None:
        self._taken = set(page_ids)
        self._taken.add(LEAD_ANCHOR)
        self._used = {LEAD_ANCHOR}
        self._next: dict[str, int] = {}  # next suffix to try per slug: keeps 10,000 "FAQ"s linear

    def real(self, element_id: str) -> bool:
        """Claim a page id as an anchor; False if an earlier section already has it."""
        if element_id in self._used:
            return False
        self._used.add(element_id)
        return True

    def generate(self, heading: str) -> str:
        """A new anchor from the heading: its slug, else the slug with -2, -3 … appended."""
        base = slugify(heading) or "section"
        if base not in self._taken:
            self._taken.add(base)
            self._used.add(base)
            return base
        n = self._next.get(base, 2)
        while f"{base}-{n}" in self._taken:
            n += 1
        self._next[base] = n + 1
        anchor = f"{base}-{n}"
        self._taken.add(anchor)
        self._used.add(anchor)
        return anchor


_URL_EDGE_JUNK = "".join(chr(c) for c in range(0x21))


def browser_url(href: str, base: str) -> str | None:
    """`href` resolved as a browser would, or None unless it is an http(s) or file URL.

    Browsers drop tabs and newlines anywhere and control characters at the ends, so
    `java&#9;script:` is still a script URL: normalise first, then check the scheme.
    """
    cleaned = href.replace("\t", "").replace("\n", "").replace("\r", "").strip(_URL_EDGE_JUNK)
    if not cleaned:
        return None
    resolved = urljoin(base, cleaned) if base else cleaned
    return resolved if urlsplit(resolved).scheme.lower() in ("http", "https", "file") else None


def href_host(href: str) -> str:
    """The host a link's href names, lowercased ("" for a relative link)."""
    return urlsplit(href.strip()).netloc.lower()


def same_site(href: object, host: str) -> bool:
    """Whether a link's href stays on the site whose host is `host` (relative, or to that host)."""
    if not isinstance(href, str):
        return True
    found = href_host(href)
    return not found or found == host
