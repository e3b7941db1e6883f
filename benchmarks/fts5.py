"""Baseline: SQLite FTS5 (standard library `sqlite3`) answering the same queries in-process.

The same text as kb indexes, in one FTS5 table with the Porter tokenizer: `title, text` of
each NFCorpus record, or `title, heading, text` of each section of a synthetic corpus.
A query ORs its words, each quoted as an FTS5 string (so `"` and operators in a query are
plain text), ranks with `bm25()` and makes a `snippet()` for each of the top ten hits.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson

_WORD = re.compile(r"\w+")
TOP = 10


def quote_terms(query: str) -> str | None:
    """An FTS5 MATCH expression ORing the query's words, each escaped as a quoted string."""
    words = _WORD.findall(query)
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words))


class Fts5Index:
    """An FTS5 table in a database file, built once from records."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.db = sqlite3.connect(str(path), check_same_thread=False)

    @classmethod
    def build(cls, path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> tuple[Fts5Index, float]:
        """Create the table from rows (one value per column); returns the index and the seconds taken."""
        if path.exists():
            path.unlink()
        started = time.perf_counter()
        ix = cls(path, columns)
        cols = ", ".join(columns)
        ix.db.execute(f"CREATE VIRTUAL TABLE docs USING fts5(rid UNINDEXED, {cols}, "
                      "tokenize='porter unicode61 remove_diacritics 2')")
        marks = ", ".join("?" * (len(columns) + 1))
        with ix.db:
            ix.db.executemany(f"INSERT INTO docs VALUES ({marks})", rows)
            ix.db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        return ix, time.perf_counter() - started

    def search(self, query: str) -> list[tuple[str, float, str]]:
        """The top hits as (record id, bm25 score, snippet)."""
        expr = quote_terms(query)
        if expr is None:
            return []
        text_col = len(self.columns)  # the last column (body text); column 0 is the id
        sql = (f"SELECT rid, bm25(docs), snippet(docs, {text_col}, '<mark>', '</mark>', '…', 24) "
               f"FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT {TOP}")
        return self.db.execute(sql, (expr,)).fetchall()

    def size_bytes(self) -> int:
        """The database file's size."""
        return self.path.stat().st_size

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


def nfcorpus_rows(corpus_jsonl: Path) -> Iterable[tuple[str, str, str]]:
    """(id, title, text) of each NFCorpus record."""
    with open(corpus_jsonl, "rb") as f:
        for line in f:
            if line.strip():
                r = orjson.loads(line)
                yield r["_id"], r.get("title", ""), r.get("text", "")


def section_rows(sections_jsonl: Path) -> Iterable[tuple[str, str, str, str]]:
    """(id, title, heading, text) of each section of a generated corpus."""
    with open(sections_jsonl, "rb") as f:
        for line in f:
            r = orjson.loads(line)
            yield r["id"], r["title"], r["heading"], r["text"]


def latencies(ix: Fts5Index, queries: Sequence[str], reps: int) -> list[float]:
    """Seconds per query, every query `reps` times (after one warm-up pass)."""
    for q in queries:
        ix.search(q)
    out: list[float] = []
    for _ in range(reps):
        for q in queries:
            t = time.perf_counter()
            ix.search(q)
            out.append(time.perf_counter() - t)
    return out
