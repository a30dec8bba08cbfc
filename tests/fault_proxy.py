"""A reverse proxy on 127.0.0.1 whose failures a test switches on and off at run time.

Put in front of a real Keycloak, it passes requests through until told to answer 503, to
hang past the client's timeout or to drop the connection, for the next N matching requests
or until told otherwise. "Matching" lets a test aim at the writes of an apply and spare the
reads and the token requests, or the reverse.

A hang or a drop may happen before the request is forwarded (Keycloak never sees it) or
after (Keycloak carries it out and the answer is lost): the second is the case where a
client cannot know whether its change was made.

The Host header is passed on unchanged, so Keycloak issues tokens for the proxy's address
and accepts them back through it.
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import http.server
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

#: Headers that describe one hop, not the message: never copied across the proxy.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_UPSTREAM_TIMEOUT = 300.0  # a partial import of thousands of users is one long request

Match = Callable[[str, str], bool]


def any_request(method: str, path: str) -> bool:
    return True


def admin_writes(method: str, path: str) -> bool:
    """The changes an apply makes: admin API calls other than reads."""
    return "/admin/realms/" in path and method != "GET"


def admin_requests(method: str, path: str) -> bool:
    """Every admin API call, but not the token requests."""
    return "/admin/realms/" in path


def after(count: int, match: Match = admin_writes, *, starting_with: Match = admin_writes) -> Match:
    """Every request, once `count` requests matching `match` went through and then one
    matching `starting_with` arrived: an outage that starts mid-run at the same point every
    time, whatever the machine's speed, and (by default) on a change, not on a read."""
    seen = 0
    started = False

    def matches(method: str, path: str) -> bool:
        nonlocal seen, started  # only called under the proxy's lock
        if not started and seen >= count:
            started = starting_with(method, path)
        if started:
            return True
        seen += match(method, path)
        return False

    return matches


class Mode(enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # answer `status` (503) without forwarding
    HANG = "hang"  # hold the connection past the client's timeout, then close it
    DROP = "drop"  # close the connection without an answer


@dataclass
class _Fault:
    mode: Mode
    remaining: int | None  # None: until switched off
    match: Match
    forward: bool  # carry the request out first, then fail the answer
    status: int
    hang_seconds: float


@dataclass
class Seen:
    """One request the proxy received, and what it did with it."""

    method: str
    path: str
    fault: Mode


class FaultProxy:
    """The proxy; `url` is where clients go instead of `upstream`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self._lock = threading.Lock()
        self._fault: _Fault | None = None
        self._closing = threading.Event()
        self.seen: list[Seen] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- switches --------------------------------------------------------------------------

    def healthy(self) -> None:
        """Pass everything through from now on."""
        with self._lock:
            self._fault = None

    def fail(
        self,
        count: int | None = None,
        *,
        status: int = 503,
        match: Match = any_request,
        forward: bool = False,
    ) -> None:
        """Answer `status` to the next `count` matching requests (None: until `healthy`)."""
        self._set(Mode.FAIL, count, match, forward=forward, status=status)

    def hang(
        self,
        count: int | None = None,
        *,
        seconds: float = 5.0,
        match: Match = any_request,
        forward: bool = False,
    ) -> None:
        """Hold the next `count` matching requests for `seconds`, then close unanswered."""
        self._set(Mode.HANG, count, match, forward=forward, hang_seconds=seconds)

    def drop(
        self, count: int | None = None, *, match: Match = any_request, forward: bool = False
    ) -> None:
        """Close the connection of the next `count` matching requests without an answer."""
        self._set(Mode.DROP, count, match, forward=forward)

    def _set(
        self,
        mode: Mode,
        count: int | None,
        match: Match,
        *,
        forward: bool,
        status: int = 503,
        hang_seconds: float = 0.0,
    ) -> None:
        with self._lock:
            self._fault = _Fault(mode, count, match, forward, status, hang_seconds)

    # -- counters --------------------------------------------------------------------------

    def faults(self, mode: Mode | None = None) -> int:
        """How many requests were failed on purpose (of one mode, or of any)."""
        with self._lock:
            return sum(s.fault is not Mode.PASS and mode in (None, s.fault) for s in self.seen)

    def passed(self, match: Match = any_request) -> int:
        """How many matching requests went through untouched."""
        with self._lock:
            return sum(s.fault is Mode.PASS and match(s.method, s.path) for s in self.seen)

    # -- used by the handler ---------------------------------------------------------------

    def _decide(self, method: str, path: str) -> _Fault | None:
        """The fault for this request, if any, counting it down."""
        with self._lock:
            fault = self._fault
            if fault is None or not fault.match(method, path):
                self.seen.append(Seen(method, path, Mode.PASS))
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._fault = None
            self.seen.append(Seen(method, path, fault.mode))
            return fault


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Keycloak itself offers
    server: _Server

    def _proxy(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = proxy._decide(self.command, self.path)
        if fault is None:
            answer = self._forward(body)
            if answer is None:
                self._cut()
            else:
                self._answer(*answer)
            return
        if fault.forward:
            self._forward(body)  # Keycloak carries it out; its answer is lost
        if fault.mode is Mode.FAIL:
            self._answer(fault.status, [("Retry-After", "0")], b"Service Unavailable")
            return
        if fault.mode is Mode.HANG:
            proxy._closing.wait(fault.hang_seconds)
        self._cut()

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        proxy = self.server.proxy
        upstream = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=_UPSTREAM_TIMEOUT
        )
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            content = response.read()
        except OSError:
            return None  # Keycloak itself is gone: the client sees a dropped connection
        finally:
            upstream.close()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return response.status, kept, content

    def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _cut(self) -> None:
        """Close without an answer: the client sees the connection end."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _proxy

    def log_message(self, format: str, *args: object) -> None:  # quiet in test output
        pass
