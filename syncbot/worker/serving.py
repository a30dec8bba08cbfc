"""What the push and metrics listeners share: a background thread, and a guard on connections.

Each connection is served on its own thread, so a client that connects and then says nothing,
drips its request a byte at a time or never finishes its TLS handshake holds a thread and a
slot. Refusing newcomers once the slots are full would hand the listener to whoever holds them;
an honest client and a slow one look the same when they connect. So the guard:

* gives the TLS handshake, request line and headers one deadline, counted from accept, which
  dripping bytes cannot push back, and the whole request a longer one;
* caps connections in total and per peer address; when a cap is reached, the oldest connection
  not yet trusted (still sending its head, or, for the push endpoint, not yet authenticated)
  is closed to make room, and only when every held connection is trusted is the newcomer
  refused. An honest client sends its head at once and is trusted before the next few
  connections arrive; a dripper never is.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import BaseServer
from typing import Any

import structlog

from syncbot.worker.settings import ListenerLimits

log = structlog.get_logger("syncbot.worker.serving")

#: The whole request, from accept to the last byte of the answer, one request per connection.
REQUEST_TIMEOUT_SECONDS = 10.0
#: Connections the guard closed are reported together at most this often: under attack, one
#: log line per connection would become the attack.
SHED_REPORT_SECONDS = 10.0


class BackgroundServer:
    """Owns a started server and the thread serving it, so each endpoint only builds its server."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._server: BaseServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self._what} server is not started")
        address = self._server.server_address
        return int(address[1])  # type: ignore[index]

    def check_not_started(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"the {self._what} server is already started")

    def serve(self, server: BaseServer, poll_interval: float) -> None:
        self.check_not_started()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=f"syncbot-{self._what}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None


@dataclass(eq=False, slots=True)
class Ticket:
    """One held connection: whose, until when, and whether it may still be closed for room."""

    connection: socket.socket
    peer: str
    accepted: float
    deadline: float
    trusted: bool = False
    cut: str | None = None  # why the guard closed it, once it has


class ConnectionGuard:
    """Admits, times and sheds a listener's connections; see the module docstring for why."""

    def __init__(
        self,
        what: str,
        limits: ListenerLimits,
        request_timeout: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limits.max_connections < 1 or limits.max_connections_per_peer < 1:
            raise ValueError(f"{what} connection caps must be at least 1")
        if not limits.header_timeout_seconds > 0 or not request_timeout > 0:
            raise ValueError(f"{what} timeouts must be positive")
        self._what = what
        self._limits = limits
        self.request_timeout = request_timeout
        self._head_timeout = min(limits.header_timeout_seconds, request_timeout)
        self._clock = clock
        self._lock = threading.Lock()
        # Insertion order is accept order, so the first untrusted ticket is the oldest one.
        self._tickets: dict[socket.socket, Ticket] = {}
        self._shed: Counter[str] = Counter()
        self._shed_peers: Counter[str] = Counter()
        self._reported = -math.inf

    def admit(self, connection: socket.socket, peer: str) -> Ticket | None:
        """A ticket for a new connection, closing older untrusted ones for room; None to refuse."""
        now = self._clock()
        with self._lock:
            # Closed tickets stay until their thread ends; this bounds threads, not only slots.
            if len(self._tickets) >= 2 * self._limits.max_connections:
                self._count("refused", peer)
                return None
            for scope, cap in (
                (peer, self._limits.max_connections_per_peer),
                (None, self._limits.max_connections),
            ):
                held = [
                    t
                    for t in self._tickets.values()
                    if t.cut is None and (scope is None or t.peer == scope)
                ]
                excess = len(held) - cap + 1
                if excess <= 0:
                    continue
                victims = [t for t in held if not t.trusted][:excess]
                if len(victims) < excess:
                    self._count("refused", peer)
                    return None
                for victim in victims:
                    self._cut(victim, "evicted")
            ticket = Ticket(connection, peer, now, now + self._head_timeout)
            self._tickets[connection] = ticket
            return ticket

    def ticket(self, connection: socket.socket) -> Ticket | None:
        with self._lock:
            return self._tickets.get(connection)

    def head_received(self, ticket: Ticket, *, trusted: bool) -> None:
        """The head is in: the deadline becomes the whole request's."""
        with self._lock:
            ticket.deadline = ticket.accepted + self.request_timeout
            ticket.trusted = ticket.trusted or trusted

    def trust(self, ticket: Ticket) -> None:
        """The client proved who it is: its connection is no longer closed to make room."""
        with self._lock:
            ticket.trusted = True

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets.pop(ticket.connection, None)

    def reap(self) -> None:
        """Close connections past their deadline; report what was shed, now and then."""
        now = self._clock()
        with self._lock:
            for ticket in self._tickets.values():
                if ticket.cut is None and ticket.deadline <= now:
                    self._cut(ticket, "timed_out")
            if not self._shed or now - self._reported < SHED_REPORT_SECONDS:
                return
            counts, peers = dict(self._shed), dict(self._shed_peers.most_common(5))
            self._shed.clear()
            self._shed_peers.clear()
            self._reported = now
        log.warning(f"{self._what}_connections_shed", **counts, peers=peers)

    def _count(self, reason: str, peer: str) -> None:
        self._shed[reason] += 1
        self._shed_peers[peer] += 1

    def _cut(self, ticket: Ticket, reason: str) -> None:
        ticket.cut = reason  # set first: the thread woken by the shutdown looks at it
        self._count(reason, ticket.peer)
        # socket.socket's own shutdown, not SSLSocket's, which would drop its TLS state under
        # the thread still reading; it wakes that thread's recv at once.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(ticket.connection, socket.SHUT_RDWR)


class GuardedServer(HTTPServer):
    """An HTTP server whose connections each get a thread, admitted and timed by a guard."""

    # The default backlog of 5 drops handshakes under a burst; they are then accepted out of
    # order, seconds later.
    request_queue_size = 128

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[GuardedHandler],
        *,
        what: str,
        limits: ListenerLimits,
        request_timeout: float,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.what = what
        self.guard = ConnectionGuard(what, limits, request_timeout)
        super().__init__((host, port), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        ticket = self.guard.admit(request, str(client_address[0]))
        if ticket is None:
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self._serve_one,
            args=(request, client_address, ticket),
            name=f"syncbot-{self.what}-connection",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            self.guard.release(ticket)
            self.shutdown_request(request)
            raise

    def _serve_one(self, request: Any, client_address: Any, ticket: Ticket) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.guard.release(ticket)
            self.shutdown_request(request)

    def service_actions(self) -> None:
        # Called by serve_forever every poll interval: deadlines need no thread of their own.
        self.guard.reap()

    def handle_error(self, request: Any, client_address: Any) -> None:
        ticket = self.guard.ticket(request)
        if ticket is not None and ticket.cut is not None:
            return  # the guard closed it; the error is that closing, already counted
        # The default prints a traceback to stderr; a dropped connection is not worth one.
        log.warning(f"{self.what}_connection_failed", peer=client_address[0], exc_info=True)


class GuardedHandler(BaseHTTPRequestHandler):
    """One request per connection, its TLS handshake done here, on the connection's thread."""

    server: GuardedServer
    server_version = "syncbot"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection: the deadline covers it all
    #: Whether a complete head is enough to trust the connection; the push endpoint waits
    #: for authentication instead.
    trusted_after_head = True

    def setup(self) -> None:
        super().setup()
        ticket = self.server.guard.ticket(self.request)
        assert ticket is not None  # released only after this handler returns
        self.ticket = ticket
        # The guard's deadlines cover the whole head and request; this bounds one blocked read.
        self.connection.settimeout(self.server.guard.request_timeout)

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            # Here rather than in accept(): one client slow to handshake would stall every other.
            try:
                self.connection.do_handshake()
            except (OSError, ssl.SSLError) as error:
                if self.ticket.cut is None:
                    log.info(
                        f"{self.server.what}_rejected",
                        reason="tls_handshake",
                        peer=self.peer,
                        detail=str(error),
                    )
                return
        super().handle()

    def parse_request(self) -> bool:
        if self.ticket.cut is not None:
            # Cut off mid-head: what was read before the close is not a request to answer.
            self.close_connection = True
            return False
        if not super().parse_request():
            return False
        self.server.guard.head_received(self.ticket, trusted=self.trusted_after_head)
        return True

    def trust(self) -> None:
        self.server.guard.trust(self.ticket)

    @property
    def peer(self) -> str:
        return str(self.client_address[0])
