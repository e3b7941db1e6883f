"""Parse stage, decoding: HTML bytes to text, and the checks that reject non-HTML input.

The encoding is taken, in order, from a byte-order mark, a `<meta charset>` or a
`<meta http-equiv="Content-Type">` in the first bytes, else UTF-8, else Windows-1252
(which is also what browsers substitute for a declared Latin-1 or ASCII). Undecodable
bytes become U+FFFD; decoding never raises. One repair is made to the text: a `<title>` that is
never closed (`close_title`) would otherwise swallow the whole page as its text.
"""

from __future__ import annotations

import codecs
import re

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PRESCAN_BYTES = 8192
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]+)""", re.I)
# WHATWG encoding labels that Python names differently or that browsers override.
_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "windows-1252": "cp1252",
    "iso-8859-9": "cp1254", "latin5": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949", "big5": "big5hkscs", "x-sjis": "shift_jis",
    # A document read as ASCII-compatible bytes cannot really be UTF-16/32.
    "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8", "utf-32": "utf-8",
    "utf-32le": "utf-8", "utf-32be": "utf-8", "unicode": "utf-8",
}  # fmt: skip
_REFUSED = frozenset({"utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7"})  # script-injection risk

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\ufffd]")
_HTML_TAG = re.compile(
    r"<(?:!doctype\s+html|html|head|body|title|meta|article|main|section|div|p|h[1-6]|ul|ol|li|"
    r"table|span|a|br|img|strong|em|b|i|header|nav|footer|blockquote|pre|dl|details)[\s/>]",
    re.I,
)

_TITLE_OPEN = re.compile(r"<title\b[^>]*>", re.I)
_TITLE_CLOSE = re.compile(r"</title[\s/>]", re.I)
_TITLE_END = re.compile(r"[<\r\n]")
_TITLE_MAX = 300  # characters kept as an unclosed title's text


def _declared(data: bytes) -> str | None:
    """The usable Python codec named by the document's own `<meta>` prescan, if any."""
    m = _META_CHARSET.search(data, 0, _PRESCAN_BYTES)
    if m is None:
        return None
    label = m.group(1).decode("ascii", "replace").strip().lower()
    if label in _REFUSED:
        return None
    name = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # codecs also holds bytes-to-bytes transforms ("base64", "zlib"): not text encodings.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_html(data: bytes) -> str:
    """Decode HTML bytes: BOM, then `<meta>` charset, then UTF-8, then cp1252 with replacement."""
    data = bytes(data)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    declared = _declared(data)
    for encoding in (declared or "utf-8", "utf-8"):
        try:
            return data.decode(encoding)
        except (UnicodeError, LookupError, ValueError):
            continue
    if declared is not None and declared != "utf-8":
        try:
            return data.decode(declared, errors="replace")
        except (UnicodeError, LookupError, ValueError):
            pass
    # Mostly valid UTF-8 with a few stray bytes stays UTF-8; anything else is legacy cp1252.
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    if non_ascii - bad > bad:
        return text
    return data.decode("cp1252", errors="replace")


def binary_reason(text: str) -> str | None:
    """Why decoded input looks like binary data rather than text, or None if it looks like text."""
    if "\x00" in text:
        return "binary data (NUL bytes), not HTML"
    sample = text[:4096]
    if len(_CONTROL.findall(sample)) > len(sample) // 10:
        return "binary data (mostly control characters), not HTML"
    return None


def looks_like_html(text: str) -> bool:
    """Whether the text contains at least one common HTML tag."""
    return _HTML_TAG.search(text) is not None


def close_title(text: str) -> str:
    """The text with each unclosed `<title>` closed at the end of its line (or at the next tag).

    `<title>` holds raw text up to `</title>` (lxml reads an SVG icon's `<title>` the same way),
    so with no `</title>` the parser takes all the rest of the page, article included, as the
    title. Pages cut or mangled in transit (a template that lost the end tag, a truncated copy)
    lose every word of their article that way.
    """
    parts: list[str] = []
    pos = 0
    while (opened := _TITLE_OPEN.search(text, pos)) is not None:
        closed = _TITLE_CLOSE.search(text, opened.end())
        if closed is not None:
            pos = closed.end()
            continue
        start = opened.end()
        end = _TITLE_END.search(text, start, start + _TITLE_MAX)
        cut = end.start() if end is not None else min(len(text), start + _TITLE_MAX)
        parts += [text[:cut], "</title>"]
        text, pos = text[cut:], 0
    return "".join(parts) + text if parts else text
