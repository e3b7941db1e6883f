"""Request parameters: the one reading of a search request shared by the page and the API,
and the check that keeps article ids to ids (never paths).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from kb.ids import unaddressable
from kb.models import KINDS, SearchPage
from kb.search import KnowledgeBase
from web.errors import ApiError, bad_request

MAX_PER_PAGE = 100
MAX_PAGE = 10_000
MAX_FILTERS = 20
DEFAULT_PER_PAGE = 10  # articles per results page, sections (or articles) per API page
GROUPS = ("article", "none")


@dataclass(frozen=True)
class SearchArgs:
    """A search request: query, paging, filters and grouping, validated."""

    q: str
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    group: str | None = None
    exact: bool = False  # no spelling correction ("search instead for ...")

    @property
    def filtered(self) -> bool:
        """True when any category, tag or kind filter is on."""
        return bool(self.categories or self.tags or self.kinds)

    def query_items(self, **changes: object) -> list[tuple[str, str]]:
        """The request as (name, value) pairs, with some changed; for building links."""
        values: dict[str, object] = {"q": self.q, "category": self.categories, "tag": self.tags,
                                     "kind": self.kinds, "page": self.page, "per_page": self.per_page,
                                     "exact": 1 if self.exact else None}
        values.update(changes)
        defaults = {"page": 1, "per_page": DEFAULT_PER_PAGE}
        items: list[tuple[str, str]] = []
        for name, value in values.items():
            if isinstance(value, tuple | list):
                items.extend((name, str(v)) for v in value)
            elif value is not None and value != defaults.get(name):
                items.append((name, str(value)))
        return items

    def query_string(self, **changes: object) -> str:
        """The request's query string, with some parameters changed."""
        return "&".join(_pair(name, value) for name, value in self.query_items(**changes))


@lru_cache(maxsize=4096)
def _pair(name: str, value: str) -> str:
    """One `name=value` as `urlencode` writes it (a results page repeats the same few dozens times)."""
    return urlencode(((name, value),))


def _int(args: MultiDict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if value < lo:
        raise bad_request(f"{name} must be at least {lo}")
    if value > hi:
        raise bad_request(f"{name} must be at most {hi}")
    return value


def _many(args: MultiDict[str, str], name: str) -> tuple[str, ...]:
    given = args.getlist(name)
    if len(given) > MAX_FILTERS:  # counted as sent, repeats included, as the OpenAPI maxItems says
        raise bad_request(f"at most {MAX_FILTERS} {name} filters")
    return tuple(dict.fromkeys(v.strip() for v in given if v.strip()))


def search_args(args: MultiDict[str, str], *, api: bool) -> SearchArgs:
    """Read and check the search parameters of a request; raises a 400 ApiError.

    The API needs `q` and returns sections unless `group=article`; the page always groups.
    """
    q = args.get("q")
    if q is None and api:
        raise bad_request("the q parameter is required (the search query)")
    kinds = _many(args, "kind")
    unknown = [k for k in kinds if k.lower() not in KINDS]
    if unknown:
        raise bad_request(f"kind must be one of {', '.join(KINDS)}, not {unknown[0][:40]!r}")
    group_raw = (args.get("group") or "").strip().lower()
    if group_raw and group_raw not in GROUPS:
        raise bad_request("group must be 'article' or 'none'")
    group = (None if group_raw in ("", "none") else group_raw) if api else "article"
    return SearchArgs(
        q=q or "",
        page=_int(args, "page", 1, 1, MAX_PAGE),
        per_page=_int(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        categories=_many(args, "category"),
        tags=_many(args, "tag"),
        kinds=tuple(k.lower() for k in kinds),
        group=group,
        exact=(args.get("exact") or "").strip().lower() in ("1", "true", "yes"),
    )


def run_search(kb: KnowledgeBase, args: MultiDict[str, str], *, api: bool) -> tuple[SearchArgs, SearchPage]:
    """The one data function behind `/search` and `/api/search`: request args in, a SearchPage out."""
    checked = search_args(args, api=api)
    page = kb.search(checked.q, page=checked.page, per_page=checked.per_page, categories=checked.categories,
                     tags=checked.tags, kinds=checked.kinds, group=checked.group,
                     exact=checked.exact)
    return checked, page


def check_article_id(article_id: str) -> str:
    """The id if a URL can address it; a 404 for anything else (`..` segments, NUL, backslash, empty
    segments, over 1,000 characters): no writer accepts such an id (`kb.ids`)."""
    if unaddressable(article_id) is not None:
        raise ApiError(404, "Not found.")
    return article_id
