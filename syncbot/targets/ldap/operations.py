"""Single LDAP operations that check their own result: read one entry, modify, compare.

ldap3 is used with `raise_exceptions=False`, so every result code must be looked at;
doing it here once gives reading and writing the same failures, worded the same way.
"""

from __future__ import annotations

from typing import Any

import ldap3
import structlog

from syncbot.targets.ldap.connection import result_text
from syncbot.targets.ldap.flavours import Attributes, Changes, first
from syncbot.targets.ldap.layout import Layout
from syncbot.targets.ldap.link import OperationFailed
from syncbot.targets.ldap.policy import policy_profile

log = structlog.get_logger("syncbot.ldap")

SUCCESS = 0
SIZE_LIMIT_EXCEEDED = 4
COMPARE_FALSE = 5
COMPARE_TRUE = 6
NO_SUCH_ATTRIBUTE = 16
ATTRIBUTE_OR_VALUE_EXISTS = 20
NO_SUCH_OBJECT = 32
OBJECT_CLASS_VIOLATION = 65


def result_code(conn: ldap3.Connection) -> Any:
    result = conn.result
    return result.get("result") if isinstance(result, dict) else None


def read_entry(conn: ldap3.Connection, dn: str, attributes: list[str]) -> Attributes:
    """The entry's attributes; raises `OperationFailed` when it cannot be read."""
    found = _base_search(conn, dn, attributes)
    if found is None:
        raise OperationFailed(f"read {dn} failed: {result_text(conn.result)}")
    return found


def optional_entry(conn: ldap3.Connection, dn: str, attributes: list[str]) -> Attributes | None:
    """The entry's attributes; None when it does not exist. Raises `OperationFailed`."""
    found = _base_search(conn, dn, attributes)
    if found is None and result_code(conn) != NO_SUCH_OBJECT:
        raise OperationFailed(f"read {dn or 'the root DSE'} failed: {result_text(conn.result)}")
    return found


def _base_search(conn: ldap3.Connection, dn: str, attributes: list[str]) -> Attributes | None:
    conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=attributes)
    entries = [e for e in conn.response or () if e.get("type") == "searchResEntry"]
    if result_code(conn) != SUCCESS or not entries:
        return None
    found: Attributes = entries[0]["attributes"]
    return found


def modify(
    conn: ldap3.Connection,
    target: str,
    dn: str,
    changes: Changes,
    *,
    tolerated: set[int],
    confirm: frozenset[int] = frozenset(),
) -> int:
    """Send one modify; return its result code if success, tolerated or to be confirmed."""
    conn.modify(dn, changes)
    code = result_code(conn)
    if code == SUCCESS or code in tolerated or code in confirm:
        log.debug("ldap.modify", target=target, dn=dn, attributes=sorted(changes), result=code)
        return int(code)
    attributes = ", ".join(sorted(changes))
    raise OperationFailed(f"modify {attributes} of {dn} failed: {result_text(conn.result)}")


def is_member(conn: ldap3.Connection, member_attribute: str, group_dn: str, value: str) -> bool:
    conn.compare(group_dn, member_attribute, value)
    code = result_code(conn)
    if code not in (COMPARE_TRUE, COMPARE_FALSE):
        raise OperationFailed(
            f"compare membership in {group_dn} failed: {result_text(conn.result)}"
        )
    return bool(code == COMPARE_TRUE)


def policy_dn(conn: ldap3.Connection, layout: Layout) -> str | None:
    """The configured policy entry, the product's fixed one, or AD's domain object."""
    profile = policy_profile(layout.flavour.name)
    if layout.settings.password_policy_dn or profile.default_dn:
        return layout.settings.password_policy_dn or profile.default_dn
    if not profile.dn_from_root_dse:
        return None
    root = optional_entry(conn, "", ["defaultNamingContext"])
    return first(root, "defaultNamingContext") if root is not None else None
