"""Admin uploads are parsed in one process kept for them, under the parse time limit."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from indexer import pipeline
from indexer.build import Ingestor, index_paths
from kb.config import Settings
from kb.errors import BadInput
from kb.search import KnowledgeBase


def _page(n: int) -> bytes:
    return (f"<html><head><title>Upload {n}</title></head><body><article><h1>Upload {n}</h1>"
            f"<p>Quinine note number {n} for the upload parser test.</p></article></body></html>").encode()


def _in_thread(call: Any) -> Any:
    """Run `call` off the main thread, as the server's request threads do; its result or exception."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as e:  # noqa: BLE001  (handed back to the test)
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _parser_pid() -> int | None:
    pool = pipeline._standing
    return None if pool is None else pool._pool[0].pid


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_uploads_share_one_parse_process_and_a_slow_page_only_costs_itself(examples_dir: Path,
                                                                           tmp_path: Path) -> None:
    s = Settings(index_dir=tmp_path / "index", parse_workers=1, parse_timeout_s=0.5)
    index_paths([examples_dir], s)
    ing = Ingestor(s)
    _in_thread(lambda: ing.put(_page(0), url="https://site.example/u0/", article_id="u0"))
    first = _parser_pid()
    assert first is not None
    _in_thread(lambda: ing.put(_page(1), url="https://site.example/u1/", article_id="u1"))
    assert _parser_pid() == first  # the same process parsed both
    slow = ("<html><body><article><h1>Slow</h1>" + "<h2>Part</h2><p>Words in a part.</p>" * 60_000
            + "</article></body></html>").encode()
    with pytest.raises(BadInput, match="took longer than 0.5s"):
        _in_thread(lambda: ing.put(slow, url="https://site.example/slow/", article_id="slow"))
    _in_thread(lambda: ing.put(_page(2), url="https://site.example/u2/", article_id="u2"))
    kb = KnowledgeBase.open(settings=s)
    assert {h.article_id for h in kb.search("quinine", per_page=10).hits} == {"u0", "u1", "u2"}
