"""Opening a bound ldap3 connection, with TLS done properly and failures explained.

Every failure becomes a `TargetError` whose message says what went wrong (refused, TLS,
bind) and never contains the password.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import ldap3
import structlog
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPException,
    LDAPSocketOpenError,
    LDAPSSLConfigurationError,
    LDAPStartTLSError,
)

from syncbot.errors import TargetError
from syncbot.targets.ldap.settings import LdapSettings

log = structlog.get_logger("syncbot.ldap")

_TLS_MARKERS = ("ssl", "tls", "certificate", "handshake")
# ldap3 wraps messages in tuples, sometimes twice: "(\"('socket ssl wrapping error: …',)\",)".
_TUPLE_WRAPPED = re.compile(r"""\(['"](.*)['"],\)""", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    use_ssl: bool

    @property
    def is_loopback(self) -> bool:
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_url(url: str) -> Endpoint:
    """Split an LDAP URL; ldap3 itself rejects the trailing slash OpenLDAP tools print."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise TargetError(f"not an LDAP URL: {url!r} (expected ldap://host[:port] or ldaps://…)")
    try:
        port = parts.port
    except ValueError:
        raise TargetError(f"invalid port in LDAP URL {url!r}") from None
    use_ssl = scheme == "ldaps"
    return Endpoint(parts.hostname, port or (636 if use_ssl else 389), use_ssl)


def build_tls(settings: LdapSettings, endpoint: Endpoint) -> ldap3.Tls | None:
    """TLS settings for ldaps:// and StartTLS; None for plain LDAP."""
    if not settings.uses_tls:
        return None
    try:
        return ldap3.Tls(
            validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
            ca_certs_file=settings.ca_file,
            # PROTOCOL_TLS_CLIENT negotiates the best version, and since Python 3.10 refuses
            # anything below TLS 1.2. ldap3 checks the host name itself after the handshake.
            version=ssl.PROTOCOL_TLS_CLIENT,
            sni=endpoint.host,
        )
    except LDAPSSLConfigurationError as error:
        raise TargetError(
            f"{settings.name}: TLS settings rejected: {error} (ca_file={settings.ca_file!r})"
        ) from None


def connect(settings: LdapSettings) -> ldap3.Connection:
    """Open, secure and bind a connection as the service account, or raise `TargetError`."""
    endpoint = parse_url(settings.url)
    if not settings.uses_tls and not endpoint.is_loopback:
        log.warning(
            "ldap.insecure_transport",
            target=settings.name,
            url=settings.url,
            hint="password and data cross the network in clear text; use ldaps:// or start_tls",
        )
    server = ldap3.Server(
        endpoint.host,
        port=endpoint.port,
        use_ssl=endpoint.use_ssl,
        tls=build_tls(settings, endpoint),
        get_info=ldap3.NONE,
        connect_timeout=settings.timeout,
    )
    conn = ldap3.Connection(
        server,
        user=settings.bind_dn,
        password=settings.bind_password,
        client_strategy=ldap3.SYNC,
        raise_exceptions=False,
        auto_referrals=False,
        return_empty_attributes=False,
        # ldap3 packs this into SO_RCVTIMEO as whole seconds.
        receive_timeout=max(1, math.ceil(settings.timeout)),
    )
    try:
        _open(conn, settings)
        if not conn.bind():
            raise TargetError(
                f"{settings.name}: bind to {settings.url} as {settings.bind_dn} refused: "
                f"{result_text(conn.result)}"
            )
    except TargetError:
        _discard(conn)
        raise
    except LDAPException as error:
        _discard(conn)
        raise TargetError(f"{settings.name}: {_describe_failure(error, settings)}") from None
    finally:
        # ldap3's repr shows the password; keep it out of any later traceback or log.
        conn.password = None
    log.debug("ldap.connected", target=settings.name, url=settings.url, bind_dn=settings.bind_dn)
    return conn


def _open(conn: ldap3.Connection, settings: LdapSettings) -> None:
    conn.open(read_server_info=False)
    if settings.start_tls and not conn.start_tls(read_server_info=False):
        raise TargetError(
            f"{settings.name}: StartTLS with {settings.url} failed: {result_text(conn.result)}"
        )


def error_text(error: BaseException, secret: str) -> str:
    """The message of an ldap3 exception without its tuple wrappers, secret masked."""
    text = str(error)
    while match := _TUPLE_WRAPPED.fullmatch(text):
        text = match.group(1)
    return scrub(text, secret) or type(error).__name__


def _describe_failure(error: LDAPException, settings: LdapSettings) -> str:
    text = error_text(error, settings.bind_password)
    lowered = text.lower()
    if isinstance(error, LDAPCertificateError | LDAPStartTLSError) or any(
        marker in lowered for marker in _TLS_MARKERS
    ):
        trusted = settings.ca_file or "the system CA store"
        return f"TLS with {settings.url} failed (trusting {trusted}): {text}"
    if isinstance(error, LDAPSocketOpenError):
        return f"cannot connect to {settings.url}: {text}"
    return f"cannot talk to {settings.url}: {type(error).__name__}: {text}"


def _discard(conn: ldap3.Connection) -> None:
    with contextlib.suppress(LDAPException):  # already unusable: nothing left to release
        conn.unbind()


def result_text(result: object) -> str:
    """`description (code): message` of an ldap3 result dict, for error messages."""
    if not isinstance(result, dict):
        return "no answer from the server"
    text = f"{result.get('description')} ({result.get('result')})"
    message = str(result.get("message") or "").strip()
    return f"{text}: {message}" if message else text


def scrub(text: str, secret: str) -> str:
    """Mask a secret should a library ever echo it into an error message."""
    return text.replace(secret, "***") if len(secret) >= 4 else text
