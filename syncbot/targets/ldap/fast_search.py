"""Paged subtree searches through python-ldap (libldap), for reading a whole directory fast.

ldap3 decodes BER in pure Python: at 100,000 accounts that is most of a reconcile's time.
libldap decodes in C, several times faster. This module reads the same entries, with the
same TLS, timeout and paging settings, and hands them over in the shape ldap3 gives
`LdapTarget` (`{"type", "dn", "attributes", "raw_attributes"}`, values decoded as ldap3
decodes them without a schema: UTF-8 text as `str`, anything else, such as an AD
`objectGUID`, left as `bytes`), so the code reading entries does not know which library
read them. Changes to the directory still go through ldap3.

Which library searches is `search_library` in the target's settings: "auto" (python-ldap
when it is installed), "ldap3" or "python-ldap". When the settings say "auto", the
environment variable SYNCBOT_LDAP_SEARCH may name one, so a benchmark or a test can compare
both on the same configuration.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import structlog
from ldap3.core.exceptions import LDAPSocketReceiveError
from ldap3.core.results import RESULT_CODES

from syncbot.errors import ConfigError, TargetError
from syncbot.targets.ldap.connection import Endpoint, parse_url, scrub
from syncbot.targets.ldap.flavours import LOWER_NAMES, LoweredAttributes, lowered_name
from syncbot.targets.ldap.settings import LdapSettings

try:  # optional: without it (or libldap) every search goes through ldap3
    import ldap
    from ldap.controls import DecodeControlTuples, SimplePagedResultsControl
    from ldap.ldapobject import SimpleLDAPObject

    INSTALLED = True
except ImportError:  # pragma: no cover - depends on the installation
    INSTALLED = False

log = structlog.get_logger("syncbot.ldap")

LDAP3 = "ldap3"
PYTHON_LDAP = "python-ldap"
AUTO = "auto"
CHOICES = (AUTO, LDAP3, PYTHON_LDAP)
ENVIRONMENT = "SYNCBOT_LDAP_SEARCH"
_PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696

Entry = dict[str, Any]
T = TypeVar("T")

_decode = bytes.decode  # UTF-8, strict


class SearchFailed(Exception):
    """The server answered a search with an error; `result` is shaped like ldap3's."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result.get("description"))
        self.result = result


def choose_library(settings: LdapSettings) -> str:
    """ "ldap3" or "python-ldap", as the settings (or, under "auto", the environment) ask."""
    wanted = (settings.search_library or AUTO).strip().lower()
    source = "search_library"
    if wanted == AUTO and os.environ.get(ENVIRONMENT):
        wanted, source = os.environ[ENVIRONMENT].strip().lower(), ENVIRONMENT
    if wanted not in CHOICES:
        raise ConfigError(
            f"{source} must be one of {', '.join(CHOICES)}, got {wanted!r}",
            source=f"targets.{settings.name}",
            key="search_library",
        )
    if wanted == PYTHON_LDAP and not INSTALLED:
        raise ConfigError(
            f"{source} asks for python-ldap, which is not installed "
            "(pip install python-ldap; it needs libldap2-dev and libsasl2-dev to build)",
            source=f"targets.{settings.name}",
            key="search_library",
        )
    if wanted == AUTO:
        return PYTHON_LDAP if INSTALLED else LDAP3
    return wanted


def paged_searcher(settings: LdapSettings) -> PagedSearcher | None:
    """A python-ldap searcher for these settings, or None when ldap3 is to search."""
    return PagedSearcher(settings) if choose_library(settings) == PYTHON_LDAP else None


class PagedSearcher:
    """One python-ldap connection, opened on first use, bound as the service account."""

    def __init__(self, settings: LdapSettings) -> None:
        self._settings = settings
        self._conn: Any = None

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: list[str],
        count: Callable[[int], None] | None = None,
    ) -> Iterator[Entry]:
        """Entries of one paged subtree search, each as soon as it arrives.

        Raises `SearchFailed` when the server refuses the search, `TargetError` when it
        cannot be reached, and ldap3's `LDAPSocketReceiveError` when the connection drops
        mid-search, so that `Link.retrying` reconnects once as it does for ldap3.
        """
        conn = self.connection()
        cookie = b""
        while True:
            msgid = self._call(
                conn.search_ext,
                base,
                ldap.SCOPE_SUBTREE,
                search_filter,
                attributes,
                # Not critical, as ldap3 sends it: a server without paging answers in one go.
                serverctrls=[SimplePagedResultsControl(False, self._settings.page_size, cookie)],
            )
            page = _Page(msgid)
            try:
                # One message at a time rather than the whole page: this process decodes
                # while the server is still sending, on the other core.
                yield from self._entries(conn, page)
            finally:
                # The reader stopped early: the server may stop too. A connection that
                # failed is already closed and has nothing to abandon.
                if not page.done and self._conn is conn:
                    with contextlib.suppress(ldap.LDAPError):
                        conn.abandon_ext(msgid)
            if count is not None:
                count(page.entries)
            cookie = page.cookie
            if not cookie:
                return

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(ldap.LDAPError):  # a dead connection has nothing to free
                conn.unbind_s()

    def connection(self) -> Any:
        """The bound connection, opened now if it is not; `close` ends it."""
        if self._conn is None:
            self._conn = open_connection(self._settings)
        return self._conn

    def _entries(self, conn: Any, page: _Page) -> Iterator[Entry]:
        """The entries of `page`'s search as they arrive; marks the page done at its end.

        libldap's own call, without python-ldap's per-call wrapper (a lock, tracing,
        control decoding): one call per entry, 100,000 of them in a large directory, and
        the wrapper cost a third of the library's time. One thread uses a connection, so
        the lock guarded nothing here. This loop is the module's hot path: errors are
        translated around it rather than around each call.
        """
        result4 = conn._l.result4
        msgid, timeout = page.msgid, self._settings.timeout
        search_result = ldap.RES_SEARCH_RESULT
        entries = 0
        try:
            while True:
                kind, data, _, raw_controls = result4(msgid, 0, timeout, 0, 0, 0)
                if kind == search_result:
                    break
                # A continuation reference (AD's referrals to other partitions) has no DN:
                # skipped, as ldap3 leaves it out of the entries too.
                for dn, raw in data:
                    if dn is not None:
                        entries += 1
                        yield _entry(dn, raw)
        except ldap.LDAPError as error:
            self._failed(error)
        finally:
            page.entries = entries
        page.done = True
        controls = DecodeControlTuples(raw_controls) if raw_controls else []
        page.cookie = next((c.cookie for c in controls if c.controlType == _PAGED_RESULTS), b"")

    def _call(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a python-ldap call, its errors turned into those `LdapTarget` handles."""
        try:
            return operation(*args, **kwargs)
        except ldap.LDAPError as error:
            self._failed(error)

    def _failed(self, error: ldap.LDAPError) -> NoReturn:
        """Raise what `LdapTarget` handles for a python-ldap error: a lost connection (closed
        here) as ldap3's receive error, anything else as the server's refusal."""
        if isinstance(error, ldap.SERVER_DOWN | ldap.TIMEOUT | ldap.CONNECT_ERROR):
            self.close()
            raise LDAPSocketReceiveError(self._text(error)) from None
        raise SearchFailed(self._result(error)) from None

    def _text(self, error: BaseException) -> str:
        return error_text(error, self._settings.bind_password)

    def _result(self, error: BaseException) -> dict[str, Any]:
        """ldap3's result dict for a python-ldap error, so failures read the same."""
        details = _details(error)
        code = details.get("result")
        return {
            "result": code,
            "description": RESULT_CODES.get(code, details.get("desc", type(error).__name__)),
            "message": scrub(str(details.get("info") or ""), self._settings.bind_password),
        }


@dataclass(slots=True)
class _Page:
    """Where one page's search stands: its message id, entries so far, the next cookie."""

    msgid: int
    entries: int = 0
    done: bool = False
    cookie: bytes = b""


def _entry(dn: str, raw: dict[str, list[bytes]]) -> Entry:
    """An entry as ldap3 hands it over without a schema, its attribute names lower-cased.

    Values are decoded as ldap3's `format_unicode` decodes them: when every value is UTF-8
    text, the usual case, by one plain loop, the single value apart (about twice as fast as
    comprehensions; this runs for every attribute of every entry). Names are lower-case,
    so that readers look a name up once instead of scanning for its case.
    """
    attributes = LoweredAttributes()
    try:
        for name, values in raw.items():
            attributes[LOWER_NAMES.get(name) or lowered_name(name)] = (
                [values[0].decode()] if len(values) == 1 else list(map(_decode, values))
            )
    except UnicodeDecodeError:
        attributes = LoweredAttributes(
            (lowered_name(name), [_one_decoded(v) for v in values]) for name, values in raw.items()
        )
    return {"type": "searchResEntry", "dn": dn, "attributes": attributes, "raw_attributes": raw}


def _one_decoded(value: bytes) -> str | bytes:
    """As ldap3's `format_unicode`: UTF-8 text becomes `str`, other bytes stay `bytes`."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def open_connection(settings: LdapSettings) -> Any:
    """Open, secure and bind a python-ldap connection, or raise `TargetError`."""
    endpoint = parse_url(settings.url)
    conn = SimpleLDAPObject(_url(endpoint))
    try:
        _configure(conn, settings)
        if settings.start_tls:
            conn.start_tls_s()
        conn.simple_bind_s(settings.bind_dn, settings.bind_password)
    except ldap.INVALID_CREDENTIALS as error:
        _discard(conn)
        details = _details(error)
        raise TargetError(
            f"{settings.name}: bind to {settings.url} as {settings.bind_dn} refused: "
            f"{RESULT_CODES.get(details.get('result'), 'invalidCredentials')} "
            f"({details.get('result')})"
        ) from None
    except ldap.LDAPError as error:
        _discard(conn)
        raise TargetError(f"{settings.name}: {_describe_failure(error, settings)}") from None
    log.debug("ldap.connected", target=settings.name, url=settings.url, library=PYTHON_LDAP)
    return conn


def _url(endpoint: Endpoint) -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{'ldaps' if endpoint.use_ssl else 'ldap'}://{host}:{endpoint.port}"


def _configure(conn: Any, settings: LdapSettings) -> None:
    """The options `connection.connect` gives ldap3, in libldap's terms."""
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
    conn.set_option(ldap.OPT_REFERRALS, 0)  # as auto_referrals=False: AD's are not followed
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, settings.timeout)
    conn.set_option(ldap.OPT_TIMEOUT, settings.timeout)
    conn.timeout = settings.timeout  # python-ldap's synchronous calls (bind, StartTLS)
    if not settings.uses_tls:
        return
    conn.set_option(
        ldap.OPT_X_TLS_REQUIRE_CERT,
        ldap.OPT_X_TLS_DEMAND if settings.tls_verify else ldap.OPT_X_TLS_NEVER,
    )
    # As ssl.PROTOCOL_TLS_CLIENT does for ldap3: nothing below TLS 1.2.
    conn.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, ldap.OPT_X_TLS_PROTOCOL_TLS1_2)
    if settings.ca_file:
        if not Path(settings.ca_file).is_file():  # libldap would only say "connect error"
            raise TargetError(
                f"{settings.name}: TLS settings rejected: no such file "
                f"(ca_file={settings.ca_file!r})"
            )
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, settings.ca_file)
    else:
        _trust_system_store(conn)
    conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: builds the TLS context from the above


def _trust_system_store(conn: Any) -> None:
    """The CA store Python's ssl module (and so ldap3) trusts, not whatever ldap.conf says."""
    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, paths.cafile)
    elif paths.capath:
        conn.set_option(ldap.OPT_X_TLS_CACERTDIR, paths.capath)


def _discard(conn: Any) -> None:
    with contextlib.suppress(ldap.LDAPError):  # already unusable: nothing left to release
        conn.unbind_s()


def _details(error: BaseException) -> dict[str, Any]:
    found = error.args[0] if error.args else None
    return found if isinstance(found, dict) else {"desc": str(found or "")}


def _is_handshake_failure(error: BaseException, settings: LdapSettings) -> bool:
    """Whether libldap failed in the TLS handshake rather than in reaching the server.

    StartTLS refused is a "connect error". On ldaps:// both come as "can't contact LDAP
    server", so a server that still accepts a TCP connection is taken to have refused TLS.
    """
    if isinstance(error, ldap.CONNECT_ERROR):
        return True
    text = error_text(error, "").lower()
    if any(marker in text for marker in ("ssl", "tls", "certificate", "handshake")):
        return True
    return isinstance(error, ldap.SERVER_DOWN) and _accepts_tcp(settings)


def _accepts_tcp(settings: LdapSettings) -> bool:
    endpoint = parse_url(settings.url)
    try:
        with socket.create_connection((endpoint.host, endpoint.port), settings.timeout):
            return True
    except OSError:
        return False


def error_text(error: BaseException, secret: str) -> str:
    """python-ldap's "description: detail" of an error, secret masked."""
    details = _details(error)
    parts = [str(details.get(k) or "").strip() for k in ("desc", "info")]
    text = ": ".join(part for part in parts if part)
    return scrub(text, secret) or type(error).__name__


def _describe_failure(error: BaseException, settings: LdapSettings) -> str:
    text = error_text(error, settings.bind_password)
    if settings.uses_tls and _is_handshake_failure(error, settings):
        trusted = settings.ca_file or "the system CA store"
        # libldap over GnuTLS says no more than "(unknown error code)": say what it can be.
        return (
            f"TLS with {settings.url} failed (trusting {trusted}): {text} (the certificate "
            "is not signed by that CA, does not name the host, or TLS is older than 1.2)"
        )
    if isinstance(error, ldap.SERVER_DOWN | ldap.TIMEOUT):
        return f"cannot connect to {settings.url}: {text}"
    return f"cannot talk to {settings.url}: {type(error).__name__}: {text}"
