"""HTTP endpoint through which an HR system pushes who changed, so the worker acts in seconds.

Protocol, for HR vendors
------------------------
``POST /v1/roster-changes`` with ``Content-Type: application/json`` and a
``Content-Length`` header (chunked bodies are refused), body at most
``max_body_bytes`` (1 MiB by default)::

    {"employee_ids": ["CB2001", "CB2002"]}

or rows with the same keys a JSON roster export uses, validated exactly like one::

    {"rows": [{"Mã cán bộ": "CB2001", "Họ và tên": "...", "Trạng thái": "Nghỉ việc", ...}]}

or both keys. No other top-level key is accepted. At most 10,000 ``employee_ids``.

Authentication: each configured method must pass (both, when both are configured).

* Bearer token: ``Authorization: Bearer <token>`` (the token is at least 32 bytes).
* HMAC signature: send ``X-Syncbot-Timestamp: <unix seconds, integer>`` and
  ``X-Syncbot-Signature: sha256=<hex>``, where ``<hex>`` is the lowercase hexadecimal
  HMAC-SHA256, keyed with the shared secret (its UTF-8 bytes), of the ASCII timestamp,
  one ``.`` and the raw body bytes exactly as sent::

      signed = timestamp.encode() + b"." + body
      signature = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()

  A timestamp more than 5 minutes from the server's clock is refused, so a captured
  request cannot be replayed later, and a signature already accepted within those
  5 minutes is refused with 409 (``replayed_request``), so it cannot be replayed sooner
  either: to send the same body again, sign it with a later timestamp. A push answered
  503 may be resent as is.

Answers (JSON bodies; messages are Vietnamese / English):

* 202 ``{"accepted": <number of people>, "queued": true}``: the worker will reconcile them.
* 400 malformed JSON or request, 401 authentication failed, 404 other path,
  405 other method, 409 signed request already received (``replayed_request``),
  411 no Content-Length, 413 body too large, 415 not JSON,
  422 rows invalid: ``{"error": "invalid_rows", "problems": [{"row", "column", "message"}]}``,
  503 the worker could not queue the request (retry later).

Connections: one request per connection. The request line and headers (and the TLS
handshake) must arrive within ``header_timeout_seconds`` (5 s by default) of connecting,
the whole request within 10 s. When ``max_connections`` or ``max_connections_per_peer`` is
reached, the oldest connection not yet authenticated is closed to make room.

A pushed rows body is kept by its sha256 (of the raw body): audit evidence for those
rows names the push and that hash, so it can be matched to what the HR system sent.
"""

from __future__ import annotations

import contextlib
import heapq
import hmac
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import Any

import structlog

from syncbot.errors import RosterError
from syncbot.match_keys import nfc
from syncbot.model import Roster, Vocabulary
from syncbot.roster import load_roster
from syncbot.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from syncbot.wording import worker as words
from syncbot.wording.pair import both
from syncbot.worker.serving import (
    REQUEST_TIMEOUT_SECONDS,
    BackgroundServer,
    GuardedHandler,
    GuardedServer,
)
from syncbot.worker.settings import PushSettings, check_push_settings

log = structlog.get_logger("syncbot.worker.push")

PATH = "/v1/roster-changes"
MAX_EMPLOYEE_IDS = 10_000
REPLAY_WINDOW_SECONDS = 300
#: How much of a refused body is read, and for how long, before the connection is closed.
DRAIN_BYTES = 256 * 1024
DRAIN_SECONDS = 1.0
#: How often the serving loop looks for `stop()`; also how long `stop()` may wait.
SHUTDOWN_POLL_SECONDS = 0.1

_BODY_KEYS = frozenset({"employee_ids", "rows"})


@dataclass(frozen=True, slots=True)
class PushRequest:
    """What an HR push asks of the worker: reconcile these people, using these rows if given."""

    employee_ids: frozenset[str]  # never empty
    rows: Roster | None
    peer: str


class _Rejected(Exception):
    """A request refused with an HTTP status; `reason` is the log key, `body` the JSON answer."""

    def __init__(
        self,
        status: HTTPStatus,
        reason: str,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body: dict[str, Any] = {"error": reason, "message": message, **(extra or {})}
        self.headers = dict(headers or {})


def _unauthorized(reason: str, message: str) -> _Rejected:
    return _Rejected(
        HTTPStatus.UNAUTHORIZED,
        reason,
        message,
        headers={"WWW-Authenticate": 'Bearer realm="syncbot"'},
    )


class PushServer:
    """The push endpoint on a background thread; `submit` must only queue, never reconcile."""

    def __init__(
        self,
        settings: PushSettings,
        submit: Callable[[PushRequest], None],
        vocabulary: Callable[[], Vocabulary],
        *,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not settings.token and not settings.hmac_secret:
            # Anyone reaching the port could get staff locked out: never serve it open.
            raise ValueError(
                "the push endpoint needs a token or an HMAC secret (or both); refusing to start"
            )
        if settings.key_file is not None and settings.cert_file is None:
            raise ValueError("push key_file is set without cert_file")
        if settings.max_body_bytes <= 0:
            raise ValueError("push max_body_bytes must be positive")
        check_push_settings(settings)
        self._settings = settings
        self._submit = submit
        self._vocabulary = vocabulary
        self._timeout = request_timeout
        self._clock = clock
        self._seen = _SeenSignatures(clock)
        self._serving = BackgroundServer("push")

    @property
    def port(self) -> int:
        return self._serving.port

    def start(self) -> None:
        self._serving.check_not_started()
        context = _tls_context(self._settings)
        server = _Server(
            self._settings.host,
            self._settings.port,
            _Handler,
            what="push",
            limits=self._settings.limits,
            request_timeout=self._timeout,
        )
        server.push = self
        if context is not None:
            # No handshake in accept(): the connection's own thread does it, under its deadline.
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._serving.serve(server, poll_interval=SHUTDOWN_POLL_SECONDS)
        log.info("push_listening", host=self._settings.host, port=self.port, tls=bool(context))

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        self._serving.stop()

    # --- one request ----------------------------------------------------------------------

    def _check_bearer(self, headers: Message) -> None:
        token = self._settings.token
        if not token:
            return
        given = headers.get("Authorization")
        if given is None:
            raise _unauthorized("missing_token", both(words.MISSING_TOKEN))
        scheme, _, value = given.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise _unauthorized("bad_token", both(words.BAD_TOKEN))

    def _check_timestamp(self, headers: Message) -> str | None:
        """The timestamp to sign with, checked before the body is read; None without HMAC."""
        if not self._settings.hmac_secret:
            return None
        stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            raise _unauthorized(
                "missing_timestamp",
                both(words.BAD_TIMESTAMP),
            )
        if abs(self._clock() - int(stamp)) > REPLAY_WINDOW_SECONDS:
            raise _unauthorized(
                "stale_timestamp",
                both(words.STALE_TIMESTAMP),
            )
        return stamp

    def _check_signature(self, headers: Message, stamp: str, body: bytes) -> str:
        """The verified signature, refused if it was already accepted within the window."""
        secret = self._settings.hmac_secret
        assert secret is not None
        given = (headers.get(SIGNATURE_HEADER) or "").strip()
        wanted = signature(secret, stamp, body)
        if not hmac.compare_digest(given.lower().encode(), wanted.encode()):
            raise _unauthorized("bad_signature", both(words.BAD_SIGNATURE))
        if not self._seen.first_time(wanted, int(stamp)):
            raise _Rejected(
                HTTPStatus.CONFLICT,
                "replayed_request",
                both(words.REPLAYED),
            )
        return wanted

    def _request(self, body: bytes, peer: str) -> PushRequest:
        document = _parse_body(body)
        ids = _employee_ids(document.get("employee_ids"))
        rows = None
        if "rows" in document:
            if not isinstance(document["rows"], list):
                raise _bad_request(both(words.ROWS_NOT_ARRAY))
            rows = self._validated_rows(body, peer)
            ids |= {row.employee_id for row in rows.rows}
        if not ids:
            raise _bad_request(
                both(words.NOBODY),
            )
        return PushRequest(employee_ids=frozenset(ids), rows=rows, peer=peer)

    def _validated_rows(self, body: bytes, peer: str) -> Roster:
        """The rows checked by the JSON roster reader itself, so a push is held to the same rules.

        The whole body is given to it: the reader takes the one array under "rows" and
        ignores "employee_ids", and the roster's sha256 is then the hash of what was sent.
        """
        with tempfile.TemporaryDirectory(prefix="syncbot-push-") as folder:
            path = Path(folder) / "push.json"
            path.write_bytes(body)
            try:
                roster = load_roster(path, self._vocabulary(), format="json")
            except RosterError as error:
                raise _Rejected(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    "invalid_rows",
                    both(words.INVALID_ROWS),
                    extra={
                        "problems": [
                            {"row": p.row, "column": p.column, "message": p.message}
                            for p in error.problems
                        ]
                    },
                ) from None
        received = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return replace(roster, path=f"HR push from {peer} at {received}")


class _SeenSignatures:
    """Signatures accepted while their timestamp is inside the window: a second one is a replay.

    Only verified signatures are kept, so only a holder of the secret can fill it; each is
    forgotten once its timestamp is out of the window and the request would be stale anyway.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, int] = {}
        self._expiry: list[tuple[int, str]] = []  # a heap, soonest first

    def first_time(self, signature: str, stamp: int) -> bool:
        now = self._clock()
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                until, old = heapq.heappop(self._expiry)
                if self._until.get(old) == until:
                    del self._until[old]
            if signature in self._until:
                return False
            until = stamp + REPLAY_WINDOW_SECONDS
            self._until[signature] = until
            heapq.heappush(self._expiry, (until, signature))
            return True

    def forget(self, signature: str) -> None:
        """For a request that was refused after all, so its sender may send it again."""
        with self._lock:
            self._until.pop(signature, None)


def _bad_request(message: str, reason: str = "invalid_request") -> _Rejected:
    return _Rejected(HTTPStatus.BAD_REQUEST, reason, message)


def _parse_body(body: bytes) -> dict[str, Any]:
    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise _bad_request(both(words.REPEATED_KEY), reason="invalid_json")
        return dict(pairs)

    try:
        document = json.loads(body, object_pairs_hook=unique_keys)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are both
        raise _bad_request(
            both(words.NOT_JSON),
            reason="invalid_json",
        ) from None
    if not isinstance(document, dict):
        raise _bad_request(both(words.NOT_OBJECT))
    unknown = sorted(set(document) - _BODY_KEYS)
    if unknown:
        raise _bad_request(words.unknown_keys(unknown))
    return document


def _employee_ids(value: Any) -> set[str]:
    if value is None:
        return set()
    if not isinstance(value, list):
        raise _bad_request(both(words.IDS_NOT_ARRAY))
    if len(value) > MAX_EMPLOYEE_IDS:
        raise _bad_request(words.too_many_ids(MAX_EMPLOYEE_IDS))
    ids = set()
    for position, item in enumerate(value, start=1):
        employee_id = nfc(item) if isinstance(item, str) else ""
        if not employee_id:
            raise _bad_request(words.bad_id(position))
        ids.add(employee_id)
    return ids


def _tls_context(settings: PushSettings) -> ssl.SSLContext | None:
    if settings.cert_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def no_passphrase() -> str:
        # Without this, OpenSSL would prompt on the terminal of a service that has none.
        raise ValueError("the push TLS key must not be passphrase-protected")

    try:
        context.load_cert_chain(settings.cert_file, settings.key_file, password=no_passphrase)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise ValueError(
            f"cannot load the push TLS certificate {settings.cert_file}: {reason}"
        ) from None
    return context


# --- the HTTP plumbing --------------------------------------------------------------------


class _Server(GuardedServer):
    push: PushServer


class _Handler(GuardedHandler):
    server: _Server
    trusted_after_head = False  # only authentication makes a push connection worth keeping

    def setup(self) -> None:
        super().setup()
        self._body_read = False
        self._signature: str | None = None

    def finish(self) -> None:
        super().finish()
        if self._body_unread():
            self._drain()

    def _body_unread(self) -> bool:
        headers = getattr(self, "headers", None)  # absent when the request line was bad
        return (
            not self._body_read
            and headers is not None
            and (
                headers.get("Transfer-Encoding") is not None
                or headers.get("Content-Length", "0").strip() not in ("", "0")
            )
        )

    def _drain(self) -> None:
        """Read a little of a refused body before closing, so the answer is not lost.

        Closing a socket with unread input makes the kernel send a reset, and a client
        still sending would never see the 413 or 401 it was given.
        """
        try:
            socket.socket.shutdown(self.connection, socket.SHUT_WR)
            self.connection.settimeout(DRAIN_SECONDS)
            drained = 0
            while drained < DRAIN_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        # The standard access log goes to stderr unstructured; push_* events replace it.
        pass

    def log_error(self, format: str, *args: Any) -> None:
        # Only the standard handler's own refusals land here (bad request line, timeout):
        # its message quotes the request line at most, never headers or body.
        log.info("push_rejected", reason="bad_http", peer=self.peer, detail=format % args)

    def do_POST(self) -> None:
        try:
            self._route("POST")
            request = self._accept()
        except _Rejected as rejected:
            self._reject(rejected)
            return
        except TimeoutError:
            log.info("push_rejected", reason="timeout", peer=self.peer)
            self.close_connection = True
            return
        try:
            self.server.push._submit(request)
        except Exception:
            log.exception("push_rejected", reason="queue_failed", peer=self.peer)
            if self._signature is not None:
                self.server.push._seen.forget(self._signature)
            self._reply(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {
                    "error": "queue_failed",
                    "message": both(words.QUEUE_FAILED),
                },
            )
            return
        log.info(
            "push_received",
            peer=self.peer,
            people=len(request.employee_ids),
            rows=len(request.rows.rows) if request.rows else 0,
        )
        self._reply(HTTPStatus.ACCEPTED, {"accepted": len(request.employee_ids), "queued": True})

    def _other_method(self) -> None:
        try:
            self._route(self.command)
        except _Rejected as rejected:
            self._reject(rejected)

    do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _other_method

    def _route(self, method: str) -> None:
        if self.path.split("?", 1)[0] != PATH:
            raise _Rejected(HTTPStatus.NOT_FOUND, "not_found", both(words.NOT_FOUND))
        if method != "POST":
            raise _Rejected(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                both(words.ONLY_POST),
                headers={"Allow": "POST"},
            )

    def _accept(self) -> PushRequest:
        """Every check in order of cost: nothing is read before the headers allow it."""
        push = self.server.push
        headers = self.headers
        push._check_bearer(headers)
        if push._settings.token:
            self.trust()
        stamp = push._check_timestamp(headers)
        _check_content_type(headers.get("Content-Type"))
        length = _content_length(headers, push._settings.max_body_bytes)
        body = self.rfile.read(length)
        self._body_read = True
        if len(body) != length:
            raise _bad_request(
                both(words.SHORT_BODY),
                reason="incomplete_body",
            )
        if stamp is not None:
            self._signature = push._check_signature(headers, stamp, body)
            self.trust()
        return push._request(body, self.peer)

    def _reject(self, rejected: _Rejected) -> None:
        log.info(
            "push_rejected", reason=rejected.reason, peer=self.peer, status=int(rejected.status)
        )
        self._reply(rejected.status, rejected.body, rejected.headers)

    def _reply(
        self,
        status: HTTPStatus,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            # A client that left was answered as far as it listened.
            with contextlib.suppress(OSError):
                self.wfile.write(data)


def _check_content_type(value: str | None) -> None:
    media, *params = (value or "").split(";")
    charsets = [
        p.split("=", 1)[1].strip().strip('"').lower()
        for p in params
        if p.strip().lower().startswith("charset=")
    ]
    if media.strip().lower() != "application/json" or any(c != "utf-8" for c in charsets):
        raise _Rejected(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            both(words.NOT_JSON_TYPE),
        )


def _content_length(headers: Message, limit: int) -> int:
    """The declared length, refused before reading when absent, chunked or over the limit."""
    if headers.get("Transfer-Encoding") is not None:
        raise _Rejected(
            HTTPStatus.LENGTH_REQUIRED,
            "length_required",
            both(words.CHUNKED),
        )
    values = headers.get_all("Content-Length") or []
    if not values:
        raise _Rejected(
            HTTPStatus.LENGTH_REQUIRED,
            "length_required",
            both(words.NO_LENGTH),
        )
    text = values[0].strip()
    if len(values) != 1 or not text.isascii() or not text.isdigit():
        raise _bad_request(both(words.BAD_LENGTH))
    length = int(text)
    if length > limit:
        raise _Rejected(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "body_too_large",
            words.too_large(limit),
        )
    return length
