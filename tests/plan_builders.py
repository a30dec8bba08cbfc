"""Builders for planner inputs, so each test states only the facts it is about.

Everything defaults to an ordinary active Chuyên viên of Văn phòng in one LDAP target
built from the shipped mappings; a test overrides just what makes its scenario.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from pathlib import Path

from syncbot.mappings import Mappings, load_mappings
from syncbot.matching import Fallback
from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Finding,
    FindingKind,
    LedgerEntry,
    Plan,
    Roster,
    RosterRow,
    Snapshot,
)
from syncbot.planner import TargetState, plan
from syncbot.protection import Protection
from syncbot.text import fold

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"

TODAY = date(2024, 6, 15)
TARGET = "ldap"
ROSTER_FILE = "/srv/hr/nhan-su-2024-06.xlsx"
ROSTER_SHA = "3f" * 32


def group(ref: str) -> str:
    """The entitlement key a mapping reference resolves to in the test target."""
    return f"cn={ref},ou=groups,dc=t"


VAN_THU = group("van-thu")
CHUYEN_VIEN = group("chuyen-vien")
LANH_DAO = group("lanh-dao")
QUAN_TRI = group("quan-tri")
ROLE_GROUPS = frozenset({VAN_THU, CHUYEN_VIEN, LANH_DAO, QUAN_TRI})

UNIT_VP = group("don-vi-van-phong")
UNIT_TCCB = group("don-vi-phong-to-chuc-can-bo")
UNIT_KHTC = group("don-vi-phong-ke-hoach-tai-chinh")
UNIT_CNTT = group("don-vi-phong-cong-nghe-thong-tin")
UNIT_TT = group("don-vi-thanh-tra")
UNIT_GROUPS = frozenset({UNIT_VP, UNIT_TCCB, UNIT_KHTC, UNIT_CNTT, UNIT_TT})

ALL_MANAGED = ROLE_GROUPS | UNIT_GROUPS
UNMANAGED = "cn=wifi-khach,ou=groups,dc=t"


@cache
def shipped() -> Mappings:
    """The defaults shipped in mappings/, loaded once: tests must not depend on a copy."""
    return load_mappings(MAPPINGS_DIR)


def row(
    n: int,
    employee_id: str | None = None,
    *,
    name: str | None = None,
    email: str | None = None,
    unit: str = "Văn phòng",
    position: str = "Chuyên viên",
    status: str = "Đang công tác",
    effective: date | None = None,
    username: str | None = None,
    role: str | None = None,
) -> RosterRow:
    """Roster row `n`; the employee id defaults to NV0n so rows and ids line up in failures."""
    return RosterRow(
        row=n,
        employee_id=employee_id or f"NV{n:03d}",
        full_name=name or f"Nguyễn Văn {n}",
        email=email,
        unit=unit,
        position=position,
        status=shipped().vocabulary().statuses[fold(status)],
        status_word=status,
        effective_date=effective,
        username=username,
        role=role,
    )


def account_key(username: str) -> str:
    return f"uid={username},ou=people,dc=t"


def account(
    username: str,
    employee_id: str | None = None,
    *,
    email: str | None = None,
    enabled: bool = True,
    holds: Iterable[str] = (),
    groups: Iterable[str] = (),
    target: str = TARGET,
) -> Account:
    """An account holding the managed entitlements `holds`; `groups` adds unmanaged ones."""
    held = frozenset(holds)
    return Account(
        target=target,
        key=account_key(username),
        username=username,
        employee_id=employee_id,
        email=email,
        enabled=enabled,
        entitlements=held,
        display_name=username,
        groups=held | frozenset(groups),
    )


def roster(*rows: RosterRow) -> Roster:
    return Roster(path=ROSTER_FILE, sha256=ROSTER_SHA, rows=tuple(rows))


def target_state(
    accounts: Sequence[Account],
    *,
    entitlements: Iterable[str] = ALL_MANAGED,
    protection: Protection | None = None,
    target: str = TARGET,
) -> TargetState:
    """One target whose groups are those of the shipped `ldap` mapping, keyed by `group`."""
    return TargetState(
        snapshot=Snapshot(
            target=target, accounts=tuple(accounts), entitlements=frozenset(entitlements)
        ),
        mapping=shipped().for_target(TARGET, group),
        protection=protection or Protection(),
    )


def ledger_entry(
    username: str,
    employee_id: str | None = None,
    *,
    by_syncbot: bool = True,
    removed: Iterable[str] = (),
    disabled_on: str | None = "2024-01-10",
    target: str = TARGET,
) -> tuple[tuple[str, str], LedgerEntry]:
    """A ledger item ready for `dict(...)`: keyed by (target, account key) as the planner reads."""
    key = account_key(username)
    entry = LedgerEntry(
        target=target,
        account=key,
        employee_id=employee_id,
        disabled_by_syncbot=by_syncbot,
        disabled_on=disabled_on,
        run_id="run-2024-01-10",
        removed=tuple(removed),
    )
    return (target, key), entry


Ledger = Mapping[tuple[str, str], LedgerEntry]


def run(
    rows: Sequence[RosterRow],
    accounts: Sequence[Account],
    *,
    ledger: Ledger | None = None,
    entitlements: Iterable[str] = ALL_MANAGED,
    protection: Protection | None = None,
    fallback: Fallback = Fallback.NONE,
    today: date = TODAY,
) -> Plan:
    """Plan one roster against one target with the shipped mappings."""
    state = target_state(accounts, entitlements=entitlements, protection=protection)
    return plan(roster(*rows), shipped(), [state], ledger or {}, today, fallback)


def applied(accounts: Sequence[Account], actions: Iterable[Action]) -> tuple[Account, ...]:
    """The accounts as a flawless apply of `actions` would leave them."""
    by_key = {a.key: a for a in accounts}
    for action in actions:
        current = by_key[action.account]
        if action.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            current = dataclasses.replace(current, enabled=action.kind is ActionKind.ENABLE)
        else:
            held = (current.entitlements - set(action.remove)) | set(action.add)
            groups = (current.groups - set(action.remove)) | set(action.add)
            current = dataclasses.replace(current, entitlements=held, groups=groups)
        by_key[action.account] = current
    return tuple(by_key[a.key] for a in accounts)


def kinds(actions: Iterable[Action]) -> list[ActionKind]:
    return [a.kind for a in actions]


def actions_of(result: Plan, username: str) -> list[Action]:
    return [a for a in result.actions if a.username == username]


def findings_of(result: Plan, kind: FindingKind) -> list[Finding]:
    return [f for f in result.findings if f.kind is kind]
