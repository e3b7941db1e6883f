"""The search facade: open once, then search(), article(), related(), suggest().

`KnowledgeBase.open(index_dir)` is shared by every thread of a process. Each call takes a
pooled Whoosh searcher of the live generation; when a commit or a generation swap lands
(two stat calls tell), the next call opens the new one, so no caller ever reopens by hand.
Whoosh objects never leave this module: every result is a `kb.models` dataclass.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from kb import layout, snippets, text
from kb.config import Settings
from kb.errors import ArticleNotFound, IndexMissing
from kb.facets import DocTable
from kb.models import (
    Article,
    Expansion,
    Facets,
    Group,
    Hit,
    RelatedArticle,
    RelatedLink,
    SearchPage,
    Suggestion,
)
from kb.query import ParsedQuery, parse
from kb.ranking import Ranking
from kb.schema import facet_key, section_from_stored
from kb.spelling import Corrector
from kb.suggest import SuggestList
from kb.synonyms import Synonyms, load

TEXT_FIELDS = ("title", "heading", "body")
GROUP_HITS = 3
POSTINGS_CACHE_ENTRIES = 4_000_000  # about 50 MB of cached postings per process


@dataclass(frozen=True)
class Prepared:
    """A query made ready for the engine: the Whoosh query plus what the reader is told."""

    query: Q.Query | None
    filter: Q.Query | None
    stems: frozenset[str]  # what snippets mark
    corrected: str | None
    expansions: tuple[Expansion, ...]
    key: str  # the normalised words, for exact-heading matches
    word_stems: tuple[frozenset[str], ...] = ()  # per query word found in the index: its stems and synonyms'
    should: tuple[Q.Query, ...] = ()  # the scored parts, kept apart so feedback can add to them
    must: tuple[Q.Query, ...] = ()
    excluded: tuple[Q.Query, ...] = ()
    query_stems: tuple[str, ...] = ()  # the distinct stems of the plain words, for feedback weights
    # (word number, field, term, boost) of every scored term, when the scored part is a plain sum of
    # terms: then the first pass runs from cached postings instead of Whoosh's matcher tree
    terms: tuple[tuple[int, str, str, float], ...] | None = None
    phrase: Q.Query | None = None  # the adjacency bonus, applied to the best candidates only


class _BM25(BM25F):  # type: ignore[misc]
    """Whoosh's per-field BM25 with the Robertson-Sparck Jones idf of Lucene and Anserini.

    Whoosh's own idf, log(N / (df + 1)) + 1, flattens the gap between rare and common words;
    `idf="classic"` keeps it.
    """

    def __init__(self, idf: str = "bm25", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classic = idf == "classic"

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        if self.classic:
            return float(super().idf(searcher, fieldname, text))
        parent = searcher.get_parent()
        n = parent.doc_frequency(fieldname, text)
        return math.log(1 + (parent.doc_count_all() - n + 0.5) / (n + 0.5))


class _Stale(Exception):
    """A snapshot met a newer commit than the one it was opened on."""


class _Snapshot:
    """One committed state of the index, with its searcher pool and lazily built tables."""

    def __init__(self, path: Path, token: tuple[str, int], weighting: BM25F) -> None:
        self.path = path
        self.token = token
        self.ix = whoosh_index.open_dir(str(path))
        self.weighting = weighting
        self._pool: list[Searcher] = []
        self.generation: int | None = None  # the Whoosh commit every pooled searcher reads
        self._lock = threading.Lock()
        self._closed = False
        self._docs: DocTable | None = None
        self._filters: dict[str, frozenset[int]] = {}
        self.heading_keys: dict[int, tuple[str, str]] = {}  # docnum -> normalised (heading, title)
        self._corrector: Corrector | None = None
        self._suggest: SuggestList | None = None
        self.feedback: dict[int, dict[str, float]] = {}  # docnum -> term distribution (see _feedback)
        # (field, term) -> its sections and their BM25 scores, as compact arrays (12 bytes a posting)
        self.postings: dict[tuple[str, str], tuple[array[int], array[float]]] = {}
        self.postings_size = 0

    def acquire(self) -> Searcher:
        """A pooled searcher of this snapshot's generation; raises _Stale if a commit slipped in."""
        with self._lock:
            s = self._pool.pop() if self._pool else None
        if s is None:
            s = self.ix.searcher(weighting=self.weighting)
            gen = s.reader().generation()
            with self._lock:
                if self.generation is None:
                    self.generation = gen
            if gen != self.generation:  # a commit the cheap token check missed: start a new snapshot
                s.close()
                raise _Stale
        return s

    def release(self, s: Searcher) -> None:
        """Return a searcher to the pool (or close it once the snapshot is retired)."""
        with self._lock:
            if self._closed:
                s.close()
            else:
                self._pool.append(s)

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        s = self.acquire()
        try:
            yield s
        finally:
            self.release(s)

    def filter_docs(self, s: Searcher, q: Q.Query) -> frozenset[int]:
        """The documents a filter query allows, cached per snapshot."""
        key = repr(q)
        found = self._filters.get(key)
        if found is None:
            if len(self._filters) > 1000:
                self._filters.clear()
            found = self._filters[key] = frozenset(s.docs_for_query(q))
        return found

    def docs(self, s: Searcher) -> DocTable:
        if self._docs is None:
            self._docs = _doc_table(s)
        return self._docs

    def corrector(self, synonyms: Synonyms) -> Corrector:
        if self._corrector is None:
            self._corrector = Corrector(layout.read_json(self.path / layout.VOCAB, {}), synonyms.names())
        return self._corrector

    def suggestions(self, s: Searcher, synonyms: Synonyms) -> SuggestList:
        if self._suggest is None:
            self._suggest = SuggestList.build(s.reader().iter_docs(), synonyms.names())
        return self._suggest

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for s in pool:
            s.close()


class KnowledgeBase:
    """The knowledge base: thread-safe, opened once per process."""

    def __init__(self, settings: Settings, ranking: Ranking | None = None) -> None:
        self.settings = settings
        self.index_dir = settings.index_dir
        self.ranking = ranking or Ranking()
        self.synonyms = load(settings.synonyms_file)
        r = self.ranking
        self._weighting = _BM25(B=r.b, K1=r.k1, title_B=r.title_b, heading_B=r.heading_b, idf=r.idf)
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: Path | str | None = None, settings: Settings | None = None,
             ranking: Ranking | None = None) -> KnowledgeBase:
        """Open the knowledge base in `index_dir` (or `settings.index_dir`)."""
        settings = settings or Settings()
        if index_dir is not None:
            settings = settings.with_(index_dir=Path(index_dir))
        kb = cls(settings, ranking)
        kb._snapshot()  # fail early with a clear message when there is no index
        return kb

    @contextmanager
    def _session(self) -> Iterator[tuple[_Snapshot, Searcher]]:
        """The live snapshot and one of its searchers, retrying across a commit that lands meanwhile."""
        for attempt in range(5):
            try:
                snap = self._snapshot(force=attempt > 0)
                s = snap.acquire()
            except (_Stale, FileNotFoundError):  # a commit or a swap removed what we were opening
                continue
            try:
                yield snap, s
            finally:
                snap.release(s)
            return
        raise IndexMissing(f"the index in {self.index_dir} keeps changing under the reader; try again")

    def _snapshot(self, force: bool = False) -> _Snapshot:
        token = layout.generation_token(self.index_dir)
        snap = self._snap
        if snap is not None and snap.token == token and not force:
            return snap
        with self._lock:
            if self._snap is not None and self._snap.token == token and (not force or self._snap is not snap):
                return self._snap
            if token is None:
                raise IndexMissing(f"no index in {self.index_dir}: build one with `kb index PATH --index "
                                   f"{self.index_dir}`")
            gen = layout.current_generation(self.index_dir)
            assert gen is not None
            try:
                fresh = _Snapshot(gen, token, self._weighting)
            except FileNotFoundError as e:  # a swap removed the generation while we opened it
                raise _Stale from e
            old, self._snap = self._snap, fresh
        if old is not None:
            old.close()
        return fresh

    # -- stats --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """How big the knowledge base is: articles and sections."""
        with self._session() as (snap, s):
            return {"articles": snap.docs(s).article_count(), "sections": s.doc_count()}

    # -- search -------------------------------------------------------------------------

    def search(self, query: str, *, page: int = 1, per_page: int = 10, categories: Sequence[str] = (),
               tags: Sequence[str] = (), kinds: Sequence[str] = (), group: str | None = None,
               snippets_on: bool = True, facets_on: bool = True, exact: bool = False) -> SearchPage:
        """Search sections; any string at all gives a page of results or an empty one.

        `exact` turns spelling correction off ("search instead for ...").
        """
        started = time.perf_counter()
        page, per_page = max(1, int(page)), max(1, min(100, int(per_page)))
        parsed = parse(query, self.settings.max_query_chars)
        with self._session() as (snap, s):
            prep = self._prepare(parsed, s, snap, categories, tags, kinds, exact)
            if prep.query is None:
                ranked: list[tuple[float, int]] = []
            else:
                ranked = self._run(s, prep, snap)
            docs = snap.docs(s)
            facets = docs.facets([d for _, d in ranked]) if facets_on else Facets()
            if group == "article":
                groups, total, chosen = self._group(s, docs, ranked, page, per_page)
            else:
                groups, total = None, len(ranked)
                chosen = ranked[(page - 1) * per_page: page * per_page]
            hits = {d: self._hit(s, d, score, prep.stems, snippets_on) for score, d in chosen}
        page_hits = tuple(hits[d] for _, d in chosen) if groups is None else ()
        out_groups = None
        if groups is not None:
            out_groups = tuple(
                Group(article_id=g[0].article_id, title=g[0].title, url=g[0].url, categories=g[0].categories,
                      modified=g[0].modified, score=g[0].score, hits=tuple(g), more=more)
                for g, more in ((tuple(hits[d] for _, d in members), more) for members, more in groups))
            page_hits = tuple(h for g in out_groups for h in g.hits)
        return SearchPage(query=parsed.cleaned, corrected_query=prep.corrected, expanded_terms=prep.expansions,
                          total=total, page=page, per_page=per_page,
                          took_ms=(time.perf_counter() - started) * 1000, hits=page_hits, groups=out_groups,
                          facets=facets, notices=parsed.notices)

    def _known(self, s: Searcher, word: str) -> bool:
        stems = text.terms(word)
        if not stems or word in self.synonyms:
            return True
        return all(any(s.doc_frequency(f, st) for f in TEXT_FIELDS) for st in stems)

    def _prepare(self, parsed: ParsedQuery, s: Searcher, snap: _Snapshot, categories: Sequence[str],
                 tags: Sequence[str], kinds: Sequence[str], exact: bool = False) -> Prepared:
        r = self.ranking
        corrected_text = parsed.cleaned
        corrected = False
        words: list[str] = []
        for w in reversed(parsed.words):  # right to left keeps earlier offsets valid
            folded = text.fold(w.text)
            if not exact and not folded.isdigit() and not self._known(s, folded):
                fix = snap.corrector(self.synonyms).correct(folded)
                if fix is not None:
                    corrected_text = corrected_text[:w.start] + fix + corrected_text[w.end:]
                    corrected = True
                    folded = fix
            words.append(folded)
        words.reverse()

        stems: set[str] = set()
        expansions: list[Expansion] = []
        should: list[Q.Query] = []
        word_stems: list[frozenset[str]] = []
        flat: list[tuple[int, str, str, float]] | None = []
        for word in words:
            own = text.terms(word)
            if not own:
                continue
            stems.update(own)
            group = set(own)
            exact = self._fields_query(own)
            wi = len(word_stems)
            if flat is not None:
                flat.extend((wi, f, t, w) for t in own for f, w in self._weights(1.0).items())
            syns = []
            for name in self.synonyms.expand(word):
                syn_terms = text.terms(name)
                if syn_terms and all(any(s.doc_frequency(f, t) for f in TEXT_FIELDS) for t in syn_terms):
                    syns.append(self._fields_query(syn_terms, phrase=len(syn_terms) > 1, scale=r.synonym_weight))
                    if len(syn_terms) > 1:
                        flat = None  # a multi-word name is a phrase: only the engine can score it
                    elif flat is not None:
                        flat.extend((wi, f, syn_terms[0], w) for f, w in self._weights(r.synonym_weight).items())
                    expansions.append(Expansion(term=name, source=word))
                    stems.update(syn_terms)
                    group.update(syn_terms)
            if any(s.doc_frequency(f, t) for t in group for f in TEXT_FIELDS):
                word_stems.append(frozenset(group))
            # Whoosh 2.7 drops boosts on compound queries and DisjunctionMax scores every match
            # alike, so synonym weight sits on the leaf terms and the parts are summed.
            should.append(Q.Or([exact, *syns]) if syns else exact)
        all_stems = [st for w in words for st in text.terms(w)]
        phrase_bonus = None
        if len(all_stems) > 1 and r.phrase_weight > 0:
            phrase_bonus = Q.Or([Q.Phrase(f, all_stems, slop=3, boost=r.phrase_weight) for f in ("heading", "body")])
            should.append(phrase_bonus)

        must: list[Q.Query] = []
        for phrase in parsed.phrases:
            pt = text.terms(phrase)
            if pt:
                stems.update(pt)
                must.append(self._fields_query(pt, phrase=True))
        for fieldname, value in parsed.fielded:
            ft = text.terms(value)
            if ft:
                stems.update(ft)
                must.append(Q.And([Q.Term(fieldname, t) for t in ft]) if len(ft) == 1
                            else Q.Phrase(fieldname, ft, slop=2))
        excluded = [self._fields_query(t, phrase=len(t) > 1) for t in map(text.terms, parsed.excluded) if t]

        filters: list[Q.Query] = []
        by_field: dict[str, list[str]] = {"category": list(categories), "tag": list(tags), "kind": list(kinds)}
        for fieldname, value in parsed.filters:
            by_field[fieldname].append(value)
        for fieldname, values in by_field.items():
            keys = [v.strip().lower() if fieldname == "kind" else facet_key(v) for v in values if v.strip()]
            if keys:
                filters.append(Q.Or([Q.Term(fieldname, k) for k in dict.fromkeys(keys)]))

        main = _assemble(should, must, excluded, bool(filters))
        return Prepared(query=main, filter=Q.And(filters) if filters else None, stems=frozenset(stems),
                        corrected=corrected_text if corrected else None, expansions=tuple(expansions),
                        key=" ".join(words), word_stems=tuple(word_stems), should=tuple(should),
                        must=tuple(must), excluded=tuple(excluded), query_stems=tuple(dict.fromkeys(all_stems)),
                        terms=tuple(flat) if flat and not must and not excluded else None, phrase=phrase_bonus)

    def _weights(self, scale: float) -> dict[str, float]:
        r = self.ranking
        return {"title": r.title_weight * scale, "heading": r.heading_weight * scale, "body": r.body_weight * scale}

    def _fields_query(self, terms: Sequence[str], phrase: bool = False, scale: float = 1.0) -> Q.Query:
        weights = self._weights(scale)
        if phrase and len(terms) > 1:
            return Q.Or([Q.Phrase(f, list(terms), slop=2, boost=w) for f, w in weights.items()])
        parts = [Q.Term(f, t, boost=w) for t in terms for f, w in weights.items()]
        return Q.Or(parts)

    def _run(self, s: Searcher, prep: Prepared, snap: _Snapshot | None = None) -> list[tuple[float, int]]:
        r = self.ranking
        if prep.terms is not None and snap is not None:
            ranked = self._retrieve_bulk(s, snap, prep)
        else:
            ranked = self._retrieve(s, prep, prep.query)
        # Feedback needs a collection much larger than the feedback set: in a small one the
        # "top sections" are most of it and their terms say nothing about the query.
        if (r.prf_docs > 0 and r.prf_weight > 0 and prep.should and ranked and snap is not None
                and s.doc_count() >= r.prf_min_sections):
            ranked = self._expand(s, snap, prep, ranked)
        if r.exact_bonus and ranked and prep.key:
            docs = None
            top = ranked[0][0]
            boosted = []
            for i, (_score, d) in enumerate(ranked[:50]):
                if snap is not None:
                    keys = snap.heading_keys.get(d)
                    if keys is None:
                        keys = snap.heading_keys[d] = _heading_keys(s.stored_fields(d))
                else:
                    keys = _heading_keys(s.stored_fields(d))
                if prep.key in keys:
                    boosted.append(i)
            if boosted:
                docs = [(ranked[i][0] + top, ranked[i][1]) for i in boosted]
                rest = [x for i, x in enumerate(ranked) if i not in set(boosted)]
                ranked = docs + rest
        return ranked

    def _retrieve(self, s: Searcher, prep: Prepared, query: Q.Query | None) -> list[tuple[float, int]]:
        """One pass of the engine: every match, scored, coordinated, best first."""
        coord = self.ranking.coord > 0 and len(prep.word_stems) > 1
        results = s.search(query, limit=None, filter=prep.filter, terms=coord)
        ranked = [(float(score), int(docnum)) for score, docnum in results.top_n]
        if coord:
            ranked = self._coordinate(ranked, results.docterms, prep.word_stems)
        return ranked

    def _retrieve_bulk(self, s: Searcher, snap: _Snapshot, prep: Prepared,
                       depth: int = 200) -> list[tuple[float, int]]:
        """The first pass as sums over cached postings: the same BM25 scores as the engine's
        matcher tree (a term's score times its boost, summed), at a fraction of the cost.

        Coordination covers every match; the phrase bonus, which needs positions, is added by
        the engine to the best `depth` candidates only.
        """
        assert prep.terms is not None
        allowed = snap.filter_docs(s, prep.filter) if prep.filter is not None else None
        scores: dict[int, float] = {}
        words: dict[int, int] = {}  # docnum -> bit set of the query words it contains
        for wi, fieldname, term, boost in prep.terms:
            bit = 1 << wi
            for d, sc in zip(*self._postings(s, snap, fieldname, term), strict=True):
                if allowed is not None and d not in allowed:
                    continue
                scores[d] = scores.get(d, 0.0) + sc * boost
                words[d] = words.get(d, 0) | bit
        ranked = sorted(((sc, d) for d, sc in scores.items()), key=lambda x: (-x[0], x[1]))
        n = len(prep.word_stems)
        c = self.ranking.coord
        if c > 0 and n > 1:  # as `_coordinate` does after an engine pass: over the best candidates
            head = [(sc * (1 + c * (words[d].bit_count() - 1) / (n - 1)), d) for sc, d in ranked[:depth]]
            ranked = sorted(head, key=lambda x: (-x[0], x[1])) + ranked[depth:]
        if prep.phrase is not None and ranked:
            candidates = {d for _, d in ranked[:depth]}
            bonus = {int(d): float(sc) for sc, d in s.search(prep.phrase, limit=None, filter=candidates).top_n}
            if bonus:
                top = sorted(((sc + bonus.get(d, 0.0), d) for sc, d in ranked[:depth]), key=lambda x: (-x[0], x[1]))
                ranked = top + ranked[depth:]
        return ranked

    def _expand(self, s: Searcher, snap: _Snapshot, prep: Prepared, ranked: list[tuple[float, int]]
                ) -> list[tuple[float, int]]:
        """Add the feedback terms' scores to the first pass, as RM3's second retrieval would.

        The feedback terms are scored from cached postings rather than by a second engine pass
        (a tenth of the cost). They may bring in new sections unless the query has required
        parts, exclusions or filters: then they only reorder what already matched.
        """
        r = self.ranking
        extra = self._feedback(s, snap, prep, ranked[:r.prf_docs])
        if not extra:
            return ranked
        weights = {"title": r.title_weight, "heading": r.heading_weight, "body": r.body_weight}
        scores = dict((d, sc) for sc, d in ranked)
        closed = bool(prep.must or prep.excluded or prep.filter is not None)
        for term, boost in extra:
            for fieldname, w in weights.items():
                for d, sc in zip(*self._postings(s, snap, fieldname, term), strict=True):
                    if d in scores or not closed:
                        scores[d] = scores.get(d, 0.0) + sc * w * boost
        return sorted(((sc, d) for d, sc in scores.items()), key=lambda x: (-x[0], x[1]))

    def _postings(self, s: Searcher, snap: _Snapshot, fieldname: str, term: str
                  ) -> tuple[array[int], array[float]]:
        """A term's sections in one field with their BM25 scores, cached per snapshot (bounded)."""
        key = (fieldname, term)
        cached = snap.postings.get(key)
        if cached is None:
            if snap.postings_size > POSTINGS_CACHE_ENTRIES:
                snap.postings.clear()
                snap.postings_size = 0
            ids: array[int] = array("i")
            scores: array[float] = array("d")
            if key in s.reader():
                m = s.postings(fieldname, term)
                while m.is_active():
                    ids.append(m.id())
                    scores.append(m.score())
                    m.next()
            cached = snap.postings[key] = (ids, scores)
            snap.postings_size += len(ids) + 1
        return cached

    def _feedback(self, s: Searcher, snap: _Snapshot, prep: Prepared,
                  top: list[tuple[float, int]]) -> list[tuple[str, float]]:
        """RM3 pseudo-relevance feedback: the top sections' most telling terms, as weighted queries.

        Each section's term distribution P(t|D) is weighted by its score, summed, cut to the
        `prf_terms` heaviest and normalised; the feedback model then gets `prf_weight` of the
        query's mass (Lavrenko & Croft's relevance model as Anserini's RM3 interpolates it).
        """
        r = self.ranking
        cache = snap.feedback
        if len(cache) > 50_000:
            cache.clear()
        model: dict[str, float] = {}
        total = sum(score for score, _ in top) or 1.0
        for score, d in top:
            dist = cache.get(d)
            if dist is None:
                dist = cache[d] = self._term_distribution(s, d)
            for t, p in dist.items():
                model[t] = model.get(t, 0.0) + p * score / total
        best = heapq.nsmallest(r.prf_terms, model.items(), key=lambda x: (-x[1], x[0]))
        mass = sum(p for _, p in best)
        if not mass:
            return []
        # The plain query's terms weigh 1 each; the feedback model gets prf_weight of the whole.
        n = max(1, len(prep.query_stems))
        scale = n * r.prf_weight / (1 - r.prf_weight) / mass
        return [(t, p * scale) for t, p in best]

    def _term_distribution(self, s: Searcher, docnum: int) -> dict[str, float]:
        """P(t|D) over a section's telling terms: no numbers, no one-letter stems, none in over
        `prf_max_df` of the sections (they say nothing about the topic)."""
        f = s.stored_fields(docnum)
        limit = self.ranking.prf_max_df * max(1, s.doc_count_all())
        counts = Counter(t for t in text.terms(f.get("title", "") + " \n " + f.get("body", ""))
                         if len(t) > 1 and not t[0].isdigit())
        kept = {t: c for t, c in counts.items() if s.doc_frequency("body", t) <= limit}
        n = sum(kept.values())
        return {t: c / n for t, c in kept.items()} if n else {}

    def _coordinate(self, ranked: list[tuple[float, int]], docterms: dict[int, Any],
                    word_stems: tuple[frozenset[str], ...], depth: int = 200) -> list[tuple[float, int]]:
        """Among the top candidates, favour sections that contain more of the query's words."""
        n = len(word_stems)
        c = self.ranking.coord
        head = []
        for score, d in ranked[:depth]:
            found = {t.decode("utf-8") if isinstance(t, bytes) else t for _, t in docterms.get(d, ())}
            matched = sum(1 for group in word_stems if not found.isdisjoint(group))
            head.append((score * (1 + c * max(0, matched - 1) / (n - 1)), d))
        head.sort(key=lambda x: -x[0])
        return head + ranked[depth:]

    def _hit(self, s: Searcher, docnum: int, score: float, stems: frozenset[str], make_snippet: bool) -> Hit:
        f = s.stored_fields(docnum)
        meta = f["meta"]
        html, segs = snippets.make(f.get("body", ""), stems) if make_snippet else ("", ())
        return Hit(article_id=f["article_id"], title=f["title"], url=meta["url"], heading=meta["heading"],
                   breadcrumb=tuple(meta["breadcrumb"]), kind=f["kind"], anchor=meta["anchor"],
                   deep_link=meta["deep_link"], snippet_html=html, snippet=segs, score=score,
                   categories=tuple(meta["categories"]), tags=tuple(meta["tags"]), modified=meta["modified"])

    def _group(self, s: Searcher, docs: DocTable, ranked: list[tuple[float, int]], page: int, per_page: int
               ) -> tuple[list[tuple[list[tuple[float, int]], int]], int, list[tuple[float, int]]]:
        article = docs.article
        counts: Counter[str] = Counter(article[d] for _, d in ranked)  # one C-speed pass
        order: dict[str, list[tuple[float, int]]] = {}
        wanted = page * per_page
        for score, d in ranked:  # best first: stop once the page's articles have their best sections
            aid = article[d]
            members = order.get(aid)
            if members is None:
                if len(order) >= wanted and all(len(m) >= min(GROUP_HITS, counts[a]) for a, m in order.items()):
                    break
                if len(order) >= wanted:
                    continue
                members = order[aid] = []
            if len(members) < GROUP_HITS:
                members.append((score, d))
        groups = list(order.items())[(page - 1) * per_page: page * per_page]
        out = [(members, counts[aid] - len(members)) for aid, members in groups]
        chosen = [m for members, _ in out for m in members]
        return out, len(counts), chosen

    # -- articles -----------------------------------------------------------------------

    def article(self, article_id: str) -> Article:
        """The article as indexed; raises ArticleNotFound."""
        with self._session() as (snap, s):
            stored = sorted((s.stored_fields(d) for d in s.document_numbers(article_id=article_id)),
                            key=lambda f: f["order"])
        if not stored:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        first = stored[0]
        meta, art = first["meta"], first.get("article") or {}
        return Article(article_id=article_id, title=first["title"], url=meta["url"],
                       categories=tuple(meta["categories"]), tags=tuple(meta["tags"]),
                       published=art.get("published"), modified=meta["modified"],
                       description=art.get("description", ""), lang=art.get("lang", ""),
                       related=tuple(RelatedLink(**r) for r in art.get("related", ())),
                       sections=tuple(section_from_stored(f) for f in stored))

    def related(self, article_id: str, limit: int = 5) -> list[RelatedArticle]:
        """Articles related to one: its own "See also" links, then shared tags, then similar text."""
        article = self.article(article_id)
        out: list[RelatedArticle] = []
        seen = {article_id}
        with self._session() as (snap, s):
            docs = snap.docs(s)
            for link in article.related:
                target = docs.article_by_url(link.url)
                if target in seen or any(r.url == link.url for r in out):
                    continue
                if target:
                    seen.add(target)
                out.append(RelatedArticle(article_id=target, title=link.title, url=link.url, reason="see-also"))
            for aid in docs.sharing_tags(article.tags):
                if aid not in seen and len(out) < limit:
                    seen.add(aid)
                    out.append(self._related_entry(s, docs, aid, "tags"))
            if len(out) < limit:
                words = Counter(t for sec in article.sections for t in text.terms(sec.text))
                n = max(1, s.doc_count())
                key_terms = sorted(words, key=lambda t: -words[t] * _idf(s, t, n))[:12]
                if key_terms:
                    results = s.search(Q.Or([Q.Term("body", t) for t in key_terms]), limit=50)
                    for hit in results:
                        aid = hit["article_id"]
                        if aid not in seen and len(out) < limit:
                            seen.add(aid)
                            out.append(self._related_entry(s, docs, aid, "similar"))
        return out[:limit]

    def _related_entry(self, s: Searcher, docs: DocTable, aid: str, reason: Any) -> RelatedArticle:
        f = s.stored_fields(docs.first_doc(aid))
        return RelatedArticle(article_id=aid, title=f["title"], url=f["meta"]["url"], reason=reason)

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Titles, headings and medicine names that start with what the reader has typed."""
        with self._session() as (snap, s):
            return snap.suggestions(s, self.synonyms).match(prefix[: self.settings.max_query_chars], limit)


def _heading_keys(fields: dict[str, Any]) -> tuple[str, str]:
    """A section's heading and title as comparison keys, for exact-match bonuses."""
    return text.normalize_phrase(fields["meta"]["heading"]), text.normalize_phrase(fields["title"])


def _assemble(should: list[Q.Query], must: list[Q.Query], excluded: list[Q.Query], filtered: bool
              ) -> Q.Query | None:
    """The engine query: must parts required, should parts scored, exclusions removed."""
    if should and must:
        main: Q.Query | None = Q.AndMaybe(Q.And(must), Q.Or(should))
    elif should:
        main = Q.Or(should)
    elif must:
        main = Q.And(must)
    elif filtered:
        main = Q.Every()
    else:
        main = None
    if main is not None and excluded:
        main = Q.AndNot(main, Q.Or(excluded))
    return main


def _doc_table(s: Searcher) -> DocTable:
    """Walk the term index (not the stored text) into plain per-document columns."""
    reader = s.reader()
    n = reader.doc_count_all()
    article = [""] * n
    kind = ["section"] * n
    cats: list[tuple[str, ...]] = [()] * n
    tags: list[tuple[str, ...]] = [()] * n

    def postings(fieldname: str) -> Iterator[tuple[str, list[int]]]:
        for term in reader.field_terms(fieldname):
            yield term, [d for d in reader.postings(fieldname, term).all_ids() if not reader.is_deleted(d)]

    first: dict[str, int] = {}
    for aid, ids in postings("article_id"):
        for d in ids:
            article[d] = aid
        if ids:
            first[aid] = min(ids)
    for k, ids in postings("kind"):
        for d in ids:
            kind[d] = k
    for column, fieldname in ((cats, "category"), (tags, "tag")):
        for key, ids in postings(fieldname):
            for d in ids:
                column[d] = (*column[d], key)
    display: dict[str, str] = {}
    urls: dict[str, str] = {}
    for aid, d in first.items():
        meta = reader.stored_fields(d)["meta"]
        urls[meta["url"].rstrip("/")] = aid
        for name in (*meta["categories"], *meta["tags"]):
            display.setdefault(facet_key(name), name)
    return DocTable(article, kind, cats, tags, display, first, urls)


def _idf(s: Searcher, term: str, n: int) -> float:
    df = s.doc_frequency("body", term)
    return math.log(1 + n / (1 + df))
