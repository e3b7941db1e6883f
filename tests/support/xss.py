"""What in an HTML page could run script: the check behind every "no script reaches a page" test."""

from __future__ import annotations

import re
from collections.abc import Sequence


def script_problems(html: str, own_scripts: Sequence[str] = ("/static/",)) -> list[str]:
    """What in a page could run script: <script> not from /static/, on* attributes, javascript:-like URLs."""
    from bs4 import BeautifulSoup

    found = []
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        if tag.name == "script" and not str(tag.get("src", "")).startswith(tuple(own_scripts)):
            found.append(f"<script> {str(tag)[:80]}")
        if tag.name == "script" and tag.string and tag.string.strip():
            found.append(f"inline <script> {tag.string[:80]}")
        for name, value in tag.attrs.items():
            if name.lower().startswith("on"):
                found.append(f"<{tag.name} {name}>")
            values = value if isinstance(value, list) else [value]
            for v in values:
                # Browsers drop tabs and newlines in URLs and leading controls and spaces.
                norm = re.sub(r"[\t\n\r]", "", str(v)).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"
                                                             "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                                                             "\x19\x1a\x1b\x1c\x1d\x1e\x1f ").lower()
                if name.lower() in ("href", "src", "action", "formaction", "data", "srcdoc", "xlink:href") and \
                        norm.startswith(("javascript:", "vbscript:", "data:text/html")):
                    found.append(f"<{tag.name} {name}={str(v)[:60]!r}>")
    return found
