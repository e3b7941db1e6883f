"""`kb check` for a Whoosh index folder: read every part of a generation, and roll back to the previous one.

Verifying a generation reads its manifest and vocabulary, every stored section and every posting
list of every field (without memory-mapping, like the reader), and compares the section count with
the manifest's. A rollback points CURRENT at the newest older generation that verifies whole and
sets the generations after it aside (`set-aside-gen-N`, kept for inspection, never read again).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from whoosh.filedb.filestore import FileStorage

from kb.engines.base import CheckReport, StateCheck
from kb.engines.whoosh import layout
from kb.errors import Conflict

SET_ASIDE = "set-aside-"


def _json(path: Path, problems: list[str]) -> object:
    try:
        found = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        problems.append(f"{path.name} is missing")
        return None
    except (OSError, orjson.JSONDecodeError) as e:
        problems.append(f"{path.name} cannot be read ({type(e).__name__}: {e})")
        return None
    if not isinstance(found, dict):
        problems.append(f"{path.name} is not a JSON object")
        return None
    return found


def check_generation(gen: Path) -> StateCheck:
    """Read every part of one generation; its problems are empty when it is whole."""
    problems: list[str] = []
    manifest = _json(gen / layout.MANIFEST, problems)
    _json(gen / layout.VOCAB, problems)
    sections = 0
    articles: set[str] = set()
    try:
        ix = FileStorage(str(gen), supports_mmap=False, readonly=True).open_index()
        with ix.searcher() as s:
            reader = s.reader()
            sections = reader.doc_count()
            for _, fields in reader.iter_docs():
                articles.add(str(fields.get("article_id")))
            for fieldname, term in reader.all_terms():  # (field, bytes): every posting list, read through
                for _ in reader.postings(fieldname, term).all_ids():
                    pass
    except Exception as e:  # noqa: BLE001  (whatever a damaged file makes Whoosh raise is the finding)
        problems.append(f"the Whoosh index cannot be read ({type(e).__name__}: {e})")
    if isinstance(manifest, dict):
        files = manifest.get("files")
        if not isinstance(files, dict):
            problems.append(f"{layout.MANIFEST} lists no files")
        elif not problems:
            listed = sum(int(e.get("sections", 0)) for e in files.values() if isinstance(e, dict))
            if listed != sections:
                problems.append(f"{layout.MANIFEST} lists {listed} sections, the index holds {sections}")
    return StateCheck(gen.name, sections, len(articles), tuple(problems))


def _older(index_dir: Path, live: Path | None) -> list[Path]:
    """Generations a rollback may return to, newest first: those before the live one (all of them
    when CURRENT is damaged)."""
    gens = layout.generations(index_dir)
    if live is not None:
        gens = [g for g in gens if layout.generation_number(g) < layout.generation_number(live)]
    return list(reversed(gens))


def verify(index_dir: Path) -> CheckReport:
    """Check the live generation and the one a rollback would return to."""
    problems: list[str] = []
    current = layout.current_problem(index_dir)
    if current is not None:
        problems.append(current)
    live = layout.current_generation(index_dir)
    if live is None and current is None:
        problems.append(f"no index in {index_dir} (no {layout.CURRENT})")
    older = _older(index_dir, live)
    return CheckReport(str(index_dir), live=check_generation(live) if live is not None else None,
                       previous=check_generation(older[0]) if older else None, problems=tuple(problems))


def roll_back(index_dir: Path) -> CheckReport:
    """Make the newest whole generation before the live one live (the caller holds the writer lock)."""
    live = layout.current_generation(index_dir)
    target = next((g for g in _older(index_dir, live) if check_generation(g).ok), None)
    if target is None:
        raise Conflict(f"no whole generation before the live one in {index_dir} to roll back to; rebuild "
                       "the index with `kb index PATH... --full`")
    aside = [g for g in layout.generations(index_dir) if layout.generation_number(g) > layout.generation_number(target)]
    layout.switch_to(index_dir, target)
    for g in aside:  # out of the generations' names, so no writer or reader ever takes them for live
        g.rename(g.with_name(SET_ASIDE + g.name))
    moved = ", ".join(g.name for g in aside) or "nothing"
    report = verify(index_dir)
    note = (f"rolled back to {target.name}; set aside {moved} (as {SET_ASIDE}<name>, for inspection). "
            "Run `kb index` to bring the index up to date (uploads are kept as files and come back).")
    return CheckReport(report.where, report.live, report.previous, report.problems, note)
