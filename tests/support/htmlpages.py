"""Small real HTML pages for tests that write: a WordPress-like shell around given sections."""

from __future__ import annotations

from html import escape
from pathlib import Path


def page(title: str, sections: dict[str, str], *, canonical: str | None = None, category: str = "Guides",
         tags: tuple[str, ...] = (), extra: str = "") -> str:
    """A complete page: header, nav, article with h2 sections, sidebar and footer."""
    body = "\n".join(f"<h2>{escape(h)}</h2>\n<p>{escape(t)}</p>" for h, t in sections.items())
    tag_links = ", ".join(f'<a href="/tag/{escape(t.lower())}/" rel="tag">{escape(t)}</a>' for t in tags)
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | Test Site</title>{link}</head>
<body>
<header class="site-header"><nav><ul><li><a href="/">Home</a></li><li><a href="/shop/">Shop menu</a></li></ul></nav></header>
<main><article class="post">
<header class="entry-header"><h1 class="entry-title">{escape(title)}</h1></header>
<div class="entry-content">
{body}
{extra}
</div>
<footer class="entry-footer"><a href="/category/{escape(category.lower())}/" rel="category tag">{escape(category)}</a> {tag_links}</footer>
</article></main>
<aside class="widget-area"><h2 class="widget-title">Recent Posts</h2></aside>
<footer class="site-footer">Copyright Test Site. All rights reserved.</footer>
</body></html>
"""


def write(folder: Path, name: str, html: str) -> Path:
    """Write a page into a folder (created if needed) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(html, encoding="utf-8")
    return path
