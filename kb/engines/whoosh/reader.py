"""The Whoosh backend: an embedded index in a folder, read through pooled searchers.

`WhooshBackend.view()` hands out a view of the live generation. Each view holds a pooled
Whoosh searcher; when a commit or a generation swap lands (two stat calls tell), the next
view opens the new one, so no caller ever reopens by hand. Whoosh objects never leave
`kb.engines.whoosh`: sections go out as `kb.documents.StoredSection`s.

A damaged live generation (a file truncated or garbled, CURRENT emptied) never takes the
process down: the reader keeps answering from the last good state it had, else from the
newest older generation that opens, and says why (`damage()`, `/healthz`); with nothing to
fall back on, every view raises `IndexDamaged` with the reason.
"""

from __future__ import annotations

import pickle
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, cast

from whoosh import query as Q
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from kb.config import Settings
from kb.documents import Outline, StoredSection, from_record
from kb.engines.base import Plan, Ranked
from kb.engines.whoosh import layout
from kb.engines.whoosh.check import check_generation
from kb.engines.whoosh.rank import all_words, compile_plan, rank, weighting
from kb.engines.whoosh.schema import TEXT_FIELDS
from kb.engines.whoosh.segments import SegmentCaches
from kb.engines.whoosh.snapshot import Snapshot, Stale, cut_short
from kb.errors import IndexDamaged, IndexMissing, KbError
from kb.facets import DocTable
from kb.ranking import Ranking

T = TypeVar("T")
Token = tuple[str, int]
# What reading a damaged segment raises (files are read, not mapped: see snapshot.py)
CORRUPT = (EOFError, struct.error, zlib.error, pickle.UnpicklingError, OSError)
KEEP = 1000  # sections kept in rank order: enough for any page's groups; the rest only count


class WhooshView:
    """A `kb.engines.base.View` over one snapshot, through one pooled searcher."""

    counting = "every-match"  # totals and facets over every section `rank` scored

    def __init__(self, snap: Snapshot, s: Searcher, ranking: Ranking) -> None:
        self.snap = snap
        self.s = s
        self.ranking = ranking
        self.token = f"{snap.token[0]}:{snap.token[1]}:{snap.generation}"

    def section_count(self) -> int:
        """Live sections in this generation."""
        return int(self.s.doc_count())

    def known(self, stem: str) -> bool:
        """Whether any text field holds the stem."""
        return any(self.snap.doc_frequency(self.s, f, stem) for f in TEXT_FIELDS)

    def document_frequencies(self, stems: list[str]) -> dict[str, int]:
        """Body document frequencies, from the term index."""
        return {st: self.snap.doc_frequency(self.s, "body", st) for st in stems}

    def vocabulary(self) -> Mapping[str, int]:
        """The spelling vocabulary saved beside this generation."""
        return cast(Mapping[str, int], layout.read_json_shared(self.snap.path / layout.VOCAB, {}))

    def docs(self) -> DocTable:
        """The doc table, built on first use from the term index."""
        return self.snap.docs(self.s)

    def warm(self) -> None:
        """Read ahead the text fields' document frequencies and lengths, segment by segment."""
        self.snap.warm(self.s, TEXT_FIELDS)

    def rank(self, plan: Plan, ranking: Ranking, depth: int) -> Ranked:
        """Every match scored; the best `4 x depth` (at least 1,000) kept in order."""
        prep = compile_plan(plan, ranking)
        hits, matched, complete = rank(self.s, self.snap, prep, ranking, max(4 * depth, KEEP))
        return Ranked(hits=hits, total=len(matched), matched=matched, complete=complete,
                      rule="all-words" if all_words(prep, ranking) else "any-words")

    def stored(self, docnums: Iterable[int]) -> dict[int, StoredSection]:
        """Sections by document number, their fields read through the snapshot's cache."""
        return {d: from_record(self.snap.stored_fields(self.s, d)) for d in docnums}

    def heading_keys(self, docnums: Iterable[int]) -> dict[int, tuple[str, str]]:
        """Some sections' heading and title as exact-match keys, kept per segment: they outlive commits."""
        snap, out = self.snap, {}
        for d in docnums:
            i, local = snap.locate(d)
            out[d] = snap.segments.heading_keys(snap.slots[i], local,
                                                lambda d=d: snap.stored_fields(self.s, d))
        return out

    def article_sections(self, article_id: str) -> list[StoredSection]:
        """The article's sections, in page order."""
        found = (from_record(self.s.stored_fields(d)) for d in self.s.document_numbers(article_id=article_id))
        return sorted(found, key=lambda f: f.order)

    def similar(self, stems: list[str], limit: int) -> list[str]:
        """Articles of the best body matches of an OR of the stems."""
        results = self.s.search(Q.Or([Q.Term("body", t) for t in stems]), limit=limit)
        return list(dict.fromkeys(hit["article_id"] for hit in results))

    def outlines(self) -> Iterator[Outline]:
        """Every live section's outline, from the segments' cached outlines (a commit reads only its own)."""
        snap = self.snap
        for i, (slot, (sub, _)) in enumerate(zip(snap.slots, snap.subs(self.s), strict=True)):
            gone = set(snap.deleted(i, sub).tolist())
            found = snap.segments.outlines(slot, sub)
            yield from (o for local, o in enumerate(found) if o is not None and local not in gone)

    def all_stored(self) -> Iterator[StoredSection]:
        """Every live section."""
        return (from_record(f) for _, f in self.s.reader().iter_docs())

    def memo(self, name: str, build: Callable[[], T]) -> T:
        """A per-snapshot value, built once (the threads that want it meanwhile wait for it)."""
        memos = self.snap.memos
        if name not in memos:
            with self.snap.building(name):
                if name not in memos:
                    memos[name] = build()
        return memos[name]


class WhooshBackend:
    """The embedded backend: the index folder of `layout`, opened once per process, thread-safe."""

    def __init__(self, settings: Settings, ranking: Ranking) -> None:
        self.index_dir = settings.index_dir
        self.ranking = ranking
        self._weighting = weighting(ranking)
        self._segments = SegmentCaches()  # what is read from segments, across commits
        self._snap: Snapshot | None = None
        self._serves: Token | None = None  # the live token `_snap` answers for (its own, or a damaged one's)
        self._damaged: dict[Token | None, str] = {}  # live tokens that could not be read, and why
        self._whole: set[Token] = set()  # states a full read found whole (an error there is a bug)
        self._lock = threading.Lock()

    def describe(self) -> str:
        """The index folder."""
        return str(self.index_dir)

    def token(self) -> str | None:
        """The live state's fingerprint (two stat calls), None when there is no index."""
        found = layout.generation_token(self.index_dir)
        return None if found is None else f"{found[0]}\0{found[1]}"

    def damage(self) -> str | None:
        """Why the live generation cannot be read while an older state answers instead; None when the
        live one answers. Besides what a search met, the live snapshot's segment files are checked
        against the sizes they had when it opened (a few stat calls), so a file damaged under a
        running server is reported before a search happens to read the damaged part."""
        token = layout.generation_token(self.index_dir)
        known = self._damaged.get(token)
        snap = self._snap
        if known is not None or snap is None or self._serves != token or snap.token in self._damaged:
            return known
        why = cut_short(snap)
        if why is not None and layout.generation_token(self.index_dir) == token:  # not a commit landing meanwhile
            self._damaged[token] = why
            return why
        return None

    @contextmanager
    def view(self) -> Iterator[WhooshView]:
        """The live snapshot through one of its searchers, retrying across a commit that lands meanwhile."""
        for attempt in range(5):
            try:
                snap = self._snapshot(force=attempt > 0)
                s = snap.acquire()
            except (Stale, FileNotFoundError):  # a commit or a swap removed what we were opening
                continue
            try:
                yield WhooshView(snap, s, self.ranking)
            except KbError:  # kb's own answers (an unknown article): never damage
                raise
            except Exception as e:  # a damaged block met mid-search? then fall back from the next view on
                why = self._diagnose(snap, e)
                if why is None:
                    raise
                self._damaged[self._serves if self._snap is snap else snap.token] = why
                raise IndexDamaged(f"the index in {self.index_dir} is damaged: {why}; run `kb check`") from e
            finally:
                snap.release(s)
            return
        raise IndexMissing(f"the index in {self.index_dir} keeps changing under the reader; try again")

    def _diagnose(self, snap: Snapshot, e: Exception) -> str | None:
        """Why an error met while reading is damage, or None when it is not (the generation reads
        whole). Errors only damage raises say so at once; any other is checked against a full read
        of the generation, once per state, so a bug is never taken for damage."""
        if isinstance(e, CORRUPT):
            return f"{snap.path.name} cannot be read ({type(e).__name__}: {e})"
        if snap.token in self._whole:
            return None
        found = check_generation(snap.path)
        if found.ok:
            self._whole.add(snap.token)
            return None
        return f"{snap.path.name} cannot be read ({found.problems[0]})"

    def _snapshot(self, force: bool = False) -> Snapshot:
        token = layout.generation_token(self.index_dir)
        snap = self._snap
        if snap is not None and self._serves == token and not force and snap.token not in self._damaged:
            return snap
        with self._lock:
            if (self._snap is not None and self._serves == token and self._snap.token not in self._damaged
                    and (not force or self._snap is not snap)):
                return self._snap
            if token is None and (problem := layout.current_problem(self.index_dir)) is None:
                raise IndexMissing(f"no index in {self.index_dir}: build one with `kb index PATH --index "
                                   f"{self.index_dir}`")
            if token is not None and token not in self._damaged:
                gen = layout.current_generation(self.index_dir)
                assert gen is not None
                # a commit in the same generation: the new state reuses the unchanged segments' readers
                donors = self._snap.take_idle() if self._snap is not None and self._snap.path == gen else []
                try:
                    fresh = _open(gen, token, self._weighting, self._segments, self.ranking.stats_drift, donors)
                except FileNotFoundError as e:  # a swap removed the generation while we opened it
                    raise Stale from e
                except Exception as e:  # noqa: BLE001  (whatever a damaged file makes Whoosh raise)
                    self._damaged[token] = f"{gen.name} cannot be read ({type(e).__name__}: {e})"
                else:
                    self._damaged.pop(token, None)
                    return self._install(fresh, token)
            elif token is None:
                self._damaged[None] = problem or "CURRENT is damaged"
            return self._install(self._fallback(token), token)

    def _install(self, fresh: Snapshot, serves: Token | None) -> Snapshot:
        old, self._snap, self._serves = self._snap, fresh, serves
        if old is not None and old is not fresh and fresh.last_epoch is None:
            fresh.inherit = old.last_epoch  # kept only if the new state fits it (`epoch.carry`)
        self._segments.retain(slot.key for slot in fresh.slots)
        if old is not None and old is not fresh:
            old.close()
        return fresh

    def _fallback(self, token: Token | None) -> Snapshot:
        """The state to answer from while the live one is damaged: the last good snapshot, else the
        newest older generation that opens; IndexDamaged when there is none."""
        why = self._damaged[token]
        if self._snap is not None and self._snap.token not in self._damaged and self._snap.token != token:
            return self._snap
        damaged = token[0] if token is not None else None
        for gen in reversed(layout.generations(self.index_dir)):
            if damaged is not None and layout.generation_number(gen) >= layout.generation_number(Path(damaged)):
                continue  # only older generations: a newer one is a rebuild still being written
            try:
                older = (gen.name, gen.stat().st_mtime_ns)
                if older in self._damaged:
                    continue
                return _open(gen, older, self._weighting, self._segments, self.ranking.stats_drift)
            except Exception:  # noqa: BLE001,S112  (damaged too: try the next one)
                continue
        raise IndexDamaged(f"the index in {self.index_dir} is damaged: {why}; no older generation answers "
                           "either. Run `kb check`, or rebuild it with `kb index PATH --full`.")


def _open(gen: Path, token: Token, weighting: BM25F, segments: SegmentCaches, drift: float,
          donors: list[Searcher] | None = None) -> Snapshot:
    """A snapshot of a generation, checked by opening one searcher (a truncated segment fails here)."""
    snap = Snapshot(gen, token, weighting, segments, drift, donors)
    try:
        s = snap.acquire()
        s.doc_count()
        snap.release(s)
    except BaseException:
        snap.close()
        raise
    return snap
