"""The parse stage: sources -> Articles, on every core, each file under a time limit.

Parsing runs in a pool of worker processes while the main process writes the index, so
the two stages overlap on both cores. A file that is too big, is not HTML, has no article
text or takes longer than the per-file limit becomes a `Failure`, never a crash.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import re
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import orjson

from indexer.anchors import site_url
from indexer.sources import Source
from kb import text
from kb.config import Settings
from kb.errors import BadInput
from kb.models import Article, Section

Job = tuple[Source, bytes, str, Settings]  # a source, its bytes, their hash, and the settings to parse it with


@dataclass(frozen=True)
class Parsed:
    """A source turned into an article, with the words the spelling corrector may suggest."""

    source: Source
    digest: str
    article: Article | None
    reason: str | None
    words: tuple[str, ...] = ()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in this thread after `seconds` (main thread only; elsewhere a no-op)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    fired = False

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal fired
        fired = True
        # An exception raised while Python runs a gc callback or a __del__ is swallowed ("ignored in"):
        # ring again soon, and fail at the end anyway.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if fired:
        raise TimeoutError


def article_from_record(line: bytes, source: Source) -> Article:
    """A BEIR-style JSONL record (`_id`, `title`, `text`, optional `url`, `categories`, `tags`) as an article."""
    rec = orjson.loads(line)
    meta = rec.get("metadata") if isinstance(rec.get("metadata"), dict) else {}
    rid = str(rec["_id"])
    title = " ".join(str(rec.get("title") or "").split())
    body = str(rec.get("text") or "").strip()
    if not title and not body:
        raise BadInput("record has neither title nor text")
    url = site_url(str(rec.get("url") or meta.get("url") or ""))  # none: the record has no page a reader can open

    def strings(value: Any) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value] if value else []
        return tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))

    section = Section(anchor="lead", heading=title or rid, breadcrumb=(), kind="lead",
                      text=body or title, deep_link=url)
    return Article(article_id=rid, title=title or rid, url=url, categories=strings(rec.get("categories")),
                   tags=strings(rec.get("tags")), sections=(section,))


def vocabulary(article: Article) -> tuple[str, ...]:
    """Distinct alphabetic words of 4+ letters: the spelling corrector's candidates."""
    written = set(_LETTERS.findall("\n".join((article.title, *(s.heading + " " + s.text for s in article.sections)))))
    return tuple({c for c in map(_candidate, written) if c})  # each distinct spelling looked at once


_LETTERS = re.compile(r"[^\W\d_]+")  # `text.WORD_RE`'s words of letters (its numbers are never candidates)


@text.memo(500_000)  # words repeat across a site's pages
def _candidate(word: str) -> str:
    """A word as written, folded, when it is a spelling candidate; "" when it is not."""
    folded = text.fold(word)
    return folded if len(folded) >= 4 and folded.isalpha() else ""


def fallback_url(source: Source, settings: Settings) -> str:
    """The URL of a page without a canonical link: under the site's base URL when set, else its file://
    URL, which only resolves the page's relative links (the article then has no site URL)."""
    if settings.base_url:
        return settings.base_url.rstrip("/") + "/" + quote(source.rel)
    return source.path.resolve().as_uri()


def parse_one(job: Job) -> Parsed:
    """Parse one source (runs in a worker process)."""
    from indexer.parse import parse_article  # imported on first use: a no-op run never loads bs4

    source, data, digest, settings = job
    try:
        with time_limit(settings.parse_timeout_s):
            if source.record is not None:
                article = article_from_record(data, source)
            elif source.upload is not None:  # kept as the API received it: same id, same fallback URL
                upload = source.upload
                article = parse_article(data, source=upload.source, fallback_url=upload.url or "about:blank",
                                        settings=settings)
                if upload.article_id:
                    article = replace(article, article_id=upload.article_id)
            else:
                article = parse_article(data, source=source.rel, fallback_url=fallback_url(source, settings),
                                        settings=settings)
            return Parsed(source, digest, article, None, vocabulary(article))
    except BadInput as e:
        return Parsed(source, digest, None, str(e))
    except TimeoutError:
        return Parsed(source, digest, None, f"took longer than {settings.parse_timeout_s:g}s to parse")
    except RecursionError:
        return Parsed(source, digest, None, "HTML nested too deeply to parse")
    except Exception as e:  # a parser bug must cost one file, not the run
        return Parsed(source, digest, None, f"could not be parsed ({type(e).__name__}: {e})")


def _worker_init() -> None:
    """Ignore Ctrl-C (the parent handles it) and die with the parent, even when it is SIGKILLed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)


def parse_all(jobs: Sequence[Job], workers: int) -> Iterator[Parsed]:
    """Parse jobs in order, in a process pool when there are enough to be worth it.

    Off the main thread (the server's admin API) the time limit's alarm cannot ring, so every job
    goes to worker processes, started by a fork server (forking a threaded server is unsafe).
    """
    workers = workers or os.cpu_count() or 1
    if threading.current_thread() is not threading.main_thread():
        if not jobs:
            return
        if len(jobs) <= _FEW:  # an admin upload: the process kept for them, not a new one each time
            yield from _standing_parse(jobs)
            return
        with _forkserver().Pool(max(1, min(workers, len(jobs))), initializer=_worker_init) as pool:
            yield from pool.imap(parse_one, jobs, chunksize=8)
        return
    if workers <= 1 or len(jobs) < 16:
        yield from map(parse_one, jobs)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        yield from pool.imap(parse_one, jobs, chunksize=8)


_FEW = 4  # jobs the standing parse process takes; more get a pool of their own
_standing: Any = None  # multiprocessing.pool.Pool: one process, started on first use, kept for later uploads
_standing_lock = threading.Lock()


def _forkserver() -> Any:
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload(["indexer.pipeline", "indexer.parse"])
    return server


def _standing_parse(jobs: Sequence[Job]) -> Iterator[Parsed]:
    """Parse a few jobs in the process kept for admin uploads (started once per server process).

    Starting a process for each upload cost ~160 ms and a good part of a core, twice a second
    under steady edits. The job's own time limit rings inside that process; a process that dies
    or stops answering is replaced, and its job reported as failed rather than waited on forever.
    """
    global _standing
    for job in jobs:
        with _standing_lock:
            if _standing is None:
                _standing = _forkserver().Pool(1, initializer=_worker_init)
                atexit.register(_standing.terminate)  # not left to the collector at exit (it complains)
            pool = _standing
        pending = pool.apply_async(parse_one, (job,))
        try:
            yield pending.get(timeout=job[3].parse_timeout_s + 30 if job[3].parse_timeout_s > 0 else None)
        except multiprocessing.TimeoutError:
            with _standing_lock:
                if _standing is pool:
                    _standing = None
            pool.terminate()
            yield Parsed(job[0], job[2], None, "the parse process stopped answering; it was restarted")
