"""Quarantine of leaked credentials: the list the police or the CERT hand over, and its plan.

A list names accounts (usernames or e-mails) seen for sale. Every target's accounts that
match are made to change their password at next sign-in and signed out, or locked with
`disable`. Names matching nothing, and protected accounts, are reported, never dropped.

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

import csv
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from syncbot import reasons
from syncbot.errors import ConfigError
from syncbot.matching import Fallback, match
from syncbot.model import (
    KIND_ORDER,
    Account,
    Action,
    ActionKind,
    Evidence,
    Finding,
    FindingKind,
    Plan,
    Reason,
    Roster,
    RosterRow,
)
from syncbot.planner import TargetState
from syncbot.text import fold, nfc

#: The status shown in evidence: the fact behind a quarantine is the list, not HR.
LEAKED_STATUS = "lộ lọt / leaked"
#: Header cells (folded) that mark a CSV list's identifier columns; other columns (a
#: leaked password, say) are never read.
ID_COLUMNS = frozenset(
    {
        "username",
        "user",
        "login",
        "uid",
        "account",
        "tài khoản",
        "tai khoan",
        "tên đăng nhập",
        "ten dang nhap",
        "email",
        "e-mail",
        "mail",
        "thư điện tử",
    }
)
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class ListedName:
    """One entry of a leak list: its line and the spellings it gives (username, e-mail)."""

    line: int
    names: tuple[str, ...]

    @property
    def shown(self) -> str:
        return " / ".join(self.names)


@dataclass(frozen=True, slots=True)
class LeakList:
    """A whole list as read; its sha256 ties every planned step to the exact file."""

    path: str
    sha256: str
    entries: tuple[ListedName, ...]


# -- reading the list -----------------------------------------------------------------------


def read_leak_list(path: Path) -> LeakList:
    """Read and parse a list file; ConfigError (exit 3) names the file when it is unusable."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the list: {error.strerror}", source=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"not UTF-8 (byte {error.start}); save the list as UTF-8", source=str(path)
        ) from None
    leaks = parse_leak_list(text, path=str(path), sha256=hashlib.sha256(data).hexdigest())
    if not leaks.entries:
        raise ConfigError("the list names no account", source=str(path))
    return leaks


def parse_leak_list(text: str, *, path: str, sha256: str) -> LeakList:
    """Entries of a plain list (one name a line) or of a CSV whose header names the columns.

    `#` lines and blank lines are skipped; a name listed twice counts once, at its first line.
    """
    lines = list(_content_lines(text))
    entries = _csv_entries(lines) if lines and _is_header(lines[0][1]) else _plain_entries(lines)
    return LeakList(path=path, sha256=sha256, entries=tuple(_dedupe(entries)))


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = nfc(raw)
        if line and not line.startswith("#"):
            yield number, line


def _delimiter(line: str) -> str:
    return max(_DELIMITERS, key=line.count)


def _cells(line: str, delimiter: str) -> list[str]:
    return [nfc(cell) for cell in next(csv.reader([line], delimiter=delimiter), [])]


def _is_header(line: str) -> bool:
    delimiter = _delimiter(line)
    return any(fold(cell) in ID_COLUMNS for cell in _cells(line, delimiter))


def _csv_entries(lines: list[tuple[int, str]]) -> Iterator[ListedName]:
    header = lines[0][1]
    delimiter = _delimiter(header)
    wanted = [i for i, cell in enumerate(_cells(header, delimiter)) if fold(cell) in ID_COLUMNS]
    for number, line in lines[1:]:
        cells = _cells(line, delimiter)
        names = tuple(cells[i] for i in wanted if i < len(cells) and cells[i])
        if names:
            yield ListedName(number, names)


def _plain_entries(lines: list[tuple[int, str]]) -> Iterator[ListedName]:
    # Only the first word: lists often carry "name<TAB>password" and a password must never
    # be echoed back as a name that was not found.
    for number, line in lines:
        first = line.replace(",", " ").replace(";", " ").split(maxsplit=1)[0]
        yield ListedName(number, (first,))


def _dedupe(entries: Iterable[ListedName]) -> Iterator[ListedName]:
    seen: set[str] = set()
    for entry in entries:
        fresh = tuple(n for n in entry.names if fold(n) not in seen)
        seen.update(fold(n) for n in fresh)
        if fresh:
            yield ListedName(entry.line, fresh)


# -- planning -------------------------------------------------------------------------------


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
        Finding(
            kind=FindingKind.LEAKED_NOT_FOUND,
            reason=reasons.leaked_not_found(entry.shown, leaks.path, entry.line),
            row=entry.line,
        )
        for entry in leaks.entries
        if entry.line not in found_lines
    )
    actions.sort(key=_order)
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
    evidence = _evidence(leaks, hit)
    return [
        Action(
            target=hit.state.name,
            kind=kind,
            account=account.key,
            username=account.username,
            employee_id=_employee_id(hit),
            reason=reason,
            evidence=evidence,
        )
        for kind, reason in steps
    ]


def _employee_id(hit: _Hit) -> str | None:
    if hit.row is not None:
        return hit.row.employee_id
    return (hit.account.employee_id or "").strip() or None


def _evidence(leaks: LeakList, hit: _Hit) -> Evidence:
    return Evidence(
        roster_file=leaks.path,
        roster_sha256=leaks.sha256,
        row=hit.entry.line,
        status=LEAKED_STATUS,
        effective_date=None,
        position=hit.row.position if hit.row else "",
        unit=hit.row.unit if hit.row else "",
    )


def _protected(leaks: LeakList, hit: _Hit) -> Finding:
    return Finding(
        kind=FindingKind.LEAKED_PROTECTED,
        reason=reasons.leaked_protected(hit.account.username, leaks.path, hit.entry.line),
        target=hit.state.name,
        employee_id=_employee_id(hit),
        account=hit.account.key,
        row=hit.entry.line,
    )


def _order(action: Action) -> tuple[str, int, str]:
    """Per person, every target's lock first, then sign-outs, then password changes."""
    line = action.evidence.row if action.evidence else 0
    person = action.employee_id or f"~{line:09d}"  # an unknown person: their list line
    return (person, KIND_ORDER[action.kind], action.target)
