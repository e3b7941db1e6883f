"""Parse stage, cleaning: the declarative rules for what is never article text.

`REMOVE_RULES` lists the boilerplate of blogs and shops as CSS selectors, one group per
comment; a site owner adds more with `Settings.remove_selectors`. `RELATED_RULES` finds
the in-article "See also" boxes, whose text is dropped and whose links `indexer.related` keeps.
Two tags carry an exception instead of a rule: a `<header>` that holds a content heading
(`<section><header><h2>…`) and a `<footer>` that attributes a quote or figure are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from functools import lru_cache

from bs4.element import Tag

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
    # Captions and photo credits: they describe a picture, they are not the article's text.
    "figcaption", ".wp-caption-text", "[class*=photo-credit i]",
    # Tables of contents: Easy TOC, Rank Math, Yoast, LuckyWP, TOC+ and hand-made ones.
    "#toc", ".toc", "[class*=ez-toc]", "[id*=ez-toc]", "#toc_container", ".toc_container",
    "[class*=rank-math-toc]", ".yoast-table-of-contents", ".lwptoc", "[class*=table-of-contents i]",
    "[class*=tableofcontents i]",
    # Breadcrumbs.
    "[class*=breadcrumb i]", "[id*=breadcrumb i]", '[aria-label*="breadcrumb" i]',
    # Comment areas and comment forms.
    "#comments", "#respond", "[class*=comments i]", ".comment-respond", "[class*=comment-list i]",
    ".commentlist", "[class*=comment-form i]", "#disqus_thread", ".fb-comments",
    # Share widgets.
    ".sharedaddy", ".sd-sharing-enabled", "[class*=share-button i]", "[class*=sharebutton i]",
    "[class*=social-share i]", "[class*=sharing i]", "[class*=share-bar i]", "[class*=share_ i]",
    ".addtoany_share_save_container", ".a2a_kit", ".shariff", "[class*=social-icons i]",
    "[class*=social-links i]", ".share", ".shares",
    # Post navigation and pagination.
    ".post-navigation", ".posts-navigation", ".nav-links", ".navigation", "[class*=pagination i]",
    ".page-links", "[class*=blog-pager i]", "[class*=prev-next i]", 'a[rel~="prev"]',
    'a[rel~="next"]',
    # Bylines, kickers, post meta, and category/tag lists (read as metadata before this).
    "[class*=byline i]", "[class*=-meta i]", "[class*=_meta i]", ".posted-on", ".author",
    ".author-box", "[class*=author-bio i]", "[class*=about-author i]", "[class*=author-info i]",
    ".category", ".categories", ".post-category", ".entry-category", "[class*=categories-list i]",
    "[class*=blog-categories i]",
    "[rel~=author]", "[class*=kicker i]", "[class*=eyebrow i]", ".entry-footer", ".post-footer",
    ".cat-links", ".tags-links", "[class*=-tags i]", ".tags", ".post-categories",
    "[class*=field-tags]", "a[rel~=tag]", "a[rel~=category]", ".edit-link", ".post-edit-link",
    # Shop boilerplate: product, price and "Order Now" boxes.
    ".product", "[class*=product-box i]", "[class*=product-card i]", "[class*=product-item i]",
    ".woocommerce", ".price", ".product-price", "[class*=price-box i]", "[class*=add-to-cart i]",
    "[class*=add_to_cart i]", "[class*=buy-now i]", "[class*=buy-button i]",
    "[class*=order-now i]", "[class*=order-button i]", "a.button", "a.btn", ".wp-block-buttons",
    "[class*=cta-box i]",
    # Cookie banners and consent dialogs.
    "[class*=cookie i]", "[id*=cookie i]", '[aria-label*="cookie" i]', "[class*=gdpr i]",
    "[class*=consent-banner i]", "[class*=consent-manager i]", ".cc-window", ".cc-banner",
    # Newsletter, subscription and opt-in boxes.
    "[class*=newsletter i]", "[id*=newsletter i]", "[class*=subscribe i]", "[class*=signup i]",
    "[class*=mc4wp]", "#mc_embed_signup", "[class*=optin i]",
    # Advertising.
    ".ad", ".ads", ".advert", ".advertisement", "[class*=advert i]", ".adsbygoogle",
    "[id*=div-gpt-ad]", "[class^=ad-]", ".ad-container", ".ad-slot",
    # Lists of other posts that are not in-article "See also" boxes.
    "[class*=recent-posts i]", "[class*=popular-posts i]", ".wp-block-latest-posts",
    # Rating widgets and print/email links.
    "[class*=star-rating i]", "[class*=post-ratings i]", "[class*=printlink i]",
    "[class*=print-link i]", "[class*=print-button i]", 'a[href^="javascript:" i]',
)  # fmt: skip

RELATED_RULES: tuple[str, ...] = (
    # In-article link boxes: kept as `Article.related`, removed from the text.
    "[class*=see-also i]", "[class*=seealso i]", "[class*=related i]", "[id*=related i]",
    "[class*=also-read i]", "[class*=read-also i]", "[class*=read-more i]", "[class*=readmore i]",
    "[class*=yarpp]",
)  # fmt: skip

# The label of a link box without a telling class: "See also: <a>…</a>".
_CONTENT_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_KEEP_FOOTER_IN = frozenset({"blockquote", "figure"})
_SITE_HEADER = re.compile(r"site|masthead|banner|top-?bar", re.I)
_PAGE_HEADER = re.compile(r"(?:entry|post|article|page|site)[-_]?header|masthead", re.I)
_CHROME_TAGS = frozenset({"aside", "nav"})
_CHROME_ROLES = frozenset({"complementary", "navigation", "banner", "contentinfo", "search"})
_CHROME_NAMES = re.compile(
    r"sidebar|widget-area|comment(?!ar(?:y|ies))|related|recent-posts|popular|site-footer|colophon|site-header|"
    r"masthead|breadcrumb|cookie|newsletter",
    re.I,
)
# Readers' comments: never the article, however much of the page they fill.
COMMENT_NAMES = re.compile(r"comment(?!ar(?:y|ies))|disqus|respond", re.I)


def class_text(el: Tag) -> str:
    """The element's class attribute as one string ("" without one)."""
    value = el.attrs.get("class")
    if not value:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _is_site_header(el: Tag) -> bool:
    """A page's banner, as opposed to an article's or a section's own `<header>`."""
    if el.get("role") == "banner":
        return True
    names = f"{el.get('id') or ''} {class_text(el)}"
    return _SITE_HEADER.search(names) is not None


class Cleaner:
    """The removal and related-box rules for one set of settings."""

    def __init__(self, extra_selectors: Iterable[str], split_levels: Iterable[int]) -> None:
        self._remove = SelectorSet(extra_selectors, checked=REMOVE_RULES)
        self._related = SelectorSet((), checked=RELATED_RULES)
        levels = {n for n in split_levels if 2 <= n <= 6}
        self._content_headings = [h for h in _CONTENT_HEADINGS if int(h[1]) in levels] or ["h2"]

    def complex_removals(self, root: Tag) -> set[int]:
        """`id()`s of elements under `root` removed by rules that need a soupsieve pass."""
        return self._remove.select(root)

    def matchers(self) -> tuple[Callable[[Tag], bool], Callable[[Tag], bool]]:
        """The raw related-box and removal matchers, for the walk's hot loop.

        A removal match on a `<header>` or `<footer>` must still be confirmed by `removes`.
        """
        return self._related.matches, self._remove.matches

    def removes(self, el: Tag) -> bool:
        """Whether a removal rule drops `el`, minus the header/footer exceptions."""
        if not self._remove.matches(el):
            return False
        name = el.name
        if name == "header":
            # A section's own header (`<section><header><h2>`) holds content; the article's
            # header (with the title, read before this) and the site's banner do not.
            return (
                _PAGE_HEADER.search(f"{el.get('id') or ''} {class_text(el)}") is not None
                or el.find("h1") is not None
                or el.find(self._content_headings) is None
            )
        if name == "footer":
            parent = el.parent
            return parent is None or parent.name not in _KEEP_FOOTER_IN
        return True


def in_page_chrome(el: Tag, max_depth: int = 100, spare: AbstractSet[int] = frozenset()) -> bool:
    """Whether `el` sits in page chrome (sidebar, navigation, banner, comments, related posts).

    Narrower than the removal rules, which also drop `.widget` and friends that some
    platforms (Blogger) wrap around the article itself. Elements whose `id()` is in `spare`
    (those holding most of the page's text) are never chrome, whatever their names say.
    """
    node: Tag | None = el
    while node is not None and max_depth > 0 and node.name not in ("body", "[document]"):
        max_depth -= 1
        if spare and id(node) in spare:
            node = node.parent
            continue
        if node.name in _CHROME_TAGS or node.get("role") in _CHROME_ROLES:
            return True
        if node.attrs and _CHROME_NAMES.search(f"{node.get('id') or ''} {class_text(node)}"):
            return True
        if node.name == "header" and _is_site_header(node):
            return True
        node = node.parent
    return False


@lru_cache(maxsize=16)
def cleaner_for(extra_selectors: tuple[str, ...], split_levels: tuple[int, ...]) -> Cleaner:
    """The compiled cleaner for these settings, built once per distinct configuration."""
    return Cleaner(extra_selectors, split_levels)
