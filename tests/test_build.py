"""The index builder: incremental updates, generations, the writer lock, bad input, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from indexer.build import Ingestor, index_paths
from indexer.lock import WriterLock
from indexer.pipeline import vocabulary
from kb.config import Settings
from kb.engines.whoosh import layout
from kb.errors import LockTimeout
from kb.models import Article, Section
from kb.search import KnowledgeBase

from support.htmlpages import page, write
from support.processes import child_env, kb_command

ROOT = Path(__file__).resolve().parents[1]


def settings_for(tmp_path: Path, **kw: object) -> Settings:
    return Settings(index_dir=tmp_path / "index", parse_workers=1, **kw)  # type: ignore[arg-type]


def make_site(folder: Path, n: int = 3) -> None:
    for i in range(n):
        write(folder, f"page-{i}.html", page(f"Medicine {i} guide", {
            f"Uses of medicine {i}": f"Medicine {i} treats condition number {i} and muscle spasm.",
            "Side effects": f"Drowsiness is common with medicine {i}.",
        }, canonical=f"https://site.example/medicine-{i}/"))


def titles(settings: Settings, query: str) -> list[str]:
    return [h.title for h in KnowledgeBase.open(settings=settings).search(query, per_page=50).hits]


def test_first_run_adds_every_page_and_counts_sections(tmp_path: Path) -> None:
    make_site(tmp_path / "site")
    summary = index_paths([tmp_path / "site"], settings_for(tmp_path))
    assert (summary.added, summary.updated, summary.unchanged, summary.removed) == (3, 0, 0, 0)
    assert summary.sections == 6
    assert summary.failed == ()


def test_the_progress_bar_says_when_parsing_is_over_and_the_index_is_being_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_site(tmp_path / "site")
    index_paths([tmp_path / "site"], settings_for(tmp_path), progress=True)
    shown = capsys.readouterr().err
    assert "3/3" in shown  # the pages parsed
    assert "writing the index" in shown.split("3/3")[-2]  # then, on the full bar, the write
    index_paths([tmp_path / "site"], settings_for(tmp_path), progress=True)
    assert capsys.readouterr().err == ""  # nothing to parse or write: no bar at all


def test_second_run_skips_unchanged_files_without_parsing(tmp_path: Path) -> None:
    make_site(tmp_path / "site")
    s = settings_for(tmp_path)
    index_paths([tmp_path / "site"], s)
    again = index_paths([tmp_path / "site"], s)
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)


def test_changed_file_replaces_its_sections(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site)
    s = settings_for(tmp_path)
    index_paths([site], s)
    write(site, "page-1.html", page("Medicine 1 guide", {"Storage": "Keep zorbulax tablets dry."},
                                    canonical="https://site.example/medicine-1/"))
    summary = index_paths([site], s)
    assert (summary.updated, summary.unchanged) == (1, 2)
    assert titles(s, "zorbulax") == ["Medicine 1 guide"]
    kb = KnowledgeBase.open(settings=s)
    assert [sec.heading for sec in kb.article("medicine-1").sections] == ["Storage"]


def test_file_removed_from_folder_is_removed_from_index(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site)
    s = settings_for(tmp_path)
    index_paths([site], s)
    (site / "page-2.html").unlink()
    summary = index_paths([site], s)
    assert summary.removed == 1
    assert "Medicine 2 guide" not in titles(s, "medicine")
    assert KnowledgeBase.open(settings=s).stats()["articles"] == 2


def test_full_rebuild_swaps_generation_while_open_searcher_keeps_answering(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site)
    s = settings_for(tmp_path)
    index_paths([site], s)
    kb = KnowledgeBase.open(settings=s)
    before = layout.current_generation(s.index_dir)
    assert kb.search("drowsiness").total == 3
    summary = index_paths([site], s, full=True)
    after = layout.current_generation(s.index_dir)
    assert summary.added == 3 and before != after
    assert before is not None and before.exists()  # the previous generation stays for open readers
    assert kb.search("drowsiness").total == 3  # the same object now reads the new generation


def test_search_sees_a_commit_without_reopening(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site, 1)
    s = settings_for(tmp_path)
    index_paths([site], s)
    kb = KnowledgeBase.open(settings=s)
    assert kb.search("quokkazine").total == 0
    write(site, "new.html", page("New page", {"Quokkazine": "Quokkazine is a new medicine."}))
    index_paths([site], s)
    assert kb.search("quokkazine").total == 1


def test_bad_files_are_reported_by_path_and_reason_and_the_rest_indexed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site, 2)
    (site / "empty.html").write_bytes(b"")
    (site / "binary.html").write_bytes(bytes(range(256)) * 40)
    (site / "nothing.html").write_text("<html><body><nav>Home</nav></body></html>")
    (site / "big.html").write_bytes(b"<p>" + b"a " * 600_000 + b"</p>")
    (site / "notes.txt").write_text("ignored: not HTML")
    summary = index_paths([site], settings_for(tmp_path, max_file_bytes=1_000_000))
    reasons = {Path(f.path).name: f.reason for f in summary.failed}
    assert set(reasons) == {"empty.html", "binary.html", "nothing.html", "big.html"}
    assert "too large" in reasons["big.html"]
    assert all(r for r in reasons.values())
    assert summary.added == 2


def test_symlink_loop_is_survived(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site, 1)
    (site / "sub").mkdir()
    os.symlink(site, site / "sub" / "loop")
    summary = index_paths([site], settings_for(tmp_path))
    assert summary.added == 1 and not summary.failed


def test_jsonl_records_are_indexed_and_removed_records_dropped(tmp_path: Path) -> None:
    data = tmp_path / "corpus.jsonl"
    recs = [{"_id": f"d{i}", "title": f"Record {i}", "text": f"Body text number {i} about tizanidine.",
             "categories": ["Muscle"], "tags": ["t1"]} for i in range(3)]
    data.write_bytes(b"\n".join(orjson.dumps(r) for r in recs))
    s = settings_for(tmp_path)
    assert index_paths([data], s).added == 3
    data.write_bytes(b"\n".join(orjson.dumps(r) for r in recs[:2]))
    summary = index_paths([data], s)
    assert (summary.removed, summary.unchanged) == (1, 2)
    art = KnowledgeBase.open(settings=s).article("d0")
    assert art.title == "Record 0" and art.categories == ("Muscle",)


def test_duplicate_article_id_is_a_failure_not_a_silent_overwrite(tmp_path: Path) -> None:
    site = tmp_path / "site"
    html = page("Twin", {"A": "Same canonical URL twice."}, canonical="https://site.example/twin/")
    write(site, "a.html", html)
    write(site, "b.html", html.replace("twice", "again"))
    summary = index_paths([site], settings_for(tmp_path))
    assert summary.added == 1
    assert len(summary.failed) == 1 and "duplicate article id" in summary.failed[0].reason


def test_second_writer_waits_then_names_the_lock_and_its_holder(tmp_path: Path) -> None:
    s = settings_for(tmp_path, lock_timeout_s=0.2)
    s.index_dir.mkdir(parents=True)
    with WriterLock(s.index_dir, 5, "kb index (test holder)"), pytest.raises(LockTimeout) as err:
        index_paths([tmp_path], s)
    message = str(err.value)
    assert "write.lock" in message and f"pid {os.getpid()}" in message and "test holder" in message


def test_writer_waits_for_the_lock_to_be_released(tmp_path: Path) -> None:
    make_site(tmp_path / "site", 1)
    s = settings_for(tmp_path, lock_timeout_s=5)
    s.index_dir.mkdir(parents=True)
    lock = WriterLock(s.index_dir, 1)
    lock.__enter__()
    threading.Timer(0.3, lock.__exit__, (None, None, None)).start()
    assert index_paths([tmp_path / "site"], s).added == 1


def test_ingestor_put_and_delete_go_through_the_parser_and_lock(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    make_site(tmp_path / "site", 1)
    index_paths([tmp_path / "site"], s)
    ing = Ingestor(s)
    art = ing.put(page("Uploaded", {"Upload": "Flibbertine is uploaded."}).encode(),
                  url="https://site.example/uploaded/")
    assert art.article_id == "uploaded"
    kb = KnowledgeBase.open(settings=s)
    assert kb.search("flibbertine").total == 1
    ing.delete("uploaded")
    assert kb.search("flibbertine").total == 0


def test_uploads_in_one_process_keep_what_another_process_indexed_in_between(tmp_path: Path) -> None:
    # The writing process keeps the manifest it last wrote, by the file's identity: a `kb index` run
    # by another process between two uploads must never be lost to that kept copy.
    s = settings_for(tmp_path)
    make_site(tmp_path / "site", 1)
    index_paths([tmp_path / "site"], s)
    ing = Ingestor(s)
    ing.put(page("First upload", {"Upload": "Quillworts are uploaded first."}).encode(),
            url="https://site.example/first/")
    write(tmp_path / "more", "extra.html", page("Extra page", {"Extra": "Hornworts come from another process."},
                                                canonical="https://site.example/extra/"))
    done = subprocess.run([*kb_command(), "index", str(tmp_path / "more"), "--index", str(s.index_dir)],
                          env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ing.put(page("Second upload", {"Upload": "Spikemosses are uploaded second."}).encode(),
            url="https://site.example/second/")
    live = layout.current_generation(s.index_dir)
    assert live is not None
    saved = orjson.loads((live / layout.MANIFEST).read_bytes())["files"]
    assert {e["article_id"] for e in saved.values()} == {"medicine-0", "first", "extra", "second"}
    kb = KnowledgeBase(s)
    assert [kb.search(w).hits[0].article_id for w in ("quillworts", "hornworts", "spikemosses")] == [
        "first", "extra", "second"]
    again = index_paths([tmp_path / "site", tmp_path / "more"], s)  # nothing lost: nothing to redo
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 4, 0)  # uploads included


CRASH_SCRIPT = """
import sys, time
from pathlib import Path
import indexer.build as build
import kb.engines.whoosh.writer as store
from kb.config import Settings

commit = store.WhooshStore.commit

def slow_commit(self):
    print("writing", flush=True)  # every section is in the writer; the commit is next
    time.sleep(60)
    commit(self)

store.WhooshStore.commit = slow_commit
build.index_paths([Path(sys.argv[1])], Settings(index_dir=Path(sys.argv[2]), parse_workers=1),
                  full=sys.argv[3] == "full")
"""


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_writer_killed_mid_run_leaves_previous_index_answering(tmp_path: Path, mode: str) -> None:
    site = tmp_path / "site"
    make_site(site, 3)
    s = settings_for(tmp_path)
    index_paths([site], s)
    for i in range(40):
        write(site, f"extra-{i}.html", page(f"Extra {i}", {f"Part {j}": f"extra words {i} {j} " * 40
                                                           for j in range(4)}))
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(site), str(s.index_dir), mode],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"writing"
    proc.send_signal(signal.SIGKILL)  # killed with every new section written but not committed
    proc.wait()
    kb = KnowledgeBase.open(settings=s)
    assert kb.search("drowsiness").total == 3  # the old pages answer
    assert kb.search("extra").total == 0  # and none of the new ones half-arrived
    summary = index_paths([site], s)  # the next run completes the work
    assert summary.failed == () and summary.added == 40
    assert kb.search("extra").total == 160


def test_a_no_op_reindex_never_loads_the_html_parser(tmp_path: Path) -> None:
    """A run that finds nothing changed answers from the manifest: BeautifulSoup (and soupsieve,
    about 0.1 s to import) is loaded only when a page has to be parsed, and numpy (~60 ms) only
    by what reads an index, never by the writer's modules."""
    site = tmp_path / "site"
    write(site, "a.html", page("Baclofen basics", {"Dosage": "Start with 5 mg of baclofen three times a day."}))
    write(site, "b.html", page("Gabapentin guide", {"Nerve pain": "Gabapentin eases nerve pain."}))
    index_dir = tmp_path / "index"
    index_paths([site], Settings(index_dir=index_dir, parse_workers=1))
    code = ("import sys; from pathlib import Path; from indexer.build import index_paths; "
            "from kb.config import Settings; "
            f"done = index_paths([Path({str(site)!r})], Settings(index_dir=Path({str(index_dir)!r}), parse_workers=1)); "
            "print(done.unchanged, done.added, 'bs4' in sys.modules, 'numpy' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "0", "False", "False"]


def test_the_spelling_vocabulary_holds_each_folded_word_of_four_letters_or_more() -> None:
    """The corrector's candidates: words of letters as `kb.text` reads them, folded (case, accents,
    ligatures), 4+ letters after folding; numbers and shorter words are left out."""
    sections = (Section(anchor="a", heading="Dosing", breadcrumb=(), kind="section", deep_link="",
                        text="Take 3,000 mg of EL1 with the ﬁsh oil; don't skip. CAFÉ naïve Straße"),)
    article = Article(article_id="x", title="Baclofen and Café", url="https://example.org/x", sections=sections)
    assert sorted(vocabulary(article)) == ["baclofen", "cafe", "dosing", "fish", "naive", "skip", "straße",
                                           "take", "with"]
    assert sorted(vocabulary(article)) == sorted(vocabulary(article))  # the second time from the process's memory
