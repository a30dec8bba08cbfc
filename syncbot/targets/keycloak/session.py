"""The HTTP side of the admin API: one `requests` session signed in with client credentials.

python-keycloak's connection classes each build an httpx async client beside their
requests session, for async calls syncbot never makes: importing the library pulls in
httpx, jwcrypto and cryptography (some 15 MiB of resident memory), and each connection
built adds 5.6 MiB more (httpcore, anyio, trio and TLS contexts) - 300 bytes per user of a
20,000-user realm, before a single user is read. What syncbot used of it is small and is
here instead: an access token from the client-credentials grant, renewed at 90 % of its
lifespan or when Keycloak answers 401, and requests sent with it.

A client-credentials token comes without a refresh token (Keycloak's default), so renewing
it is signing in again. Several threads may send GETs at once (the targeted read does):
the count is kept under a lock, and so is signing in, so that threads finding the token
expired together sign in once.
"""

from __future__ import annotations

import ssl
import threading
import time
from typing import Any
from urllib.parse import quote, urljoin

import requests
from requests import Response

from syncbot.targets.keycloak.settings import KeycloakSettings

HTTP_UNAUTHORIZED = 401
_OK_CODES = range(200, 300)
#: Renew the token once this share of its lifespan has passed, allowing for clock skew and
#: for the time a request spends on its way.
TOKEN_LIFETIME_FRACTION = 0.9


class Unreachable(Exception):
    """A request got no answer; its cause is the requests (or TLS) exception that says why."""


class SignInError(Exception):
    """The token endpoint answered, with something other than a token."""

    def __init__(self, status: int | None, body: bytes, message: str) -> None:
        super().__init__(f"{status}: {message}" if status is not None else message)
        self.status = status
        self.body = body


class Session:
    """Requests under the server's base URL, each carrying a valid access token.

    `calls` counts the requests sent for callers (not the token requests, nor the one
    resend after a 401). `token` is the token endpoint's last answer.
    """

    def __init__(self, settings: KeycloakSettings, base_url: str) -> None:
        tls = settings.tls
        if isinstance(tls, str):
            # Read the CA file now: a missing or unreadable one is a set-up error, not a
            # server that does not answer.
            ssl.create_default_context(cafile=tls)
        self.settings = settings
        self.base_url = base_url
        self.token_url = urljoin(
            base_url, f"realms/{quote(settings.realm, safe='')}/protocol/openid-connect/token"
        )
        self.calls = 0
        self.token: dict[str, Any] | None = None
        self.token_lifetime_fraction = TOKEN_LIFETIME_FRACTION
        self._renew_at = 0.0  # time.monotonic()
        self._counting = threading.Lock()
        self._signing_in = threading.Lock()
        self._http = requests.Session()
        # No credentials from ~/.netrc: the bearer token is the only authorisation sent.
        self._http.auth = lambda request: request

    def close(self) -> None:
        self._http.close()

    # -- the token -------------------------------------------------------------------------

    def get_token(self) -> None:
        """Sign in with the client credentials now; `SignInError` or `Unreachable` if not."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        response = self._send("POST", self.token_url, data=form)
        if response.status_code not in _OK_CODES:
            raise SignInError(response.status_code, response.content, _message(response))
        try:
            token = response.json()
        except ValueError:
            token = None
        if not isinstance(token, dict) or not token.get("access_token"):
            raise SignInError(response.status_code, response.content, "the answer holds no token")
        lifespan = token.get("expires_in")
        seconds = lifespan if isinstance(lifespan, int | float) else 0
        self._renew_at = time.monotonic() + self.token_lifetime_fraction * seconds
        self.token = token

    def _renew(self, used: dict[str, Any] | None) -> None:
        """Sign in again unless another thread did since token `used` was taken."""
        with self._signing_in:
            if self.token is used:
                self.get_token()

    def _current(self) -> dict[str, Any]:
        token = self.token
        if token is None or time.monotonic() >= self._renew_at:
            self._renew(token)
            token = self.token
        assert token is not None  # get_token sets it or raises
        return token

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        data: str | None = None,
        stream: bool = False,
    ) -> Response:
        """Send a request with the current token; once more with a new one after a 401.

        With `stream`, the body is left unread for the caller to read (and close).
        """
        with self._counting:
            self.calls += 1
        url = urljoin(self.base_url, path)
        token = self._current()
        response = self._send(method, url, token, params=params, data=data, stream=stream)
        if response.status_code == HTTP_UNAUTHORIZED:
            response.close()
            self._renew(token)
            response = self._send(
                method, url, self._current(), params=params, data=data, stream=stream
            )
        return response

    def _send(
        self, method: str, url: str, token: dict[str, Any] | None = None, **kwargs: Any
    ) -> Response:
        headers = {}  # the token request's form sets its own type
        if token is not None:
            headers = {
                "Authorization": f"Bearer {token['access_token']}",
                "Content-Type": "application/json",
            }
        try:
            return self._http.request(
                method,
                url,
                headers=headers,
                timeout=self.settings.timeout,
                verify=self.settings.tls,
                **kwargs,
            )
        except (requests.RequestException, OSError) as error:
            raise Unreachable("cannot connect to the server") from error


def _message(response: Response) -> str:
    """Keycloak's `message`, or the body as it came."""
    try:
        message = response.json()["message"]
    except (ValueError, KeyError, TypeError):
        return response.content.decode("utf-8", errors="replace")
    return str(message)
