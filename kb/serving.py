"""`kb serve`: the web app on waitress, in one process or several sharing one listening socket.

Whoosh and the request handling are pure Python, so one process uses one core. With
`--workers N` the socket is bound once and N forked processes accept from it, each opening
the index for itself after the fork (the index is opened once per process, never shared).
This module is an edge, like the CLI: it imports `web` inside the function that needs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys

from kb.config import Settings


def _run(sock: socket.socket, settings: Settings, threads: int) -> None:
    import waitress

    from web import create_app

    waitress.serve(create_app(settings), sockets=[sock], threads=threads, ident="kb", _quiet=True)


def serve_forever(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """Bind host:port and serve until SIGINT or SIGTERM."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    if workers <= 1:
        _run(sock, settings, threads)
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until killed
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
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
