"""Builders for planner inputs, so each test states only the facts it is about.

Everything defaults to an ordinary active Chuyên viên of Văn phòng in one LDAP target
built from the shipped mappings; a test overrides just what makes its scenario.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path

from syncbot.duty_settings import NO_DUTIES, NO_SETTINGS, Duties, WantedSettings
from syncbot.mappings import Mappings, load_mappings
from syncbot.match_keys import fold
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
from syncbot.planning.planner import TargetState, plan
from syncbot.protection import Protection

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


#: Where the test target keeps its password policy (the ppolicy entry's DN).
POLICY_KEY = "cn=default,ou=policies,dc=t"


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
    federated: bool = False,
    created: datetime | None = None,
    password_changed: datetime | None = None,
    must_change_password: bool = False,
    last_sign_in: datetime | None = None,
    failed_sign_ins: int = 0,
) -> Account:
    """An account holding the managed entitlements `holds`; `groups` adds unmanaged ones.

    The duty fields default to "not recorded", as a target that was not asked leaves them.
    """
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
        federated=federated,
        created=created,
        password_changed=password_changed,
        must_change_password=must_change_password,
        last_sign_in=last_sign_in,
        failed_sign_ins=failed_sign_ins,
    )


def roster(*rows: RosterRow) -> Roster:
    return Roster(path=ROSTER_FILE, sha256=ROSTER_SHA, rows=tuple(rows))


def target_state(
    accounts: Sequence[Account],
    *,
    entitlements: Iterable[str] = ALL_MANAGED,
    protection: Protection | None = None,
    target: str = TARGET,
    has_sessions: bool = False,
    settings: Mapping[str, str] | None = None,
    wanted: WantedSettings = NO_SETTINGS,
) -> TargetState:
    """One target whose groups are those of the shipped `ldap` mapping, keyed by `group`."""
    return TargetState(
        snapshot=Snapshot(
            target=target,
            accounts=tuple(accounts),
            entitlements=frozenset(entitlements),
            has_sessions=has_sessions,
            settings=settings,
            settings_key=POLICY_KEY,
        ),
        mapping=shipped().for_target(TARGET, group),
        protection=protection or Protection(),
        wanted=wanted,
    )


def ledger_entry(
    username: str,
    employee_id: str | None = None,
    *,
    by_syncbot: bool = True,
    removed: Iterable[str] = (),
    disabled_on: str | None = "2024-01-10",
    target: str = TARGET,
    dormant_locked_on: str | None = None,
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
        dormant_locked_on=dormant_locked_on,
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
    duties: Duties = NO_DUTIES,
    has_sessions: bool = False,
    settings: Mapping[str, str] | None = None,
    wanted: WantedSettings = NO_SETTINGS,
) -> Plan:
    """Plan one roster against one target with the shipped mappings."""
    state = target_state(
        accounts,
        entitlements=entitlements,
        protection=protection,
        has_sessions=has_sessions,
        settings=settings,
        wanted=wanted,
    )
    return plan(roster(*rows), shipped(), [state], ledger or {}, today, fallback, duties)


def applied(accounts: Sequence[Account], actions: Iterable[Action]) -> tuple[Account, ...]:
    """The accounts as a flawless apply of `actions` would leave them."""
    by_key = {a.key: a for a in accounts}
    for action in actions:
        if action.kind in (ActionKind.CONFIGURE, ActionKind.SIGN_OUT):
            continue  # the target's settings (see `configured`); sessions are not in a snapshot
        current = by_key[action.account]
        if action.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            current = dataclasses.replace(current, enabled=action.kind is ActionKind.ENABLE)
        elif action.kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            current = dataclasses.replace(current, must_change_password=True)
        else:
            held = (current.entitlements - set(action.remove)) | set(action.add)
            groups = (current.groups - set(action.remove)) | set(action.add)
            current = dataclasses.replace(current, entitlements=held, groups=groups)
        by_key[action.account] = current
    return tuple(by_key[a.key] for a in accounts)


def configured(settings: Mapping[str, str] | None, actions: Iterable[Action]) -> dict[str, str]:
    """The target's settings as a flawless apply of the plan's CONFIGURE steps leaves them."""
    after = dict(settings or {})
    for action in actions:
        for name, _, wanted in action.settings if action.kind is ActionKind.CONFIGURE else ():
            if wanted is None:
                after.pop(name, None)
            else:
                after[name] = wanted
    return after


def kinds(actions: Iterable[Action]) -> list[ActionKind]:
    return [a.kind for a in actions]


def actions_of(result: Plan, username: str) -> list[Action]:
    return [a for a in result.actions if a.username == username]


def findings_of(result: Plan, kind: FindingKind) -> list[Finding]:
    return [f for f in result.findings if f.kind is kind]
