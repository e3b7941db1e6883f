"""`kb cluster`: a local Typesense cluster on 127.0.0.1 for trials and tests.

Registered with the `kb` command through `kb.engines.registry.COMMANDS`, and imported only
when a `kb cluster` command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kb.config import Settings
from kb.errors import KbError


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@click.group()
def cluster() -> None:
    """A local Typesense cluster on 127.0.0.1 for trials and tests (pip install 'kb[typesense-server]')."""


cluster_dir_option = click.option(
    "--dir", "base_dir", default=Path(".kb-cluster"), show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the nodes' data, logs and nodes file; an existing cluster restarts with its data.")


@cluster.command("start")
@click.option("--nodes", "n_nodes", default=3, show_default=True, type=click.IntRange(1, 15),
              help="Number of nodes (3 keep answering and accepting writes when one is lost).")
@cluster_dir_option
@click.option("--api-key", help="The admin API key (default: KB_TYPESENSE_API_KEY, else a random one).")
@click.option("--port", default=8108, show_default=True, type=click.IntRange(0, 65535),
              help="API port of the first node, the next nodes take the next ones (0 or busy: free ports).")
@click.option("--timeout", default=90.0, show_default=True, type=click.FloatRange(1),
              help="Seconds to wait for every node to be healthy under one leader.")
@click.pass_context
def cluster_start(ctx: click.Context, n_nodes: int, base_dir: Path, api_key: str | None, port: int,
                  timeout: float) -> None:
    """Start a local Typesense cluster; it runs in the foreground until Ctrl-C or SIGTERM stops it."""
    import secrets
    import shlex
    import signal
    import time

    from kb.engines.typesense.cluster import LocalCluster

    def on_signal(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    key = api_key or _settings(ctx).typesense_api_key or secrets.token_urlsafe(18)
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    click.echo(f"kb: starting {n_nodes} Typesense node{'s' if n_nodes > 1 else ''} in {base_dir}", err=True)
    began = time.monotonic()
    try:
        with LocalCluster.start(n_nodes, base_dir, key, base_port=port, timeout_s=timeout) as running:
            click.echo(f"kb: up in {time.monotonic() - began:.1f} s, leader node {running.leader()}; "
                       f"logs in {running.base_dir}/node-N.log; Ctrl-C stops the cluster", err=True)
            click.echo("export KB_BACKEND=typesense")
            click.echo(f"export KB_TYPESENSE_NODES={running.nodes_setting()}")
            click.echo(f"export KB_TYPESENSE_API_KEY={shlex.quote(key)}")
            lost: set[int] = set()
            while True:
                time.sleep(1.0)
                for i in range(n_nodes):
                    if i not in lost and not running.is_running(i):
                        lost.add(i)
                        click.echo(f"kb: node {i} exited; see {running.specs[i].log_file}", err=True)
    except KeyboardInterrupt:
        click.echo("kb: cluster stopped", err=True)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    except OSError as e:
        raise click.ClickException(f"cannot start the cluster in {base_dir}: {e}") from e
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@cluster.command("status")
@cluster_dir_option
@click.option("--api-key", help="The admin API key, to show each node's role (default: KB_TYPESENSE_API_KEY).")
@click.pass_context
def cluster_status(ctx: click.Context, base_dir: Path, api_key: str | None) -> None:
    """Show each node's health and Raft role (the cluster in --dir, else KB_TYPESENSE_NODES).

    Exits 1 unless every node is healthy (and, with the API key, exactly one is the leader).
    """
    from kb.engines.typesense.nodes import node_status, read_nodes_file

    settings = _settings(ctx)
    key = api_key or settings.typesense_api_key
    try:
        urls = [s.url for s in read_nodes_file(base_dir)] or list(settings.typesense_nodes)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    if not urls:
        raise click.ClickException(f"no cluster in {base_dir} and no KB_TYPESENSE_NODES: "
                                   f"start one with `kb cluster start --dir {base_dir}`")
    states = [node_status(url.rstrip("/"), key, i) for i, url in enumerate(urls)]
    for state in states:
        click.echo(state.line())
    leaders = sum(state.role == "LEADER" for state in states)
    if not all(state.healthy for state in states) or (key and leaders != 1):
        ctx.exit(1)

