"""The circulars' duties beyond leavers: password rules, dormant and orphan accounts.

Each is off until the config turns it on, because each one locks or nags people who did
nothing wrong by HR's account; when on, it is planned, shown and audited like any change.
The config tables that turn them on (`[password_policy]`, `[dormancy]`, `[orphans]`,
`[failed_sign_ins]`) are read here, beside the rules they set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from syncbot.config_table import Table
from syncbot.model import Status


class CharClass(StrEnum):
    UPPER = "upper"
    LOWER = "lower"
    DIGIT = "digit"
    SPECIAL = "special"


class Response(StrEnum):
    """What to do about an account that breaks a rule."""

    OFF = "off"
    REPORT = "report"  # list it in plans and reports; change nothing
    REQUIRE_CHANGE = "require_change"  # password change at next sign-in


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The rules every target's own policy is set to, and how stale passwords are treated.

    `deadline`: before it, accounts out of policy are only reported (with the date); from
    it, they are made to change their password before they can sign in again, and their
    sessions are ended - the Long An letter's "from 26/10/2024 ... cannot sign in".
    """

    min_length: int | None = None
    classes: frozenset[CharClass] = frozenset()
    not_username: bool = False
    history: int | None = None
    max_age_days: int | None = None
    never_changed: Response = Response.OFF
    expired: Response = Response.OFF
    deadline: date | None = None
    # An administrator sets the first password moments after creating the account; a
    # password set this soon after creation counts as issued, not chosen by its user.
    issued_within_minutes: int = 60

    @property
    def enforces_settings(self) -> bool:
        return (
            self.min_length is not None
            or bool(self.classes)
            or self.not_username
            or self.history is not None
            or self.max_age_days is not None
        )

    @property
    def watches_accounts(self) -> bool:
        return self.never_changed is not Response.OFF or self.expired is not Response.OFF


@dataclass(frozen=True, slots=True)
class Dormancy:
    """Accounts nobody signed in to for `days` days; locked `disable_after_days` later.

    `recorded_since` is when sign-ins began to be recorded (the lastbind overlay, Keycloak
    event storage): an account with no recorded sign-in is only dormant counted from then,
    so turning recording on does not make everyone dormant at once.
    """

    days: int
    recorded_since: date
    disable_after_days: int | None = None  # None: report only
    exempt_statuses: frozenset[Status] = frozenset({Status.ON_LEAVE})


@dataclass(frozen=True, slots=True)
class Orphans:
    """Accounts with no HR record; locking them is a policy choice, off by default."""

    disable: bool = False
    grace_days: int = 30  # younger accounts may be waiting for the next HR export


@dataclass(frozen=True, slots=True)
class FailedSignIns:
    """Repeated failed sign-ins, reported so the owner can be asked whether it was them."""

    threshold: int = 5
    days: int = 7


@dataclass(frozen=True, slots=True)
class Duties:
    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    dormancy: Dormancy | None = None
    orphans: Orphans = field(default_factory=Orphans)
    failed_sign_ins: FailedSignIns | None = None


@dataclass(frozen=True, slots=True)
class Observe:
    """What a read must take beyond accounts and memberships, so targets skip costly reads
    (a Keycloak request per user for password dates) nobody asked for."""

    passwords: bool = False
    sign_ins_since: date | None = None
    failures_since: date | None = None
    # Set by reconcile when the target wants any setting (its `wanted_settings`): what is
    # wanted decides what is read, in one place, whichever duty or target key wants it.
    settings: bool = False

    @property
    def watches_accounts(self) -> bool:
        """Whether any fact beyond an account's creation is to be read per account."""
        return self.passwords or self.sign_ins_since is not None or self.failures_since is not None

    @classmethod
    def for_duties(cls, duties: Duties, today: date) -> Observe:
        dormancy = duties.dormancy
        failures = duties.failed_sign_ins
        return cls(
            passwords=duties.password.watches_accounts,
            sign_ins_since=_sign_in_window(dormancy, today) if dormancy else None,
            failures_since=today - timedelta(days=failures.days) if failures else None,
        )


def _sign_in_window(dormancy: Dormancy, today: date) -> date:
    """Sign-ins older than this change nothing: the account is dormant, and due for
    locking, either way."""
    span = dormancy.days + (dormancy.disable_after_days or 0)
    return max(dormancy.recorded_since, today - timedelta(days=span))


@dataclass(frozen=True, slots=True)
class WantedSettings:
    """A target's translation of the password policy into its own settings."""

    values: dict[str, str] = field(default_factory=dict)
    # Policy terms this target has no way to enforce, said once per plan, not dropped.
    unsupported: tuple[str, ...] = ()


def parse_duties(top: Table) -> Duties:
    """The duties' tables of the config's top level; each absent one keeps its duty off."""
    failed = top.table("failed_sign_ins")
    duties = Duties(
        password=_password_policy(top.table("password_policy")),
        dormancy=_dormancy(top.table("dormancy")) if "dormancy" in top else None,
        orphans=_orphans(top.table("orphans")),
        failed_sign_ins=FailedSignIns(
            threshold=failed.positive("threshold", int, FailedSignIns().threshold),
            days=failed.positive("days", int, FailedSignIns().days),
        )
        if "failed_sign_ins" in top
        else None,
    )
    failed.done()
    return duties


def _password_policy(table: Table) -> PasswordPolicy:
    classes = table.strings("require")
    for name in classes:
        if name not in tuple(CharClass):
            allowed = ", ".join(c.value for c in CharClass)
            raise table.error("require", f"{name!r} is not a character class; use {allowed}")
    responses = tuple(r.value for r in Response)
    policy = PasswordPolicy(
        min_length=table.optional_positive("min_length"),
        classes=frozenset(CharClass(c) for c in classes),
        not_username=table.get("not_username", bool, False),
        history=table.optional_positive("history"),
        max_age_days=table.optional_positive("max_age_days"),
        never_changed=Response(table.choice("never_changed", responses, "off")),
        expired=Response(table.choice("expired", responses, "off")),
        deadline=table.get("deadline", date),
        issued_within_minutes=table.positive(
            "issued_within_minutes", int, PasswordPolicy().issued_within_minutes
        ),
    )
    if policy.expired is not Response.OFF and policy.max_age_days is None:
        raise table.error("expired", "needs max_age_days: the age a password expires at")
    if policy.deadline is not None and not policy.watches_accounts:
        raise table.error(
            "deadline", "needs never_changed or expired set to report or require_change"
        )
    table.done()
    return policy


def _dormancy(table: Table) -> Dormancy:
    statuses = table.get("exempt_statuses", list, ["on_leave"])
    allowed = tuple(s.value for s in Status)
    if not all(isinstance(s, str) and s in allowed for s in statuses):
        raise table.error("exempt_statuses", f"must list statuses among {', '.join(allowed)}")
    dormancy = Dormancy(
        days=table.required_positive("days"),
        recorded_since=table.require("recorded_since", date),
        disable_after_days=table.optional_positive("disable_after_days"),
        exempt_statuses=frozenset(Status(s) for s in statuses),
    )
    table.done()
    return dormancy


def _orphans(table: Table) -> Orphans:
    orphans = Orphans(
        disable=table.get("disable", bool, False),
        grace_days=table.get("grace_days", int, Orphans().grace_days),
    )
    if orphans.grace_days < 0:
        raise table.error("grace_days", "must not be negative")
    table.done()
    return orphans


#: Shared defaults, never mutated: what a run without any duty configured uses.
NO_DUTIES = Duties()
OBSERVE_NOTHING = Observe()
NO_SETTINGS = WantedSettings()
