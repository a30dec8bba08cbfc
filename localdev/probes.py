"""Checks from a user's side of the directory: can this person still sign in?

The demo, the tests and the latency benchmark all ask it; it binds as the person, the way
a mail client or a document system would.
"""

from __future__ import annotations

import ldap3


def can_bind(url: str, dn: str, password: str) -> bool:
    """True when a simple bind as `dn` succeeds (a locked account is refused)."""
    server = ldap3.Server(url.rstrip("/"), get_info=ldap3.NONE)
    conn = ldap3.Connection(server, dn, password, raise_exceptions=False)
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()
