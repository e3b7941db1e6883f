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
from kb.errors import BackendUnavailable, Conflict


def _collection(client: Any, meta: str, name: str) -> StateCheck:
    problems: list[str] = []
    sections = 0
    try:
        sections = int(client.collections[name].retrieve()["num_documents"])
    except Exception as e:  # noqa: BLE001  (ObjectNotFound and the like are the finding)
        problems.append(f"the collection cannot be read ({type(e).__name__}: {e})")
    manifest = tc.loads((tc.get_document(client, meta, f"manifest:{name}") or {}).get("data"), None)
    articles = 0
    if not isinstance(manifest, dict):
        problems.append("its manifest is missing or damaged")
    else:
        articles = len({e.get("article_id") for e in manifest.values() if isinstance(e, dict)})
        listed = sum(int(e.get("sections", 0)) for e in manifest.values() if isinstance(e, dict))
        if not problems and listed != sections:
            problems.append(f"its manifest lists {listed} sections, the collection holds {sections}")
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
        state = tc.get_document(client, meta, tc.STATE) or {}
        live = state.get("collection")
        problems: list[str] = []
        if not live:
            return CheckReport(where, problems=("no state document: no index yet",))
        try:
            alias = client.aliases[settings.typesense_collection].retrieve()["collection_name"]
        except Exception as e:  # noqa: BLE001
            alias = None
            problems.append(f"the alias cannot be read ({type(e).__name__}: {e})")
        if alias is not None and alias != live:
            problems.append(f"the alias points at {alias}, the state document at {live}")
        older = [n for n in _ours(client, settings) if n != live]
        return CheckReport(where, _collection(client, meta, live),
                           _collection(client, meta, older[0]) if older else None, tuple(problems))
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
    state = tc.get_document(client, meta, tc.STATE) or {}
    target = report.previous.name
    client.aliases.upsert(settings.typesense_collection, {"collection_name": target})
    client.collections[meta].documents.upsert({**state, "collection": target,
                                               "generation": int(state.get("generation", 0)) + 1})
    tc.LOCAL_COMMITS.note()
    after = verify(settings)
    note = f"rolled back from {report.live.name if report.live else 'nothing'} to {target}"
    return CheckReport(after.where, after.live, after.previous, after.problems, note)
