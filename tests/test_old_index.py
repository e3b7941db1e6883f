"""An index built before the engines moved to `kb/engines/` still opens, answers and takes writes.

`tests/fixtures/index-0.1/` was written by kb 0.1 (commit c20edff) from three example pages:
its Whoosh table of contents names the analyzer `kb.schema.KbTokenizer`. It must search exactly
like an index the current code builds from the same pages.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from indexer.build import index_paths
from kb.config import Settings
from kb.models import Article
from kb.search import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "index-0.1"
PAGES = ("baclofen-for-spasticity.html", "tizanidine-zanaflex-faq.html", "gabapentin-dosage-guide.html")
QUERIES = ("baclofen", "tizanidine liver", "gabapentin dose", "muscle spasm", "drowsiness alcohol", "lioresal")


def _ranking(kb: KnowledgeBase, query: str) -> list[tuple[str, str, float]]:
    return [(h.article_id, h.anchor, round(h.score, 6)) for h in kb.search(query, per_page=20).hits]


def test_an_index_built_by_kb_0_1_opens_and_answers_like_a_new_one(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(FIXTURE, old)
    assert b"kb.schema" in next(old.glob("gen-*/_MAIN_*.toc")).read_bytes(), "the fixture is not an old index"
    site = tmp_path / "site"
    site.mkdir()
    for name in PAGES:
        shutil.copy(ROOT / "examples" / "articles" / name, site / name)
    new = Settings(index_dir=tmp_path / "new", parse_workers=1)
    index_paths([site], new)

    before, after = KnowledgeBase.open(old), KnowledgeBase.open(settings=new)
    assert before.stats() == after.stats() == {"articles": 3, "sections": 39}
    for query in QUERIES:
        assert _ranking(before, query) == _ranking(after, query), query
    old_article, new_article = (kb.article("baclofen/baclofen-for-spasticity") for kb in (before, after))
    assert _unlinked(old_article) == _unlinked(new_article)
    # Deep links differ only where a text fragment now carries the context it needs to land.
    changed = [n.deep_link for o, n in zip(old_article.sections, new_article.sections, strict=True)
               if o.deep_link != n.deep_link]
    assert changed and all("#:~:text=" in link and "-," in link for link in changed), changed


def _unlinked(article: Article) -> Article:
    return replace(article, sections=tuple(replace(s, deep_link="") for s in article.sections))


def test_an_index_built_by_kb_0_1_takes_new_articles(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(FIXTURE, old)
    site = tmp_path / "more"
    site.mkdir()
    shutil.copy(ROOT / "examples" / "articles" / "robaxin-methocarbamol-guide.html", site)
    summary = index_paths([site], Settings(index_dir=old, parse_workers=1))
    assert summary.added == 1 and not summary.failed
    kb = KnowledgeBase.open(old)
    assert kb.stats()["articles"] == 4
    assert kb.search("methocarbamol").hits[0].article_id.endswith("robaxin-methocarbamol-guide")
