"""The `kb` command through click's CliRunner: index, inspect, search, eval and their exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from indexer.lock import WriterLock
from kb.cli import cli

from support.htmlpages import page, write
from support.processes import child_env, kb_command

ROOT = Path(__file__).resolve().parents[1]
NFCORPUS = ROOT.parent / "shared" / "data" / "nfcorpus"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    write(folder, "a.html", page("Baclofen basics", {"Dosage": "Start with 5 mg of baclofen three times a day."},
                                 canonical="https://site.example/baclofen/", category="Muscle Relaxant"))
    write(folder, "b.html", page("Gabapentin guide", {"Nerve pain": "Gabapentin eases nerve pain."}))
    return folder


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_index_json_summary_has_every_key(site: Path, tmp_path: Path) -> None:
    code, out = run("index", str(site), "--index", str(tmp_path / "ix"), "--json")
    assert code == 0
    summary = orjson.loads(out)
    assert set(summary) == {"added", "updated", "unchanged", "removed", "failed", "sections", "seconds"}
    assert summary["added"] == 2 and summary["failed"] == []


def test_index_prints_one_line_summary_and_exits_1_when_a_file_failed(site: Path, tmp_path: Path) -> None:
    (site / "broken.html").write_bytes(b"\x00\x01\x02" * 100)
    code, out = run("index", str(site), "--index", str(tmp_path / "ix"))
    assert code == 1
    assert "broken.html" in out
    assert out.strip().splitlines()[-1].startswith("added 2, updated 0, unchanged 0, removed 0, failed 1")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("index")[0] == 2
    assert run("search")[0] == 2
    assert run("search", "x", "--limit", "0")[0] == 2


def test_second_writer_gets_a_message_naming_the_lock_not_a_traceback(site: Path, tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    ix.mkdir()
    with WriterLock(ix, 5, "kb index (other run)"):
        code, out = run("index", str(site), "--index", str(ix), "--lock-timeout", "0.2")
    assert code == 1
    assert "write.lock" in out and "other run" in out and "Traceback" not in out


def test_inspect_json_shows_the_article_as_indexed(site: Path) -> None:
    code, out = run("inspect", str(site / "a.html"), "--json")
    assert code == 0
    art = orjson.loads(out)
    assert art["article_id"] == "baclofen" and art["title"] == "Baclofen basics"
    assert art["categories"] == ["Muscle Relaxant"]
    assert [s["heading"] for s in art["sections"]] == ["Dosage"]
    assert set(art["sections"][0]) == {"anchor", "heading", "breadcrumb", "kind", "text", "deep_link", "blocks"}
    assert "\n".join(line for b in art["sections"][0]["blocks"] for line in b["lines"]) == art["sections"][0]["text"]


def test_inspect_reads_several_files_and_folders_as_one_json_object_a_line(site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "empty.html"
    bad.write_text("")
    code, out = run("inspect", str(site), str(bad))
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert code == 1  # one page failed, and says why on its own line
    by_name = {Path(r["source"]).name: r for r in rows}
    assert by_name["a.html"]["article"]["title"] == "Baclofen basics"
    assert by_name["empty.html"] == {"source": str(bad), "error": "empty input"}
    assert len(rows) == len([p for p in site.rglob("*.htm*")]) + 1


def test_inspect_reports_a_page_without_article_text(tmp_path: Path) -> None:
    bad = tmp_path / "empty.html"
    bad.write_text("")
    code, out = run("inspect", str(bad))
    assert code == 1 and "empty.html" in out


def test_search_json_and_text(site: Path, tmp_path: Path) -> None:
    ix = str(tmp_path / "ix")
    run("index", str(site), "--index", ix)
    code, out = run("search", "baclofen dose", "--index", ix, "--json")
    data = orjson.loads(out)
    assert code == 0 and data["hits"][0]["title"] == "Baclofen basics"
    assert {"query", "corrected_query", "expanded_terms", "total", "page", "per_page", "took_ms", "hits",
            "facets"} <= set(data)
    code, out = run("search", "gabapentn", "--index", ix)
    assert code == 0 and "Showing results for: gabapentin" in out and "Gabapentin guide" in out


def test_search_without_an_index_says_how_to_make_one(tmp_path: Path) -> None:
    code, out = run("search", "x", "--index", str(tmp_path / "none"))
    assert code == 1 and "kb index" in out


def test_eval_prints_metrics_on_a_small_judged_set(tmp_path: Path) -> None:
    data = tmp_path / "set"
    (data / "qrels").mkdir(parents=True)
    docs = [{"_id": "d1", "title": "Baclofen dosing", "text": "How to dose baclofen for spasticity."},
            {"_id": "d2", "title": "Gabapentin", "text": "Gabapentin for nerve pain."},
            {"_id": "d3", "title": "Sleep", "text": "Sleep hygiene tips."}]
    (data / "corpus.jsonl").write_bytes(b"\n".join(orjson.dumps(d) for d in docs))
    queries = [{"_id": "q1", "text": "baclofen dose"}, {"_id": "q2", "text": "nerve pain"},
               {"_id": "q3", "text": "zzzz"}]
    (data / "queries.jsonl").write_bytes(b"\n".join(orjson.dumps(q) for q in queries))
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n")
    code, out = run("eval", str(data), "--json")
    report = orjson.loads(out)
    assert code == 0
    assert report["queries"] == 3 and report["zero_result_queries"] == 1
    assert report["ndcg@10"] == pytest.approx(2 / 3, abs=1e-3)
    assert set(report) == {"ndcg@10", "recall@100", "mrr@10", "queries", "zero_result_queries"}


def test_eval_indexes_html_pages_given_with_corpus(site: Path, tmp_path: Path) -> None:
    data = tmp_path / "judged"
    (data / "qrels").mkdir(parents=True)
    (data / "queries.jsonl").write_bytes(orjson.dumps({"_id": "q1", "text": "nerve pain"}))
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tb\t2\n")
    code, out = run("eval", str(data), "--corpus", str(site), "--json")
    report = orjson.loads(out)
    assert code == 0 and report["mrr@10"] == 1.0 and report["queries"] == 1


def test_eval_without_a_corpus_says_how_to_give_one(tmp_path: Path) -> None:
    data = tmp_path / "judged"
    (data / "qrels").mkdir(parents=True)
    (data / "queries.jsonl").write_bytes(orjson.dumps({"_id": "q1", "text": "x"}))
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tb\t2\n")
    code, out = run("eval", str(data))
    assert code == 2 and "--corpus" in out


def test_an_xhtml_page_with_an_xml_declaration_indexes_without_a_parser_warning(tmp_path: Path) -> None:
    """XHTML served as HTML is HTML to a browser and to kb: no BeautifulSoup warning reaches the user."""
    folder = tmp_path / "xhtml"
    folder.mkdir()
    for i in range(3):
        (folder / f"p{i}.html").write_bytes(
            b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n'
            b'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en"><head><title>Caf\xe9 dosing %d</title></head>'
            b"<body><article><h1>Caf\xe9 dosing %d</h1><p>Take one tablet of baclofen with food, twice a day.</p>"
            b"<h2>Side effects</h2><p>Drowsiness is the most common side effect of baclofen.</p></article></body>"
            % (i, i)
        )
    done = subprocess.run([*kb_command(), "index", str(folder), "--index", str(tmp_path / "ix")],
                          capture_output=True, text=True, env=child_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "added 3" in done.stdout
    assert "Warning" not in done.stderr and "XML" not in done.stderr, done.stderr
    found = subprocess.run([*kb_command(), "search", "drowsiness", "--index", str(tmp_path / "ix"), "--json"],
                           capture_output=True, text=True, env=child_env(), timeout=60)
    hits = orjson.loads(found.stdout)["hits"]
    assert [h["heading"] for h in hits] == ["Side effects"] * 3
    assert {h["title"] for h in hits} == {f"Café dosing {i}" for i in range(3)}
