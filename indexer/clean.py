"""Parse stage, cleaning: the declarative rules for what is never article text.

`REMOVE_RULES` lists the boilerplate of blogs and shops as CSS selectors, one group per
comment; a site owner adds more with `Settings.remove_selectors`. `RELATED_RULES` finds
the in-article "See also" boxes, whose links are kept as data and whose text is dropped.
Two tags carry an exception instead of a rule: a `<header>` that holds a content heading
(`<section><header><h2>…`) and a `<footer>` that attributes a quote or figure are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

from bs4.element import NavigableString, Tag

from indexer.selectors import SelectorSet

REMOVE_RULES: tuple[str, ...] = (
    # Never text: code, media, embedded documents and form controls.
    "script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object",
    "embed", "video", "audio", "map", "form", "button", "input", "select", "textarea",
    "dialog", "link", "meta",
    # Hidden from readers, or only there for screen readers ("Skip to content").
    "[hidden]", '[aria-hidden="true"]', '[style*="display:none"]', '[style*="display: none"]',
    '[style*="visibility:hidden"]', ".screen-reader-text", ".sr-only", ".visually-hidden",
    ".skip-link",
    # Page chrome: navigation, site header and footer, sidebars and widgets.
    "nav", "header", "footer", "aside", '[role="navigation"]', '[role="banner"]',
    '[role="contentinfo"]', '[role="complementary"]', '[role="search"]', ".sidebar",
    "#sidebar", ".widget", ".widget-area", ".site-header", ".site-footer", ".menu",
    # Tables of contents: Easy TOC, Rank Math, Yoast, LuckyWP, TOC+ and hand-made ones.
    "#toc", ".toc", ".table-of-contents", "[class*=ez-toc]", "#toc_container", ".toc_container",
    "[class*=rank-math-toc]", ".wp-block-rank-math-toc-block", ".yoast-table-of-contents",
    ".lwptoc", "[class*=table-of-contents]", ".wp-block-table-of-contents",
    # Breadcrumbs.
    "[class*=breadcrumb]", "[id*=breadcrumb]", '[aria-label="breadcrumb" i]',
    '[aria-label="breadcrumbs" i]',
    # Comment areas and comment forms.
    "#comments", ".comments", ".comments-area", "#respond", ".comment-respond", ".comment-list",
    ".commentlist", ".comment-form", "#disqus_thread", ".fb-comments",
    # Share widgets.
    ".sharedaddy", ".sd-sharing-enabled", "[class*=share-buttons]", "[class*=social-share]",
    "[class*=sharing]", "[class*=share-bar]", ".addtoany_share_save_container", ".a2a_kit",
    ".shariff", "[class*=social-icons]", "[class*=social-links]", ".share", ".shares",
    # Post navigation and pagination.
    ".post-navigation", ".posts-navigation", ".nav-links", ".navigation", ".pagination",
    ".page-links", 'a[rel~="prev"]', 'a[rel~="next"]',
    # Bylines, post meta and the category/tag links (read as metadata before this).
    ".byline", ".entry-meta", ".post-meta", ".posted-on", ".author", ".author-box",
    "[class*=author-bio]", "[class*=about-author]", "[class*=author-info]", "[rel~=author]",
    ".entry-footer", ".cat-links", ".tags-links", ".post-tags", ".post-categories",
    "a[rel~=tag]", "a[rel~=category]", ".edit-link", ".post-edit-link",
    # Shop boilerplate: product, price and "Order Now" boxes.
    ".product", "[class*=product-box]", "[class*=product-card]", "[class*=product-item]",
    ".woocommerce", ".price", ".product-price", "[class*=price-box]", "[class*=add-to-cart]",
    "[class*=add_to_cart]", "[class*=buy-now]", "[class*=buy-button]", "[class*=order-now]",
    "[class*=order-button]", "a.button", "a.btn", ".wp-block-buttons", "[class*=cta-box]",
    # Cookie banners and consent dialogs.
    "[class*=cookie-]", "[class*=cookie_]", "[id*=cookie-]", "[id*=cookie_]",
    "[class*=cookiebanner]", "[id*=cookiebot i]", "[class*=gdpr]", "[class*=consent-]",
    ".cc-window", ".cc-banner",
    # Newsletter, subscription and opt-in boxes.
    "[class*=newsletter]", "[id*=newsletter]", "[class*=subscribe]", "[class*=signup]",
    "[class*=mc4wp]", "#mc_embed_signup", "[class*=optin]",
    # Advertising.
    ".ad", ".ads", ".advert", ".advertisement", "[class*=advert]", ".adsbygoogle",
    "[id*=div-gpt-ad]", "[class^=ad-]", ".ad-container", ".ad-slot",
    # Lists of other posts that are not in-article "See also" boxes.
    "[class*=recent-posts]", "[class*=popular-posts]", ".wp-block-latest-posts",
    # Rating widgets and print/email links.
    "[class*=star-rating]", "[class*=post-ratings]", ".print-link",
)  # fmt: skip

RELATED_RULES: tuple[str, ...] = (
    # In-article link boxes: kept as `Article.related`, removed from the text.
    "[class*=see-also]", "[class*=seealso]", "[class*=related]", "[id*=related]",
    "[class*=also-read]", "[class*=read-also]", "[class*=read-more]", "[class*=yarpp]",
)  # fmt: skip

# The label of a link box without a telling class: "See also: <a>…</a>".
RELATED_LABEL = re.compile(
    r"(?:see also|related(?: posts?| articles?| reading| content| stories| links)?|read also|"
    r"also read|read more|further reading|you may also like|recommended(?: reading)?)"
    r"\s*[:：»›>\-–—]*",
    re.I,
)
LABEL_BOX_TAGS = frozenset({"p", "div", "section", "aside"})
_LINK_LIST_TAGS = frozenset({"ul", "ol", "div", "p"})
_MAX_BOX_EXTRA_CHARS = 40  # text beside the label and the links a link box may carry
_CONTENT_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_KEEP_FOOTER_IN = frozenset({"blockquote", "figure"})
_SITE_HEADER = re.compile(r"site|masthead|banner|top-?bar", re.I)
_SKIP_HREF = re.compile(r"\s*(?:#|javascript:|mailto:|tel:|data:)", re.I)


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a related box: its text and absolute URL."""

    title: str
    url: str


def _norm(text: str) -> str:
    return " ".join(text.split())


def class_text(el: Tag) -> str:
    """The element's class attribute as one string ("" without one)."""
    value = el.attrs.get("class")
    if not value:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def first_text(el: Tag, limit: int = 200) -> str:
    """The first non-blank string inside `el`, stripped (searching at most `limit` nodes)."""
    node, end, up = el.next_element, el.next_sibling, el
    while end is None and up.parent is not None:
        up = up.parent
        end = up.next_sibling
    while node is not None and node is not end and limit > 0:
        if type(node) is NavigableString and not node.isspace():
            return node.strip()
        node = node.next_element
        limit -= 1
    return ""


def box_links(el: Tag, base_url: str) -> list[Link]:
    """The links inside a related box, in order, without fragment-only and script links."""
    out: list[Link] = []
    for a in el.find_all("a", href=True):
        href = a.get("href")
        if not isinstance(href, str) or _SKIP_HREF.match(href):
            continue
        title = _norm(a.get_text(" "))
        if not title or RELATED_LABEL.fullmatch(title):
            continue
        out.append(Link(title, urljoin(base_url, href.strip())))
    return out


def label_box_links(el: Tag, base_url: str) -> list[Link] | None:
    """The links of a labelled box ("See also: …"), or None when `el` is not such a box."""
    if el.name not in LABEL_BOX_TAGS:
        return None
    label = first_text(el, limit=20)
    if not label or len(label) > 40 or RELATED_LABEL.fullmatch(label) is None:
        return None
    links = box_links(el, base_url)
    if not links:
        return None
    extra = len(_norm(el.get_text(" "))) - len(label) - sum(len(x.title) + 1 for x in links)
    return links if extra <= _MAX_BOX_EXTRA_CHARS else None


def _is_site_header(el: Tag) -> bool:
    """A page's banner, as opposed to an article's or a section's own `<header>`."""
    if el.get("role") == "banner":
        return True
    names = f"{el.get('id') or ''} {class_text(el)}"
    return _SITE_HEADER.search(names) is not None


def links_only(el: Tag, base_url: str) -> list[Link] | None:
    """The links of an unlabelled list of links (after a "Related" heading), else None."""
    if el.name not in _LINK_LIST_TAGS:
        return None
    links = box_links(el, base_url)
    if not links:
        return None
    extra = len(_norm(el.get_text(" "))) - sum(len(x.title) + 1 for x in links)
    return links if extra <= _MAX_BOX_EXTRA_CHARS else None


class Cleaner:
    """The removal and related-box rules for one set of settings."""

    def __init__(self, extra_selectors: Iterable[str], split_levels: Iterable[int]) -> None:
        self._remove = SelectorSet((*REMOVE_RULES, *extra_selectors))
        self._related = SelectorSet(RELATED_RULES)
        levels = {n for n in split_levels if 2 <= n <= 6}
        self._content_headings = [h for h in _CONTENT_HEADINGS if int(h[1]) in levels] or ["h2"]

    def complex_removals(self, root: Tag) -> set[int]:
        """`id()`s of elements under `root` removed by rules that need a soupsieve pass."""
        return self._remove.select(root)

    def is_related(self, el: Tag) -> bool:
        """Whether `el` is a related-links box by its class or id."""
        return bool(el.attrs) and self._related.matches(el)

    def removes(self, el: Tag) -> bool:
        """Whether a removal rule drops `el`, minus the header/footer exceptions."""
        if not self._remove.matches(el):
            return False
        name = el.name
        if name == "header":
            return el.find(self._content_headings) is None
        if name == "footer":
            parent = el.parent
            return parent is None or parent.name not in _KEEP_FOOTER_IN
        return True

    def inside_removed(self, el: Tag, max_depth: int = 1_000_000) -> bool:
        """Whether `el` or one of its ancestors (up to `max_depth` levels) is chrome the rules remove."""
        node: Tag | None = el
        while node is not None and node.name not in ("body", "[document]") and max_depth > 0:
            max_depth -= 1
            if node.name == "header":
                if _is_site_header(node):
                    return True
            elif self._remove.matches(node):
                return True
            node = node.parent
        return False


@lru_cache(maxsize=16)
def cleaner_for(extra_selectors: tuple[str, ...], split_levels: tuple[int, ...]) -> Cleaner:
    """The compiled cleaner for these settings, built once per distinct configuration."""
    return Cleaner(extra_selectors, split_levels)
