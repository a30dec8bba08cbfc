"""Keycloak's Admin REST API as syncbot uses it: one service account, paged reads, plain errors.

`session.Session` signs in with the client credentials and gets a new access token when
the old one is near its end or is refused with 401, so a long run outlives short token
lifespans. The requests are built here, each name escaped as a path segment: pasted into
URLs as they are (as python-keycloak's `KeycloakAdmin` helpers do), a SAML client named by
its URL, or a role or group name holding "/", "?", "#" or "%", would reach the wrong
resource or none. Lists are decoded item by item as their answer arrives (`json_stream`).

Transient failures (502/503/504 answers, refused or dropped connections, read timeouts) are
retried with exponential backoff and jitter, within `RetryPolicy`'s bounds, but only for
requests that are safe to send twice: GET, PUT, DELETE and the POSTs syncbot sends (role
mappings and logout, both harmless to repeat). When a call exhausts its retries the server
counts as down for a cooldown: later calls fail at once instead of each waiting out the whole
budget, so an outage costs one budget per cooldown, not one per step, and the LDAP steps of
the same run go on at full speed. After the cooldown a single attempt probes the server.
Calls sent from several threads at once share that budget: one call at a time retries, and
the others, failing meanwhile, wait for its verdict (the server is down: they give up at
once; it answers again: they retry in turn).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NoReturn, TypeVar, cast
from urllib.parse import quote

import requests
import structlog
from requests import Response
from urllib3.exceptions import NewConnectionError

from syncbot.targets.keycloak.json_stream import NotAList, array_items
from syncbot.targets.keycloak.permissions import need_for
from syncbot.targets.keycloak.session import Session, SignInError, Unreachable
from syncbot.targets.keycloak.settings import KeycloakSettings

REALM_MANAGEMENT = "realm-management"
HTTP_NOT_FOUND = 404
HTTP_FORBIDDEN = 403
HTTP_UNAVAILABLE = 503
_OK_CODES = range(200, 300)
_MAX_ERROR_TEXT = 300
# The innermost reason of a requests/urllib3 failure: "[Errno 111] Connection refused",
# "certificate verify failed: …", "Read timed out".
_REASON = re.compile(
    r"(\[Errno -?\d+\][^'\")]*|certificate verify failed[^'\"(]*|"
    r"[Rr]ead timed out|timed out|Name or service not known|"
    r"Remote end closed connection without response|Connection reset by peer|Connection aborted)"
)
#: Reasons that mean the server took the request and closed without answering.
_NO_ANSWER = (
    "Remote end closed connection without response",
    "Connection reset by peer",
    "Connection aborted",
)
#: Answers of a proxy or a server that is starting, stopping or overloaded: try again later.
TRANSIENT_STATUSES = frozenset({502, 503, 504})
#: POSTs that leave the same state however often they are sent: role mappings and logout.
_IDEMPOTENT_POST = re.compile(r"users/[^/]+/(logout|role-mappings/(realm|clients/[^/]+))")

log = structlog.get_logger("syncbot.keycloak")

#: Requests one call sends at once (a targeted read's searches, a window's steps): each is
#: a few milliseconds of round trip the server can overlap; more gains nothing against
#: one server and adds its load.
IN_FLIGHT = 4

_T = TypeVar("_T")
#: json's `object_hook`: what to keep of each decoded object.
Hook = Callable[[dict[str, Any]], Any]
#: Bytes of a list's answer read at a time; what is held of it beyond its decoded items.
LIST_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries before it fails.

    `attempts` bounds the tries; `window` bounds the time: no attempt starts later than
    `window` seconds after the first (with the default 30 s timeout, a hanging server gets
    two attempts, a server answering 503 gets all four). `cooldown` is how long the server
    counts as down once a call has given up.
    """

    attempts: int = 4
    first_delay: float = 0.5
    max_delay: float = 8.0
    window: float = 60.0
    cooldown: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        Exponential with "equal jitter" (`jitter` in [0, 1) draws between half and all of
        the step), so many clients restarted together do not retry in lockstep. A server's
        Retry-After is honoured up to `max_delay`: a longer wait belongs to the next run.
        """
        step = min(self.max_delay, self.first_delay * 2.0 ** (attempt - 1))
        wait = step * (0.5 + jitter / 2)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(self.max_delay, wait)


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class _Failure:
    """One failed attempt that may pass: what to say, the status, whether it reached Keycloak."""

    text: str
    status: int | None
    sent: bool
    retry_after: float | None = None


@dataclass(frozen=True)
class _Outage:
    """The server counted as down since `since` (wall clock), tried again from `retry_at`."""

    since: datetime
    retry_at: float  # time.monotonic()
    last: str
    status: int | None


class AdminError(Exception):
    """A call was refused or never answered; the message is safe to log and show.

    `status` is the HTTP status, or None when no answer came; `maybe_done` says a change
    was sent and may have been carried out although no answer said so.
    """

    def __init__(self, message: str, status: int | None = None, *, maybe_done: bool = False):
        super().__init__(message)
        self.status = status
        self.maybe_done = maybe_done


@dataclass(frozen=True)
class _Answer:
    """An answer, and the items of the list it held when it was read as one."""

    response: Response
    items: list[Any] | None = None


def segment(value: str) -> str:
    """One path segment, every reserved character escaped (slashes too)."""
    return quote(value, safe="")


def segments(path: str) -> str:
    """A slash-separated path (a group path) escaped segment by segment, no leading slash."""
    return quote(path.lstrip("/"), safe="/")


class AdminApi:
    """Calls under /admin/realms/{realm}/ as the service account of `settings.client_id`.

    One session. Calls may be sent from a few threads at once once a first call has
    opened it (`ensure_signed_in`): the targeted read's searches and a window's steps of
    different users are; requests' session and urllib3's pool take concurrent requests,
    and the count, the sign-in and the retries are locked.
    """

    def __init__(self, settings: KeycloakSettings, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.settings = settings
        self.retry = retry
        self._outage: _Outage | None = None
        self._outage_lock = threading.Lock()  # who probes a server counted as down
        self._retry_turn = threading.Lock()  # one call retries at a time
        self._random = random.Random()  # noqa: S311 - jitter, not a secret
        # urljoin drops the last path segment of a base without a trailing slash, which
        # would lose the /auth of a Keycloak still served under it.
        self.base_url = settings.server_url.rstrip("/") + "/"
        self.realm_path = f"admin/realms/{segment(settings.realm)}/"
        self._conn: Session | None = None
        self._closed_calls = 0  # made by sessions already closed

    def __repr__(self) -> str:
        return (
            f"AdminApi(url={self.settings.server_url!r}, realm={self.settings.realm!r}, "
            f"client_id={self.settings.client_id!r})"
        )

    @property
    def calls(self) -> int:
        """Admin API calls made so far (token requests not included)."""
        return self._closed_calls + (self._conn.calls if self._conn is not None else 0)

    # -- connection ------------------------------------------------------------------------

    def connection(self) -> Session:
        if self._conn is None:
            try:
                self._conn = Session(self.settings, self.base_url)
            except (OSError, ValueError) as error:  # an unreadable ca_file, mostly
                raise AdminError(
                    f"cannot set up HTTPS to {self.settings.server_url} "
                    f"(ca_file={self.settings.ca_file!r}): {self.safe(str(error))}"
                ) from None
        return self._conn

    def sign_in(self) -> dict[str, Any]:
        """Get a fresh access token now and return its claims (what the token grants)."""
        conn = self.connection()
        self._retrying("sign-in", conn.get_token, repeatable=True, changes=False)
        token = conn.token or {}
        return decode_claims(str(token.get("access_token", "")))

    def ensure_signed_in(self) -> None:
        """Get an access token unless one is held: calls sent from several threads then
        share it, rather than each being refused once and signing in on its own."""
        conn = self.connection()
        if not conn.token:
            self._retrying("sign-in", conn.get_token, repeatable=True, changes=False)

    def granted_roles(self) -> frozenset[str] | None:
        """The realm-management roles the current access token carries; None if unknown."""
        token = self._conn.token if self._conn is not None else None
        if not token:
            return None
        return roles_in(decode_claims(str(token.get("access_token", ""))))

    def close(self) -> None:
        if self._conn is not None:
            self._closed_calls += self._conn.calls
            self._conn.close()
        self._conn = None

    # -- calls -----------------------------------------------------------------------------

    def get(self, path: str, **params: str | int) -> Any:
        """GET and decode."""
        return self._call("GET", path, params=params)

    def count_users(self) -> int | None:
        """How many users the realm has (service accounts included); None if not told."""
        total = self.get("users/count")
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    def post(self, path: str, body: object = None, *, idempotent: bool | None = None) -> Any:
        """POST; retried on transient failures only if `idempotent` (None: judged by path)."""
        return self._call("POST", path, body=body, idempotent=idempotent)

    def put(self, path: str, body: object = None) -> Any:
        return self._call("PUT", path, body=body)

    def delete(self, path: str, body: object = None) -> Any:
        return self._call("DELETE", path, body=body)

    def pages(
        self,
        path: str,
        *,
        size: int | None = None,
        hook: Hook | None = None,
        each: Callable[[Any], Any] | None = None,
        **params: str | int,
    ) -> Iterator[list[Any]]:
        """The items of a `first`/`max` paged list, page by page; a short page is the last.

        Keycloak returns `max` items whenever that many remain (it has no cap of its own),
        so a list of n items costs n // size + 1 requests; `size` defaults to `page_size`.
        Items are objects (dicts), or what `hook` (json's `object_hook`) makes of each
        object as it is decoded: a long list of users can be kept as their ids alone,
        the answer never held whole. `each`, if given, turns each item into what the page
        holds as soon as the item is decoded, so the page's objects never exist together;
        it must have no effect beyond its result, since a page cut off is read again.
        """
        size = size or self.settings.page_size
        first = 0
        while True:
            query = {**params, "first": first, "max": size}
            page: list[Any] = self._call(
                "GET", path, params=query, hook=hook, each=each, listing=True
            )
            if page:
                yield page
            if len(page) < size:
                return
            first += len(page)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        body: object = None,
        idempotent: bool | None = None,
        hook: Hook | None = None,
        each: Callable[[Any], Any] | None = None,
        listing: bool = False,
    ) -> Any:
        """Send, retrying as `_retrying` judges; the decoded answer, or with `listing` the
        items of the list it must be (decoded inside the attempt, so an answer cut off
        half-way is asked for again like one never given)."""
        url = self.realm_path + path
        data = json.dumps(body) if body is not None else None
        if idempotent is None:
            idempotent = method != "POST" or bool(_IDEMPOTENT_POST.fullmatch(path))

        def send() -> _Answer:
            conn = self.connection()
            response = conn.request(method, url, params=params, data=data, stream=listing)
            if not listing or response.status_code not in _OK_CODES:
                return _Answer(response)
            with response:
                try:
                    decoded = array_items(response.iter_content(LIST_CHUNK), hook)
                    items = list(decoded) if each is None else [each(item) for item in decoded]
                except requests.RequestException as error:
                    raise Unreachable("the answer was cut off") from error
                except NotAList as error:
                    raise AdminError(f"{method} {path}: expected a list: {error}") from None
            return _Answer(response, items)

        answer = self._retrying(
            f"{method} {path}", send, repeatable=idempotent, changes=method != "GET"
        )
        if answer.items is not None:
            return answer.items
        response = answer.response
        if response.status_code not in _OK_CODES:
            text = response_text(response, self.settings.client_secret)
            if response.status_code == HTTP_FORBIDDEN:
                text += (
                    f" (the service account of client {self.settings.client_id} likely lacks "
                    f"realm-management role {need_for(path).role}; `syncbot check-config` "
                    "names what is missing)"
                )
            raise AdminError(f"{method} {path}: {text}", response.status_code)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    # -- retries ---------------------------------------------------------------------------

    def _retrying(
        self, label: str, send: Callable[[], _T], *, repeatable: bool, changes: bool
    ) -> _T:
        """`send()` until it passes or the policy gives up; AdminError then.

        A request that is not `repeatable` is tried again only when it never left this
        machine (the connection was refused): a timed-out POST may have been carried out.
        """
        probing = self._refuse_while_down(label)
        started = time.monotonic()
        result, failure = self._attempt(send)
        if failure is None:
            self._up_again()
            return cast(_T, result)
        with self._retry_turn:
            return self._retry(label, send, failure, started, probing, repeatable, changes)

    def _retry(
        self,
        label: str,
        send: Callable[[], _T],
        failure: _Failure,
        started: float,
        probing: bool,
        repeatable: bool,
        changes: bool,
    ) -> _T:
        """After a first failure, holding the retry turn: again, while the policy allows
        and no other call has found the server down since this one was sent."""
        attempt = 1
        down_meanwhile = self._outage is not None and not probing
        while True:
            elapsed = time.monotonic() - started
            delay = self.retry.delay(attempt, failure.retry_after, self._random.random())
            unsafe = failure.sent and not repeatable
            if (
                probing
                or unsafe
                or down_meanwhile
                or attempt >= self.retry.attempts
                or elapsed + delay > self.retry.window
            ):
                self._give_up(label, failure, attempt, elapsed, unsafe=unsafe, changes=changes)
            log.warning(
                "keycloak.retry",
                target=self.settings.name,
                request=label,
                attempt=attempt,
                status=failure.status,
                error=failure.text,
                delay=round(delay, 2),
            )
            time.sleep(delay)
            attempt += 1
            result, next_failure = self._attempt(send)
            if next_failure is None:
                self._up_again()
                return cast(_T, result)
            failure = next_failure

    def _attempt(self, send: Callable[[], _T]) -> tuple[_T | None, _Failure | None]:
        """One try: its result, or the transient failure; other failures raise AdminError."""
        try:
            result = send()
        except Unreachable as error:
            return None, _Failure(self.unreachable(error), None, sent=not _never_sent(error))
        except SignInError as error:  # the token request, refused or failing
            if error.status not in TRANSIENT_STATUSES:
                raise AdminError(self.sign_in_failure(error), error.status) from None
            # The token request failed, so the admin request it was made for was not sent.
            return None, _Failure(self.sign_in_failure(error), error.status, sent=False)
        response = result.response if isinstance(result, _Answer) else None
        if response is not None and response.status_code in TRANSIENT_STATUSES:
            # The status line only: such answers come from a proxy or a load balancer
            # more often than from Keycloak, and their bodies are HTML pages.
            text = f"{response.status_code} {response.reason or ''}".strip()
            response.close()
            return None, _Failure(text, response.status_code, True, _retry_after(response))
        return result, None

    def _give_up(
        self,
        label: str,
        failure: _Failure,
        attempts: int,
        elapsed: float,
        *,
        unsafe: bool,
        changes: bool,
    ) -> NoReturn:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''} in {elapsed:.1f} s"
        maybe_done = changes and failure.sent and failure.status != HTTP_UNAVAILABLE
        if unsafe:
            tries += " (not repeated: the request may have been carried out)"
        elif maybe_done:
            # No answer, or a gateway's: Keycloak may have made the change all the same.
            # The audit record must not read as "nothing happened".
            tries += (
                "; whether Keycloak carried out the last attempt is not known: the next run "
                "reads the realm again and plans from what is there"
            )
        if not unsafe:  # one unrepeatable request failing says little about the server
            self._outage = _Outage(
                since=self._outage.since if self._outage else datetime.now().astimezone(),
                retry_at=time.monotonic() + self.retry.cooldown,
                last=failure.text,
                status=failure.status,
            )
        log.error(
            "keycloak.unavailable",
            target=self.settings.name,
            request=label,
            attempts=attempts,
            error=failure.text,
            cooldown=self.retry.cooldown,
        )
        raise AdminError(
            f"{label}: {failure.text}; target {self.settings.name} gave up after {tries}",
            failure.status,
            maybe_done=maybe_done or (unsafe and changes),
        )

    def _refuse_while_down(self, label: str) -> bool:
        """Fail at once while the server counts as down; True when this call is the probe
        (one call, however many threads ask: the others wait out a cooldown more)."""
        with self._outage_lock:
            outage = self._outage
            if outage is None:
                return False
            now = time.monotonic()
            if now >= outage.retry_at:
                self._outage = replace(outage, retry_at=now + self.retry.cooldown)
                return True
        raise AdminError(
            f"{label}: not sent: Keycloak at {self.settings.server_url} has failed since "
            f"{outage.since:%H:%M:%S} ({outage.last}); tried again "
            f"{max(1, round(outage.retry_at - now))} s from now or in the next run",
            outage.status,
        )

    def _up_again(self) -> None:
        if self._outage is not None:
            log.warning(
                "keycloak.available_again",
                target=self.settings.name,
                since=self._outage.since.isoformat(timespec="seconds"),
            )
            self._outage = None

    # -- messages --------------------------------------------------------------------------

    def safe(self, text: str) -> str:
        secret = self.settings.client_secret
        return text.replace(secret, "***") if len(secret) >= 4 else text

    def unreachable(self, error: BaseException) -> str:
        cause = error.__cause__ or error.__context__
        reason = _REASON.search(str(cause)) if cause is not None else None
        text = reason.group(1).strip() if reason else type(cause or error).__name__
        if "certificate" in text.lower() or "SSL" in type(cause).__name__:
            trusted = self.settings.ca_file or "the system CA store"
            return f"TLS with {self.settings.server_url} failed (trusting {trusted}): {text}"
        if isinstance(cause, requests.exceptions.ReadTimeout):
            return f"{self.settings.server_url} did not answer within {self.settings.timeout:g} s"
        if any(reason in text for reason in _NO_ANSWER):
            return f"{self.settings.server_url} closed the connection without answering ({text})"
        return f"cannot connect to {self.settings.server_url}: {self.safe(text)}"

    def sign_in_failure(self, error: SignInError) -> str:
        detail = body_text(error.body, self.settings.client_secret) or self.safe(str(error))
        return (
            f"sign-in to realm {self.settings.realm!r} at {self.settings.server_url} as "
            f"client {self.settings.client_id!r} refused: {detail}"
        )


def _never_sent(error: Unreachable) -> bool:
    """Whether the request surely never reached the server (no connection was made)."""
    cause = error.__cause__
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(cause.args[0], "reason", None) if cause is not None and cause.args else None
    return isinstance(reason, NewConnectionError)


def _retry_after(response: Response) -> float | None:
    """A Retry-After given in seconds (the HTTP-date form is not worth honouring here)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < math.inf else None


def response_text(response: Response, secret: str) -> str:
    """`404 Not Found: User not found`; Keycloak's body only when it adds something."""
    status = f"{response.status_code} {response.reason or ''}".strip()
    text = body_text(response.content, secret)
    if not text or text.lower().endswith(status.lower()):  # "HTTP 403 Forbidden"
        return status
    return f"{status}: {text}"


def body_text(body: bytes, secret: str) -> str:
    """Keycloak's own explanation out of an error body (JSON or not), secret masked."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        parts = [
            str(parsed[key])
            for key in ("error", "errorMessage", "error_description", "message")
            if parsed.get(key)
        ]
        text = ": ".join(dict.fromkeys(parts)) or text
    if len(secret) >= 4:
        text = text.replace(secret, "***")
    return text[:_MAX_ERROR_TEXT]


def roles_in(claims: dict[str, Any]) -> frozenset[str] | None:
    """The realm-management roles listed in token claims; None if the token lists no roles.

    Keycloak puts the caller's effective roles (composites expanded, within the client's
    scope) in the token, and decides admin permissions on the same roles.
    """
    access = claims.get("resource_access")
    if not isinstance(access, dict):
        return None
    entry = access.get(REALM_MANAGEMENT)
    roles = entry.get("roles") if isinstance(entry, dict) else None
    return frozenset(str(role) for role in roles or ())


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: only read to tell what our own token carries."""
    try:
        payload = token.split(".")[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}
