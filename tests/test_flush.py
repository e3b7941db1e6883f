"""The flush and the W3 blocks: `block_writer.write` writes, and `blocks` reads, the postings Whoosh's own writer and matcher do."""

from __future__ import annotations

import io
import pickle
import random
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import TEXT
from whoosh.writing import SegmentWriter as WhooshSegmentWriter

from indexer.build import index_paths
from kb.config import Settings
from kb.documents import documents, to_record
from kb.engines.whoosh import blocks, layout
from kb.engines.whoosh.flush import SegmentWriter
from kb.engines.whoosh.schema import TEXT_FIELDS, KbText, make_schema
from kb.engines.whoosh.segments import raw_matcher
from kb.models import Article, Section

from support.wordpages import sentence, write_pages


class OtherCodec(W3Codec):  # type: ignore[misc]
    """A codec other than Whoosh's W3 (the segments' table of contents pickles it: a module-level class)."""


def test_text_fields_and_the_flush_write_the_postings_whoosh_writes(tmp_path: Path) -> None:
    """`KbText.index` and `flush.SegmentWriter` are speed-ups only: Whoosh's own writer gives the same
    terms, postings, positions and per-term length statistics; and the index names only Whoosh's
    field classes, so a kb without `KbText` (an older version) still reads it."""
    rng = random.Random(3)
    sections = tuple(Section(anchor=f"s{i}", heading=sentence(rng, 3), breadcrumb=(), kind="section",
                             text=sentence(rng, rng.randint(0, 80)) + " Straße ÉCOLE ﬁsh 3,000 EL1 don't baclofen's", deep_link="")
                     for i in range(120))
    article = Article(article_id="a", title="Baclofen and the café", url="https://example.org/a", sections=sections)
    records = [to_record(d) for d in documents(article, "k")]

    dumps = []
    # "spilled": a pool over its memory limit writes sorted runs to disk, and the flush merges them;
    # "other-codec": a codec other than Whoosh's W3 (a subclass here) is written by Whoosh's own loop
    for writer_class, name, limitmb in ((WhooshSegmentWriter, "whoosh", 128), (SegmentWriter, "kb", 128),
                                        (SegmentWriter, "spilled", 0), (SegmentWriter, "other-codec", 128)):
        folder = tmp_path / name
        folder.mkdir()
        ix = whoosh_index.create_in(str(folder), make_schema())
        writer = writer_class(ix, limitmb=limitmb, **({"codec": OtherCodec()} if name == "other-codec" else {}))
        assert (type(writer.schema["body"]) is KbText) == (name != "whoosh")  # the fast path is the one taken
        for record in records:
            writer.add_document(**record)
        assert (len(writer.pool.runs) > 10) == (name == "spilled")
        writer.commit()
        ix = whoosh_index.open_dir(str(folder))
        assert {type(ix.schema[f]) for f in TEXT_FIELDS} == {TEXT}  # what the table of contents names
        with ix.reader() as r:
            dumps.append({(f, t): (r.term_info(f, t).min_length(), r.term_info(f, t).max_length(),
                                   r.term_info(f, t).weight(), list(r.postings(f, t).items_as("positions")))
                          for f, t in r.all_terms() if f in TEXT_FIELDS})
            dumps[-1]["lengths"] = [[r.doc_field_length(n, f) for f in TEXT_FIELDS] for n in range(r.doc_count_all())]
    assert dumps[0] == dumps[1] == dumps[2] == dumps[3]
    assert len(dumps[0]) > 50
    assert ("body", b"") in dumps[0]  # "s" (of "baclofen's") stems to an empty term, which Whoosh indexes too


def _blocks_in(postings_file: bytes) -> list[tuple[Any, bytes]]:
    """Every block of a W3 postings file in order: its info (less the compression flag) and its data, decompressed."""
    out: list[tuple[Any, bytes]] = []
    pos = 0
    while pos < len(postings_file):
        assert postings_file[pos:pos + 4] == b"W3Bl"  # each term's postings start with the format's magic
        pos += 4
        last = False
        while not last:
            length = struct.unpack_from("!i", postings_file, pos)[0]
            last, pos = length < 0, pos + 4
            block = postings_file[pos:pos + abs(length)]
            stream = io.BytesIO(block)
            count, top, max_weight, compressed, min_length, max_length = pickle.load(stream)
            data = block[stream.tell():]
            out.append(((count, top, max_weight, min_length, max_length), zlib.decompress(data) if compressed else data))
            pos += abs(length)
    return out


def test_the_flush_writes_whooshs_blocks_and_leaves_small_ones_uncompressed(tmp_path: Path) -> None:
    """`block_writer.write` is Whoosh's postings writer without its per-posting calls: the same blocks in the
    same order (each one's counts, ids, weights, lengths and values) and the same term statistics.
    The blocks zlib cannot shorten are left uncompressed, so the postings file is smaller."""
    rng = random.Random(5)
    sections = tuple(Section(anchor=f"s{i}", heading=sentence(rng, 3), breadcrumb=(), kind="section",
                             text=sentence(rng, rng.randint(0, 400)), deep_link="") for i in range(300))
    records = [to_record(d) for d in documents(Article(article_id="a", title="Baclofen", url="https://example.org/a",
                                                       sections=sections), "k")]

    def written(name: str, writer_class: Any) -> tuple[bytes, dict[Any, Any]]:
        folder = tmp_path / name
        folder.mkdir()
        writer = writer_class(whoosh_index.create_in(str(folder), make_schema()), limitmb=128, compound=False)
        for record in records:
            writer.add_document(**record)
        writer.commit()
        with whoosh_index.open_dir(str(folder)).reader() as r:
            infos = {(f, t): (i.weight(), i.doc_frequency(), i.min_length(), i.max_length(), i.max_weight(),
                              i.min_id(), i.max_id()) for f, t in r.all_terms() for i in [r.term_info(f, t)]}
        return next(folder.glob("*.pst")).read_bytes(), infos

    (whoosh_file, whoosh_infos), (kb_file, kb_infos) = written("whoosh", WhooshSegmentWriter), written("kb", SegmentWriter)
    assert kb_infos == whoosh_infos
    whoosh_blocks, kb_blocks = _blocks_in(whoosh_file), _blocks_in(kb_file)
    assert len(kb_blocks) > 500 and any(info[0] == 128 for info, _ in kb_blocks)  # full blocks and short ones
    assert [info for info, _ in kb_blocks] == [info for info, _ in whoosh_blocks]
    # The data: the same pickle, but for a lone position's encoding, which kb shares (pickled once per block).
    assert [pickle.loads(data) for _, data in kb_blocks] == [pickle.loads(data) for _, data in whoosh_blocks]
    assert len(kb_file) < len(whoosh_file)


def test_postings_read_straight_from_the_blocks_are_the_ones_whoosh_reads(tmp_path: Path) -> None:
    """`blocks.read` and `blocks.positions` (one read per term, from the extent the frequency table's
    pass kept) give every term's document numbers, frequencies and word positions exactly as
    Whoosh's matcher does, across blocks and parts."""
    pages = write_pages(tmp_path / "pages", 260)
    index_dir = tmp_path / "index"
    index_paths([pages], Settings(index_dir=index_dir, parse_workers=2), full=True)
    ix = whoosh_index.open_dir(str(layout.current_generation(index_dir)))
    terms = multi_block = 0
    with ix.searcher() as s:
        for sub, _ in s.subsearchers:
            r = sub.reader()
            for field in TEXT_FIELDS:
                for tbytes, info in r.iter_field(field):
                    m = raw_matcher(r, field, tbytes.decode("utf-8"))
                    ids: list[int] = []
                    weights: list[float] = []
                    count = 0
                    while m.is_active():  # Whoosh's own block decoding, as segments.py did before
                        m._read_ids()
                        m._read_weights()
                        ids.extend(m._ids)
                        weights.extend(m._weights)
                        count += 1
                        m._next_block()
                    where = blocks.extent(info)
                    assert where is not None
                    got_ids, got_weights = blocks.read(r._terms._postfile, where)
                    assert got_ids.tolist() == ids and got_weights.tolist() == weights, (field, tbytes)
                    m = raw_matcher(r, field, tbytes.decode("utf-8"))
                    positions = []
                    while m.is_active():
                        positions.append(list(m.value_as("positions")))
                        m.next()
                    offsets, flat = blocks.positions(r._terms._postfile, where)
                    assert [flat[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:], strict=True)] == positions
                    terms += 1
                    multi_block += count > 1
    assert terms > 100 and multi_block > 5


def _every_posting(folder: Path) -> dict[Any, Any]:
    """Every term's postings (document, weight, value) in every field, every stored document, and
    every scored length, of the index in `folder` as Whoosh reads them."""
    with whoosh_index.open_dir(str(folder)).reader() as r:
        found: dict[Any, Any] = {}
        for f, t in r.all_terms():
            m = r.postings(f, t)
            found[(f, t)] = []
            while m.is_active():
                found[(f, t)].append((m.id(), m.weight(), m.value()))
                m.next()
        found["stored"] = list(r.all_stored_fields())
        found["lengths"] = [[r.doc_field_length(n, f) for f in TEXT_FIELDS] for n in range(r.doc_count_all())]
        found["segments"] = len(r.leaf_readers()) if hasattr(r, "leaf_readers") else 1
        return found


def test_a_merge_reads_the_segments_postings_in_bulk_and_writes_what_whooshs_merge_does(tmp_path: Path) -> None:
    """A commit that merges segments pools their postings with `block_reader` (each term file and
    postings file read once) where Whoosh walks a matcher per term: the merged index holds the same
    postings, stored sections and lengths, in segments with deleted sections (renumbered) and
    without, with terms of many blocks, and when the pool spills to disk mid-merge."""
    rng = random.Random(11)
    base = tmp_path / "base"
    base.mkdir()
    whoosh_index.create_in(str(base), make_schema())
    for batch in range(4):  # four segments; two of them then lose sections
        sections = tuple(Section(anchor=f"s{i}", heading=sentence(rng, 3), breadcrumb=(), kind="section",
                                 text=sentence(rng, rng.randint(0, 300)) + " baclofen", deep_link="")
                         for i in range(60))
        article = Article(article_id=f"a{batch}", title=f"Article {batch}", url=f"https://example.org/{batch}",
                          sections=sections)
        writer = SegmentWriter(whoosh_index.open_dir(str(base)), limitmb=128)
        for record in (to_record(d) for d in documents(article, f"k{batch}")):
            writer.add_document(**record)
        writer.commit(merge=False)
    writer = SegmentWriter(whoosh_index.open_dir(str(base)), limitmb=128)
    for n in (3, 4, 5, 70, 71, 200):
        writer.delete_document(n)
    writer.commit(merge=False)

    class WhooshMerge(SegmentWriter):  # type: ignore[misc]
        def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: Any) -> None:
            WhooshSegmentWriter.add_postings_to_pool(self, reader, startdoc, docmap)

    dumps = []
    for name, writer_class, limitmb in (("whoosh", WhooshMerge, 128), ("kb", SegmentWriter, 128),
                                        ("spilled", SegmentWriter, 0)):
        folder = tmp_path / name
        shutil.copytree(base, folder)
        writer_class(whoosh_index.open_dir(str(folder)), limitmb=limitmb).commit(optimize=True)
        dumps.append(_every_posting(folder))
    assert dumps[0] == dumps[1] == dumps[2]
    assert len(dumps[0]["stored"]) == 240 - 6
    assert max(len(p) for k, p in dumps[0].items() if isinstance(k, tuple)) > 200  # terms of several blocks
