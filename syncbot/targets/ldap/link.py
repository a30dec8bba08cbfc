"""The target's connections to its directory, opened on first use and again once when cut.

Reading and writing share them: a run binds once, not once per side. Not thread-safe:
one `Link` is used by one thread at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

import ldap3
import structlog
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException

from syncbot.errors import TargetError
from syncbot.targets.ldap.connection import connect, error_text
from syncbot.targets.ldap.fast_search import LDAP3, PYTHON_LDAP, paged_searcher
from syncbot.targets.ldap.settings import LdapSettings

log = structlog.get_logger("syncbot.ldap")

T = TypeVar("T")


class OperationFailed(Exception):
    """An LDAP operation returned an unexpected result; carries the message for ApplyError."""


class Unanswered(TargetError):
    """The connection dropped during an operation and could not be opened again."""


class Link:
    """One ldap3 connection, and python-ldap's for whole-directory reads when installed."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        self._conn: ldap3.Connection | None = None
        # Whole-directory reads through libldap when installed (see fast_search); ldap3 else.
        self.fast = paged_searcher(settings)
        self.search_library = PYTHON_LDAP if self.fast else LDAP3

    def connection(self) -> ldap3.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings)
        return self._conn

    def retrying(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run `operation`; if the connection dropped, reconnect once and run it again.

        Safe because every operation sent through here is idempotent (adds tolerate
        "exists", locks re-read the entry first).
        """
        try:
            return operation(self.connection())
        except LDAPCommunicationError as error:
            log.warning("ldap.reconnect", target=self.settings.name, reason=self.safe(error))
            self.close()
            try:
                return operation(self.connection())
            except Unanswered:
                raise
            except TargetError as again:
                # The first attempt may have reached the server before the line dropped.
                raise Unanswered(
                    f"no answer ({self.safe(error)}), and reconnecting failed: {again}"
                ) from None

    def safe(self, error: BaseException) -> str:
        """The error's text with the service account's password masked."""
        return error_text(error, self.settings.bind_password)

    def close(self) -> None:
        if self.fast is not None:
            self.fast.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(LDAPException):  # a dead connection has nothing to release
                conn.unbind()
