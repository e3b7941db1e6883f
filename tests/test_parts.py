"""A full rebuild written in parts by several processes is the index one writer builds, and fails safely."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from whoosh import index as whoosh_index

from indexer import fanout
from indexer.build import Ingestor, index_paths
from indexer.pipeline import parse_one
from indexer.session import write_session
from kb.config import Settings
from kb.documents import StoredSection, documents
from kb.engines.whoosh import layout
from kb.engines.whoosh.schema import TEXT_FIELDS
from kb.errors import WriterFailed
from kb.models import Article, Section
from kb.search import KnowledgeBase

from support.processes import child_env, kb_command, tree_pids
from support.wordpages import sentence, write_pages

QUERIES = ["baclofen", "gabapentin dose", "muscle spasm", "kidney liver", "café", "\"nerve pain\"", "withdrawal fever",
           "tizanidine sleep elderly", "dose 25 mg"]


def _reader_dump(index_dir: Path) -> tuple[int, list[Any], dict[Any, Any]]:
    """Segments, every stored document in order, and every text posting with its term statistics."""
    ix = whoosh_index.open_dir(str(layout.current_generation(index_dir)))
    with ix.reader() as r:
        stored = [r.stored_fields(n) for n in range(r.doc_count_all())]
        postings = {}
        for field, term in r.all_terms():
            if field not in TEXT_FIELDS:
                continue
            info = r.term_info(field, term)
            postings[field, term] = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length(),
                                     info.max_weight(), list(r.postings(field, term).items_as("positions")))
        segments = len(ix._segments())
    return segments, stored, postings


def _answers(index_dir: Path) -> list[Any]:
    kb = KnowledgeBase(Settings(index_dir=index_dir))
    out = []
    for q in QUERIES:
        page = kb.search(q, per_page=30)
        out.append((page.total, [(h.deep_link, h.score, h.snippet_html) for h in page.hits], page.facets))
    return out


def test_a_rebuild_written_in_parts_is_the_index_one_writer_builds(tmp_path: Path) -> None:
    pages = write_pages(tmp_path / "pages", 260)
    one, parts = tmp_path / "one", tmp_path / "parts"
    index_paths([pages], Settings(index_dir=one, parse_workers=1), full=True)
    summary = index_paths([pages], Settings(index_dir=parts, parse_workers=2), full=True)
    assert summary.added == 260 and not summary.failed

    segments_one, stored_one, postings_one = _reader_dump(one)
    segments_parts, stored_parts, postings_parts = _reader_dump(parts)
    assert (segments_one, segments_parts) == (1, 2)  # two writer processes, one segment each
    assert stored_parts == stored_one  # the same sections under the same document numbers
    assert postings_parts == postings_one
    assert _answers(parts) == _answers(one)

    # The parts' index takes edits like any other: a no-op run, then one changed page.
    assert index_paths([pages], Settings(index_dir=parts, parse_workers=2)).unchanged == 260
    page = pages / "page-0130.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</article>", "<p>Zorbitrexal rebound.</p></article>"),
                    encoding="utf-8")
    assert index_paths([pages], Settings(index_dir=parts, parse_workers=2)).updated == 1
    hits = KnowledgeBase(Settings(index_dir=parts)).search("zorbitrexal").hits
    assert [h.title.endswith(" note 130") for h in hits] == [True]


def test_the_servers_full_reindex_is_written_in_parts_too(tmp_path: Path) -> None:
    """The admin API's full re-index runs in a server thread: its parts are a fork server's children
    (forking a threaded process is unsafe), and the index is the one the CLI's parts and one writer give."""
    pages = write_pages(tmp_path / "pages", 260)
    duplicate = pages / "page-0200.html"
    duplicate.write_text(duplicate.read_text(encoding="utf-8").replace(
        "<head>", '<head><link rel="canonical" href="https://example.org/same">'), encoding="utf-8")
    first = pages / "page-0010.html"
    first.write_text(first.read_text(encoding="utf-8").replace(
        "<head>", '<head><link rel="canonical" href="https://example.org/same">'), encoding="utf-8")
    one, served = tmp_path / "one", tmp_path / "served"
    summary_one = index_paths([pages], Settings(index_dir=one, parse_workers=1), full=True)
    results: list[Any] = []
    ingestor = Ingestor(Settings(index_dir=served, parse_workers=2, articles_dir=pages))
    thread = threading.Thread(target=lambda: results.append(ingestor.reindex(full=True)))
    thread.start()
    thread.join(120)
    assert len(results) == 1
    summary = results[0]
    assert (summary.added, summary.failed) == (summary_one.added, summary_one.failed) and len(summary.failed) == 1
    segments_one, stored_one, postings_one = _reader_dump(one)
    segments_served, stored_served, postings_served = _reader_dump(served)
    assert (segments_one, segments_served) == (1, 2)
    assert stored_served == stored_one and postings_served == postings_one
    assert _answers(served) == _answers(one)


def test_parts_decide_failures_and_duplicate_ids_in_source_order_as_one_writer_does(tmp_path: Path) -> None:
    """Each part parses its own run of pages; an article id that an earlier page (in an earlier part)
    already has still fails the later page, and a broken page is reported and skipped, as with one writer."""
    pages = write_pages(tmp_path / "pages", 260)
    canonical = '<link rel="canonical" href="https://example.org/shared">'
    for name in ("page-0005.html", "page-0201.html", "page-0240.html"):  # the first, in part one, keeps the id
        page = pages / name
        page.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + canonical), encoding="utf-8")
    (pages / "page-0150.html").write_bytes(b"\x00\x01\x02 not a page")
    one, parts = tmp_path / "one", tmp_path / "parts"
    summary_one = index_paths([pages], Settings(index_dir=one, parse_workers=1), full=True)
    summary_parts = index_paths([pages], Settings(index_dir=parts, parse_workers=2), full=True)

    assert (summary_parts.added, summary_parts.sections) == (summary_one.added, summary_one.sections) == \
        (257, summary_one.sections)
    assert summary_parts.failed == summary_one.failed
    assert [(Path(f.path).name, "duplicate article id" in f.reason) for f in summary_parts.failed] == \
        [("page-0150.html", False), ("page-0201.html", True), ("page-0240.html", True)]
    segments_one, stored_one, postings_one = _reader_dump(one)
    segments_parts, stored_parts, postings_parts = _reader_dump(parts)
    assert (segments_one, segments_parts) == (1, 2)
    assert stored_parts == stored_one and postings_parts == postings_one
    assert _answers(parts) == _answers(one)
    manifest_one = orjson.loads((layout.current_generation(one) / layout.MANIFEST).read_bytes())
    manifest_parts = orjson.loads((layout.current_generation(parts) / layout.MANIFEST).read_bytes())
    assert manifest_parts == manifest_one
    assert (layout.current_generation(parts) / layout.VOCAB).read_bytes() == \
        (layout.current_generation(one) / layout.VOCAB).read_bytes()


def test_a_part_that_dies_while_parsing_fails_the_rebuild_and_keeps_the_live_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = write_pages(tmp_path / "pages", 240)
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir, parse_workers=2)
    index_paths([pages], Settings(index_dir=index_dir, parse_workers=1), full=True)
    before = _answers(index_dir)
    live = layout.current_generation(index_dir)

    def parse_or_die(job: Any) -> Any:
        if job[0].rel == "page-0200.html":  # in the second part's run
            os._exit(3)
        return parse_one(job)

    monkeypatch.setattr(fanout, "parse_one", parse_or_die)  # the parts are forked: they run this
    with pytest.raises(WriterFailed, match="stopped before it had parsed"):
        index_paths([pages], settings, full=True)
    assert layout.current_generation(index_dir) == live
    assert [g.name for g in layout.generations(index_dir)] == [live.name]
    assert _answers(index_dir) == before
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("kb-writer-")]


def test_a_page_over_the_time_limit_in_a_part_is_reported_and_the_rest_indexed(tmp_path: Path) -> None:
    """The parse time limit (an alarm in the parsing process) holds in a part's process too."""
    pages = write_pages(tmp_path / "pages", 240)
    (pages / "page-0120-slow.html").write_text(  # 100,000 sections: seconds of parsing, far over a 1 s limit
        "<html><body><article><h1>Slow</h1>" + "<h2>Part</h2><p>Words in a part.</p>" * 100_000, encoding="utf-8")
    summary = index_paths([pages], Settings(index_dir=tmp_path / "index", parse_workers=2, parse_timeout_s=1.0),
                          full=True)
    assert [(Path(f.path).name, f.reason) for f in summary.failed] == [("page-0120-slow.html",
                                                                         "took longer than 1s to parse")]
    assert summary.added == 240
    assert _reader_dump(tmp_path / "index")[0] == 2  # written in two parts


@pytest.mark.slow
def test_kb_index_says_so_plainly_when_a_part_is_killed(tmp_path: Path) -> None:
    """`kb index --full` with one of its writer processes killed (SIGKILL, as the OOM killer does):
    a message and exit 1, no traceback, and the live index as it was."""
    pages = write_pages(tmp_path / "pages", 3000)
    index_dir = tmp_path / "index"
    index_paths([pages], Settings(index_dir=index_dir, parse_workers=1), full=True)
    before = _answers(index_dir)
    live = layout.current_generation(index_dir)
    run = subprocess.Popen([*kb_command(), "index", str(pages), "--full", "--index", str(index_dir)],
                           env={**child_env(), "KB_PARSE_WORKERS": "2"}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    parts: list[int] = []
    while len(parts) < 2 and run.poll() is None and time.monotonic() < deadline:
        parts = [p for p in tree_pids(run.pid) if p != run.pid]  # the rebuild's only children: its parts
        time.sleep(0.01)
    assert len(parts) == 2, "the rebuild ended before its parts could be seen"
    os.kill(parts[1], signal.SIGKILL)
    _out, err = run.communicate(timeout=120)
    assert run.returncode == 1
    assert b"writer process" in err and b"index is unchanged" in err and b"Traceback" not in err
    assert layout.current_generation(index_dir) == live
    assert [g.name for g in layout.generations(index_dir)] == [live.name]
    assert _answers(index_dir) == before


def test_parts_are_runs_of_consecutive_pages_of_about_equal_weight() -> None:
    def jobs(sizes: list[int]) -> list[Any]:
        return [(None, b"x" * n, "", None) for n in sizes]

    assert fanout.bounds(jobs([10] * 10), 2) == [(0, 5), (5, 10)]
    assert fanout.bounds(jobs([0] * 6), 3) == [(0, 2), (2, 4), (4, 6)]
    assert fanout.bounds(jobs([200_000] + [10] * 9), 2) == [(0, 1), (1, 10)]  # one heavy page is a part's worth
    rng = random.Random(11)
    for _ in range(200):
        sizes = [rng.choice([0, 500, 4000, 60_000, 300_000]) for _ in range(rng.randint(1, 40))]
        parts = rng.randint(1, 4)
        runs = fanout.bounds(jobs(sizes), parts)
        assert len(runs) == parts and runs[0][0] == 0 and runs[-1][1] == len(sizes)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))  # consecutive, none left out
        if len(sizes) >= parts:
            assert all(lo < hi for lo, hi in runs)  # every part has a page
        weights = [n + fanout.PAGE_WEIGHT for n in sizes]
        share = sum(weights) / parts
        # a run passes its share by less than one page, unless it had to be one page so later runs were not empty
        assert all(hi - lo <= 1 or sum(weights[lo:hi]) < share + max(weights[lo:hi]) for lo, hi in runs)


def test_a_writer_part_that_dies_fails_the_rebuild_and_keeps_the_live_index(tmp_path: Path) -> None:
    pages = write_pages(tmp_path / "pages", 40)
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir, parse_workers=2)
    index_paths([pages], settings, full=True)  # 40 pages: one writer
    before = _answers(index_dir)
    live = layout.current_generation(index_dir)

    rng = random.Random(5)
    article = Article(article_id="x", title="Baclofen", url="https://example.org/x",
                      sections=(Section(anchor="a", heading="Dose", breadcrumb=(), kind="lead",
                                        text=sentence(rng, 20), deep_link=""),))
    def produce(part: int) -> Iterator[list[StoredSection]]:
        for i in range(200):
            yield list(documents(article, f"k{part}-{i}"))
        if part == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # a part that dies before it has written its segment

    with pytest.raises(WriterFailed, match="writer process .* stopped"), \
            write_session(settings, "test", full=True) as store:
        assert store.parts(400) == 2  # enough sources for two parts
        store.write_parts([partial(produce, 0), partial(produce, 1)])
        assert len([p for p in multiprocessing.active_children() if p.name.startswith("kb-writer-")]) == 2
        store.commit()

    assert layout.current_generation(index_dir) == live  # the fresh generation was removed, the live one kept
    assert [g.name for g in layout.generations(index_dir)] == [live.name]
    assert _answers(index_dir) == before
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("kb-writer-")]
