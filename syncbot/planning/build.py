"""The one place a plan's steps, findings and evidence are made, whichever rule asks.

The roster rules (`planner`), the circulars' duties (`duty_rules`) and the quarantine
(`quarantine`) each decide *what* to do; how a step names its account, its person and
the fact behind it is decided here once, so the three cannot drift apart and a reader of
the audit log finds the same fields whichever rule wrote them.

Plain functions rather than a shared base class: the planner calls them for a few of
100,000 people and builds nothing else on the way.
"""

from __future__ import annotations

from datetime import date

from syncbot.leak_list import LeakList
from syncbot.match_keys import id_key
from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Duty,
    DutyEvidence,
    Evidence,
    EvidenceKind,
    Finding,
    FindingKind,
    LeakEvidence,
    Reason,
    Roster,
    RosterRow,
    RowEvidence,
    Setting,
)


def action(
    target: str,
    account: Account,
    employee_id: str | None,
    evidence: Evidence | None,
    kind: ActionKind,
    reason: Reason,
    *,
    duty: Duty = Duty.ROSTER,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    role: str | None = None,
    offboarding: bool = False,
) -> Action:
    """One step on one account."""
    return Action(
        target=target,
        kind=kind,
        account=account.key,
        username=account.username,
        employee_id=employee_id,
        reason=reason,
        evidence=evidence,
        add=add,
        remove=remove,
        role=role,
        offboarding=offboarding,
        duty=duty,
    )


def configure(
    target: str, key: str, reason: Reason, settings: tuple[Setting, ...], duty: Duty
) -> Action:
    """The step that sets a target's own settings; `key` says where they live."""
    return Action(
        target=target,
        kind=ActionKind.CONFIGURE,
        account=key,
        username=key,
        employee_id=None,
        reason=reason,
        evidence=None,
        duty=duty,
        settings=settings,
    )


def finding(
    kind: FindingKind,
    reason: Reason,
    *,
    target: str | None = None,
    account: Account | str | None = None,
    employee_id: str | None = None,
    row: int | None = None,
    due: date | None = None,
    since: date | None = None,
) -> Finding:
    """One observation for a human; `account` is an account or a target's settings key."""
    return Finding(
        kind=kind,
        reason=reason,
        target=target,
        employee_id=employee_id,
        account=account.key if isinstance(account, Account) else account,
        row=row,
        due=due,
        since=since,
    )


def row_evidence(roster: Roster, row: RosterRow) -> RowEvidence:
    """The HR row behind a step: the export's, or the push that stands in for it."""
    file, sha256, kind = _source(roster, row)
    return RowEvidence(
        roster_file=file,
        roster_sha256=sha256,
        row=row.row,
        status=row.status_word,
        effective_date=row.effective_date,
        position=row.position,
        unit=row.unit,
        kind=kind,
    )


def duty_evidence(duty: Duty, roster: Roster, row: RosterRow) -> DutyEvidence:
    """A duty's step about a person on `roster`: the duty, and the row naming them."""
    file, sha256, kind = _source(roster, row)
    return DutyEvidence(
        duty=duty,
        roster_file=file,
        roster_sha256=sha256,
        row=row.row,
        status=row.status_word,
        effective_date=row.effective_date,
        position=row.position,
        unit=row.unit,
        row_kind=kind,
    )


def _source(roster: Roster, row: RosterRow) -> tuple[str, str, EvidenceKind]:
    """Which file a row is from, as evidence names it: the export, or the push over it."""
    source = roster.sources.get(id_key(row.employee_id)) if roster.sources else None
    if source is None:
        return roster.path, roster.sha256, EvidenceKind.ROSTER_ROW
    return source.file, source.sha256, EvidenceKind.PUSHED_ROW


def leak_evidence(leaks: LeakList, line: int, row: RosterRow | None) -> LeakEvidence:
    """The list line behind a quarantine step, with the person's unit when HR knows them."""
    return LeakEvidence(
        list_file=leaks.path,
        list_sha256=leaks.sha256,
        line=line,
        position=row.position if row else "",
        unit=row.unit if row else "",
    )
