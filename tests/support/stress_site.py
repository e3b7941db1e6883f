"""A site whose state one search reveals: versioned stress pages, and what an index of them shows.

Every section of every page holds COMMON once and the page's version is in its title, so a
search for COMMON tells which pages, at which versions, with how many sections, a reader sees.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from kb.config import Settings
from kb.search import KnowledgeBase

COMMON = "quorbleflux"  # a word every stress page has once per section, so one search sees them all
SECTIONS = 2
_VERSION = re.compile(r"\bv(\d+)\b")


def stress_page(i: int, version: int) -> str:
    """Page i at a version: the version is in the title, every section holds COMMON once."""
    title = f"Stress page {i} v{version}"
    body = "\n".join(
        f"<h2>Part {j} of page {i}</h2>\n<p>{COMMON} paragraph {j} of page {i}, version {version}: "
        f"tizanidine relaxes muscles and drowsiness is common. " + "Filler words for length. " * 20 + "</p>"
        for j in range(SECTIONS))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="canonical" href="https://stress.example/page-{i}/"></head><body>'
            f'<nav><a href="/">Home</a></nav><article><h1>{escape(title)}</h1>\n{body}\n</article>'
            f'<footer>Footer</footer></body></html>')


def title_version(title: str) -> int:
    """The version a stress page's title names (-1 for a title that names none)."""
    m = _VERSION.search(title)
    return int(m.group(1)) if m else -1


@dataclass(frozen=True)
class State:
    """What one search for COMMON shows: the versions of the pages, their ids and the section count."""

    versions: frozenset[int]
    ids: frozenset[str]
    sections: int

    def describe(self) -> str:
        """A short description for failure messages."""
        return f"versions {sorted(self.versions)}, {len(self.ids)} articles, {self.sections} sections"


def write_site(folder: Path, pages: Sequence[int], version_of: Callable[[int], int]) -> State:
    """Make `folder` hold exactly `pages` (others removed); return the state an index of it shows."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = {f"page-{i}.html" for i in pages}
    for old in folder.glob("page-*.html"):
        if old.name not in keep:
            old.unlink()
    for i in pages:
        (folder / f"page-{i}.html").write_text(stress_page(i, version_of(i)), encoding="utf-8")
    return State(frozenset(version_of(i) for i in pages), frozenset(f"page-{i}" for i in pages),
                 SECTIONS * len(pages))


def observe_all(index_dir: Path) -> State:
    """The state of an index as a fresh reader sees it (pages through every hit)."""
    kb = KnowledgeBase.open(settings=Settings(index_dir=index_dir))
    versions: set[int] = set()
    ids: set[str] = set()
    total = 0
    for n in range(1, 1000):
        page = kb.search(COMMON, per_page=100, page=n, exact=True)
        total = page.total
        for hit in page.hits:
            versions.add(title_version(hit.title))
            ids.add(hit.article_id)
        if n * 100 >= page.total:
            break
    return State(frozenset(versions), frozenset(ids), total)


def copy_index(src: Path, dst: Path) -> None:
    """A private copy of an index folder (without the lock files)."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("write.lock*"))
