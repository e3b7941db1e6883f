"""The HTML blueprint: home, search results, the article view.

Views gather data from the knowledge base and display fields from `web.results` and
`web.article_view`; templates only lay them out (autoescaped; `|safe` never used).
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from kb import text
from kb.errors import ArticleNotFound, IndexMissing
from kb.models import Hit, SearchPage, Suggestion
from kb.search import KnowledgeBase
from web import results
from web.article_view import related_views, section_views, table_of_contents
from web.highlight import page_stems, paragraphs
from web.links import site_host, site_href
from web.params import check_article_id, run_search
from web.services import knowledge_base, settings

bp = Blueprint("pages", __name__)

DEFAULT_EXAMPLES = ("lioresal", "baclofen side effects", "tizanidine dose", "gabapentin for nerve pain",
                    "methocarbamol")
ANSWER_MAX_CHARS = 800
NO_RESULT_SUGGESTIONS = 6


def examples() -> list[results.Link]:
    """The example searches offered on the home page and when nothing matches."""
    names = current_app.config.get("KB_EXAMPLE_SEARCHES", DEFAULT_EXAMPLES)
    return [results.Link(name, url_for("pages.search", q=name)) for name in names]


def size_text(stats: dict[str, int]) -> str:
    """The size of the knowledge base in words: "4 articles, 57 sections"."""
    a, s = stats["articles"], stats["sections"]
    return f"{a:,} article{'s' * (a != 1)}, {s:,} section{'s' * (s != 1)}"


def shown_query(raw: str) -> str:
    """The query as echoed back into the search box: cut to the configured length."""
    return raw[: settings().max_query_chars]


@bp.get("/")
def index() -> str:
    """The home page: a search box, example searches and the size of the knowledge base."""
    try:
        stats: dict[str, int] | None = knowledge_base().stats()
    except IndexMissing:
        stats = None
    return render_template("home.html", size=size_text(stats) if stats else None, index_missing=stats is None,
                           examples=examples())


@bp.get("/search")
def search() -> str | BaseResponse:
    """Search results grouped by article, with facets, pagination and the JSON twin."""
    kb = knowledge_base()
    args, page = run_search(kb, request.args, api=False)
    if not args.q.strip() and not args.filtered:
        return redirect(url_for("pages.index"))
    q = page.query
    shown = replace(args, q=q)  # links carry the cleaned, length-capped query
    last = results.last_page_href(shown, page)
    if last is not None and page.total:
        return redirect(last)
    answer = results.answer_card(page, q, _answer_text(kb, page))
    groups = [v for g in page.groups or () if (v := results.group_view(g, q, answer)) is not None]
    prev, numbers, nxt = results.pagination(shown, page)
    facets = results.facet_blocks(shown, page)
    active = results.active_filters(shown)
    return render_template(
        "search.html", q=shown_query(args.q), echo=results.echo(page.corrected_query or q), typed=q,
        page=page, groups=groups,
        total=page.total, facets=facets, active_filters=active,
        clear_filters=results.clear_filters_href(shown) if args.filtered else None,
        prev=prev, numbers=numbers, next=nxt, json_href=results.json_twin(shown),
        json_title="These results as JSON",
        corrected_href=url_for("pages.search", q=page.corrected_query) if page.corrected_query else None,
        original_href=url_for("pages.search", q=q, exact=1), expansions=results.expansions(page),
        suggestion_href=url_for("pages.search", q=page.suggestion) if page.suggestion else None,
        answer=answer, suggestions=_suggestions(kb, page) if not page.total else [],
        examples=examples() if not page.total else [],
        took=f"{page.took_ms:.0f} ms" if page.took_ms >= 1 else "under 1 ms",
    )


def _answer_text(kb: KnowledgeBase, page: SearchPage) -> list[Markup] | None:
    """The whole answer of the best FAQ hit, when it is short enough for a card."""
    best: Hit | None = results.best_faq(page)
    if best is None:
        return None
    try:
        article = kb.article(best.article_id)
    except ArticleNotFound:
        return None
    section = next((s for s in article.sections if s.anchor == best.anchor), None)
    if section is None or len(section.text) > ANSWER_MAX_CHARS:
        return None
    return paragraphs(section.text, page_stems(page))


def _suggestions(kb: KnowledgeBase, page: SearchPage) -> list[results.Link]:
    """Titles and headings that start like the query's words, for a search that found nothing."""
    found: dict[str, Suggestion] = {}
    for prefix in (page.query, *text.words(page.query)):
        for sug in kb.suggest(prefix, limit=NO_RESULT_SUGGESTIONS):
            found.setdefault(sug.text.lower(), sug)
    found.pop(page.query.lower(), None)
    return [results.Link(s.text, url_for("pages.search", q=s.text)) for s in found.values()][:NO_RESULT_SUGGESTIONS]


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> str:
    """An article as indexed: contents, sections with anchors, the query marked, related articles."""
    check_article_id(article_id)
    kb = knowledge_base()
    art = kb.article(article_id)
    q = shown_query(request.args.get("q", ""))
    stems: frozenset[str] = frozenset()
    if q.strip():
        # The same search the results came from, to mark its corrections and synonyms too.
        stems = page_stems(kb.search(q, per_page=1, snippets_on=False, facets_on=False))
    sections = section_views(art, stems)
    source = site_href(art.url)
    return render_template(
        "article.html", article=art, source_href=source, source_site=site_host(source) if source else "", q=q,
        sections=sections, toc=table_of_contents(sections), related=related_views(kb.related(article_id)),
        categories=", ".join(art.categories),
        tags=", ".join(art.tags), modified=results.display_date(art.modified),
        published=results.display_date(art.published),
        back_href=url_for("pages.search", q=q) if q.strip() else None, back_text=results.echo(q).text,
        json_href=url_for("api.article", article_id=article_id), json_title="This article as JSON",
    )
