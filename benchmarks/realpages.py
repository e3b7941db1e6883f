"""Build the real-page extraction corpus from public snapshots, read in place (never committed).

Sources (each a `fetch`ed snapshot under /work/.mirror/, read with `git show`; nothing is copied
into the repository, the pages land in the git-ignored `benchmarks/out/realpages/`):

- L3S-GN1 (Kohlschuetter et al., WSDM 2010; 621 English news pages from Google News, 2008): the
  human annotation marks the headline (`span.x-nc-sel1`) and the full text (`span.x-nc-sel2`), so
  it gives both the body truth and the title truth. Read from the `page-signal-master/` folder of
  j-szulc/html-cleaning-dataset-merged @ 46e01a04b47051838a228bf23631430b2c9de375.
- Dragnet (Peters & Lecocq 2013; news and blog pages, human-cleaned article text, the comments
  after the `!@#$%^&*()  COMMENTS` mark dropped): body truth only. Read from `dragnet_data/` of the same
  snapshot; a deterministic sample of 400 of its 1,382 pages.

Held out, never read: that snapshot's `readability/` folder (mozilla/readability's test pages)
and scrapinghub/article-extraction-benchmark.

Each page gets `<name>.html` (the raw bytes) and `<name>.json` (`{"source", "body", "title"}`,
title "" when the source has no title truth) in `dev/` or `check/` (30 % by a hash of the name:
the check part is only measured at the end). Run: `python benchmarks/realpages.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from lxml import html as lxml_html

MIRROR = Path("/work/.mirror/j-szulc+html-cleaning-dataset-merged/repo")
COMMIT = "46e01a04b47051838a228bf23631430b2c9de375"
OUT = Path(__file__).parent / "out" / "realpages"
DRAGNET_SAMPLE = 400
MIN_TRUTH_WORDS = 30
COMMENTS_MARK = re.compile(r"!@#\$%\^&\*\(\)\s+COMMENTS")


def _git(*args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(MIRROR), *args], check=True,
                          capture_output=True).stdout


def _names(folder: str) -> list[str]:
    return [p for p in _git("ls-tree", "-r", "--name-only", COMMIT, folder).decode().splitlines() if p]


def _show(path: str) -> bytes:
    return _git("show", f"{COMMIT}:{path}")


def _part(name: str) -> str:
    return "check" if int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10 < 3 else "dev"


def _norm(text: str) -> str:
    return " ".join(text.split())


def _l3s_truth(gold: bytes) -> tuple[str, str]:
    doc = lxml_html.fromstring(gold)
    def spans(cls: str) -> list[str]:
        out = []
        for el in doc.iter("span"):
            # Annotated spans nest: only the outermost one of a kind is read, once.
            if cls in (el.get("class") or "").split() and not any(
                cls in (a.get("class") or "").split() for a in el.iterancestors("span")
            ):
                out.append(_norm(el.text_content()))
        return [t for t in out if t]
    # The first headline block is the title; annotators also marked decks and repeats as headline.
    headline = spans("x-nc-sel1")
    return "\n".join(spans("x-nc-sel2")), headline[0] if headline else ""


def _write(name: str, page: bytes, source: str, body: str, title: str) -> bool:
    if len(body.split()) < MIN_TRUTH_WORDS:
        return False
    folder = OUT / _part(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.html").write_bytes(page)
    (folder / f"{name}.json").write_text(json.dumps({"source": source, "body": body, "title": title}))
    return True


def build() -> dict[str, int]:
    """Write the corpus; return the count of pages kept per source."""
    if not MIRROR.exists():
        sys.exit(f"no snapshot at {MIRROR}: fetch github:j-szulc/html-cleaning-dataset-merged first")
    counts = {"l3s": 0, "dragnet": 0}
    for path in _names("page-signal-master/GoldStandard"):
        uid = Path(path).stem
        body, title = _l3s_truth(_show(path))
        page = _show(f"page-signal-master/input/{uid}.html")
        counts["l3s"] += _write(f"l3s-{uid}", page, f"L3S-GN1 {uid}", body, title)
    gold = sorted(_names("dragnet_data/GoldStandard"), key=lambda p: hashlib.sha1(p.encode()).hexdigest())
    for path in gold:
        if counts["dragnet"] >= DRAGNET_SAMPLE:
            break
        stem = Path(path).stem
        text = COMMENTS_MARK.split(_show(path).decode("utf-8", "replace"))[0]
        try:
            page = _show(f"dragnet_data/input/{stem}.html")
        except subprocess.CalledProcessError:
            continue
        counts["dragnet"] += _write(f"dragnet-{stem}", page, f"Dragnet {stem}", text.strip(), "")
    return counts


if __name__ == "__main__":
    print(build())
