"""Whether the bind account may read and write account locks and group members, asked
without changing anything.

Reading: a compare of the lock attribute on a known account. A search cannot tell: an
attribute the ACLs hide and an attribute the entry lacks both come back absent, while a
compare answers insufficientAccessRights for the first and noSuchAttribute (or
compareFalse/compareTrue) for the second.

Writing: OpenLDAP has no effective-rights query and its No-Op control is gone from 2.5,
and an assertion control is tested before the ACLs (the modify then fails alike with and
without rights). What is honest everywhere the ACLs come first (OpenLDAP, Zimbra, 389 DS)
is a modify that deletes a value the entry does not hold: the server checks write access,
then refuses it with noSuchAttribute, and nothing changes. An access log may record it as
a failed modify. Active Directory answers the question itself: the operational attribute
`allowedAttributesEffective` lists what the bind account may write on an entry.
"""

from __future__ import annotations

from collections.abc import Sequence

import ldap3

from syncbot.targets.ldap.layout import Layout
from syncbot.targets.rights import RightsReport

#: Result codes (RFC 4511) the checks read.
_COMPARE_FALSE, _COMPARE_TRUE, _NO_SUCH_ATTRIBUTE = 5, 6, 16
_NO_SUCH_OBJECT, _INSUFFICIENT_ACCESS = 32, 50
_SIZE_LIMIT = 4

#: A value of the right syntax for each lock attribute, to compare with.
_COMPARE_WITH = {
    "pwdaccountlockedtime": "000001010000Z",
    "useraccountcontrol": "0",
}
#: Values no account holds, to delete in the write check (the first one absent is used).
_NEVER_HELD = {
    "pwdaccountlockedtime": ("19700101000001Z", "19700101000002Z"),
}
_PLACEHOLDER = ("syncbot-rights-check", "syncbot-rights-check-2")


def check_rights(conn: ldap3.Connection, layout: Layout, managed: frozenset[str]) -> RightsReport:
    """Read and write rights on one account's locks and on one managed group's members."""
    settings = layout.settings
    who = settings.bind_dn
    report = RightsReport()
    account = _first_account(conn, layout)
    if account is None:
        report.lines.append(
            f"rights: not checked, {who} sees no account under {settings.users_base}"
        )
        return report
    dn, held = account
    for attribute in layout.flavour.lock_attributes:
        readable = _readable(conn, dn, attribute)
        if readable is None:
            report.lines.append(f"rights: reading {attribute} not checked ({_said(conn)})")
        elif not readable:
            report.missing.append(
                f"{who} cannot read {attribute} (on {dn}): locked accounts would look active "
                f"and the plan would show needless disable steps; grant it read on {attribute}"
            )
            report.lines.append(f"rights: reading {attribute} on accounts: MISSING")
            continue
        else:
            report.lines.append(f"rights: reading {attribute} on accounts: yes")
        _write_line(conn, layout, report, dn, attribute, held.get(attribute.lower(), []))
    group = _first_group(conn, managed)
    if group is not None:
        member = layout.flavour.member_attribute
        _write_line(conn, layout, report, group, member, None, what="members of groups")
    return report


def _write_line(
    conn: ldap3.Connection,
    layout: Layout,
    report: RightsReport,
    dn: str,
    attribute: str,
    held: Sequence[str] | None,
    *,
    what: str = "accounts",
) -> None:
    if layout.flavour.name == "ad":
        writable = _effectively_writable(conn, dn, attribute)
    else:
        writable = _writable(conn, layout, dn, attribute, held)
    if writable is None:
        report.lines.append(
            f"rights: writing {attribute} on {what} not checked ({_said(conn)}); the first "
            "apply will tell"
        )
    elif writable:
        report.lines.append(f"rights: writing {attribute} on {what}: yes")
    else:
        report.lines.append(f"rights: writing {attribute} on {what}: MISSING")
        report.missing.append(
            f"{layout.settings.bind_dn} cannot write {attribute} (on {dn}): apply would fail "
            f"on every step that changes it; grant it write on {attribute}"
        )


def _first_account(
    conn: ldap3.Connection, layout: Layout
) -> tuple[str, dict[str, list[str]]] | None:
    """The first account the target's search finds, with its lock values (operational
    attributes are only returned when named)."""
    settings = layout.settings
    conn.search(
        settings.users_base,
        layout.users_filter,
        ldap3.SUBTREE,
        attributes=list(layout.flavour.lock_attributes),
        size_limit=1,
    )
    for entry in conn.response or ():
        if entry.get("type") == "searchResEntry":
            raw = entry.get("raw_attributes") or {}
            values = {
                name.lower(): [v.decode("utf-8", "replace") for v in found]
                for name, found in raw.items()
            }
            return str(entry["dn"]), values
    return None


def _first_group(conn: ldap3.Connection, managed: frozenset[str]) -> str | None:
    """The first mapped group that exists (a mapping may name groups not made yet)."""
    for dn in sorted(managed):
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["1.1"])
        if any(entry.get("type") == "searchResEntry" for entry in conn.response or ()):
            return dn
    return None


def _readable(conn: ldap3.Connection, dn: str, attribute: str) -> bool | None:
    value = _COMPARE_WITH.get(attribute.lower(), _PLACEHOLDER[0])
    conn.compare(dn, attribute, value)
    code = conn.result.get("result")
    if code in (_COMPARE_FALSE, _COMPARE_TRUE, _NO_SUCH_ATTRIBUTE):
        return True
    if code in (_INSUFFICIENT_ACCESS, _NO_SUCH_OBJECT):
        return False
    return None


def _writable(
    conn: ldap3.Connection,
    layout: Layout,
    dn: str,
    attribute: str,
    held: Sequence[str] | None,
) -> bool | None:
    candidates: tuple[str, ...] = _NEVER_HELD.get(attribute.lower(), _PLACEHOLDER)
    if attribute.lower() == layout.flavour.member_attribute.lower():
        candidates = tuple(f"cn={c},{layout.settings.groups_base}" for c in _PLACEHOLDER)
    present = {value.lower() for value in held or ()}
    absent = next(
        (c for c in candidates if c.lower() not in present and _lacks(conn, dn, attribute, c)),
        None,
    )
    if absent is None:
        return None
    conn.modify(dn, {attribute: [(ldap3.MODIFY_DELETE, [absent])]})
    code = conn.result.get("result")
    if code == _NO_SUCH_ATTRIBUTE:
        return True
    if code == _INSUFFICIENT_ACCESS:
        return False
    return None


def _lacks(conn: ldap3.Connection, dn: str, attribute: str, value: str) -> bool:
    """Whether the entry surely does not hold `value` (its values may be more than a search
    returned: a group's members come in windows on some servers)."""
    conn.compare(dn, attribute, value)
    return conn.result.get("result") in (_COMPARE_FALSE, _NO_SUCH_ATTRIBUTE)


def _effectively_writable(conn: ldap3.Connection, dn: str, attribute: str) -> bool | None:
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["allowedAttributesEffective"])
    for entry in conn.response or ():
        if entry.get("type") == "searchResEntry":
            allowed = (entry.get("raw_attributes") or {}).get("allowedAttributesEffective", [])
            return attribute.lower() in {v.decode("ascii", "replace").lower() for v in allowed}
    return None


def _said(conn: ldap3.Connection) -> str:
    result = conn.result or {}
    return str(result.get("description") or result.get("message") or "no answer")
