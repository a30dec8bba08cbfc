"""Quarantine of leaked credentials: the plan for a list the police or the CERT hand over.

Every target's accounts that the list (`syncbot.leak_list`) names are made to change their
password at next sign-in and signed out, or locked with `disable`. Names matching nothing,
and protected accounts, are reported, never dropped.

Idempotence: only what a snapshot shows is skipped — an account already locked is not
locked again. Whether a password change is already required is not in a snapshot, so a
second quarantine plans it again and the target makes it a no-op (it reads the flag
before writing). Sign-out is planned every time: running the quarantine again is a
request to end the sessions opened since, which is exactly what a re-run after a new
sighting needs.

A lock made here is not written to the ledger as syncbot's own: only a departure's lock
may be lifted by a rehire, so a quarantined account stays locked whatever the roster says
until an administrator opens it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date

from syncbot.leak_list import LeakList, ListedName
from syncbot.match_keys import fold
from syncbot.matching import Fallback, match
from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Finding,
    FindingKind,
    Plan,
    Reason,
    Roster,
    RosterRow,
    step_order,
)
from syncbot.planning import build
from syncbot.planning.planner import TargetState
from syncbot.wording import reasons


@dataclass(frozen=True, slots=True)
class _Hit:
    """One account of one target that the list names."""

    entry: ListedName
    account: Account
    state: TargetState
    row: RosterRow | None


def plan_quarantine(
    leaks: LeakList,
    roster: Roster,
    targets: Sequence[TargetState],
    today: date,
    *,
    disable: bool = False,
    fallback: Fallback = Fallback.NONE,
) -> Plan:
    """Every step of a quarantine, and findings for names that match nothing or are protected.

    Pure: the same inputs give the same plan. The roster only supplies who a person is
    (employee id, position, unit) and the population thresholds are measured against.
    """
    index = {fold(name): entry for entry in leaks.entries for name in entry.names}
    hits: list[_Hit] = []
    roster_people: set[str] = set()
    accounts_seen: set[str] = set()
    for state in targets:
        rows = _roster_rows(roster, state, fallback)
        roster_people.update(row.employee_id for row in rows.values())
        accounts_seen.update(f"{state.name}:{a.key}" for a in state.snapshot.accounts)
        hits.extend(_hits(index, state, rows))
    actions: list[Action] = []
    findings: list[Finding] = []
    matched = {state.name: 0 for state in targets}
    for hit in _same_person(hits):
        if hit.state.protection.covers(hit.account):
            findings.append(_protected(leaks, hit))
            continue
        matched[hit.state.name] += 1
        actions.extend(_steps(leaks, hit, disable=disable))
    found_lines = {hit.entry.line for hit in hits}
    findings.extend(
        build.finding(
            FindingKind.LEAKED_NOT_FOUND,
            reasons.leaked_not_found(entry.shown, leaks.path, entry.line),
            row=entry.line,
        )
        for entry in leaks.entries
        if entry.line not in found_lines
    )
    actions.sort(key=step_order)
    return Plan(
        today=today,
        roster_path=roster.path,
        roster_sha256=roster.sha256,
        roster_rows=len(roster.rows),
        actions=tuple(actions),
        findings=tuple(findings),
        matched=matched,
        # The share a threshold measures is of the organisation's people; with no roster
        # match at all, of the accounts read.
        matched_people=len(roster_people) or len(accounts_seen),
    )


def not_found(leaks: LeakList, plan: Plan) -> list[ListedName]:
    """The list's entries that matched no account in any target."""
    lines = {f.row for f in plan.findings if f.kind is FindingKind.LEAKED_NOT_FOUND}
    return [entry for entry in leaks.entries if entry.line in lines]


def _roster_rows(roster: Roster, state: TargetState, fallback: Fallback) -> dict[str, RosterRow]:
    """Account key -> roster row, paired exactly as a reconcile pairs them."""
    accounts, _ = state.protection.partition(state.snapshot.accounts)
    return {account.key: row for row, account in match(roster.rows, accounts, fallback).pairs}


def _hits(
    index: dict[str, ListedName], state: TargetState, rows: dict[str, RosterRow]
) -> Iterator[_Hit]:
    for account in state.snapshot.accounts:
        spellings = [fold(account.username), fold(account.email or "")]
        entries = [index[s] for s in spellings if s and s in index]
        if entries:
            entry = min(entries, key=lambda e: e.line)
            yield _Hit(entry, account, state, rows.get(account.key))


def _same_person(hits: list[_Hit]) -> list[_Hit]:
    """One list entry names one person: where the roster places it in one target only (a
    Keycloak account without an employee id, say), the others' hits are that person too."""
    people: dict[int, set[RosterRow]] = {}
    for hit in hits:
        if hit.row is not None:
            people.setdefault(hit.entry.line, set()).add(hit.row)
    resolved: list[_Hit] = []
    for hit in hits:
        rows = people.get(hit.entry.line, set())
        if hit.row is None and len(rows) == 1:
            hit = replace(hit, row=next(iter(rows)))
        resolved.append(hit)
    return resolved


def _steps(leaks: LeakList, hit: _Hit, *, disable: bool) -> list[Action]:
    account, line = hit.account, hit.entry.line
    steps: list[tuple[ActionKind, Reason]] = []
    if disable and account.enabled:
        steps.append((ActionKind.DISABLE, reasons.leaked_disable(leaks.path, line)))
    if hit.state.snapshot.has_sessions:
        steps.append((ActionKind.SIGN_OUT, reasons.leaked_sign_out(leaks.path, line)))
    # Also when locking: an administrator who opens the account again must not open it
    # with the leaked password.
    steps.append(
        (ActionKind.REQUIRE_PASSWORD_CHANGE, reasons.leaked_password_change(leaks.path, line))
    )
    evidence = build.leak_evidence(leaks, line, hit.row)
    employee_id = _employee_id(hit)
    return [
        build.action(hit.state.name, account, employee_id, evidence, kind, reason)
        for kind, reason in steps
    ]


def _employee_id(hit: _Hit) -> str | None:
    if hit.row is not None:
        return hit.row.employee_id
    return (hit.account.employee_id or "").strip() or None


def _protected(leaks: LeakList, hit: _Hit) -> Finding:
    return build.finding(
        FindingKind.LEAKED_PROTECTED,
        reasons.leaked_protected(hit.account.username, leaks.path, hit.entry.line),
        target=hit.state.name,
        employee_id=_employee_id(hit),
        account=hit.account,
        row=hit.entry.line,
    )
