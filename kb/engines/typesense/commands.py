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


def _key(settings: Settings, base_dir: Path) -> str | None:
    """The admin key: KB_TYPESENSE_API_KEY (or its _FILE), else the one kept in the cluster folder."""
    from kb.engines.typesense.nodes import read_key

    return settings.typesense_api_key or read_key(base_dir)


@cluster.command("start")
@click.option("--nodes", "n_nodes", default=3, show_default=True, type=click.IntRange(1, 15),
              help="Number of nodes (3 keep answering and accepting writes when one is lost).")
@cluster_dir_option
@click.option("--port", default=8108, show_default=True, type=click.IntRange(0, 65535),
              help="API port of the first node, the next nodes take the next ones (0 or busy: free ports).")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(1),
              help="Seconds to wait for every node to be up and caught up (a site-sized index reloads slowly).")
@click.option("--node", "node", type=click.IntRange(0), default=None,
              help="Start only this node of the cluster in --dir, while the others run (after it died).")
@click.pass_context
def cluster_start(ctx: click.Context, n_nodes: int, base_dir: Path, port: int, timeout: float,
                  node: int | None) -> None:
    """Start a local Typesense cluster (or one node of it); it runs in the foreground until Ctrl-C or SIGTERM.

    The admin key is KB_TYPESENSE_API_KEY (or the file KB_TYPESENSE_API_KEY_FILE names), else the
    one kept in DIR/api-key, else a new random one; it is kept in DIR/api-key (mode 0600) and
    given to the nodes in their environment, never on a command line.
    """
    import secrets
    import signal
    import time

    from kb.engines.typesense.cluster import LocalCluster
    from kb.engines.typesense.nodes import write_key

    def on_signal(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    key = _key(_settings(ctx), base_dir) or secrets.token_urlsafe(18)
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    what = f"node {node}" if node is not None else f"{n_nodes} Typesense node{'s' if n_nodes > 1 else ''}"
    click.echo(f"kb: starting {what} in {base_dir}", err=True)
    began = time.monotonic()
    try:
        base_dir.mkdir(parents=True, exist_ok=True)
        key_file = write_key(base_dir, key)
        if node is not None:
            running = LocalCluster.rejoin(base_dir, node, key, timeout_s=timeout)
            watched = [node]
            click.echo(f"kb: node {node} caught up with the leader in {time.monotonic() - began:.1f} s; "
                       f"log in {running.specs[node].log_file}; Ctrl-C stops it", err=True)
        else:
            running = LocalCluster.start(n_nodes, base_dir, key, base_port=port, timeout_s=timeout)
            watched = list(range(n_nodes))
            click.echo(f"kb: up in {time.monotonic() - began:.1f} s, leader node {running.leader()}; "
                       f"logs in {running.base_dir}/node-N.log; Ctrl-C stops the cluster", err=True)
        with running:
            click.echo("export KB_BACKEND=typesense")
            click.echo(f"export KB_TYPESENSE_NODES={running.nodes_setting()}")
            click.echo(f"export KB_TYPESENSE_API_KEY_FILE={key_file.resolve()}")
            lost: set[int] = set()
            while True:
                time.sleep(1.0)
                for i in watched:
                    if i not in lost and not running.is_running(i):
                        lost.add(i)
                        click.echo(f"kb: node {i} exited; see {running.specs[i].log_file}; bring it back with "
                                   f"`kb cluster start --dir {base_dir} --node {i}`", err=True)
    except KeyboardInterrupt:
        click.echo("kb: cluster stopped" if node is None else f"kb: node {node} stopped", err=True)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    except OSError as e:
        raise click.ClickException(f"cannot start the cluster in {base_dir}: {e}") from e
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@cluster.command("status")
@cluster_dir_option
@click.pass_context
def cluster_status(ctx: click.Context, base_dir: Path) -> None:
    """Show each node's health, Raft role and lag (the cluster in --dir, else KB_TYPESENSE_NODES).

    Roles and lag need the admin key (KB_TYPESENSE_API_KEY, KB_TYPESENSE_API_KEY_FILE or
    DIR/api-key). Exits 1 when a node is down or not ready, or (with the key) when there is not
    exactly one leader.
    """
    from kb.engines.typesense.nodes import node_status, read_nodes_file

    settings = _settings(ctx)
    key = _key(settings, base_dir)
    try:
        urls = [s.url for s in read_nodes_file(base_dir)] or list(settings.typesense_nodes)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    if not urls:
        raise click.ClickException(f"no cluster in {base_dir} and no KB_TYPESENSE_NODES: "
                                   f"start one with `kb cluster start --dir {base_dir}`")
    states = [node_status(url.rstrip("/"), key, i) for i, url in enumerate(urls)]
    leaders = [state for state in states if state.role == "LEADER"]
    lead = leaders[0].committed if len(leaders) == 1 else None
    for state in states:
        click.echo(state.line(lead))
    down = [state.index for state in states if not state.healthy]
    if not key:
        click.echo(f"kb: no API key (KB_TYPESENSE_API_KEY, KB_TYPESENSE_API_KEY_FILE or {base_dir}/api-key): "
                   "roles and lag not shown, the leader not checked", err=True)
    elif len(leaders) != 1:
        click.echo(f"kb: {len(leaders)} nodes say they are the leader (a majority must be up to elect one)", err=True)
    if down:
        click.echo(f"kb: node{'s' if len(down) > 1 else ''} {', '.join(map(str, down))} down or not ready", err=True)
    if down or (key and len(leaders) != 1):
        ctx.exit(1)
