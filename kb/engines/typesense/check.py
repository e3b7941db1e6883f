"""`kb check` for a Typesense knowledge base: the alias, the state document, and the collections.

Typesense keeps its own replicas whole, so what can go wrong is kb's part: the alias pointing
elsewhere than the state document says, a collection gone, a manifest that does not parse or
does not match the collection's document count. A rollback points the alias and the state at
the collection a full rebuild replaced (kept until the next one).
"""

from __future__ import annotations

from typing import Any

from kb.config import Settings
from kb.engines.base import CheckReport, StateCheck
from kb.engines.typesense import client as tc
from kb.engines.typesense import meta as tm
from kb.errors import BackendUnavailable, Conflict


def _visible_count(client: Any, name: str, generation: int) -> int:
    """How many section versions of a collection a generation sees (its marker document aside)."""
    rows = tc.export_rows(client, name, {"filter_by": tc.visible(generation), "include_fields": "id"})
    return sum(1 for r in rows if r.get("id") != tc.COMMIT)


def _collection(client: Any, meta: str, name: str, generation: int) -> StateCheck:
    problems: list[str] = []
    sections = 0
    try:
        sections = _visible_count(client, name, generation)
    except Exception as e:  # noqa: BLE001  (ObjectNotFound and the like are the finding)
        problems.append(f"the collection cannot be read ({type(e).__name__}: {e})")
    articles = 0
    try:
        manifest = tm.read_manifest(client, meta, name)
    except Exception as e:  # noqa: BLE001
        problems.append(f"its manifest cannot be read ({type(e).__name__}: {e})")
        manifest = {}
    entries = [e for e in manifest.values() if isinstance(e, dict)]
    if not entries and sections:
        problems.append("its manifest is missing or damaged")
    else:
        articles = len({e.get("article_id") for e in entries})
        listed = sum(int(e.get("sections", 0)) for e in entries)
        if not problems and listed != sections:
            problems.append(f"its manifest lists {listed} sections, the collection shows {sections}")
    return StateCheck(name, sections, articles, tuple(problems))


def _ours(client: Any, settings: Settings) -> list[str]:
    """This knowledge base's section collections, newest first."""
    prefix = settings.typesense_collection + "-"
    names = [c["name"] for c in client.collections.retrieve()]
    return sorted((n for n in names if n.startswith(prefix) and n[len(prefix):].isdigit()),
                  key=lambda n: int(n[len(prefix):]), reverse=True)


def verify(settings: Settings) -> CheckReport:
    """Check the live collection (the alias and the state document agree on it) and the previous one."""
    client = tc.client(settings)
    meta = tc.meta_name(settings)
    where = f"Typesense collection {settings.typesense_collection!r}"
    try:
        state = tm.read_state(client, meta)
        problems: list[str] = []
        if state is None:
            return CheckReport(where, problems=("no state document: no index yet",))
        live = state.collection
        try:
            alias = client.aliases[settings.typesense_collection].retrieve()["collection_name"]
        except Exception as e:  # noqa: BLE001
            alias = None
            problems.append(f"the alias cannot be read ({type(e).__name__}: {e})")
        if alias is not None and alias != live:
            problems.append(f"the alias points at {alias}, the state document at {live}")
        older = [n for n in _ours(client, settings) if n != live]
        # a replaced collection was written no more: the generation that sees its last commit sees it whole
        return CheckReport(where, _collection(client, meta, live, state.generation),
                           _collection(client, meta, older[0], state.generation) if older else None,
                           tuple(problems))
    except tc.transport_errors() as e:
        raise BackendUnavailable(f"{where} did not answer: {e}") from e


def roll_back(settings: Settings) -> CheckReport:
    """Point the alias and the state at the previous whole collection (the caller holds the writer lock)."""
    report = verify(settings)
    if report.previous is None or not report.previous.ok:
        raise Conflict(f"no whole collection before the live one to roll back to in {report.where}; "
                       "rebuild it with `kb index PATH... --full`")
    client = tc.client(settings, writer=True)
    meta = tc.meta_name(settings)
    state = tm.read_state(client, meta)
    if state is None:
        raise Conflict(f"no state document in {report.where}: nothing to roll back")
    target = report.previous.name
    client.aliases.upsert(settings.typesense_collection, {"collection_name": target})
    rolled = state.next(target, report.previous.sections, state.schema)
    # readers wait for a node whose collection has applied the state's generation: the rolled-back
    # collection's marker moves to it first (its sections are still visible then: none was ended)
    client.collections[target].documents.upsert(tc.commit_marker(rolled.generation))
    client.collections[meta].documents.upsert(rolled.document())
    tc.LOCAL_COMMITS.note()
    after = verify(settings)
    note = f"rolled back from {report.live.name if report.live else 'nothing'} to {target}"
    return CheckReport(after.where, after.live, after.previous, after.problems, note)
