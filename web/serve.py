"""`kb serve`: the web app on waitress, in one process or several on one port.

Whoosh and the request handling are pure Python, so one process uses one core. With
`--workers N`, N forked processes each listen on the port with SO_REUSEPORT, so the kernel
spreads connections across them one by one. (With one shared socket, the first process to wake
took a whole burst of new connections: half the runs had one busy worker and one idle.) Each
process opens the index for itself after the fork (never shared), builds the tables a first
search would wait for (`KnowledgeBase.warm`, and again in the background for each new
generation), and freezes what exists then out of the garbage
collector's sight (`gc.freeze`), so full collections stay a few milliseconds long.

Connections are waitress's, with limits (`web.connections`): idle and slow clients are dropped
after `client_timeout_s`, each client address holds at most `max_client_connections`, and a
request body is refused on its headers before any of it is read.

The `kb serve` command lives here, next to what it serves; `kb.cli` loads it on demand.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
from pathlib import Path

import click

from kb.config import Settings
from kb.engines.registry import describe
from kb.errors import KbError


def _run(sock: socket.socket, settings: Settings, threads: int) -> None:
    from web import create_app, services
    from web.connections import make_server

    app = create_app(settings)
    services.warm(app)
    # What exists now (modules, the app, the index's tables) lives as long as the process:
    # keep it out of every later full collection, which would otherwise walk it each time.
    gc.freeze()
    services.keep_warm(app)  # and each generation a re-index lands, off the request path
    make_server(app, sock, settings, threads).run()  # waitress with kb's limits (web.connections)


def _bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_forever(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """Bind host:port and serve until SIGINT or SIGTERM."""
    if workers <= 1:
        sock = _bind(host, port, reuse_port=False)
        sock.listen(1024)
        _run(sock, settings, threads)
        return
    # Bound but never listening: it holds the port (and fails early if it is taken) but takes
    # no connections; each worker listens on a socket of its own.
    holder = _bind(host, port, reuse_port=True)
    port = holder.getsockname()[1]
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until killed
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                holder.close()
                sock = _bind(host, port, reuse_port=True)
                sock.listen(1024)
                _run(sock, settings, threads)
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:  # if a worker dies, the others keep serving; exit when all are gone
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        if pid in children:
            children.remove(pid)


@click.command("serve")
@click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Index folder (default: KB_INDEX_DIR or .kb-index).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port (one per core uses every core).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per server process.")
@click.pass_context
def serve_command(ctx: click.Context, index_dir: Path | None, host: str, port: int, workers: int,
                  threads: int) -> None:
    """Serve the web UI and the JSON API on waitress (a production WSGI server)."""
    base: Settings = ctx.obj
    settings = base.with_(index_dir=index_dir)
    try:
        where = describe(settings)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"kb: serving {where} on http://{host}:{port}/ "
               f"({workers} process{'es' if workers > 1 else ''} x {threads} threads)")
    try:
        serve_forever(settings, host=host, port=port, workers=workers, threads=threads)
    except KbError as e:
        raise click.ClickException(str(e)) from e
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
