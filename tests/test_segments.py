"""Per-segment caches outlive commits: a reader kept warm across edits answers exactly as a fresh one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.build import Ingestor, index_paths
from kb import search
from kb.config import Settings
from kb.engines.whoosh.reader import WhooshBackend
from kb.models import SearchPage
from kb.ranking import Ranking
from kb.search import KnowledgeBase

QUERIES = ["baclofen", "gabapentin dose", "side effects", "muscle spasm", "cyclobenzaprine drowsiness",
           "intrathecal pump", "fibromyalgia", "back pain", "methocarbamol interactions", "spasticity",
           "kidney", "alcohol", "pregnancy", "dizziness", "tizanidine sleep", "nerve pain elderly"]
EDIT = "<p>Baclofen withdrawal after a pump failure can cause fever and spasticity rebound.</p>"


def answers(kb: KnowledgeBase) -> list[tuple[object, ...]]:
    """Every query's hits (ids, scores, snippets), totals and facets, plain and grouped."""
    out: list[tuple[object, ...]] = []
    for q in QUERIES:
        for page in (kb.search(q, per_page=20), kb.search(q, group="article", per_page=5)):
            out.append(_summary(page))
    return out


def _summary(page: SearchPage) -> tuple[object, ...]:
    return (page.total, [(h.deep_link, h.score, h.snippet_html) for h in page.hits], page.facets)


def _upload(n: int) -> bytes:
    return (f"<html><head><title>Spasticity note {n}</title></head><body><article><h1>Spasticity note {n}</h1>"
            f"<h2>Dose</h2><p>Baclofen and gabapentin dose changes for muscle spasm, note {n}.</p>"
            "</article></body></html>").encode()


EXACT = Ranking(stats_drift=0.0)  # statistics renewed at every commit


def _indexed_site(examples_dir: Path, tmp_path: Path) -> tuple[Path, Settings]:
    """A copy of the example site, indexed by one writer: its folder and settings."""
    site = tmp_path / "site"
    shutil.copytree(examples_dir, site)
    s = Settings(index_dir=tmp_path / "index", parse_workers=1)
    index_paths([site], s)
    return site, s


def _edit(site: Path, s: Settings, ing: Ingestor, n: int) -> None:
    """One upload (a new small segment) and one edited page (its old sections deleted from the first segment)."""
    ing.put(_upload(n), url=f"https://site.example/note-{n}/", article_id=f"note-{n}")
    page = next(iter(sorted(site.glob("*.html"))))
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("</p>", f"</p>{EDIT.replace('pump', f'pump {n}')}", 1), encoding="utf-8")
    index_paths([site], s)


def test_a_reader_warm_across_commits_answers_as_a_fresh_one(examples_dir: Path, tmp_path: Path) -> None:
    site, s = _indexed_site(examples_dir, tmp_path)
    warm = KnowledgeBase.open(settings=s, ranking=EXACT)
    answers(warm)  # every cache filled for the first state
    ing = Ingestor(s)
    for n in range(3):
        _edit(site, s, ing, n)
        assert answers(warm) == answers(KnowledgeBase.open(settings=s, ranking=EXACT))
    ing.delete("note-1")
    assert answers(warm) == answers(KnowledgeBase.open(settings=s, ranking=EXACT))


def _scores(kb: KnowledgeBase) -> dict[str, tuple[int, dict[str, float]]]:
    return {q: (p.total, {h.deep_link: h.score for h in p.hits})
            for q in QUERIES for p in [kb.search(q, per_page=50)]}


def test_scores_keep_an_epoch_of_statistics_while_edits_stay_under_the_drift(examples_dir: Path,
                                                                             tmp_path: Path) -> None:
    """Under edits, a warm reader keeps the statistics of an earlier state (bounded by `stats_drift`):
    what matches is always exact, scores lag by little, and a change past the bound renews them."""
    site, s = _indexed_site(examples_dir, tmp_path)
    lagging = Ranking(stats_drift=0.05)  # the example site is small: 5% is a few sections
    warm = KnowledgeBase.open(settings=s, ranking=lagging)
    before = _scores(warm)
    backend = warm.backend
    assert isinstance(backend, WhooshBackend)
    with backend.view() as v:
        first = v.snap.epoch(v.s)
    ing = Ingestor(s)
    ing.put(_upload(0), url="https://site.example/note-0/", article_id="note-0")
    now, fresh = _scores(warm), _scores(KnowledgeBase.open(settings=s, ranking=lagging))
    with backend.view() as v:
        assert v.snap.epoch(v.s) is first  # the statistics were kept
    assert now != before  # the edit's sections are found at once
    for q in QUERIES:
        assert now[q][0] == fresh[q][0], q  # the same sections match
        for link, score in now[q][1].items():
            if link in fresh[q][1]:
                assert score == pytest.approx(fresh[q][1][link], rel=0.05), (q, link)
    assert any(now[q][1] != fresh[q][1] for q in QUERIES)  # ... and the scores do lag
    for n in range(1, 6):  # past 5% of the sections: the statistics renew, and scores are exact again
        ing.put(_upload(n), url=f"https://site.example/note-{n}/", article_id=f"note-{n}")
    assert _scores(warm) == _scores(KnowledgeBase.open(settings=s, ranking=lagging))
    with backend.view() as v:
        assert v.snap.epoch(v.s) is not first


def test_a_commit_keeps_what_was_read_from_the_segments_it_did_not_change(writable_index: Path) -> None:
    s = Settings(index_dir=writable_index, parse_workers=1)
    kb = KnowledgeBase.open(settings=s)
    backend = kb.backend
    assert isinstance(backend, WhooshBackend)
    kb.search("baclofen spasticity")
    with backend.view() as v:
        before = {slot.key for slot in v.snap.slots}
    cached = {k for k, _ in backend._segments.raw._items.items() if k[0] in before}
    assert cached
    Ingestor(s).put(_upload(0), url="https://site.example/note/", article_id="note")
    assert kb.search("baclofen spasticity").total > 0
    with backend.view() as v:
        after = {slot.key for slot in v.snap.slots}
    assert before & after  # the old segment is still live, beside the commit's new one
    kept = {k for k in backend._segments.raw._items if k[0] in before & after}
    assert {k for k in cached if k[0] in after} <= kept


def test_a_commit_reopens_only_the_segments_it_changed(examples_dir: Path, tmp_path: Path) -> None:
    # Lucene's openIfChanged: the readers of segments a commit left as they were are the very same
    # objects afterwards; a segment whose deleted sections changed gets a new reader.
    site, s = _indexed_site(examples_dir, tmp_path)
    ing = Ingestor(s)
    kb = KnowledgeBase.open(settings=s)
    backend = kb.backend
    assert isinstance(backend, WhooshBackend)

    def leaves() -> dict[str, tuple[object, int]]:
        kb.search("baclofen")
        with backend.view() as v:
            subs = [v.s] if v.s.is_atomic() else [sub for sub, _ in v.s.subsearchers]
            return {sub.reader().segment().segment_id(): (sub.reader(), sub.reader().segment().deleted_count())
                    for sub in subs}

    before = leaves()
    ing.put(_upload(1), url="https://site.example/note-1/", article_id="note-1")  # a new segment, nothing deleted
    uploaded = leaves()
    (big,) = before
    assert uploaded.keys() > before.keys() and uploaded[big][0] is before[big][0]
    page = next(iter(sorted(site.glob("*.html"))))  # an edited page: its old sections deleted in the big segment
    page.write_text(page.read_text(encoding="utf-8").replace("</p>", f"</p>{EDIT}", 1), encoding="utf-8")
    index_paths([site], s)
    edited = leaves()
    assert edited[big][1] > uploaded[big][1] and edited[big][0] is not uploaded[big][0]
    assert answers(kb) == answers(KnowledgeBase.open(settings=s))  # and answers as a fresh reader does


def test_suggestions_follow_an_edit_once_the_lag_is_spent(writable_index: Path, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    s = Settings(index_dir=writable_index, parse_workers=1)
    kb = KnowledgeBase.open(settings=s)
    kb.warm()
    monkeypatch.setattr(search, "LAG_S", 3600.0)
    Ingestor(s).put(_upload(7), url="https://site.example/note-7/", article_id="note-7")
    kb.warm()  # a commit within the lag: the list built before it still answers, not rebuilt
    assert not any(x.text == "Spasticity note 7" for x in kb.suggest("spasticity note"))
    monkeypatch.setattr(search, "LAG_S", 0.0)
    kb.warm()  # the warmer, once the lag is spent: this state's own list
    assert any(x.text == "Spasticity note 7" for x in kb.suggest("spasticity note"))


def test_spelling_follows_an_edit_once_the_lag_is_spent(writable_index: Path, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The corrector's vocabulary file is rewritten by every commit; within the lag the last
    state's corrector answers, once it is spent the warmer builds this state's."""
    s = Settings(index_dir=writable_index, parse_workers=1)
    kb = KnowledgeBase.open(settings=s)
    kb.warm()
    page = _upload(8).replace(b"Baclofen and", b"Zorbitrexal, baclofen and")
    monkeypatch.setattr(search, "LAG_S", 3600.0)
    Ingestor(s).put(page, url="https://site.example/note-8/", article_id="note-8")
    kb.warm()
    assert kb.search("zorbitrexal").total == 1  # the edit is searchable at once ...
    assert kb.search("zorbitrexl").corrected_query is None  # ... its word not yet a correction
    monkeypatch.setattr(search, "LAG_S", 0.0)
    kb.warm()
    assert kb.search("zorbitrexl").corrected_query == "zorbitrexal"


def test_outlines_kept_per_segment_are_every_live_section_in_order(examples_dir: Path, tmp_path: Path) -> None:
    """The suggestion list is built from outlines cached per segment: after uploads, an edited
    page (old sections deleted from the first segment) and a delete, they are exactly the live
    sections' outlines in section order, as a full read of the stored sections gives them."""
    from kb.documents import outline

    site, s = _indexed_site(examples_dir, tmp_path)
    kb = KnowledgeBase.open(settings=s)
    ing = Ingestor(s)
    for n in range(2):
        with kb.backend.view() as v:
            assert list(v.outlines()) == [outline(st) for st in v.all_stored()]
        _edit(site, s, ing, n)
    ing.delete("note-0")
    with kb.backend.view() as v:
        found = list(v.outlines())
        assert found == [outline(st) for st in v.all_stored()]
        assert not any(o.article_id == "note-0" for o in found)
        assert any(o.article_id == "note-1" for o in found)


def _tagged(n: int, category: str, url: str) -> bytes:
    return (f'<html><head><title>Pump note {n}</title><link rel="canonical" href="{url}">'
            f'<meta property="article:section" content="{category}"><meta property="article:tag" content="Pump {n}">'
            f"</head><body><article><h1>Pump note {n}</h1><h2>Refills</h2><p>Baclofen pump refills, note {n}.</p>"
            "</article></body></html>").encode()


def test_the_doc_table_joined_from_segment_parts_is_the_one_a_fresh_reader_builds(examples_dir: Path,
                                                                                  tmp_path: Path) -> None:
    """Each segment's part of the doc table is built once; after uploads, an edit that moves an
    article to a new URL and category (its old sections deleted) and a delete, the joined table
    equals a fresh reader's, its facet codes count as the columns do, and the old URL is gone."""
    from kb.facets import DocTable

    site, s = _indexed_site(examples_dir, tmp_path)
    warm = KnowledgeBase.open(settings=s)
    ing = Ingestor(s)

    def table(kb: KnowledgeBase) -> DocTable:
        with kb.backend.view() as v:
            return v.docs()

    table(warm)
    for n in range(3):
        ing.put(_tagged(n, "Devices", f"https://site.example/pump-{n}/"), article_id=f"pump-{n}")
        table(warm)
    ing.put(_tagged(1, "Refill Guides", "https://site.example/pumps/one/"), article_id="pump-1")
    ing.delete("pump-2")
    page = site / "baclofen-for-spasticity.html"  # its sections are deleted from the first segment
    old = "https://pharmacy.example/baclofen/baclofen-for-spasticity/"
    new = "https://pharmacy.example/spasticity/baclofen/"
    page.write_text(page.read_text(encoding="utf-8").replace(old, new).replace(
        'content="Muscle Relaxants"', 'content="Antispastic Drugs"'), encoding="utf-8")
    index_paths([site], s)
    joined, fresh = table(warm), table(KnowledgeBase.open(settings=s))
    columns = ("article", "kind", "categories", "tags", "first", "urls", "display")
    assert [getattr(joined, c) for c in columns] == [getattr(fresh, c) for c in columns]
    assert joined.article_by_url("https://site.example/pumps/one") == "pump-1"
    assert joined.article_by_url("https://site.example/pump-1/") is None  # the edit moved it
    assert joined.article_by_url("https://site.example/pump-2/") is None  # deleted
    assert joined.article_by_url(old) is None
    moved = joined.article_by_url(new)
    assert moved is not None
    assert joined.display["refill guides"] == "Refill Guides"
    plain = DocTable(**{c: getattr(joined, c) for c in columns})  # codes made from the columns instead
    live = [d for d, a in enumerate(joined.article) if a]
    assert joined.codes is not None
    for docs in (live, [d for d in live if joined.article[d].startswith("pump")], live[:7]):
        for per_article in (False, True):
            assert joined.facets(docs, per_article=per_article) == plain.facets(docs, per_article=per_article)
    counts = joined.facets(live)
    assert ("Refill Guides", 1) in [(v.value, v.count) for v in counts.categories]
    assert "Devices" in [v.value for v in counts.categories]  # pump-0 still holds it
    assert "Antispastic Drugs" in [v.value for v in joined.facets([joined.first_doc(moved)]).categories]
