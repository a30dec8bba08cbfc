"""The circulars' duties as planning rules: password policy, stale passwords, dormant,
orphan and much-guessed accounts.

Pure functions over one target's accounts, called by `syncbot.planning.planner.plan`, which decides
whom each rule looks at (matched people, orphans, every account); here is only what each
rule finds and which steps it asks for. Every step carries the duty it serves, so reports
and the audit log can tell a lock for disuse from a departure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from syncbot.duty_settings import (
    Dormancy,
    Duties,
    FailedSignIns,
    Orphans,
    PasswordPolicy,
    Response,
    WantedSettings,
)
from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Duty,
    Finding,
    FindingKind,
    LedgerEntry,
    Reason,
    Roster,
    RosterRow,
    Setting,
    Snapshot,
)
from syncbot.planning import build
from syncbot.wording import reasons


@dataclass(frozen=True, slots=True)
class Subject:
    """One account a duty looks at, with its owner's roster row when HR knows them."""

    target: str
    account: Account
    has_sessions: bool
    row: RosterRow | None = None
    roster: Roster | None = None  # the export `row` is from: the evidence of every step
    ledger: LedgerEntry | None = None

    @property
    def employee_id(self) -> str | None:
        return self.row.employee_id if self.row else None

    def steps(self, duty: Duty, *steps: tuple[ActionKind, Reason]) -> list[Action]:
        """This account's steps for one duty, sharing one evidence: it is built only
        here, as most accounts get no step and planning looks at them all."""
        row, roster = self.row, self.roster
        evidence = None
        if row is not None and roster is not None:
            evidence = build.duty_evidence(duty, roster, row)
        target, account, employee_id = self.target, self.account, self.employee_id
        return [
            build.action(target, account, employee_id, evidence, kind, reason, duty=duty)
            for kind, reason in steps
        ]

    def finding(
        self, kind: FindingKind, reason: Reason, *, since: date | None, due: date | None = None
    ) -> Finding:
        return build.finding(
            kind,
            reason,
            target=self.target,
            account=self.account,
            employee_id=self.employee_id,
            row=self.row.row if self.row else None,
            due=due,
            since=since,
        )

    def lock(self, duty: Duty, reason: Reason, sign_out_reason: Reason) -> list[Action]:
        """Lock, and where the target keeps sessions end them too: a lock alone leaves
        sessions and offline tokens working."""
        if self.has_sessions:
            return self.steps(
                duty, (ActionKind.DISABLE, reason), (ActionKind.SIGN_OUT, sign_out_reason)
            )
        return self.steps(duty, (ActionKind.DISABLE, reason))


@dataclass(slots=True)
class Outcome:
    """What the duties ask for one account (or one target's settings)."""

    actions: list[Action] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def locks(self) -> bool:
        return any(a.kind is ActionKind.DISABLE for a in self.actions)

    def extend(self, other: Outcome) -> Outcome:
        self.actions.extend(other.actions)
        self.findings.extend(other.findings)
        return self


# --- target-wide settings -------------------------------------------------------------------


def settings_drift(snapshot: Snapshot, wanted: WantedSettings, policy: PasswordPolicy) -> Outcome:
    """One CONFIGURE step naming only the settings that differ, and every term the target
    cannot enforce, said once per target rather than dropped."""
    target, key = snapshot.target, snapshot.settings_key
    outcome = Outcome()
    for term in wanted.unsupported:
        outcome.findings.append(
            build.finding(
                FindingKind.SETTING_UNSUPPORTED,
                reasons.setting_unsupported(target, term),
                target=target,
                account=key or None,
            )
        )
    if not wanted.values:
        return outcome
    if snapshot.settings is None:
        outcome.findings.append(
            build.finding(
                FindingKind.SETTING_UNSUPPORTED,
                reasons.settings_unreadable(target, key),
                target=target,
                account=key or None,
            )
        )
        return outcome
    now = snapshot.settings
    drift: tuple[Setting, ...] = tuple(
        (name, now.get(name), value)
        for name, value in sorted(wanted.values.items())
        if now.get(name) != value
    )
    if drift:
        reason = reasons.configure(target, key, policy, drift)
        outcome.actions.append(build.configure(target, key, reason, drift, Duty.PASSWORD))
    return outcome


# --- accounts of people HR knows ------------------------------------------------------------


def watches_people(duties: Duties) -> bool:
    """Whether `for_person` can find anything at all: when not, planning skips it."""
    return duties.password.watches_accounts or duties.dormancy is not None


def for_person(
    subject: Subject, duties: Duties, today: date, *, reopening: bool = False
) -> Outcome:
    """Password and dormancy rules for the matched account of a person HR keeps.

    Accounts federated from an LDAP are skipped: their password and sign-ins live in
    that LDAP, whose own account of the same person carries these rules. A lock for
    disuse makes any password step pointless, so it comes alone. An account the same
    plan reopens (a rehire) is judged as open, so a stale password is dealt with at once,
    but not for disuse: its owner has had no chance to sign in yet.
    """
    row, account = subject.row, subject.account
    enabled = account.enabled or reopening
    if row is None or row.leaving or not enabled or account.federated:
        return Outcome()
    if reopening:
        return _password(subject, duties.password, today)
    dormancy = duties.dormancy
    if dormancy is not None and row.status not in dormancy.exempt_statuses:
        outcome = _dormancy(subject, dormancy, today)
        if outcome.locks:
            return outcome
    else:
        outcome = Outcome()
    return outcome.extend(_password(subject, duties.password, today))


def _password(subject: Subject, policy: PasswordPolicy, today: date) -> Outcome:
    account = subject.account  # enabled, or being reopened by this plan
    changed = account.password_changed
    if changed is None:
        return Outcome()  # no password of its own here, or not observed
    created = account.created
    never = (
        policy.never_changed is not Response.OFF
        and created is not None
        and not account.must_change_password
        and changed <= created + timedelta(minutes=policy.issued_within_minutes)
    )
    age = (today - changed.date()).days
    expired = (
        policy.expired is not Response.OFF
        and policy.max_age_days is not None
        and age > policy.max_age_days
    )
    if never and created is not None:
        kind, since = FindingKind.PASSWORD_NEVER_CHANGED, created.date()
        fact = reasons.password_never_changed(account.username, since)
    elif expired and policy.max_age_days is not None:
        kind, since = FindingKind.PASSWORD_EXPIRED, changed.date()
        fact = reasons.password_expired(account.username, since, age, policy.max_age_days)
    else:
        return Outcome()
    deadline = policy.deadline
    if account.must_change_password:
        # Already asked: asking again changes nothing until its owner acts.
        return Outcome(
            findings=[
                subject.finding(kind, reasons.password_waiting(fact), since=since, due=deadline)
            ]
        )
    if deadline is not None and today < deadline:
        reason = reasons.password_report(fact, deadline)
        return Outcome(findings=[subject.finding(kind, reason, since=since, due=deadline)])
    if deadline is not None:
        # From the deadline the account cannot be used until its owner sets a new password.
        require = (ActionKind.REQUIRE_PASSWORD_CHANGE, reasons.password_require(fact, deadline))
        if subject.has_sessions:
            sign_out = (ActionKind.SIGN_OUT, reasons.password_sign_out(fact, deadline))
            return Outcome(actions=subject.steps(Duty.PASSWORD, require, sign_out))
        return Outcome(actions=subject.steps(Duty.PASSWORD, require))
    if Response.REQUIRE_CHANGE in _responses(policy, never=never, expired=expired):
        require = (ActionKind.REQUIRE_PASSWORD_CHANGE, reasons.password_require(fact, None))
        return Outcome(actions=subject.steps(Duty.PASSWORD, require))
    reason = reasons.password_report(fact, None)
    return Outcome(findings=[subject.finding(kind, reason, since=since)])


def _responses(policy: PasswordPolicy, *, never: bool, expired: bool) -> set[Response]:
    """The responses of every rule the password breaks: the firmest one wins."""
    return {r for r, hit in ((policy.never_changed, never), (policy.expired, expired)) if hit}


# --- dormancy ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Idle:
    """How long an account has gone unused, counted from what, and when it is locked."""

    reference: date
    source: str  # sign_in | locked | created | recorded: what `reference` is
    days: int
    lock_on: date | None


def idle(account: Account, ledger: LedgerEntry | None, dormancy: Dormancy, today: date) -> Idle:
    """Counted from the latest thing that shows the account was wanted: a sign-in, its
    creation, syncbot's own lock for disuse (an administrator reopened it since), or the
    day sign-ins began to be recorded (before that, silence proves nothing)."""
    candidates = [(dormancy.recorded_since, 0, "recorded")]
    if account.created is not None:
        candidates.append((account.created.date(), 1, "created"))
    if ledger is not None and ledger.dormant_locked_on:
        candidates.append((date.fromisoformat(ledger.dormant_locked_on), 2, "locked"))
    if ledger is not None and ledger.reopened_on:
        candidates.append((date.fromisoformat(ledger.reopened_on), 2, "reopened"))
    if account.last_sign_in is not None:
        candidates.append((account.last_sign_in.date(), 3, "sign_in"))
    reference, _, source = max(candidates)
    return Idle(reference, source, (today - reference).days, relock_date(reference, dormancy))


def relock_date(reference: date, dormancy: Dormancy | None) -> date | None:
    """When an account unused since `reference` is locked; None when dormancy only reports."""
    if dormancy is None or dormancy.disable_after_days is None:
        return None
    return reference + timedelta(days=dormancy.days + dormancy.disable_after_days)


def _recently_used(account: Account, dormancy: Dormancy, today: date) -> bool:
    """True when one sign of use falls within the period: `idle` counts from the latest
    one, so it would find fewer days than `dormancy.days` whatever the others say. Most
    accounts are in use; this spares weighing every date for each of them."""
    cutoff = today - timedelta(days=dormancy.days)
    signed_in, created = account.last_sign_in, account.created
    return (
        dormancy.recorded_since > cutoff
        or (signed_in is not None and signed_in.date() > cutoff)
        or (created is not None and created.date() > cutoff)
    )


def _dormancy(subject: Subject, dormancy: Dormancy, today: date) -> Outcome:
    account = subject.account
    if _recently_used(account, dormancy, today):
        return Outcome()
    state = idle(account, subject.ledger, dormancy, today)
    if state.days < dormancy.days:
        return Outcome()
    fact = reasons.idle(account.username, state.days, state.source, state.reference)
    if state.lock_on is not None and today >= state.lock_on:
        warning = dormancy.disable_after_days or 0
        return Outcome(
            actions=subject.lock(
                Duty.DORMANT,
                reasons.dormant_lock(fact, dormancy.days, warning, sign_out=False),
                reasons.dormant_lock(fact, dormancy.days, warning, sign_out=True),
            )
        )
    reason = reasons.dormant(fact, dormancy.days, state.lock_on)
    return Outcome(
        findings=[
            subject.finding(FindingKind.DORMANT, reason, since=state.reference, due=state.lock_on)
        ]
    )


# --- accounts HR does not know -------------------------------------------------------------


def for_orphan(subject: Subject, duties: Duties, today: date) -> Outcome:
    """An enabled account with no roster match: locked after the grace period when the
    policy says so (the grace covers a new hire waiting for the next export), else
    reported; an unused one is also dormant."""
    account = subject.account
    if not account.enabled:
        return Outcome()
    rule: Orphans = duties.orphans
    lock_on = (
        account.created.date() + timedelta(days=rule.grace_days)
        if rule.disable and account.created is not None
        else None
    )
    if lock_on is not None and account.created is not None and today >= lock_on:
        created = account.created.date()
        return Outcome(
            actions=subject.lock(
                Duty.ORPHAN,
                reasons.orphan_lock(account.username, created, rule.grace_days, sign_out=False),
                reasons.orphan_lock(account.username, created, rule.grace_days, sign_out=True),
            )
        )
    reason = reasons.orphan(account.username, lock_on)
    outcome = Outcome(
        findings=[subject.finding(FindingKind.ORPHAN, reason, since=None, due=lock_on)]
    )
    if duties.dormancy is not None and not account.federated:
        outcome.extend(_dormancy(subject, duties.dormancy, today))
    return outcome


# --- failed sign-ins -----------------------------------------------------------------------


def failed_sign_ins(snapshot: Snapshot, rule: FailedSignIns | None, today: date) -> list[Finding]:
    """Reported for every account, protected ones too: reporting is not touching, and an
    administrator's account is the one most worth guessing."""
    if rule is None:
        return []
    since = today - timedelta(days=rule.days)
    return [
        build.finding(
            FindingKind.FAILED_SIGN_INS,
            reasons.failed_sign_ins(
                account.username, account.failed_sign_ins, rule.days, rule.threshold
            ),
            target=snapshot.target,
            employee_id=account.employee_id,
            account=account,
            since=since,
        )
        for account in snapshot.accounts
        if account.failed_sign_ins >= rule.threshold
    ]
