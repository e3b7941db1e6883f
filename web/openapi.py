"""The OpenAPI 3.1 description of the HTTP API, as data (served at /api/openapi.json).

Schemas are JSON Schema 2020-12 with `additionalProperties: false`, so the tests that
validate real responses against them catch any drift between `kb.models` and this file.
"""

from __future__ import annotations

from functools import cache
from typing import Any

JSON = "application/json"


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props) if required is None else required,
            "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


STR = {"type": "string"}
INT = {"type": "integer", "minimum": 0}
NUM = {"type": "number"}
OPT_STR = {"type": ["string", "null"]}
STRS = _list(STR)
KIND = {"type": "string", "enum": ["lead", "section", "faq"]}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"code": STR, "message": STR})}),
    "Segment": _obj({"text": STR, "match": {"type": "boolean"}}),
    "Hit": _obj({
        "article_id": STR, "title": STR, "url": STR, "heading": STR, "breadcrumb": STRS, "kind": KIND,
        "anchor": STR, "deep_link": STR,
        "snippet_html": {"type": "string", "description": "Escaped text; <mark> is the only markup."},
        "snippet": _list(_ref("Segment")), "score": NUM, "categories": STRS, "tags": STRS, "modified": OPT_STR,
        "matched_terms": {**STRS, "description": "The query's words (stop and question words left out, "
                          "as searched) the section holds, itself or as a synonym."},
        "missing_terms": {**STRS, "description": "The query's words the section lacks."},
    }),
    "Group": _obj({
        "article_id": STR, "title": STR, "url": STR, "categories": STRS, "modified": OPT_STR, "score": NUM,
        "hits": _list(_ref("Hit")), "more": {**INT, "description": "Matching sections not listed in hits."},
    }),
    "FacetValue": _obj({"value": STR, "count": {**INT, "description": "Matching sections, or articles when "
                                                "grouped by article."}}),
    "Facets": _obj({name: _list(_ref("FacetValue")) for name in ("categories", "tags", "kinds")}),
    "Expansion": _obj({"term": STR, "source": STR}),
    "SearchPage": _obj({
        "query": {"type": "string", "description": "The query as searched: cleaned and cut to the length limit."},
        "corrected_query": OPT_STR, "expanded_terms": _list(_ref("Expansion")),
        "total": {**INT, "description": "Matching sections, or articles when grouped."},
        "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
        "took_ms": NUM, "hits": _list(_ref("Hit")), "facets": _ref("Facets"), "notices": STRS,
        "groups": _list(_ref("Group")),
        "counted": {"type": "string", "enum": ["every-match", "engine-match"],
                    "description": "What total and facets count: every section the ranking scored, or (Typesense) "
                                   "the engine's own count of its candidate match, which can be smaller."},
        "rule": {"type": "string", "enum": ["all-words", "any-words"],
                 "description": "all-words: a short keyword query (2-3 words), sections with every word ranked "
                                "first; any-words: longer questions, soft matching."},
        "complete": {"type": ["integer", "null"], "minimum": 0,
                     "description": "How many matching sections hold every word of the query (null: not counted)."},
        "suggestion": {**OPT_STR, "description": "Did you mean: the query with real words the index lacks "
                                                 "respelled (offered when results are few, never applied)."},
    }, required=["query", "corrected_query", "expanded_terms", "total", "page", "per_page", "took_ms", "hits",
                 "facets", "notices"]),
    "Block": _obj({"kind": {"type": "string", "enum": ["paragraph", "list", "table"]}, "lines": STRS,
                   "rows": {**_list(STRS), "description": "A table's cells, row by row."}}, required=["kind", "lines"]),
    "Section": _obj({"anchor": STR, "heading": STR, "breadcrumb": STRS, "kind": KIND, "text": STR,
                     "deep_link": {"type": "string", "description": "The section on its site; \"\" when the "
                                   "article has no site URL."},
                     "blocks": {**_list(_ref("Block")), "description": "The text's structure, when it has lists or "
                                "tables: its lines, block by block."}},
                    required=["anchor", "heading", "breadcrumb", "kind", "text", "deep_link"]),
    "RelatedLink": _obj({"title": STR, "url": STR}),
    "Article": _obj({
        "article_id": STR, "title": STR, "url": STR, "categories": STRS, "tags": STRS, "published": OPT_STR,
        "modified": OPT_STR, "description": STR, "lang": STR, "related": _list(_ref("RelatedLink")),
        "sections": _list(_ref("Section")),
    }),
    "RelatedArticle": _obj({"article_id": OPT_STR, "title": STR, "url": STR,
                            "reason": {"type": "string", "enum": ["see-also", "tags", "similar"]}}),
    "Related": _obj({"article_id": STR, "related": _list(_ref("RelatedArticle"))}),
    "Suggestion": _obj({"text": STR, "kind": {"type": "string", "enum": ["title", "heading", "medicine"]},
                        "article_id": OPT_STR, "anchor": OPT_STR,
                        "article_title": {**OPT_STR, "description": "A heading's article."},
                        "url": {"type": "string", "description": "Where choosing it goes, under this site: the "
                                "article view, the section in it, or a search for the name."}}),
    "Suggestions": _obj({"query": STR, "suggestions": _list(_ref("Suggestion"))}),
    "Health": _obj({"status": {"const": "ok"}, "articles": INT, "sections": INT}),
    "Unavailable": _obj({"status": {"const": "unavailable"}, "error": _obj({"code": STR, "message": STR})}),
    "Degraded": _obj({"status": {"const": "degraded"}, "error": _obj({"code": STR, "message": STR}),
                      "articles": INT, "sections": INT}),
    "Written": _obj({"article_id": STR, "title": STR, "sections": INT}),
    "Failure": _obj({"path": STR, "reason": STR}),
    "IndexSummary": _obj({"added": INT, "updated": INT, "unchanged": INT, "removed": INT,
                          "failed": _list(_ref("Failure")), "sections": INT, "seconds": NUM}),
}

ERROR_TEXT = {
    "400": "Bad parameter (not a number, out of range, unknown value, missing q).",
    "401": "Missing or wrong admin token.",
    "403": "The admin API is off: no KB_ADMIN_TOKEN is set.",
    "404": "No such article or path, or a page past the last page of results.",
    "405": "Method not allowed on this path.",
    "409": "Refused, nothing changed: the article comes from a file (edit the file), or a full re-index of "
           "a missing or empty folder.",
    "413": "Request body larger than KB_MAX_BODY_MB.",
    "415": "The body is not an HTML page (send Content-Type: text/html).",
    "422": "The upload cannot be indexed (empty, not HTML, no article text).",
    "503": "No index yet, or another writer holds the index lock (see Retry-After).",
}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": _content(_ref(schema))}}


def _errors(*statuses: str) -> dict[str, Any]:
    return {s: {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": where, "required": required, "schema": schema,
                         "description": description}
    if explode is not None:
        p["explode"] = explode
    return p


ARTICLE_ID = _param("article_id", "path", STR, "The article's id (may contain `/`; never a `.` or `..` "
                    "segment, an empty segment, or over 1,000 characters).", required=True)
URL_PARAM = _param("url", "query", STR, "Source URL of the page (absolute http or https), used when it has "
                   "no canonical link.")
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
HTML_BODY = {"required": True, "description": "The article's HTML page.",
             "content": {"text/html": {"schema": {"type": "string"}}}}


def _search_params() -> list[dict[str, Any]]:
    return [
        _param("q", "query", STR, "The query: words, \"phrases\", -exclusions, field:value.", required=True),
        _param("page", "query", {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1}, "Page number."),
        _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
               "Results per page (sections, or articles when grouped)."),
        _param("category", "query", {**STRS, "maxItems": 20}, "Only this category (repeatable, at most 20).",
               explode=True),
        _param("tag", "query", {**STRS, "maxItems": 20}, "Only this tag (repeatable, at most 20).", explode=True),
        _param("kind", "query", {**_list(KIND), "maxItems": 20}, "Only this kind of section (repeatable).",
               explode=True),
        _param("group", "query", {"type": "string", "enum": ["article", "none"], "default": "none"},
               "`article` groups the best sections of each article."),
        _param("exact", "query", {"type": "integer", "enum": [0, 1], "default": 0},
               "1 turns spelling correction off (search for the words exactly as typed)."),
    ]


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "kb knowledge base API", "version": "1",
                 "description": "Search an article site's knowledge base by section. Every error is "
                                "`{\"error\": {\"code\", \"message\"}}` with the HTTP status."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Search sections", "operationId": "search", "parameters": _search_params(),
                "responses": {**_ok("A page of results.", "SearchPage"), **_errors("400", "404", "503")}}},
            "/api/articles": {"post": {
                "summary": "Add an article from its HTML", "operationId": "createArticle", "security": SECURED,
                "parameters": [URL_PARAM], "requestBody": HTML_BODY,
                "responses": {"201": {"description": "Indexed; Location names the new article.",
                                      "headers": {"Location": {"schema": STR}},
                                      "content": _content(_ref("Written"))},
                              **_errors("400", "401", "403", "409", "413", "415", "422", "503")}}},
            "/api/articles/{article_id}": {
                "get": {"summary": "An article as indexed", "operationId": "getArticle",
                        "parameters": [ARTICLE_ID],
                        "responses": {**_ok("The article.", "Article"), **_errors("404", "503")}},
                "put": {"summary": "Replace an article with new HTML", "operationId": "replaceArticle",
                        "security": SECURED, "parameters": [ARTICLE_ID, URL_PARAM], "requestBody": HTML_BODY,
                        "responses": {**_ok("Replaced.", "Written"), **_ok("Created.", "Written", "201"),
                                      **_errors("400", "401", "403", "404", "409", "413", "415", "422",
                                                "503")}},
                "delete": {"summary": "Remove an article", "operationId": "deleteArticle", "security": SECURED,
                           "parameters": [ARTICLE_ID],
                           "responses": {"204": {"description": "Removed."},
                                         **_errors("401", "403", "404", "409", "503")}},
            },
            "/api/articles/{article_id}/related": {"get": {
                "summary": "Articles related to one", "operationId": "relatedArticles", "parameters": [ARTICLE_ID],
                "responses": {**_ok("Related articles, best first.", "Related"), **_errors("404", "503")}}},
            "/api/suggest": {"get": {
                "summary": "Search-as-you-type suggestions", "operationId": "suggest",
                "parameters": [_param("q", "query", STR, "What has been typed so far.", required=True)],
                "responses": {**_ok("Up to 8 suggestions.", "Suggestions"), **_errors("400", "503")}}},
            "/api/reindex": {"post": {
                "summary": "Re-index the configured articles folder", "operationId": "reindex",
                "security": SECURED,
                "parameters": [_param("full", "query", {"type": "string", "enum": ["0", "1"]},
                                      "`1` rebuilds into a new generation, then swaps."),
                               _param("allow_empty", "query", {"type": "string", "enum": ["0", "1"]},
                                      "`1` lets a full rebuild of a missing or empty folder empty the index "
                                      "(refused with 409 otherwise).")],
                "responses": {**_ok("What the run did.", "IndexSummary"),
                              **_errors("401", "403", "409", "422", "503")}}},
            "/api/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": _content({"type": "object"})}}}},
            "/healthz": {"get": {
                "summary": "Health and index size", "operationId": "health",
                "responses": {**_ok("Serving.", "Health"),
                              "503": {"description": "No index yet, or the live index is damaged (then, when an "
                                                     "older generation still answers searches, status is "
                                                     "`degraded` with its size).",
                                      "content": _content({"oneOf": [_ref("Unavailable"), _ref("Degraded")]})}}}},
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": {f"E{status}": {"description": text, "content": _content(_ref("Error"))}
                          for status, text in ERROR_TEXT.items()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The KB_ADMIN_TOKEN of the server."}},
        },
    }
