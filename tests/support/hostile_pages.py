"""Hostile pages: crafted and fuzzed files that try to hang, crash or inject script, and `kb index` on them.

Deep nesting, 10,000 headings, scripts and script URLs in article text, wrong and unknown
charsets, binary data, truncations, a 50 MB page, and fuzzed copies of real samples.
"""

from __future__ import annotations

import random
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from support.processes import child_env, kb_command

MB = 1024 * 1024


def _head(title: str, charset: str = "utf-8") -> str:
    return f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head><body><article><h1>{title}</h1>'


XSS_BODY = (
    '<p onclick="alert(1)">Hostile zanthoxyl text with <a href="javascript:alert(2)">a link</a> and '
    '<img src=x onerror="alert(3)"> an image.</p><script>alert(4)</script>'
    '<h2 onmouseover="alert(5)" id="x&quot; onfocus=&quot;alert(6)">Zanthoxyl heading<script>alert(7)</script></h2>'
    '<p>&lt;script&gt;alert(8)&lt;/script&gt; &lt;img src=x onerror=alert(9)&gt; zanthoxyl escaped markup.</p>'
    '<svg onload="alert(10)"><script>alert(11)</script></svg><iframe src="javascript:alert(12)"></iframe>'
    '<style>body{background:url(javascript:alert(13))}</style><noscript><script>alert(14)</script></noscript>'
    '<form action="javascript:alert(15)"><button formaction="javascript:alert(16)">Go</button></form>'
    '<div class="see-also"><h3>See also</h3><ul><li><a href="java&#9;script:alert(17)">Tabbed</a></li>'
    '<li><a href="&#x01;javascript:alert(18)">Control</a></li><li><a href="vbscript:msgbox(19)">VB</a></li>'
    '<li><a href="data:text/html,&lt;script&gt;alert(20)&lt;/script&gt;">Data</a></li></ul></div>'
    '<h2>Zanthoxyl second part</h2><p>More zanthoxyl text so the article has a body.</p>'
)


def hostile_pages(folder: Path, *, big_mb: int = 50, fuzzed: int = 40, seed: int = 3,
                  samples: Sequence[Path] = ()) -> dict[str, str]:
    """Write hostile files into `folder`; returns name -> what it tries."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tried: dict[str, str] = {}

    def put(name: str, data: bytes | str, what: str) -> None:
        (folder / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        tried[name] = what

    put("deep-10000.html", _head("Deep nesting") + "<p>Lead text.</p>" + "<div>" * 10_000 + "deep text"
        + "</div>" * 10_000 + "</article></body></html>", "10,000 nested divs")
    put("deep-unclosed.html", _head("Unclosed nesting") + "<p>Lead.</p>" + "<div><span><b>" * 10_000 + "deep",
        "30,000 unclosed nested tags")
    put("headings-10000.html", _head("Ten thousand headings") + "".join(
        f"<h2>Heading {i}</h2><p>Paragraph {i} of the many headings page.</p>" for i in range(10_000))
        + "</article></body></html>", "10,000 headings with text")
    put("xss.html", _head("Hostile zanthoxyl page") + XSS_BODY + "</article></body></html>",
        "scripts, event handlers, javascript:/data:/vbscript: URLs in article text")
    put("xss-canonical.html", '<html><head><title>Zanthoxyl canonical</title><link rel="canonical" '
        'href="javascript:alert(21)//"><meta property="og:url" content="javascript:alert(22)//"></head><body>'
        '<article><h1>Zanthoxyl canonical</h1><p>Zanthoxyl page whose canonical link is a script.</p>'
        '<h2>Part</h2><p>zanthoxyl part text</p></article></body></html>', "javascript: canonical and og:url")
    put("charset-wrong.html", _head("Wrong charset caf\u00e9", "shift_jis") + "<p>Caf\u00e9 cr\u00e8me na\u00efve "
        "\u00fcber text.</p></article>", "UTF-8 declared as Shift_JIS")
    put("charset-unknown.html", _head("Unknown charset", "x-no-such-charset") + "<p>Text.</p></article>",
        "an unknown charset label")
    put("charset-utf7.html", _head("UTF-7", "utf-7") + "<p>+ADw-script+AD4-alert(1)+ADw-/script+AD4- text</p>",
        "UTF-7 (refused: script injection)")
    put("charset-missing-latin1.html", (_head("Latin-1 sans charset").replace('<meta charset="utf-8">', "")
                                        + "<p>Caf\u00e9 cr\u00e8me</p></article>").encode("latin-1"),
        "Latin-1 bytes, no charset")
    put("charset-utf16-nobom.html", (_head("UTF-16 no BOM", "utf-16") + "<p>Text</p>").encode("utf-16-le"),
        "UTF-16 without a BOM")
    put("binary-random.html", rng.randbytes(64 * 1024), "64 KB of random bytes")
    put("binary-png.html", b"\x89PNG\r\n\x1a\n" + rng.randbytes(4096), "a PNG named .html")
    put("binary-gzip.html", b"\x1f\x8b\x08\x00" + rng.randbytes(4096), "gzip data named .html")
    put("nul-bytes.html", _head("NUL") + "<p>Text\x00with\x00NULs</p>", "NUL bytes in HTML")
    put("empty.html", b"", "an empty file")
    put("whitespace.html", b" \n\t " * 1000, "only whitespace")
    put("truncated-tag.html", _head("Truncated") + "<p>Text that stops mid-<a href=\"https://x.exa", "truncated mid-tag")
    put("truncated-comment.html", _head("Comment") + "<p>Text</p><!-- never closed <p>hidden", "unclosed comment")
    put("truncated-cdata.html", _head("CDATA") + "<p>Text</p><![CDATA[ never closed", "unclosed CDATA")
    put("entities.html", _head("Entities") + "<p>" + "&#x110000; &#0; &#xD800; &bogus; &amp" * 2000 + "</p>",
        "invalid and out-of-range character references")
    put("long-word.html", _head("Long word") + "<p>" + "x" * 2_000_000 + "</p>", "a 2 MB word")
    put("many-attrs.html", _head("Attributes") + "<p " + " ".join(f"a{i}='{i}'" for i in range(50_000))
        + ">Text with many attributes.</p>", "50,000 attributes on one tag")
    big = (_head("Fifty megabytes") + "<p>" + "Big page words repeated. " * 40 + "</p>\n")
    with open(folder / "big-50mb.html", "w", encoding="utf-8") as f:
        f.write(big * (big_mb * MB // len(big) + 1))
    tried["big-50mb.html"] = f"a {big_mb} MB page (over the 10 MB limit)"
    sources = [p.read_bytes() for p in samples] or [(_head("Sample") + "<p>Sample text.</p>").encode()]
    for n in range(fuzzed):
        data = bytearray(rng.choice(sources))
        how = rng.choice(("flip", "truncate", "splice", "tags"))
        if how == "flip":
            for _ in range(max(1, len(data) // 200)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == "truncate":
            data = data[: rng.randrange(len(data))]
        elif how == "splice":
            other = rng.choice(sources)
            cut = rng.randrange(len(data))
            data = data[:cut] + other[rng.randrange(len(other)):]
        else:
            for _ in range(50):
                pos = rng.randrange(len(data) + 1)
                data[pos:pos] = rng.choice((b"<div>", b"</div>", b"<h2>", b"</p>", b"<table><tr><td>", b"<!--",
                                            b"<script>", b"</article>", b"<article>", b"<", b"&", b"\xff\xfe"))
        put(f"fuzz-{n:03d}.html", bytes(data), f"fuzzed sample ({how})")
    return tried


@dataclass
class HostileFigures:
    """What `kb index` did with hostile files, and what the article view showed."""

    files: int = 0
    indexed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    exit_code: int = 0
    articles_checked: int = 0
    script_leaks: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def index_hostile(folder: Path, index_dir: Path, *, timeout_s: float = 600, config: Path | None = None) -> HostileFigures:
    """Run `kb index --json` on hostile files under a watchdog; every file must be indexed or reported."""
    figures = HostileFigures(files=len(list(folder.glob("*.html"))))
    cmd = [*kb_command(), *(["--config", str(config)] if config else []), "index", str(folder), "--index",
           str(index_dir), "--json"]
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=child_env(), capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        figures.failures.append(f"kb index did not finish within {timeout_s:g}s")
        return figures
    figures.seconds = round(time.perf_counter() - started, 2)
    figures.exit_code = done.returncode
    if done.returncode not in (0, 1) or b"Traceback" in done.stderr:
        figures.failures.append(f"kb index crashed ({done.returncode}): {done.stderr[-1500:]!r}")
        return figures
    summary = orjson.loads(done.stdout)
    figures.indexed = summary["added"] + summary["updated"]
    figures.skipped = len(summary["failed"])
    for f in summary["failed"]:
        reason = re.sub(r"\d[\d.,]*", "N", f["reason"])[:60]
        figures.reasons[reason] = figures.reasons.get(reason, 0) + 1
    if figures.indexed + figures.skipped != figures.files:
        figures.failures.append(f"{figures.files} files, {figures.indexed} indexed + {figures.skipped} reported")
    return figures
