"""The planning core: (roster, mappings, snapshots, ledger, today) → `Plan`.

A pure function with no I/O, so every scenario is a fast unit test and a plan can be
recomputed at any time: each run compares whole desired with whole actual state, and a
missed trigger costs latency, never correctness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from syncbot.duty_settings import NO_DUTIES, NO_SETTINGS, Duties, WantedSettings
from syncbot.mappings import Mappings
from syncbot.match_keys import fold, id_key
from syncbot.matching import Fallback, MatchResult, match
from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Finding,
    FindingKind,
    LedgerEntry,
    Plan,
    Reason,
    Roster,
    RosterRow,
    RowEvidence,
    Snapshot,
    TargetMapping,
    step_order,
)
from syncbot.planning import build, duty_rules
from syncbot.protection import Protection
from syncbot.wording import reasons

LedgerView = Mapping[tuple[str, str], LedgerEntry]


@dataclass(frozen=True, slots=True)
class TargetState:
    """What the planner knows of one target: its snapshot and how roles map onto it."""

    snapshot: Snapshot
    mapping: TargetMapping
    protection: Protection
    # What this target itself changes for accounts it imports from a federated LDAP (in
    # Keycloak: client roles). Everything else of theirs is the LDAP target's to change,
    # so one person's role is never set on both sides or fought over.
    federated_owned: frozenset[str] = frozenset()
    wanted: WantedSettings = NO_SETTINGS  # what the duties ask of target-wide settings

    @property
    def name(self) -> str:
        return self.snapshot.target


@dataclass(slots=True)
class _Person:
    """One matched pair, with the derived facts every rule below needs."""

    row: RosterRow
    account: Account
    roster: Roster
    state: TargetState
    ledger: LedgerEntry | None
    _evidence: RowEvidence | None = None

    @property
    def evidence(self) -> RowEvidence:
        """Built on first use: most people get no action or finding to attach it to."""
        if self._evidence is None:
            self._evidence = build.row_evidence(self.roster, self.row)
        return self._evidence

    @property
    def scope(self) -> frozenset[str]:
        """The managed entitlements this target may change for this account."""
        return _scope(self.state, federated=self.account.federated)

    def action(
        self,
        kind: ActionKind,
        reason: Reason,
        *,
        add: tuple[str, ...] = (),
        remove: tuple[str, ...] = (),
        role: str | None = None,
        offboarding: bool = False,
    ) -> Action:
        account = self.account
        return build.action(
            self.state.name,
            account,
            self.row.employee_id,
            self.evidence,
            kind,
            reason=reasons.federated(reason) if account.federated else reason,
            add=add,
            remove=remove,
            role=role,
            offboarding=offboarding,
        )

    def finding(self, kind: FindingKind, reason: Reason, *, since: date | None = None) -> Finding:
        row = self.row
        return build.finding(
            kind,
            reason,
            target=self.state.name,
            account=self.account,
            employee_id=row.employee_id,
            row=row.row,
            due=row.effective_date if kind is FindingKind.FUTURE_CHANGE else None,
            since=since,
        )


def _scope(state: TargetState, *, federated: bool) -> frozenset[str]:
    managed = state.mapping.managed
    return managed & state.federated_owned if federated else managed


#: Which entitlements to look at, and what they must be, for an account to need nothing.
_Check = tuple[frozenset[str], frozenset[str]]


@dataclass(slots=True)
class _Steady:
    """Tells, without planning them, the people this target has nothing to do for.

    At 100k people nearly everyone is in step; planning each of them in full to find
    nothing costs most of a run. Anything this cannot vouch for is planned in full, so
    it decides only how fast a person is planned, never what the plan says.
    """

    state: TargetState
    mappings: Mappings
    ledger: LedgerView
    today: date
    # Per (explicit role, position, unit, federated): most rows share a few of these.
    _checks: dict[tuple[str | None, str, str, bool], _Check | None] = field(default_factory=dict)

    def settled(self, row: RosterRow, account: Account) -> bool:
        in_force = row.in_force(self.today)
        if row.leaving:
            return in_force and self._offboarded(account)
        if not in_force or not account.enabled:
            return False  # a future change, a reopening or a lock: findings or steps
        key = (row.role, row.position, row.unit, account.federated)
        if key in self._checks:
            check = self._checks[key]
        else:
            check = self._checks[key] = self._check(row, account.federated)
        if check is None:
            return False
        held, (mask, wanted) = account.entitlements, check
        # Equal as they are is the common case, and spares building the intersection:
        # `wanted` lies within `mask`, so equal sets are equal within it too.
        return held == wanted or held & mask == wanted

    def _offboarded(self, account: Account) -> bool:
        """Locked, signed out and stripped already: what `_offboard` would leave."""
        state = self.state
        if account.enabled or not account.entitlements.isdisjoint(
            _scope(state, federated=account.federated)
        ):
            return False
        if not state.snapshot.has_sessions:
            return True
        entry = self.ledger.get((state.name, account.key))
        return entry is not None and entry.signed_out

    def _check(self, row: RosterRow, federated: bool) -> _Check | None:
        """What `_keep_in_step` compares for an enabled account of this row, as one mask
        and one wanted set; None when it would always say something (a missing group)."""
        state, mapping = self.state, self.state.mapping
        scope, available = _scope(state, federated=federated), state.snapshot.entitlements
        role_mask: frozenset[str] = frozenset()
        role_wanted: frozenset[str] = frozenset()
        role = row.role or self.mappings.role_for_position(row.position)
        if role is not None:
            role_mask = mapping.role_entitlements & scope
            role_wanted = mapping.roles.get(role, frozenset()) & scope
            if not role_wanted <= available:
                return None
        unit_mask: frozenset[str] = frozenset()
        unit_wanted: frozenset[str] = frozenset()
        unit_key = mapping.units.get(fold(row.unit))
        if unit_key is not None and unit_key in scope:
            if unit_key not in available:
                return None
            unit_mask, unit_wanted = mapping.unit_entitlements, frozenset({unit_key})
        if not role_mask.isdisjoint(unit_mask):
            return None  # a key both role and unit: one comparison cannot tell them apart
        return role_mask | unit_mask, role_wanted | unit_wanted


def plan(
    roster: Roster,
    mappings: Mappings,
    targets: Sequence[TargetState],
    ledger: LedgerView,
    today: date,
    fallback: Fallback = Fallback.NONE,
    duties: Duties = NO_DUTIES,
) -> Plan:
    """Compute every action and finding for one run; never reads or writes anything."""
    run = _Run(roster, mappings, ledger, today, duties, duty_rules.watches_people(duties))
    actions: list[Action] = []
    findings: list[Finding] = _roster_findings(roster, mappings, today)
    matched: dict[str, int] = {}
    # People paired in at least one target: with one target, its pairs; a set of 100k
    # ids is built only when several targets may pair the same person.
    matched_people: set[str] = set()
    for state in targets:
        settings = duty_rules.settings_drift(state.snapshot, state.wanted, duties.password)
        actions.extend(settings.actions)
        findings.extend(settings.findings)
        accounts, protected_ids = _split_protected(state)
        result = match(roster.rows, accounts, fallback)
        matched[state.name] = len(result.paired_rows)
        if len(targets) > 1:
            matched_people.update([row.employee_id for row in result.paired_rows])
        _plan_people(run, state, result.pairs, actions, findings)
        findings.extend(_match_findings(state.name, result, protected_ids))
        for account in result.orphans:
            subject = duty_rules.Subject(state.name, account, state.snapshot.has_sessions)
            orphan = duty_rules.for_orphan(subject, duties, today)
            actions.extend(orphan.actions)
            findings.extend(orphan.findings)
        findings.extend(duty_rules.failed_sign_ins(state.snapshot, duties.failed_sign_ins, today))
    actions.sort(key=step_order)
    return Plan(
        today=today,
        roster_path=roster.path,
        roster_sha256=roster.sha256,
        roster_rows=len(roster.rows),
        actions=tuple(actions),
        findings=tuple(_dedupe(findings)),
        matched=matched,
        matched_people=len(matched_people) if len(targets) > 1 else sum(matched.values()),
    )


@dataclass(frozen=True, slots=True)
class _Run:
    """What every target of one plan shares."""

    roster: Roster
    mappings: Mappings
    ledger: LedgerView
    today: date
    duties: Duties
    watch_people: bool  # some duty looks at people: when not, it is skipped whole


def _plan_people(
    run: _Run,
    state: TargetState,
    pairs: Iterable[tuple[RosterRow, Account]],
    actions: list[Action],
    findings: list[Finding],
) -> None:
    """Every matched person's steps and findings in one target, added to the plan's."""
    steady = _Steady(state, run.mappings, run.ledger, run.today)
    for row, account in pairs:
        settled = steady.settled(row, account)
        if settled and not run.watch_people:
            continue
        entry = run.ledger.get((state.name, account.key))
        person_actions: list[Action] = []
        person_findings: list[Finding] = []
        if not settled:
            person = _Person(row, account, run.roster, state, entry)
            person_actions, person_findings = _plan_person(
                person, run.mappings, run.today, run.duties
            )
        if run.watch_people:
            subject = duty_rules.Subject(
                state.name, account, state.snapshot.has_sessions, row, run.roster, entry
            )
            reopening = any([a.kind is ActionKind.ENABLE for a in person_actions])
            duty = duty_rules.for_person(subject, run.duties, run.today, reopening=reopening)
            # A lock for disuse replaces the roster's role changes: a locked account's
            # roles are settled when someone reopens it (the roster never does).
            person_actions = duty.actions if duty.locks else person_actions + duty.actions
            person_findings.extend(duty.findings)
        actions.extend(person_actions)
        findings.extend(person_findings)


def _plan_person(
    person: _Person, mappings: Mappings, today: date, duties: Duties
) -> tuple[list[Action], list[Finding]]:
    row = person.row
    leaving, in_force = row.leaving, row.in_force(today)
    if leaving and in_force:
        return _offboard(person, mappings), []
    if not leaving and not in_force:
        return [], [person.finding(FindingKind.FUTURE_CHANGE, reasons.future_change(row))]
    # Active, or leaving on a future date: until then the person keeps working normally.
    return _keep_in_step(person, mappings, duties)


def _offboard(person: _Person, mappings: Mappings) -> list[Action]:
    """Lock the account and take away every managed group; the ledger records what went."""
    row, account, mapping = person.row, person.account, person.state.mapping
    actions: list[Action] = []
    if account.enabled:
        actions.append(person.action(ActionKind.DISABLE, reasons.disable(row), offboarding=True))
    # Sessions outlive a lock: end them with the lock, or later if a kill came in between.
    signed_out = person.ledger is not None and person.ledger.signed_out
    if person.state.snapshot.has_sessions and (account.enabled or not signed_out):
        reason = reasons.sign_out(row)
        actions.append(person.action(ActionKind.SIGN_OUT, reason, offboarding=True))
    for entitlement in sorted(account.entitlements & person.scope):
        role = _role_of(mapping, entitlement)
        what = (
            reasons.role_held(role)
            if role
            else reasons.unit_group_held(_unit_of(mappings, mapping, entitlement))
        )
        actions.append(
            person.action(
                ActionKind.REVOKE,
                reasons.offboard_revoke(row, what),
                remove=(entitlement,),
                role=role,
                offboarding=True,
            )
        )
    return actions


def _keep_in_step(
    person: _Person, mappings: Mappings, duties: Duties
) -> tuple[list[Action], list[Finding]]:
    row, account, state = person.row, person.account, person.state
    actions: list[Action] = []
    findings: list[Finding] = []
    restoring = False
    if not account.enabled:
        entry = person.ledger
        if entry is not None and entry.dormant_locked_on:
            # Checked first: even a stale "disabled by syncbot" must not reopen it.
            locked_on = date.fromisoformat(entry.dormant_locked_on)
            relock = duty_rules.relock_date(locked_on, duties.dormancy)
            reason = reasons.locked_dormant(account.username, locked_on, relock)
            return [], [person.finding(FindingKind.LOCKED_BY_OTHERS, reason, since=locked_on)]
        if entry is None or not entry.disabled_by_syncbot:
            reason = reasons.locked_by_others(row, account.username)
            return [], [person.finding(FindingKind.LOCKED_BY_OTHERS, reason)]
        actions.append(person.action(ActionKind.ENABLE, reasons.enable(row, entry.disabled_on)))
        restoring = True

    desired, source = _desired_roles(person, mappings, restoring)
    if desired is not None:
        actions.extend(_role_changes(person, desired, source))
        findings.extend(
            person.finding(FindingKind.MISSING_ENTITLEMENT, reasons.missing_entitlement(e))
            for e in sorted((desired & person.scope) - state.snapshot.entitlements)
        )

    unit_key = state.mapping.units.get(fold(row.unit))
    if unit_key is not None and unit_key in person.scope:
        if unit_key not in state.snapshot.entitlements:
            reason = reasons.missing_entitlement(unit_key)
            findings.append(person.finding(FindingKind.MISSING_ENTITLEMENT, reason))
        else:
            actions.extend(_unit_change(person, mappings, unit_key))
    return actions, findings


def _desired_roles(
    person: _Person, mappings: Mappings, restoring: bool
) -> tuple[frozenset[str] | None, str]:
    """The role entitlements HR justifies, or None when HR says nothing usable."""
    row, mapping = person.row, person.state.mapping
    role = row.role or mappings.role_for_position(row.position)
    if role is not None:
        return mapping.roles.get(role, frozenset()), "explicit" if row.role else "position"
    if restoring and person.ledger and person.ledger.removed:
        return frozenset(person.ledger.removed) & mapping.role_entitlements, "restored"
    return None, ""


def _role_changes(person: _Person, desired: frozenset[str], source: str) -> list[Action]:
    row, account, state = person.row, person.account, person.state
    mapping = state.mapping
    desired = desired & person.scope
    held = account.entitlements & mapping.role_entitlements & person.scope
    expected = row.role or None
    actions: list[Action] = []
    for entitlement in sorted((desired - held) & state.snapshot.entitlements):
        role = _role_of(mapping, entitlement) or entitlement
        reason = reasons.grant(
            row, role, explicit=source == "explicit", restored=source == "restored"
        )
        actions.append(person.action(ActionKind.GRANT, reason, add=(entitlement,), role=role))
    for entitlement in sorted(held - desired):
        role = _role_of(mapping, entitlement) or entitlement
        wanted = sorted({_role_of(mapping, e) or e for e in desired})
        reason = reasons.revoke_drift(row, role, expected or ", ".join(wanted) or None)
        actions.append(person.action(ActionKind.REVOKE, reason, remove=(entitlement,), role=role))
    return actions


def _unit_change(person: _Person, mappings: Mappings, unit_key: str) -> list[Action]:
    row, account, mapping = person.row, person.account, person.state.mapping
    held = account.entitlements & mapping.unit_entitlements
    if held == {unit_key}:
        return []
    old = sorted(held - {unit_key})
    add = () if unit_key in held else (unit_key,)
    reason = reasons.change_unit(
        row,
        [_unit_of(mappings, mapping, e) for e in old],
        _unit_of(mappings, mapping, unit_key) if add else None,
    )
    return [person.action(ActionKind.CHANGE_UNIT, reason, add=add, remove=tuple(old))]


def _role_of(mapping: TargetMapping, entitlement: str) -> str | None:
    for role, keys in mapping.roles.items():
        if entitlement in keys:
            return role
    return None


def _unit_of(mappings: Mappings, mapping: TargetMapping, entitlement: str) -> str:
    for folded, key in mapping.units.items():
        if key == entitlement:
            return mappings.units[folded].name
    return entitlement


def _roster_findings(roster: Roster, mappings: Mappings, today: date) -> list[Finding]:
    """Findings about the roster itself, reported once however many targets there are."""
    # Grouped by folded spelling: one mapping entry fixes every variant of a title.
    unknown_positions: dict[str, tuple[str, list[int]]] = {}
    unknown_units: dict[str, tuple[str, list[int]]] = {}
    # Each spelling looked up once: a roster has a handful of them and 100k rows.
    position_known: dict[str, bool] = {}
    unit_known: dict[str, bool] = {}
    findings: list[Finding] = []
    for row in roster.rows:
        if row.leaving:
            if row.in_force(today):
                continue  # leaving now: the roles it would map to no longer matter
            findings.append(
                build.finding(
                    FindingKind.FUTURE_DEPARTURE,
                    reasons.future_departure(row),
                    employee_id=row.employee_id,
                    row=row.row,
                    due=row.effective_date,
                )
            )
        position, unit = row.position, row.unit
        if row.role is None:
            known = position_known.get(position)
            if known is None:
                known = position_known[position] = mappings.role_for_position(position) is not None
            if not known:
                unknown_positions.setdefault(fold(position), (position, []))[1].append(row.row)
        known = unit_known.get(unit)
        if known is None:
            known = unit_known[unit] = fold(unit) in mappings.units
        if not known:
            unknown_units.setdefault(fold(unit), (unit, []))[1].append(row.row)
    findings.extend(
        build.finding(FindingKind.UNKNOWN_POSITION, reasons.unknown_position(p, rows), row=rows[0])
        for p, rows in unknown_positions.values()
    )
    findings.extend(
        build.finding(FindingKind.UNKNOWN_UNIT, reasons.unknown_unit(u, rows), row=rows[0])
        for u, rows in unknown_units.values()
    )
    return findings


def _split_protected(state: TargetState) -> tuple[list[Account], set[str]]:
    """Accounts syncbot may touch, and the employee ids that protected accounts carry."""
    accounts, protected = state.protection.partition(state.snapshot.accounts)
    ids = {id_key(a.employee_id) for a in protected if a.employee_id}
    return accounts, ids


def _match_findings(target: str, result: MatchResult, protected_ids: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for amb in result.ambiguous:
        ids = [r.employee_id for r in amb.rows]
        names = [a.username for a in amb.accounts]
        findings.append(
            build.finding(
                FindingKind.AMBIGUOUS,
                reasons.ambiguous(ids, names),
                target=target,
                employee_id=ids[0],
                account=amb.accounts[0],
                row=amb.rows[0].row,
            )
        )
    for row in result.unmatched_rows:
        # A person whose only account is protected has one: creating another would be wrong.
        # Someone on leave is still employed and still needs an account.
        if not row.leaving and id_key(row.employee_id) not in protected_ids:
            findings.append(
                build.finding(
                    FindingKind.NO_ACCOUNT,
                    reasons.no_account(row),
                    target=target,
                    employee_id=row.employee_id,
                    row=row.row,
                )
            )
    return findings


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    unique: list[Finding] = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            unique.append(finding)
    return unique
