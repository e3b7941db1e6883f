"""Typesense's side of a search: a plan in its query syntax, and its facet counts as kb's.

Stems go in as `kb` analysed them (the collection's text fields hold stems), synonyms after the
words (Typesense drops words from the right when too few sections match them all), filters as
backtick-quoted exact values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kb.engines.base import Plan
from kb.engines.typesense import client as tc
from kb.facets import DocTable
from kb.models import KINDS, Facets, FacetValue
from kb.ranking import Ranking

# What `total` and the facets count on this engine (the search JSON's `counted`): Typesense's own
# match of the candidate query, which holds every query word, or when fewer than 1,000 sections
# do, drops words from the query's ends; never the sections only feedback terms reach.
COUNTING = "engine-match"
MAX_PAGE = 250  # Typesense's largest page
RARE_SEARCHES = 8  # the rarest query words whose every section becomes a candidate


def search_params(plan: Plan, ranking: Ranking) -> dict[str, Any] | None:
    """The candidate search of a plan: stems, phrases, exclusions and filters in Typesense's syntax;
    None when nothing can match."""
    q = [" ".join(w.stems) for w in plan.words if w.stems]
    # synonyms last: Typesense drops query words from the right when too few sections match all
    q += [" ".join(syn) for w in plan.words for syn in w.synonyms] + required_parts(plan)
    filters = []
    for fieldname, values in plan.filters:
        quoted = tc.filter_value(list(values))
        if quoted is None:
            return None  # a value Typesense cannot quote matches nothing we indexed either
        filters.append(f"{fieldname}:=" + quoted)
    for fieldname, stems in plan.fielded:
        if fieldname in ("title", "heading"):
            filters += [f"{fieldname}_s:{st}" for st in stems if st.isalnum()]
        elif fieldname in ("category", "tag", "kind"):
            filters.append(f"{fieldname}:=`{' '.join(stems)}`")
    has_terms = bool(plan.words or plan.phrases)
    if not has_terms and not filters:
        return None
    w = [ranking.title_weight, ranking.heading_weight, ranking.body_weight]
    top = max(w) or 1.0
    return {
        "q": " ".join(q) if has_terms else "*",
        "query_by": ",".join(tc.TEXT_FIELDS),
        "query_by_weights": ",".join(str(max(1, round(x / top * 15))) for x in w),
        "num_typos": 0, "prefix": "false", "drop_tokens_threshold": 1000,
        "typo_tokens_threshold": 0, "sort_by": "_text_match:desc,order:asc" if has_terms else "order:asc",
        "filter_by": " && ".join(filters), "include_fields": "id",
    }


def required_parts(plan: Plan) -> list[str]:
    """The quoted phrases and the exclusions, as Typesense's query syntax writes them."""
    parts = ['"' + " ".join(p) + '"' for p in plan.phrases]
    return parts + ["-" + (t[0] if len(t) == 1 else '"' + " ".join(t) + '"') for t in plan.excluded]


def facets(counts: Iterable[dict[str, Any]], table: DocTable) -> Facets:
    """Typesense's facet counts (over every match) as kb's Facets, with the names as pages wrote them."""
    by_field = {c["field_name"]: [(v["value"], int(v["count"])) for v in c.get("counts", ())] for c in counts}

    def values(fieldname: str) -> tuple[FacetValue, ...]:
        return tuple(FacetValue(table.display.get(k, k), n) for k, n in by_field.get(fieldname, ()))

    kinds = dict(by_field.get("kind", ()))
    return Facets(categories=values("category"), tags=values("tag"),
                  kinds=tuple(FacetValue(k, kinds[k]) for k in KINDS if kinds.get(k)))


def candidate_searches(plan: Plan, params: dict[str, Any], df: Mapping[tuple[str, str], int], want: int
                       ) -> list[dict[str, Any]]:
    """The searches whose hits are a query's candidates: the best `want` sections by Typesense's own
    match (the first page also counts facets), plus every section of each rare query word (at most
    a page each), so a rare word's sections are never cut off by common words' matches."""
    searches = [dict(params, page=p, per_page=MAX_PAGE) for p in range(1, (want - 1) // MAX_PAGE + 2)]
    searches[0].update(facet_by="category,tag,kind", max_facet_values=20)
    if len(plan.words) > 1:
        extra = " ".join(part for part in required_parts(plan))
        held = {st: sum(df.get((f, st), 0) for f in ("title", "heading", "body"))
                for w in plan.words for v in (w.stems, *w.synonyms) for st in v}
        rare = sorted((n, st) for st, n in held.items() if 0 < n <= MAX_PAGE)[:RARE_SEARCHES]
        searches += [dict(params, q=f"{st} {extra}".strip(), drop_tokens_threshold=0, per_page=MAX_PAGE)
                     for _, st in rare]
    return searches
