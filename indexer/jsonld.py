"""Parse stage, structured data: what the page's JSON-LD says about the article.

Reads the first Article-like object (BlogPosting, NewsArticle, MedicalWebPage …, also
inside "@graph" or nested), falling back to a WebPage for dates, and every FAQPage's
question/answer pairs. Malformed JSON is skipped, never an error.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

_ARTICLE_TYPES = frozenset({
    "Article", "BlogPosting", "NewsArticle", "Report", "ScholarlyArticle", "TechArticle",
    "MedicalWebPage", "MedicalScholarlyArticle", "HealthTopicContent", "AnalysisNewsArticle",
    "ReportageNewsArticle", "OpinionNewsArticle", "Review", "HowTo", "Recipe",
})  # fmt: skip
_PAGE_TYPES = frozenset({"WebPage", "ItemPage", "AboutPage", "CollectionPage"})
_MAX_NODES = 20_000  # a hostile JSON-LD blob cannot make the walk unbounded
_WRAPPERS = (("<!--", "-->"), ("/*<![CDATA[*/", "/*]]>*/"), ("<![CDATA[", "]]>"))
_BREAK = re.compile(r"<\s*(?:br|/p|/li|/div|/h[1-6]|/tr|/dd|/dt)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")


@dataclass
class LinkedData:
    """The article facts found in JSON-LD; empty strings and lists where there were none."""

    headline: str = ""
    published: str = ""
    modified: str = ""
    description: str = ""
    sections: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    faq: list[tuple[str, str]] = field(default_factory=list)


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return {t.rsplit("/", 1)[-1]}
    if isinstance(t, list):
        return {x.rsplit("/", 1)[-1] for x in t if isinstance(x, str)}
    return set()


def _strings(value: Any, *, split_commas: bool = False) -> list[str]:
    """A string or list of strings as a clean list (a comma-separated string split if asked)."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.extend(item.split(",") if split_commas else [item])
    return [" ".join(s.split()) for s in out if s.strip()]


def _string(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment from JSON-LD: one line per block, entities decoded."""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", fragment)))
    return "\n".join(line for line in (" ".join(x.split()) for x in text.split("\n")) if line)


def _answer(question: dict[str, Any]) -> str:
    answers = question.get("acceptedAnswer") or question.get("suggestedAnswer")
    for answer in answers if isinstance(answers, list) else [answers]:
        if isinstance(answer, dict) and isinstance(answer.get("text"), str):
            return html_to_text(answer["text"])
        if isinstance(answer, str):
            return html_to_text(answer)
    return ""


def _load(raw: str) -> Any:
    text = raw.strip()
    for start, end in _WRAPPERS:  # old CMS templates wrap JSON in comments or CDATA
        if text.startswith(start) and text.endswith(end):
            text = text[len(start) : -len(end)]
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None


def read_linked_data(blocks: list[str]) -> LinkedData:
    """The article facts and FAQ pairs of a page's `application/ld+json` blocks."""
    ld = LinkedData()
    article: dict[str, Any] | None = None
    page: dict[str, Any] | None = None
    stack: list[Any] = [v for v in (_load(raw) for raw in reversed(blocks)) if v is not None]
    seen = 0
    while stack and seen < _MAX_NODES:
        value = stack.pop()
        seen += 1
        if isinstance(value, list):
            stack.extend(reversed(value))
            continue
        if not isinstance(value, dict):
            continue
        types = _types(value)
        if article is None and types & _ARTICLE_TYPES:
            article = value
        elif page is None and types & _PAGE_TYPES:
            page = value
        if "FAQPage" in types:
            entities = value.get("mainEntity")
            for q in entities if isinstance(entities, list) else [entities]:
                if isinstance(q, dict) and (name := html_to_text(_string(q.get("name")))):
                    ld.faq.append((name.replace("\n", " "), _answer(q)))
        stack.extend(
            reversed([v for k, v in value.items() if isinstance(v, (dict, list)) and k != "mainEntity"])
        )
        if "FAQPage" not in types and isinstance(value.get("mainEntity"), (dict, list)):
            stack.append(value["mainEntity"])
    for obj in (article, page):
        if obj is None:
            continue
        ld.published = ld.published or _string(obj.get("datePublished"))
        ld.modified = ld.modified or _string(obj.get("dateModified"))
    if article is not None:
        ld.headline = _string(article.get("headline")) or _string(article.get("name"))
        ld.description = _string(article.get("description"))
        ld.sections = _strings(article.get("articleSection"))
        ld.keywords = _strings(article.get("keywords"), split_commas=True)
    return ld
