"""The stored section's structure: lists and tables as a layout over the body's lines."""

from __future__ import annotations

from kb.documents import block_layout, blocks_from, documents, from_record, to_record
from kb.models import Article, Block, Section

BODY = "Intro line.\nfirst item\nsecond item\nA | B\n1 | 2\nLast line."
BLOCKS = (Block("paragraph", ("Intro line.",)), Block("list", ("first item", "second item")),
          Block("table", ("A | B", "1 | 2"), (("A", "B"), ("1", "2"))), Block("paragraph", ("Last line.",)))


def test_blocks_round_trip_through_a_record() -> None:
    article = Article("a", "A", "https://site.example/a/", sections=(
        Section("s", "S", ("S",), "section", BODY, "https://site.example/a/#s", blocks=BLOCKS),))
    record = to_record(next(documents(article, "a.html")))
    assert record["meta"]["blocks"] == [["paragraph", 1], ["list", 2], ["table", 2, [["A", "B"], ["1", "2"]]],
                                        ["paragraph", 1]]  # the lines themselves are the body's, not stored twice
    assert from_record(record).blocks == BLOCKS


def test_paragraphs_only_store_no_layout_and_read_back_without_blocks() -> None:
    assert block_layout((Block("paragraph", ("x",)), Block("paragraph", ("y",)))) is None
    assert block_layout(()) is None


def test_a_layout_that_does_not_fit_the_body_is_ignored() -> None:
    good = block_layout(BLOCKS)
    assert blocks_from(good, BODY) == BLOCKS
    assert blocks_from(good, BODY + "\nextra line") == ()  # lines left over
    assert blocks_from(good, "Intro line.") == ()  # too few lines
    assert blocks_from([["poem", 1]], "x") == ()  # unknown kind
    assert blocks_from([["list", 0]], "x") == ()
    assert blocks_from("list", "x") == () and blocks_from(None, "x") == ()
