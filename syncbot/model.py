"""The nouns of a reconcile: roster rows, directory accounts, and the plan that joins them.

Everything here is immutable data. The planner is a pure function over these types, the
targets translate them to and from their directories, and the executor applies a `Plan`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from syncbot.match_keys import id_key

_C = TypeVar("_C")


def _quick_init(cls: _C) -> _C:
    """Give a frozen, slotted dataclass an `__init__` that fills its slots directly.

    The generated one calls `object.__setattr__` once per field, about 2 µs for an
    `Account`; a reconcile of 100,000 people builds that many accounts and as many roster
    rows, so that alone was a tenth of a run. Setting each slot through its descriptor
    keeps the instances frozen (assignment still raises) at a third of the cost.
    """
    names: list[str] = []
    namespace: dict[str, Any] = {}
    for each in fields(cls):  # type: ignore[arg-type]
        if each.default_factory is not MISSING or not each.init:
            raise TypeError(f"{cls!r}.{each.name}: only plain fields and defaults are supported")
        namespace[f"_set_{each.name}"] = getattr(cls, each.name).__set__
        if each.default is MISSING:
            names.append(each.name)
        else:
            namespace[f"_default_{each.name}"] = each.default
            names.append(f"{each.name}=_default_{each.name}")
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields(cls))  # type: ignore[arg-type]
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", namespace)  # noqa: S102
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls


class Status(StrEnum):
    """What HR says about a person's employment, whatever words the export uses."""

    ACTIVE = "active"
    DEPARTED = "departed"
    TRANSFERRED = "transferred"
    # Still employed but away (long leave, study, maternity): keeps everything, and an
    # unused account is not called dormant.
    ON_LEAVE = "on_leave"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Words a roster may use, folded with `syncbot.match_keys.fold`, and what they mean."""

    statuses: Mapping[str, Status]
    roles: Mapping[str, str]  # folded role name or alias -> canonical role name


@_quick_init
@dataclass(frozen=True, slots=True)
class RosterRow:
    """One person as HR sees them; `row` is the row number shown in the file's own viewer."""

    row: int
    employee_id: str
    full_name: str
    email: str | None
    unit: str
    position: str
    status: Status
    status_word: str
    effective_date: date | None
    username: str | None = None
    role: str | None = None  # canonical role name, when the roster states one explicitly

    @property
    def leaving(self) -> bool:
        """HR says the person goes (departed, transferred): the roster itself locks them."""
        return self.status in LEAVING

    def in_force(self, today: date) -> bool:
        """Whether what the row says holds today; until its date the person is as before."""
        effective = self.effective_date
        return effective is None or effective <= today


#: Every field of a row but its number, in `RosterRow`'s order: what the row says wherever
#: it sits in the file, compared and copied in C (a renumbered row is
#: `RosterRow(number, *ROW_CONTENT(row))`).
ROW_CONTENT = operator.attrgetter(
    "employee_id", "full_name", "email", "unit", "position",
    "status", "status_word", "effective_date", "username", "role",
)  # fmt: skip


#: Statuses whose accounts the roster itself locks: no duty nags or locks them as well.
LEAVING = frozenset({Status.DEPARTED, Status.TRANSFERRED})


@dataclass(frozen=True, slots=True)
class RowSource:
    """Where a row came from when it is not the export named by its roster: an HR push."""

    file: str  # what the evidence names, e.g. "HR push from 127.0.0.1 at 2026-12-05T09:00:00Z"
    sha256: str  # of the push body exactly as sent


@dataclass(frozen=True, slots=True)
class Roster:
    """A whole validated export; its sha256 ties every planned action to the exact file.

    `sources` names, by `id_key`, the rows laid over the export from HR pushes; every other
    row is the export's own.
    """

    path: str
    sha256: str
    rows: tuple[RosterRow, ...]
    sources: Mapping[str, RowSource] = field(default_factory=dict)


@_quick_init
@dataclass(frozen=True, slots=True)
class Account:
    """One account in one target, reduced to what reconciliation compares.

    `key` is the target's stable handle (a DN, a Keycloak user id). `entitlements` holds
    only the managed groups or roles the account has, as normalised entitlement keys.
    """

    target: str
    key: str
    username: str
    employee_id: str | None
    email: str | None
    enabled: bool
    entitlements: frozenset[str] = frozenset()
    display_name: str | None = None
    groups: frozenset[str] = frozenset()  # every group key, managed or not (protection rules)
    federated: bool = False  # imported from an LDAP the organisation also syncs (Keycloak)
    # What the circulars' duties look at; None when the target does not record it.
    created: datetime | None = None
    password_changed: datetime | None = None  # last time the password was set, by anyone
    must_change_password: bool = False  # a change is already required at next sign-in
    last_sign_in: datetime | None = None
    failed_sign_ins: int = 0  # recent failed sign-ins the target still remembers


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Whole actual state of one target at one moment: level-triggered planning needs all of it."""

    target: str
    accounts: tuple[Account, ...]
    entitlements: frozenset[str]  # managed entitlements that exist in the target
    has_sessions: bool = False  # locking is not enough: sessions and tokens must be ended too
    # Target-wide settings syncbot enforces (password policy, event storage), in the
    # target's own vocabulary; None when the target could not read them.
    settings: Mapping[str, str] | None = None
    settings_key: str = ""  # where they live: the ppolicy entry's DN, "realm"
    # What the target that read this snapshot needs to write back to what it read (DNs as
    # the server spells them, ids of roles and groups), in that target's own type. Kept
    # here, not inside the target, so a target's `apply` works from the state its plan was
    # computed from, and a target object holds no state between a read and an apply.
    locator: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TargetMapping:
    """How the four roles and the units are represented in one target, as entitlement keys."""

    roles: Mapping[str, frozenset[str]]  # canonical role name -> entitlement keys
    units: Mapping[str, str]  # folded unit name -> entitlement key

    # Derived once: the planner asks for them for every account of every target.
    role_entitlements: frozenset[str] = field(init=False, repr=False, compare=False)
    unit_entitlements: frozenset[str] = field(init=False, repr=False, compare=False)
    managed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        roles = frozenset().union(*self.roles.values()) if self.roles else frozenset()
        units = frozenset(self.units.values())
        object.__setattr__(self, "role_entitlements", roles)
        object.__setattr__(self, "unit_entitlements", units)
        object.__setattr__(self, "managed", roles | units)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """syncbot's own record that it disabled an account, and what it took away.

    Only accounts in the ledger may be re-enabled: an account an administrator locked
    by hand (a suspected leak, say) stays locked whatever the roster says.
    """

    target: str
    account: str
    employee_id: str | None
    disabled_by_syncbot: bool
    disabled_on: str | None
    run_id: str
    removed: tuple[str, ...] = ()
    signed_out: bool = False
    # Locked for being unused: never undone by the roster, and the dormancy clock restarts
    # here, so an administrator's re-enable is not reversed by the very next run.
    dormant_locked_on: str | None = None
    # syncbot re-enabled it (a rehire): the dormancy clock restarts here too, or a returning
    # person with an old last sign-in would be locked again by the very next run.
    reopened_on: str | None = None


class ActionKind(StrEnum):
    CONFIGURE = "configure"  # a target-wide setting: the password policy, event storage
    DISABLE = "disable"
    SIGN_OUT = "sign_out"  # end sessions, revoke offline tokens and consents
    # At next sign-in (leaked or default passwords). Not a secret, whatever the name says.
    REQUIRE_PASSWORD_CHANGE = "require_password_change"  # noqa: S105
    ENABLE = "enable"
    GRANT = "grant"
    REVOKE = "revoke"
    CHANGE_UNIT = "change_unit"


#: Order of steps for one person: lock first, so a person never holds a new role while
#: an old account stays open, then take away before giving. Every plan is sorted by
#: `step_order`, which applies it.
KIND_ORDER = {
    ActionKind.CONFIGURE: -1,
    ActionKind.DISABLE: 0,
    # The new-password demand before the sign-out: signing out first would leave a moment
    # in which the old password opens a fresh session.
    ActionKind.REQUIRE_PASSWORD_CHANGE: 1,
    ActionKind.SIGN_OUT: 2,
    ActionKind.REVOKE: 3,
    ActionKind.CHANGE_UNIT: 4,
    ActionKind.ENABLE: 5,
    ActionKind.GRANT: 6,
}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an action or finding exists, in the administrator's language and in English."""

    vi: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


class Duty(StrEnum):
    """Which obligation a step serves, so reports can say why a lock was not a departure."""

    ROSTER = "roster"  # HR says so: departures, transfers, roles, units
    PASSWORD = "password"  # noqa: S105 - the password rules, not a password
    DORMANT = "dormant"
    ORPHAN = "orphan"
    LEAK = "leak"


class EvidenceKind(StrEnum):
    """What the fact behind a step is, so a reader knows which file to open and what for."""

    ROSTER_ROW = "roster_row"  # a row of the HR export
    PUSHED_ROW = "pushed_row"  # a row HR pushed ahead of the export
    LEAK_LIST = "leak_list"  # a line of a leaked-credentials list
    DUTY = "duty"  # a circular's duty, about the account of the person on a roster row


@dataclass(frozen=True, slots=True)
class RowEvidence:
    """The HR row behind a step, so an inspector can find it in the export or the push.

    The keys of `as_dict` are those every audit record has carried since the first: the
    records are hash-chained and never rewritten, so readers read one spelling for all.
    """

    roster_file: str  # an export's path, or "HR push from … at …"
    roster_sha256: str
    row: int
    status: str  # as HR spelt it
    effective_date: date | None
    position: str
    unit: str
    kind: EvidenceKind = EvidenceKind.ROSTER_ROW  # or PUSHED_ROW

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "roster_file": self.roster_file,
            "roster_sha256": self.roster_sha256,
            "row": self.row,
            "status": self.status,
            "effective_date": self.effective_date.isoformat() if self.effective_date else None,
            "position": self.position,
            "unit": self.unit,
        }


#: What the plan shows as a leak-list line's "status": the list says only this.
LEAKED_STATUS = "lộ lọt / leaked"


@dataclass(frozen=True, slots=True)
class LeakEvidence:
    """The line of a leaked-credentials list behind a quarantine step.

    `position` and `unit` are the person's on the roster (blank for an account HR does not
    know), so reports by unit count quarantines too. In the audit record the list stands
    where a roster would: `roster_file`, `roster_sha256` and `row` (its line).
    """

    list_file: str
    list_sha256: str
    line: int
    position: str
    unit: str
    kind = EvidenceKind.LEAK_LIST

    @property
    def row(self) -> int:
        return self.line

    @property
    def status(self) -> str:
        return LEAKED_STATUS

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "roster_file": self.list_file,
            "roster_sha256": self.list_sha256,
            "row": self.line,
            "position": self.position,
            "unit": self.unit,
        }


@dataclass(frozen=True, slots=True)
class DutyEvidence:
    """A duty's step about a person HR knows: the duty, and the row that says who they are.

    The row alone would read as though HR had asked for the lock; `duty` says it was the
    circular (dormancy, the password rules). Flat rather than holding a `RowEvidence`:
    a password deadline gives every account a step, and this is one object a person.
    """

    duty: Duty
    roster_file: str
    roster_sha256: str
    row: int
    status: str
    effective_date: date | None
    position: str
    unit: str
    row_kind: EvidenceKind = EvidenceKind.ROSTER_ROW  # or PUSHED_ROW: where the row is from
    kind = EvidenceKind.DUTY

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "duty": self.duty.value,
            "row_kind": self.row_kind.value,
            "roster_file": self.roster_file,
            "roster_sha256": self.roster_sha256,
            "row": self.row,
            "status": self.status,
            "effective_date": self.effective_date.isoformat() if self.effective_date else None,
            "position": self.position,
            "unit": self.unit,
        }


#: Every kind of fact a step can rest on; each has `row`, `status` and `as_dict`.
Evidence = RowEvidence | LeakEvidence | DutyEvidence


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def evidence_of(data: Mapping[str, Any] | None) -> Evidence | None:
    """The evidence whose `as_dict` gave `data` (a saved plan's steps are read back so);
    KeyError or ValueError if it is not one."""
    if data is None:
        return None
    kind = EvidenceKind(data["kind"])
    if kind is EvidenceKind.LEAK_LIST:
        return LeakEvidence(
            data["roster_file"], data["roster_sha256"], data["row"], data["position"], data["unit"]
        )
    if kind is EvidenceKind.DUTY:
        return DutyEvidence(
            duty=Duty(data["duty"]),
            roster_file=data["roster_file"],
            roster_sha256=data["roster_sha256"],
            row=data["row"],
            status=data["status"],
            effective_date=_day(data["effective_date"]),
            position=data["position"],
            unit=data["unit"],
            row_kind=EvidenceKind(data["row_kind"]),
        )
    return RowEvidence(
        roster_file=data["roster_file"],
        roster_sha256=data["roster_sha256"],
        row=data["row"],
        status=data["status"],
        effective_date=_day(data["effective_date"]),
        position=data["position"],
        unit=data["unit"],
        kind=kind,
    )


#: One target-wide setting a CONFIGURE step changes: (name, value now, value wanted).
Setting = tuple[str, str | None, str | None]


def _settings_record(values: Iterable[tuple[str, str | None]]) -> dict[str, Any]:
    """A CONFIGURE step's settings with their names as values, never as keys.

    The audit log refuses any key that looks like it holds a secret, and the products'
    own setting names do (Keycloak's `passwordHistory`, 389 DS's `passwordMinLength`).
    The names are the products' spelling, so an inspector finds them in its console.
    """
    return {"settings": [{"name": name, "value": value} for name, value in values]}


@dataclass(frozen=True, slots=True)
class Action:
    """One change to one account (or, for CONFIGURE, to the target) with reason and evidence."""

    target: str
    kind: ActionKind
    account: str
    username: str
    employee_id: str | None
    reason: Reason
    evidence: Evidence | None
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    role: str | None = None
    offboarding: bool = False  # part of a departure: the ledger keeps what it takes away
    duty: Duty = Duty.ROSTER
    settings: tuple[Setting, ...] = ()  # CONFIGURE only

    def before(self) -> dict[str, Any]:
        if self.kind is ActionKind.CONFIGURE:
            return _settings_record((name, now) for name, now, _ in self.settings)
        if self.kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            return {"must_change_at_next_sign_in": False}
        if self.kind is ActionKind.SIGN_OUT:
            return {"sessions": "any"}
        if self.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            return {"enabled": self.kind is ActionKind.DISABLE}
        return {"member_of": list(self.remove)}

    def after(self) -> dict[str, Any]:
        if self.kind is ActionKind.CONFIGURE:
            return _settings_record((name, wanted) for name, _, wanted in self.settings)
        if self.kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            return {"must_change_at_next_sign_in": True}
        if self.kind is ActionKind.SIGN_OUT:
            return {"sessions": "ended", "offline_access": "revoked", "consents": "revoked"}
        if self.kind in (ActionKind.DISABLE, ActionKind.ENABLE):
            return {"enabled": self.kind is ActionKind.ENABLE}
        return {"member_of": list(self.add)}

    @property
    def takes_access(self) -> bool:
        """True when the step locks the account or strips a role: what thresholds count."""
        return self.kind in (ActionKind.DISABLE, ActionKind.SIGN_OUT, ActionKind.REVOKE) or (
            self.kind is ActionKind.CHANGE_UNIT and not self.add
        )

    @property
    def person(self) -> str:
        """Who the step is about, the same across targets: the id's key, else the account."""
        return id_key(self.employee_id) if self.employee_id else f"{self.target}:{self.account}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "action": self.kind.value,
            "account": self.account,
            "username": self.username,
            "employee_id": self.employee_id,
            "role": self.role,
            "offboarding": self.offboarding,
            "duty": self.duty.value,
            "add": list(self.add),
            "remove": list(self.remove),
            "before": self.before(),
            "after": self.after(),
            "reason": self.reason.as_dict(),
            "evidence": self.evidence.as_dict() if self.evidence else None,
        }


def step_order(action: Action) -> tuple[bool, str, int, str, tuple[str, ...]]:
    """The one order of every plan's steps (a reconcile's, a quarantine's).

    Target-wide settings first, so the password rules are in force before anyone is made
    to choose a new password; then person by person, every target's locks and sign-outs
    before any role change anywhere (`KIND_ORDER`). The executor relies on it: it takes
    each person's steps as one consecutive run, in this order.
    """
    return (
        action.kind is not ActionKind.CONFIGURE,
        action.employee_id or action.account,
        KIND_ORDER[action.kind],
        action.target,
        action.add + action.remove,
    )


class FindingKind(StrEnum):
    """Report-only observations: things a human should look at, which syncbot never changes."""

    ORPHAN = "orphan_account"
    NO_ACCOUNT = "no_account"
    FUTURE_DEPARTURE = "future_departure"
    FUTURE_CHANGE = "future_change"
    AMBIGUOUS = "ambiguous_match"
    UNKNOWN_POSITION = "unknown_position"
    UNKNOWN_UNIT = "unknown_unit"
    MISSING_ENTITLEMENT = "missing_entitlement"
    LOCKED_BY_OTHERS = "locked_by_others"
    LEAKED_NOT_FOUND = "leaked_not_found"  # a name on a leak list that matches no account
    LEAKED_PROTECTED = "leaked_protected"  # a protected account on a leak list: left alone
    PASSWORD_NEVER_CHANGED = "password_never_changed"  # noqa: S105 - the issued one is in use
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105 - older than the maximum age
    DORMANT = "dormant_account"  # no sign-in for the configured number of days
    FAILED_SIGN_INS = "failed_sign_ins"  # repeated failures: guessing, or a user locked out
    SETTING_UNSUPPORTED = "setting_unsupported"  # a policy term this target cannot enforce


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    reason: Reason
    target: str | None = None
    employee_id: str | None = None
    account: str | None = None
    row: int | None = None
    due: date | None = None  # when it takes effect: a departure, a deadline, a lock
    since: date | None = None  # when it began: last sign-in, last password change

    def as_dict(self) -> dict[str, Any]:
        return {
            "finding": self.kind.value,
            "target": self.target,
            "employee_id": self.employee_id,
            "account": self.account,
            "row": self.row,
            "due": self.due.isoformat() if self.due else None,
            "since": self.since.isoformat() if self.since else None,
            "reason": self.reason.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """What one run would change, computed before anything changes, then shown, then applied."""

    today: date
    roster_path: str
    roster_sha256: str
    roster_rows: int
    actions: tuple[Action, ...]
    findings: tuple[Finding, ...]
    matched: Mapping[str, int] = field(default_factory=dict)  # target -> matched accounts
    matched_people: int = 0  # roster rows matched to an account in at least one target

    @property
    def empty(self) -> bool:
        return not self.actions

    def limited_to(self, employee_ids: set[str]) -> Plan:
        """The part of this plan about the named people (an HR push naming who changed).

        Planning stays whole — matching must see every account to spot ambiguity — and
        thresholds still count against everyone matched; only what is applied narrows.
        """
        wanted = {id_key(e) for e in employee_ids}

        def named(employee_id: str | None) -> bool:
            return employee_id is not None and id_key(employee_id) in wanted

        return replace(
            self,
            actions=tuple(a for a in self.actions if named(a.employee_id)),
            findings=tuple(f for f in self.findings if named(f.employee_id)),
        )

    def people_losing_access(self) -> set[str]:
        """People who would be locked out or stripped of a role, counted once across targets."""
        return {a.person for a in self.actions if a.takes_access}

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "roster": {
                "path": self.roster_path,
                "sha256": self.roster_sha256,
                "rows": self.roster_rows,
            },
            "matched": dict(self.matched),
            "matched_people": self.matched_people,
            "actions": [a.as_dict() for a in self.actions],
            "findings": [f.as_dict() for f in self.findings],
        }
