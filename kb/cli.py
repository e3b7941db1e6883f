"""The `kb` command: a thin click group, one library call per command (the top floor).

This is the edge where settings are built (options over `KB_*` environment over the config
file) and where the stages meet: `index` and `inspect` call the indexer, `search` and `eval`
the core. `serve` lives in `web.serve` and an engine's own commands (`kb cluster`) in its
folder; all of them are imported only when they run, so `kb --help` and `kb search` stay quick.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import orjson

from kb.config import Settings
from kb.errors import KbError

EXIT_SOME_FAILED = 1


def _settings(ctx: click.Context, **changes: Any) -> Settings:
    base: Settings = ctx.obj
    return base.with_(**changes)


def _dump(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


LAZY_COMMANDS = {"serve": "web.serve:serve_command"}


class LazyGroup(click.Group):
    """A group whose listed subcommands are imported when they run (click's lazy-loading pattern)."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attr = self.lazy[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


def _lazy_commands() -> dict[str, str]:
    from kb.engines.registry import COMMANDS

    return {**LAZY_COMMANDS, **COMMANDS}


@click.group(cls=LazyGroup, lazy=_lazy_commands(), context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), envvar="KB_CONFIG",
              help="TOML config file (extra removal selectors, synonyms, limits).")
@click.version_option(package_name="kb")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """kb: a searchable knowledge base for article sites."""
    env = dict(os.environ)
    if config is not None:
        env["KB_CONFIG"] = str(config)
    try:
        ctx.obj = Settings.from_env(env)
    except KbError as e:
        raise click.UsageError(str(e)) from e


index_option = click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
                            help="Index folder (default: KB_INDEX_DIR or .kb-index).")


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option("--full", is_flag=True, help="Rebuild from scratch into a new generation, then swap.")
@click.option("--allow-empty", is_flag=True,
              help="Let --full empty the index when a path is missing or holds nothing (refused otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--lock-timeout", type=float, help="Seconds to wait for another writer (default 10).")
@click.pass_context
def index_cmd(ctx: click.Context, paths: tuple[Path, ...], index_dir: Path | None, full: bool,
              allow_empty: bool, as_json: bool, lock_timeout: float | None) -> None:
    """Index HTML files and folders (and BEIR-style .jsonl files), incrementally by content hash."""
    from indexer.build import index_paths

    settings = _settings(ctx, index_dir=index_dir, lock_timeout_s=lock_timeout)
    try:
        summary = index_paths(list(paths), settings, full=full, allow_empty=allow_empty,
                              progress=not as_json and sys.stderr.isatty())
    except KbError as e:
        raise click.ClickException(str(e)) from e
    except OSError as e:  # a full or read-only disk: the previous index is still the live one
        where = e.filename or settings.index_dir
        raise click.ClickException(f"cannot write the index at {where}: {e.strerror or e}. "
                                   "The previous index is unchanged and still answers searches.") from e
    if as_json:
        _dump(summary.to_dict())
    else:
        for f in summary.failed:
            click.echo(f"skipped {f.path}: {f.reason}", err=True)
        click.echo(summary.line())
    if summary.failed:
        ctx.exit(EXIT_SOME_FAILED)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the Article as JSON.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder the file will be indexed under (its id falls back to the path below it).")
@click.pass_context
def inspect(ctx: click.Context, paths: tuple[Path, ...], as_json: bool, root: Path | None) -> None:
    """Show how pages are read: the Article exactly as it will be indexed.

    One file: the article (as JSON with --json). Several files or a folder: one JSON object a
    line, {"source", "article"} or {"source", "error"}, in one process (no start-up per page).
    """
    from indexer.parse import parse_article
    from indexer.sources import HTML_SUFFIXES

    settings = _settings(ctx)
    # Files named are read whatever their suffix; folders give their .html/.htm files, sorted.
    files = (f for p in paths for f in (
        sorted(f for f in p.rglob("*") if f.suffix.lower() in HTML_SUFFIXES and f.is_file())
        if p.is_dir() else [p]))

    def read(file: Path) -> Any:
        rel = file.resolve().relative_to(root.resolve()).as_posix() if root else file.name
        return parse_article(file.read_bytes(), source=rel, fallback_url=file.resolve().as_uri(),
                             settings=settings)

    if len(paths) > 1 or paths[0].is_dir():
        failed = False
        for file in files:
            try:
                row = {"source": str(file), "article": read(file).to_dict()}
            except (KbError, OSError) as e:
                failed, row = True, {"source": str(file), "error": str(e)}
            click.echo(orjson.dumps(row).decode())
        if failed:
            ctx.exit(EXIT_SOME_FAILED)
        return
    file = paths[0]
    try:
        article = read(file)
    except KbError as e:
        raise click.ClickException(f"{file}: {e}") from e
    if as_json:
        _dump(article.to_dict())
        return
    click.secho(article.title, bold=True)
    click.echo(f"id {article.article_id}  url {article.url}")
    click.echo(f"categories {', '.join(article.categories) or '-'}  tags {', '.join(article.tags) or '-'}")
    click.echo(f"published {article.published or '-'}  modified {article.modified or '-'}")
    for s in article.sections:
        click.echo(f"\n[{s.kind}] {' › '.join(s.breadcrumb) or s.heading}  ({s.deep_link})")
        click.echo("  " + s.text[:300].replace("\n", "\n  ") + ("…" if len(s.text) > 300 else ""))
    for r in article.related:
        click.echo(f"\nsee also: {r.title} <{r.url}>")


@cli.command()
@click.argument("query")
@index_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--page", default=1, show_default=True, type=click.IntRange(1))
@click.option("--category", multiple=True, help="Only this category (repeatable).")
@click.option("--tag", multiple=True, help="Only this tag (repeatable).")
@click.option("--kind", multiple=True, type=click.Choice(["lead", "section", "faq"]))
@click.option("--group", is_flag=True, help="Group sections by article.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON shape of the HTTP API.")
@click.pass_context
def search(ctx: click.Context, query: str, index_dir: Path | None, limit: int, page: int,
           category: tuple[str, ...], tag: tuple[str, ...], kind: tuple[str, ...], group: bool,
           as_json: bool) -> None:
    """Search the knowledge base."""
    from kb.search import KnowledgeBase

    try:
        kb = KnowledgeBase.open(settings=_settings(ctx, index_dir=index_dir))
        result = kb.search(query, page=page, per_page=limit, categories=category, tags=tag, kinds=kind,
                           group="article" if group else None)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        _dump(result.to_dict())
        return
    for notice in result.notices:
        click.echo(notice)
    if result.corrected_query:
        click.echo(f"Showing results for: {result.corrected_query}")
    if result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}?")
    if result.expanded_terms:
        click.echo("Also searching: " + ", ".join(f"{e.term} (for {e.source})" for e in result.expanded_terms))
    every = f", {result.complete} with every word" if result.complete is not None else ""
    click.echo(f"{result.total} sections match{every} ({result.took_ms:.1f} ms)")
    for n, h in enumerate(result.hits, (page - 1) * limit + 1):
        click.secho(f"\n{n}. {h.title} › {' › '.join(h.breadcrumb) or h.heading}", bold=True)
        click.echo("   " + "".join(click.style(s.text, fg="yellow", bold=True) if s.match else s.text
                                   for s in h.snippet))
        if h.missing_terms:
            click.echo("   Missing: " + ", ".join(h.missing_terms))
        click.echo(f"   {h.deep_link}")


@cli.command("check")
@index_option
@click.option("--rollback", is_flag=True,
              help="Make the newest whole state before the live one live (after a damaged file or a bad rebuild).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--lock-timeout", type=float, help="Seconds to wait for a writer (--rollback; default 10).")
@click.pass_context
def check_cmd(ctx: click.Context, index_dir: Path | None, rollback: bool, as_json: bool,
              lock_timeout: float | None) -> None:
    """Verify the index: read every part of the live state and the previous one (exit 1 when damaged)."""
    from dataclasses import asdict

    from indexer.lock import WriterLock
    from kb.engines.registry import roll_back, verify

    settings = _settings(ctx, index_dir=index_dir, lock_timeout_s=lock_timeout)
    try:
        if rollback:
            with WriterLock(settings.index_dir, settings.lock_timeout_s, "kb check --rollback"):
                report = roll_back(settings)
        else:
            report = verify(settings)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        _dump({**asdict(report), "ok": report.ok})
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        ctx.exit(EXIT_SOME_FAILED)


@cli.command("eval")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Reuse this index folder instead of a temporary one (indexed incrementally).")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path),
              help="What to index: a folder of HTML pages or a JSONL file (default: DATASET/corpus.jsonl).")
@click.pass_context
def eval_cmd(ctx: click.Context, dataset: Path, split: str, as_json: bool, index_dir: Path | None,
             corpus: Path | None) -> None:
    """Measure search quality on judged queries (BEIR format): nDCG@10, Recall@100, MRR@10.

    DATASET holds queries.jsonl and qrels/SPLIT.tsv (query-id, article id, grade). The corpus is
    indexed through the normal ingestion path and every query runs through the same search
    function as the web UI.
    """
    from indexer.build import index_paths
    from kb.engines.registry import scratch
    from kb.evaluation import evaluate, load_dataset
    from kb.search import KnowledgeBase

    try:
        queries, qrels = load_dataset(dataset, split)
        with contextlib.ExitStack() as stack:
            # a throwaway index, never the site's: an evaluation must not replace what readers search
            settings = _settings(ctx, index_dir=index_dir) if index_dir else stack.enter_context(
                scratch(_settings(ctx), Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kb-eval-")))))
            source = corpus or dataset / "corpus.jsonl"
            if not source.exists():
                raise click.UsageError(f"{source} not found: give the pages to index with --corpus")
            summary = index_paths([source], settings)
            if not as_json:
                click.echo(f"indexed {source}: {summary.line()}", err=True)
            report = evaluate(KnowledgeBase.open(settings=settings), queries, qrels)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        _dump(report)
    else:
        click.echo(f"{dataset.name} {split}: nDCG@10 {report['ndcg@10']:.4f}  Recall@100 "
                   f"{report['recall@100']:.4f}  MRR@10 {report['mrr@10']:.4f}  queries {report['queries']}  "
                   f"zero-result queries {report['zero_result_queries']}")


def main() -> None:
    """Entry point of the `kb` console script."""
    cli(prog_name="kb")
