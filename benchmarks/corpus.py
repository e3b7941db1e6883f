"""Benchmark corpora: NFCorpus records rendered as CMS article pages, and larger recombined sets.

NFCorpus (academic licence) is read from `/work/shared/data/nfcorpus/` and never copied into
the repository: every generated page goes under `benchmarks/out/` (git-ignored), keyed by
`CORPUS_VERSION` so a change to the generator invalidates the cache.

* `nfcorpus`: one page per record (3,633), its abstract split into two `<h2>` sections
  (7,266 sections), inside a realistic WordPress-like shell: header and menus, breadcrumbs,
  byline, category and tag links, a related-posts box, comments form, sidebar widgets,
  newsletter box, cookie banner, footer, JSON-LD and scripts.
* `synth-<n>`: exactly n sections of real text, made by recombining NFCorpus: titles and
  headings are NFCorpus titles, each section is a run of 3-6 consecutive sentences of an
  abstract, 6-14 sections per page (10 on average: `synth-100k` has 10,003 articles).

Each corpus folder also holds `sections.jsonl` (id, title, heading, text per section), which the
SQLite FTS5 baseline indexes for the synthetic sets. Run as a script to build corpora by hand:
`python benchmarks/corpus.py nfcorpus 10k`.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import orjson

CORPUS_VERSION = 2
NFCORPUS = Path("/work/shared/data/nfcorpus")
OUT = Path(__file__).resolve().parent / "out"
DONE = ".complete"
SECTIONS_FILE = "sections.jsonl"
PAGES = "pages"
PER_FOLDER = 1000  # pages per sub-folder, as a CMS export would shard them

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_SLUG = re.compile(r"[^a-z0-9]+")

HEADING_PAIRS = (
    ("Background", "Findings"),
    ("What the study looked at", "What it found"),
    ("Context", "Results"),
    ("Why it matters", "What researchers found"),
    ("The question", "The evidence"),
)
CATEGORIES = (  # first rule whose word occurs in the title or abstract wins
    ("Cancer", ("cancer", "tumor", "tumour", "carcino", "leukemia", "lymphoma")),
    ("Heart Health", ("cardio", "heart", "coronary", "blood pressure", "hypertension", "cholesterol")),
    ("Diabetes", ("diabet", "insulin", "glucose", "glycemic")),
    ("Weight", ("obes", "weight", "body mass")),
    ("Brain Health", ("alzheimer", "dementia", "cognit", "brain", "depress")),
    ("Food Safety", ("mercury", "arsenic", "pesticide", "contamina", "bacteria", "salmonella")),
    ("Gut Health", ("gut", "bowel", "colon", "microbio", "fiber", "fibre")),
    ("Nutrition", ()),
)
TAGS = ("cholesterol", "vitamin D", "soy", "meat", "dairy", "milk", "fish", "eggs", "coffee", "tea",
        "berries", "nuts", "sugar", "salt", "fiber", "antioxidants", "inflammation", "obesity",
        "diabetes", "breast cancer", "prostate cancer", "mortality", "children", "pregnancy",
        "vegetarian", "supplements", "calcium", "iron", "protein", "alcohol", "smoking", "exercise")
MENU = ("Home", "Latest", "Videos", "Topics", "Cancer", "Heart Health", "Diabetes", "Weight",
        "Brain Health", "Food Safety", "Recipes", "Podcast", "About", "Donate", "Contact")


@dataclass(frozen=True)
class PageSpec:
    """One page to render: its id, title, categories, tags, date and (heading, text) sections."""

    rid: str
    slug: str
    title: str
    category: str
    tags: tuple[str, ...]
    date: str
    sections: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Corpus:
    """A generated corpus on disk."""

    name: str
    root: Path  # holds pages/ and sections.jsonl
    articles: int
    sections: int

    @property
    def pages(self) -> Path:
        """The folder `kb index` is pointed at."""
        return self.root / PAGES

    @property
    def sections_file(self) -> Path:
        """One JSON line per section, for the FTS5 baseline."""
        return self.root / SECTIONS_FILE

    def files(self) -> list[Path]:
        """Every page, in a stable order."""
        return sorted(self.pages.rglob("*.html"))


def records() -> list[dict[str, str]]:
    """The NFCorpus records, as read from the shared data folder."""
    with open(NFCORPUS / "corpus.jsonl", "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def sentences(text: str) -> list[str]:
    """An abstract's sentences."""
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def slugify(text: str, limit: int = 60) -> str:
    """A URL slug: lower case words joined by hyphens, cut at a word boundary."""
    slug = _SLUG.sub("-", text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0]
    return slug or "page"


def classify(text: str) -> tuple[str, tuple[str, ...]]:
    """A category and up to four tags, from words that really occur in the text."""
    low = text.lower()
    category = next(name for name, words in CATEGORIES if not words or any(w in low for w in words))
    tags = tuple(t for t in TAGS if re.search(rf"\b{re.escape(t.lower())}", low))[:4]
    return category, tags


def _split_two(text: str) -> tuple[str, str]:
    """Split an abstract into two halves of about equal length, at a sentence boundary if possible."""
    sents = sentences(text)
    if len(sents) < 2:
        words = text.split()
        half = max(1, len(words) // 2)
        return " ".join(words[:half]), " ".join(words[half:]) or words[-1]
    total = sum(len(s) for s in sents)
    acc, cut = 0, 1
    for i, s in enumerate(sents[:-1], 1):
        acc += len(s)
        cut = i
        if acc >= total / 2:
            break
    return " ".join(sents[:cut]), " ".join(sents[cut:])


def _date(n: int) -> str:
    return f"{2012 + n % 5}-{1 + n % 12:02d}-{1 + n % 28:02d}"


def nfcorpus_specs(recs: Sequence[dict[str, str]]) -> Iterator[PageSpec]:
    """One page per NFCorpus record, with two sections."""
    for n, r in enumerate(recs):
        title = " ".join(r["title"].split())
        first, second = _split_two(r["text"])
        h1, h2 = HEADING_PAIRS[n % len(HEADING_PAIRS)]
        category, tags = classify(title + " " + r["text"])
        yield PageSpec(rid=r["_id"], slug=slugify(f"{r['_id']} {title}"), title=title, category=category,
                       tags=tags, date=_date(n), sections=((h1, first), (h2, second)))


def synthetic_specs(recs: Sequence[dict[str, str]], n_sections: int, seed: int = 20240601) -> Iterator[PageSpec]:
    """Pages of 6-14 sections (10 on average) totalling exactly `n_sections`, all of real sentences."""
    rng = random.Random(seed)
    abstracts = [s for s in (sentences(r["text"]) for r in recs) if len(s) >= 3]
    titles = [" ".join(r["title"].split()) for r in recs]
    headings = [t for t in titles if 12 <= len(t) <= 90]
    left, n = n_sections, 0
    while left > 0:
        count = min(left, rng.randint(6, 14))
        if 0 < left - count < 6:  # never leave a page too short to be a page
            count = left
        left -= count
        sections = []
        for _ in range(count):
            sents = rng.choice(abstracts)
            k = rng.randint(3, min(6, len(sents)))
            start = rng.randint(0, len(sents) - k)
            sections.append((rng.choice(headings).rstrip("."), " ".join(sents[start:start + k])))
        title = titles[n % len(titles)]
        category, tags = classify(title + " " + " ".join(t for _, t in sections))
        yield PageSpec(rid=f"S{n:06d}", slug=slugify(f"s{n:06d} {title}"), title=title, category=category,
                       tags=tags, date=_date(n), sections=tuple(sections))
        n += 1


def _paragraphs(text: str) -> str:
    sents = sentences(text)
    chunks = [" ".join(sents[i:i + 3]) for i in range(0, len(sents), 3)] or [text]
    return "\n".join(f"<p>{escape(c)}</p>" for c in chunks)


def render(spec: PageSpec, neighbours: Sequence[PageSpec], site: str = "Plant Health Journal") -> str:
    """A complete article page in a WordPress-like theme: everything but the article is boilerplate."""
    e = escape
    base = "https://planthealth.example"
    url = f"{base}/{spec.date[:4]}/{spec.date[5:7]}/{spec.slug}/"
    cat_slug = slugify(spec.category)
    menu = "\n".join(f'<li class="menu-item menu-item-{i}"><a href="{base}/{slugify(m)}/">{e(m)}</a></li>'
                     for i, m in enumerate(MENU))
    tags_meta = "\n".join(f'<meta property="article:tag" content="{e(t)}" />' for t in spec.tags)
    tag_links = ", ".join(f'<a href="{base}/tag/{slugify(t)}/" rel="tag">{e(t)}</a>' for t in spec.tags)
    body = "\n".join(f'<h2 class="wp-block-heading">{e(h)}</h2>\n{_paragraphs(t)}' for h, t in spec.sections)
    related = "\n".join(f'<li><a href="{base}/{n.date[:4]}/{n.date[5:7]}/{n.slug}/">{e(n.title)}</a></li>'
                        for n in neighbours[:3])
    recent = "\n".join(f'<li><a href="{base}/{n.date[:4]}/{n.date[5:7]}/{n.slug}/">{e(n.title)}</a>'
                       f'<span class="post-date">{n.date}</span></li>' for n in neighbours[3:8])
    cats = "\n".join(f'<li class="cat-item"><a href="{base}/category/{slugify(c)}/">{e(c)}</a></li>'
                     for c, _ in CATEGORIES)
    ld = orjson.dumps({"@context": "https://schema.org", "@type": "BlogPosting", "headline": spec.title,
                       "datePublished": spec.date, "articleSection": spec.category, "url": url,
                       "keywords": list(spec.tags), "publisher": {"@type": "Organization", "name": site}}
                      ).decode().replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{e(spec.title)} &#8211; {site}</title>
<meta name="description" content="{e(spec.sections[0][1][:155])}" />
<meta name="robots" content="index, follow, max-image-preview:large" />
<link rel="canonical" href="{url}" />
<meta property="og:locale" content="en_US" />
<meta property="og:type" content="article" />
<meta property="og:title" content="{e(spec.title)}" />
<meta property="og:url" content="{url}" />
<meta property="og:site_name" content="{site}" />
<meta property="article:section" content="{e(spec.category)}" />
{tags_meta}
<meta property="article:published_time" content="{spec.date}T08:00:00+00:00" />
<meta property="article:modified_time" content="{spec.date}T17:30:00+00:00" />
<script type="application/ld+json">{ld}</script>
<link rel="stylesheet" id="theme-style-css" href="{base}/wp-content/themes/leaf/style.css?ver=6.5.2" media="all" />
<link rel="stylesheet" id="block-library-css" href="{base}/wp-includes/css/dist/block-library/style.min.css" />
<style id="theme-inline-css">
:root{{--wp--preset--color--primary:#2f6f3e;--wp--preset--color--muted:#6b7280;--content-width:720px}}
.site-header{{display:flex;justify-content:space-between;align-items:center;padding:1rem 2rem}}
.entry-content h2{{margin-top:2rem;font-size:1.5rem}} .sidebar .widget{{margin-bottom:2rem}}
.cookie-notice{{position:fixed;bottom:0;left:0;right:0;background:#111;color:#fff;padding:1rem}}
</style>
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}gtag('js',new Date());gtag('config','G-XXXX');</script>
</head>
<body class="post-template-default single single-post single-format-standard">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<div id="page" class="site">
<header id="masthead" class="site-header" role="banner">
  <div class="site-branding"><p class="site-title"><a href="{base}/" rel="home">{site}</a></p>
  <p class="site-description">Evidence-based nutrition, one study at a time</p></div>
  <nav id="site-navigation" class="main-navigation" aria-label="Primary menu">
    <button class="menu-toggle" aria-controls="primary-menu" aria-expanded="false">Menu</button>
    <ul id="primary-menu" class="menu">{menu}</ul>
  </nav>
  <div class="header-search" role="search"><form method="get" action="{base}/"><label class="screen-reader-text" for="s">Search for:</label><input type="search" id="s" name="s" placeholder="Search &hellip;" /><button type="submit">Search</button></form></div>
</header>
<div id="content" class="site-content">
<nav class="breadcrumbs" aria-label="breadcrumb"><a href="{base}/">Home</a> &raquo; <a href="{base}/category/{cat_slug}/">{e(spec.category)}</a> &raquo; <span>{e(spec.title)}</span></nav>
<div id="primary" class="content-area">
<main id="main" class="site-main">
<article id="post-{spec.rid}" class="post-{spec.rid} post type-post status-publish format-standard hentry category-{cat_slug}">
<header class="entry-header">
<h1 class="entry-title">{e(spec.title)}</h1>
<div class="entry-meta"><span class="posted-on">Posted on <a href="{url}" rel="bookmark"><time class="entry-date published" datetime="{spec.date}T08:00:00+00:00">{spec.date}</time></a></span> <span class="byline">by <span class="author vcard"><a class="url fn n" href="{base}/author/editorial/">Editorial Team</a></span></span></div>
</header>
<div class="entry-content">
{body}
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3><ul><li><a class="share-twitter" href="#">Twitter</a></li><li><a class="share-facebook" href="#">Facebook</a></li><li><a class="share-email" href="#">Email</a></li></ul></div>
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="{base}/category/{cat_slug}/" rel="category tag">{e(spec.category)}</a></span> <span class="tags-links">Tagged {tag_links}</span></footer>
</article>
<nav class="navigation post-navigation" aria-label="Posts"><h2 class="screen-reader-text">Post navigation</h2><div class="nav-links"><div class="nav-previous"><a href="#" rel="prev">Previous post</a></div><div class="nav-next"><a href="#" rel="next">Next post</a></div></div></nav>
<section class="related-posts"><h2 class="related-title">You might also like</h2><ul>{related}</ul></section>
<div id="comments" class="comments-area"><div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3>
<form action="{base}/wp-comments-post.php" method="post" id="commentform" class="comment-form"><p class="comment-notes">Your email address will not be published. Required fields are marked *</p>
<p class="comment-form-comment"><label for="comment">Comment *</label><textarea id="comment" name="comment" cols="45" rows="8" required></textarea></p>
<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="Post Comment" /></p></form></div></div>
</main>
</div>
<aside id="secondary" class="widget-area sidebar" role="complementary">
<section class="widget widget_search"><form role="search" method="get" action="{base}/"><input type="search" name="s" /><button>Search</button></form></section>
<section class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2><ul>{recent}</ul></section>
<section class="widget widget_categories"><h2 class="widget-title">Categories</h2><ul>{cats}</ul></section>
<section class="widget newsletter-signup"><h2 class="widget-title">Get the newsletter</h2><p>New studies explained every week, straight to your inbox. No spam, unsubscribe at any time.</p><form><input type="email" placeholder="Your email" /><button>Subscribe</button></form></section>
</aside>
</div>
<footer id="colophon" class="site-footer" role="contentinfo">
<nav class="footer-navigation" aria-label="Footer menu"><ul class="menu"><li><a href="{base}/about/">About</a></li><li><a href="{base}/privacy-policy/">Privacy Policy</a></li><li><a href="{base}/terms/">Terms of Use</a></li><li><a href="{base}/contact/">Contact</a></li></ul></nav>
<div class="site-info">&copy; {spec.date[:4]} {site}. This site offers information, not medical advice. Proudly powered by WordPress.</div>
</footer>
</div>
<div id="cookie-notice" class="cookie-notice" role="dialog" aria-label="Cookie notice"><p>We use cookies to understand how the site is used. By continuing you agree to our use of cookies.</p><a href="#" class="cn-accept">Accept</a></div>
<script src="{base}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<script src="{base}/wp-content/themes/leaf/js/navigation.js?ver=1.4.0" id="leaf-navigation-js"></script>
<script>document.querySelectorAll('.cn-accept').forEach(function(b){{b.addEventListener('click',function(){{document.cookie='cn=1;path=/';b.parentNode.remove()}})}});</script>
</body>
</html>
"""


def render_light(spec: PageSpec, neighbours: Sequence[PageSpec] = ()) -> str:
    """A light article page: a title, the sections under `<h2>`s, a canonical link and no theme."""
    e = escape
    body = "\n".join(f"<h2>{e(h)}</h2>\n{_paragraphs(t)}" for h, t in spec.sections)
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(spec.title)}</title>\n"
            f"<link rel=\"canonical\" href=\"https://light.example/{spec.slug}/\"></head>\n"
            f"<body><article><h1>{e(spec.title)}</h1>\n{body}\n</article></body></html>\n")


Renderer = Callable[[PageSpec, Sequence[PageSpec]], str]


def _write(name: str, specs: Sequence[PageSpec], renderer: Renderer = render) -> Corpus:
    root = OUT / f"corpus-v{CORPUS_VERSION}" / name
    done = root / DONE
    if done.exists():
        meta = orjson.loads(done.read_bytes())
        return Corpus(name, root, meta["articles"], meta["sections"])
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    pages = tmp / PAGES
    n_sections = 0
    tmp.mkdir(parents=True)
    with open(tmp / SECTIONS_FILE, "wb") as out:
        for i, spec in enumerate(specs):
            folder = pages / f"{i // PER_FOLDER:03d}"
            if i % PER_FOLDER == 0:
                folder.mkdir(parents=True, exist_ok=True)
            neighbours = [specs[(i + k) % len(specs)] for k in range(1, 9)]
            (folder / f"{spec.slug}.html").write_text(renderer(spec, neighbours), encoding="utf-8")
            for order, (heading, body) in enumerate(spec.sections):
                out.write(orjson.dumps({"id": f"{spec.rid}#{order}", "title": spec.title, "heading": heading,
                                        "text": body}) + b"\n")
            n_sections += len(spec.sections)
    meta = {"articles": len(specs), "sections": n_sections, "version": CORPUS_VERSION}
    (tmp / DONE).write_bytes(orjson.dumps(meta))
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    return Corpus(name, root, len(specs), n_sections)


def size_name(n_sections: int) -> str:
    """`10000` -> `synth-10k`."""
    return f"synth-{n_sections // 1000}k" if n_sections % 1000 == 0 else f"synth-{n_sections}"


def parse_size(text: str) -> int:
    """`10k` -> 10000, `100000` -> 100000."""
    t = text.strip().lower()
    return int(float(t[:-1]) * 1000) if t.endswith("k") else int(t)


def nfcorpus() -> Corpus:
    """The NFCorpus pages (3,633 articles, 7,266 sections), generated once per corpus version."""
    return _write("nfcorpus", list(nfcorpus_specs(records())))


def nfcorpus_light() -> Corpus:
    """The NFCorpus records as 3,633 light pages (no theme: the writer, not parsing, dominates)."""
    return _write("nfcorpus-light", list(nfcorpus_specs(records())), render_light)


def synthetic(n_sections: int) -> Corpus:
    """A recombined corpus of exactly `n_sections` sections, generated once per corpus version."""
    root = OUT / f"corpus-v{CORPUS_VERSION}" / size_name(n_sections)
    if (root / DONE).exists():
        return _write(size_name(n_sections), [])
    return _write(size_name(n_sections), list(synthetic_specs(records(), n_sections)))


def main(argv: Sequence[str]) -> None:
    """Build the named corpora (`nfcorpus`, `10k`, `100k`) and print where they are."""
    for name in argv or ["nfcorpus"]:
        c = (nfcorpus() if name == "nfcorpus" else nfcorpus_light() if name == "nfcorpus-light"
             else synthetic(parse_size(name)))
        print(f"{c.name}: {c.articles:,} articles, {c.sections:,} sections in {c.pages}")


if __name__ == "__main__":
    main(sys.argv[1:])
