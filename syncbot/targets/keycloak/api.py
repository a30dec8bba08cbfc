"""Keycloak's Admin REST API as syncbot uses it: one service account, paged reads, plain errors.

python-keycloak's `KeycloakOpenIDConnection` signs in with the client credentials and gets
a new access token when the old one is near its end or is refused with 401, so a long run
outlives short token lifespans. The requests themselves are built here rather than through
`KeycloakAdmin`'s helpers, because those paste names into URLs unescaped: a SAML client
named by its URL, or a role or group name holding "/", "?", "#" or "%", would reach the
wrong resource or none.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import warnings
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote

from keycloak import KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakConnectionError, KeycloakError
from requests import Response

from syncbot.targets.keycloak.permissions import need_for
from syncbot.targets.keycloak.settings import KeycloakSettings

REALM_MANAGEMENT = "realm-management"
HTTP_NOT_FOUND = 404
HTTP_FORBIDDEN = 403
_OK_CODES = range(200, 300)
_MAX_ERROR_TEXT = 300
# The innermost reason of a requests/urllib3 failure: "[Errno 111] Connection refused",
# "certificate verify failed: …", "Read timed out".
_REASON = re.compile(
    r"(\[Errno -?\d+\][^'\")]*|certificate verify failed[^'\"(]*|"
    r"[Rr]ead timed out|timed out|Name or service not known)"
)


class AdminError(Exception):
    """A call was refused or never answered; the message is safe to log and show.

    `status` is the HTTP status, or None when no answer came.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _CountingConnection(KeycloakOpenIDConnection):
    """Counts admin API calls, so tests and logs can show a fetch costs pages, not people."""

    calls: int = 0

    def raw_get(self, *args: Any, **kwargs: Any) -> Response:
        self.calls += 1
        return super().raw_get(*args, **kwargs)

    def raw_post(self, *args: Any, **kwargs: Any) -> Response:
        self.calls += 1
        return super().raw_post(*args, **kwargs)

    def raw_put(self, *args: Any, **kwargs: Any) -> Response:
        self.calls += 1
        return super().raw_put(*args, **kwargs)

    def raw_delete(self, *args: Any, **kwargs: Any) -> Response:
        self.calls += 1
        return super().raw_delete(*args, **kwargs)


def segment(value: str) -> str:
    """One path segment, every reserved character escaped (slashes too)."""
    return quote(value, safe="")


def segments(path: str) -> str:
    """A slash-separated path (a group path) escaped segment by segment, no leading slash."""
    return quote(path.lstrip("/"), safe="/")


class AdminApi:
    """Calls under /admin/realms/{realm}/ as the service account of `settings.client_id`.

    Not thread-safe: one connection, used by one thread at a time.
    """

    def __init__(self, settings: KeycloakSettings) -> None:
        self.settings = settings
        # urljoin drops the last path segment of a base without a trailing slash, which
        # would lose the /auth of a Keycloak still served under it.
        self.base_url = settings.server_url.rstrip("/") + "/"
        self.realm_path = f"admin/realms/{segment(settings.realm)}/"
        self._conn: _CountingConnection | None = None
        self._closed_calls = 0  # made by connections already closed

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

    def connection(self) -> KeycloakOpenIDConnection:
        if self._conn is None:
            try:
                self._conn = self._open()
            except (OSError, ValueError) as error:  # an unreadable ca_file, mostly
                raise AdminError(
                    f"cannot set up HTTPS to {self.settings.server_url} "
                    f"(ca_file={self.settings.ca_file!r}): {self.safe(str(error))}"
                ) from None
        return self._conn

    def _open(self) -> _CountingConnection:
        with warnings.catch_warnings():
            # httpx frowns on a CA path given as a string; only python-keycloak's async
            # clients, never used here, get it that way, and requests takes it as it is.
            warnings.filterwarnings("ignore", "`verify=<str>` is deprecated", DeprecationWarning)
            conn = _CountingConnection(
                server_url=self.base_url,
                realm_name=self.settings.realm,
                client_id=self.settings.client_id,
                client_secret_key=self.settings.client_secret,
                grant_type="client_credentials",
                verify=self.settings.tls,
                timeout=max(1, math.ceil(self.settings.timeout)),
            )
            _ = conn.keycloak_openid  # the token client, built lazily otherwise: build it here
            return conn

    def sign_in(self) -> dict[str, Any]:
        """Get a fresh access token now and return its claims (what the token grants)."""
        conn = self.connection()
        try:
            conn.get_token()
        except KeycloakError as error:
            raise AdminError(self.sign_in_failure(error), _status(error)) from None
        token = conn.token or {}
        return decode_claims(str(token.get("access_token", "")))

    def granted_roles(self) -> frozenset[str] | None:
        """The realm-management roles the current access token carries; None if unknown."""
        token = self._conn.token if self._conn is not None else None
        if not token:
            return None
        return roles_in(decode_claims(str(token.get("access_token", ""))))

    def close(self) -> None:
        # Dropping the last reference closes the HTTP session (ConnectionManager.__del__).
        if self._conn is not None:
            self._closed_calls += self._conn.calls
        self._conn = None

    # -- calls -----------------------------------------------------------------------------

    def get(self, path: str, **params: str | int) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: object = None) -> Any:
        return self._call("POST", path, body=body)

    def put(self, path: str, body: object = None) -> Any:
        return self._call("PUT", path, body=body)

    def delete(self, path: str, body: object = None) -> Any:
        return self._call("DELETE", path, body=body)

    def pages(self, path: str, **params: str | int) -> Iterator[list[dict[str, Any]]]:
        """The items of a `first`/`max` paged list, page by page; a short page is the last.

        Keycloak returns `max` items whenever that many remain (it has no cap of its own),
        so a list of n items costs n // page_size + 1 requests.
        """
        size = self.settings.page_size
        first = 0
        while True:
            page = self.get(path, **params, first=first, max=size)
            if not isinstance(page, list):
                raise AdminError(f"GET {path}: expected a list, got {type(page).__name__}")
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
    ) -> Any:
        conn = self.connection()
        url = self.realm_path + path
        data = json.dumps(body) if body is not None else ""
        try:
            if method == "GET":
                response = conn.raw_get(url, **(params or {}))
            elif method == "POST":
                response = conn.raw_post(url, data=data)
            elif method == "PUT":
                response = conn.raw_put(url, data=data)
            else:  # python-keycloak types the body as a dict; requests takes the JSON text
                response = conn.raw_delete(url, data=cast(Any, data or None))
        except KeycloakConnectionError as error:
            raise AdminError(self.unreachable(error)) from None
        except KeycloakError as error:  # a token refresh refused halfway through the run
            raise AdminError(self.sign_in_failure(error), _status(error)) from None
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
        return f"cannot connect to {self.settings.server_url}: {self.safe(text)}"

    def sign_in_failure(self, error: KeycloakError) -> str:
        if isinstance(error, KeycloakConnectionError):
            return self.unreachable(error)
        body = error.response_body if isinstance(error.response_body, bytes) else b""
        detail = body_text(body, self.settings.client_secret) or self.safe(str(error))
        return (
            f"sign-in to realm {self.settings.realm!r} at {self.settings.server_url} as "
            f"client {self.settings.client_id!r} refused: {detail}"
        )


def _status(error: KeycloakError) -> int | None:
    code = error.response_code
    return code if isinstance(code, int) else None


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
