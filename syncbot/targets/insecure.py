"""Connections a third party could read or pose as the server of, and the flag that allows them.

A plain ldap:// or http:// link to another machine carries the bind password or the
client secret, and every change, readable on the network; an unchecked certificate lets
anyone on the path pose as the directory. Both are refused unless the target says
`allow_insecure = true`, and then every run says so in the log. Loopback is exempt: the
traffic never leaves the machine (the local demo and the tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from syncbot.config_table import Table
from syncbot.worker.settings import is_loopback as listens_on_loopback

log = structlog.get_logger("syncbot.targets")

ALLOW_KEY = "allow_insecure"


def is_loopback(host: str | None) -> bool:
    """Whether a URL's hostname names this machine (no hostname: the library's default)."""
    return bool(host) and listens_on_loopback(host or "")


#: Why a connection is insecure: the setting that makes it so, and what it exposes.
Reason = tuple[str, str]


def refuse_unless_allowed(table: Table, reasons: Sequence[Reason], allowed: bool) -> None:
    """A `ConfigError` naming the first offending setting when `reasons` exist and the
    target's table does not set `allow_insecure = true`."""
    if reasons and not allowed:
        raise table.error(
            reasons[0][0],
            f"insecure connection refused: {'; '.join(why for _, why in reasons)}. Fix it, "
            f"or set {ALLOW_KEY} = true in this target's table to accept the risk (every "
            "run then logs a warning)",
        )


def warn_insecure(target: str, reasons: Sequence[Reason]) -> None:
    """One warning per insecure trait, each time a target is opened (every run)."""
    for key, why in reasons:
        log.warning("insecure_connection", target=target, setting=key, why=why)
