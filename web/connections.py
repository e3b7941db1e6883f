"""waitress, held to its ground: slow and idle clients dropped, connections capped, bodies screened.

waitress reads every connection in one asyncore loop, so an idle connection costs a socket and
a little memory, not a thread; what it lacks out of the box is limits. This module adds them,
by subclassing its server, channel and parser (pinned: waitress 3.0.2):

- **Idle connections** (nothing sent, or nothing since the last response) are closed after
  `client_timeout_s`; a request must arrive whole within `client_timeout_s` of its first byte,
  plus its declared body at `MIN_BODY_RATE` (a client sending a byte now and then does not
  reset the clock). The check runs every second.
- **Connections** are capped per process (`max_connections`, polled, not `select`ed) and per
  client address (`max_client_connections`): one client cannot take every slot.
- **Bodies are screened on the headers** (`web.admission`): an admin write with no or a wrong
  token, a declared length over the limit or a type that is not HTML, and any request to an
  endpoint that takes no body, is answered without reading its body; the connection then
  closes. An accepted upload is buffered up to `max_body_bytes` and no further.
"""

from __future__ import annotations

import resource
import socket
import time
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.utilities import RequestEntityTooLarge

from kb.config import Settings
from web.admission import Head, is_upload, refusal

MIN_BODY_RATE = 64 * 1024  # bytes a second an upload must average, after client_timeout_s
FD_HEADROOM = 64  # descriptors beyond the connections: the index's files, the listening socket, pipes


def _head(parser: Any) -> Head:  # waitress's parser (its stubs lack most attributes)
    h = parser.headers
    return Head(parser.command, parser.path, h.get("AUTHORIZATION", ""), h.get("CONTENT_TYPE", ""),
                h.get("CONTENT_LENGTH", ""))


def make_server(app: Any, sock: socket.socket, settings: Settings, threads: int) -> TcpWSGIServer:
    """A waitress server on a listening socket, with kb's limits (call `.run()` to serve)."""

    def reads_body(parser: Any) -> bool:
        head = _head(parser)
        return is_upload(head.method, head.path) and refusal(head, settings) is None

    class Parser(HTTPRequestParser):
        started = 0.0
        body_unread = False

        def __init__(self, adj: Adjustments) -> None:
            super().__init__(adj)
            self.started = time.time()

        def received(self, data: bytes) -> int:
            in_headers = not self.headers_finished
            n: int = super().received(data)
            # waitress's own refusal of a declared length is plain text: let the app answer it (JSON)
            too_large = isinstance(self.error, RequestEntityTooLarge) and not self.chunked
            if in_headers and self.headers_finished and (not self.completed or too_large) \
                    and (self.error is None or too_large) and not reads_body(self):
                self.error = None
                # Answered from the headers: the app refuses it (same rule) or ignores the body.
                self.body_unread = True
                self.body_rcv = None
                self.expect_continue = False  # no "100 Continue": the client need not send it
                self.connection_close = True
                headers: Any = self.headers
                headers["CONNECTION"] = "close"
                self.completed = True
                return len(data)  # nothing after it is parsed as another request
            return n

    class Channel(HTTPChannel):
        parser_class = Parser

        def received(self, data: bytes) -> bool:
            requests: Any = self.requests
            if requests and requests[-1].body_unread:
                return False  # the unread body of a refused request: dropped until the connection closes
            return bool(super().received(data))

    class Server(TcpWSGIServer):
        channel_class = Channel

        def handle_accept(self) -> None:
            try:
                found = self.accept()
                if found is None:
                    return
                conn, addr = found
            except OSError:
                return
            host = addr[0] if isinstance(addr, tuple) else addr
            channels: Any = self.active_channels
            mine = sum(1 for c in channels.values() if isinstance(c.addr, tuple) and c.addr[0] == host)
            if mine >= settings.max_client_connections:
                conn.close()  # this client already holds its share
                return
            self.set_socket_options(conn)
            me: Any = self
            self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=me._map)

        def maintenance(self, now: Any) -> None:
            super().maintenance(now)  # closes connections idle for channel_timeout
            channels: Any = self.active_channels
            for channel in list(channels.values()):
                request = channel.request
                if request is None or channel.requests:
                    continue
                allowed = settings.client_timeout_s + request.content_length / MIN_BODY_RATE
                if now - request.started > allowed:
                    channel.will_close = True  # headers or body too slow: a slow-loris, or a lost client

    _raise_descriptor_limit(settings.max_connections + FD_HEADROOM)
    adj = Adjustments(
        sockets=[sock], threads=threads, ident="kb",
        connection_limit=settings.max_connections,
        channel_timeout=max(1, round(settings.client_timeout_s)),
        cleanup_interval=1,
        asyncore_use_poll=True,  # select() cannot watch descriptors above 1024
        max_request_body_size=settings.max_body_bytes + 1,  # waitress refuses at >=
    )
    return Server(app, {}, True, sock, adj=adj, bind_socket=False,
                  sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))


def _raise_descriptor_limit(wanted: int) -> None:
    """Raise the soft limit on open descriptors towards `wanted` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
