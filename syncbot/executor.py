"""Apply a plan step by step, each step on the audit log's disk before the next begins.

Steps are independent at the directory level (locking an account does not depend on its
group removals succeeding), so a failed step is recorded and the others go on; the next
run re-plans from the directory's actual state and retries whatever is still needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import structlog

from syncbot.audit import AuditLog
from syncbot.audit.tail import read_tail
from syncbot.model import Account, Action, ActionKind, Duty, Plan, Snapshot
from syncbot.state import Ledger, StepJournal
from syncbot.targets.base import ApplyError, Progress, Target, no_progress

log = structlog.get_logger("syncbot.executor")


@dataclass(frozen=True, slots=True)
class StepResult:
    action: Action
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class ApplyReport:
    results: list[StepResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[StepResult]:
        return [r for r in self.results if not r.ok]

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.results if r.ok)


def _by_person(plan: Plan) -> Iterator[list[Action]]:
    """One person's steps in every target: the planner already sorted them into safe order."""
    for _, steps in groupby(plan.actions, key=lambda a: a.employee_id or f"{a.target}:{a.account}"):
        yield list(steps)


def _note_intent(ledger: Ledger, action: Action, run_id: str) -> None:
    """Write the ledger ahead of the change, so a crash can only make it say too much."""
    if action.kind is ActionKind.DISABLE and action.offboarding:
        # Only a departure's lock may be undone by a rehire; any other lock (a leaked
        # password) stays until an administrator lifts it.
        ledger.will_disable(action.target, action.account, action.employee_id, run_id)
    elif action.kind is ActionKind.DISABLE and action.duty is Duty.DORMANT:
        ledger.will_lock_dormant(action.target, action.account, action.employee_id, run_id)
    elif action.offboarding and action.remove:
        ledger.will_remove(action.target, action.account, action.employee_id, run_id, action.remove)


def _audit_fields(action: Action) -> dict[str, Any]:
    """What the audit record of a step says apart from its result: also the journal's note."""
    return {
        "target": action.target,
        "account": action.account,
        "username": action.username,
        "employee_id": action.employee_id,
        "action": action.kind.value,
        "before": action.before(),
        "after": action.after(),
        "reason": action.reason.as_dict(),
        "evidence": action.evidence.as_dict() if action.evidence else None,
    }


def _perform(target: Target, action: Action) -> str | None:
    try:
        target.apply(action)
    except ApplyError as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:  # an adapter bug must not stop the other people's steps
        log.exception("step_crashed", target=action.target, account=action.account)
        return f"{type(exc).__name__}: {exc}"
    return None


def apply_plan(
    plan: Plan,
    targets: Mapping[str, Target],
    audit: AuditLog,
    ledger: Ledger,
    run_id: str,
    *,
    journal: StepJournal,
    progress: Progress = no_progress,
    should_stop: Callable[[], bool] = lambda: False,
) -> ApplyReport:
    """Apply every action of `plan`; audit each attempt before starting the next."""
    report = ApplyReport()
    total = len(plan.actions)
    for steps in _by_person(plan):
        if should_stop():
            report.interrupted = True
            log.warning("apply_interrupted", done=len(report.results), total=total)
            break
        failed_accounts: set[tuple[str, str]] = set()
        for action in steps:
            number = len(report.results)
            fields = _audit_fields(action)
            _note_intent(ledger, action, run_id)
            journal.begin(number, {**fields, "add": action.add, "remove": action.remove})
            error = _perform(targets[action.target], action)
            audit.change(**fields, result="ok" if error is None else "failed", error=error)
            journal.done(number)
            if error is None and action.kind is ActionKind.SIGN_OUT:
                ledger.signed_out(action.target, action.account, action.employee_id, run_id)
            report.results.append(StepResult(action, error))
            if error is not None:
                failed_accounts.add((action.target, action.account))
            log.info(
                "step_applied" if error is None else "step_failed",
                target=action.target,
                account=action.username,
                action=action.kind.value,
                error=error,
            )
            progress(len(report.results), total)
        for action in steps:
            # Only once the account's whole rehire went through: until then the ledger
            # still holds the roles to restore.
            key = (action.target, action.account)
            if action.kind is ActionKind.ENABLE and key not in failed_accounts:
                ledger.enabled(*key)
    return report


def _took_effect(step: dict[str, Any], account: Account | None) -> bool | None:
    """Whether a journalled step is visible in the directory now; None if the account is gone."""
    if account is None:
        return None
    held = account.entitlements
    kind = ActionKind(step["action"])
    if kind is ActionKind.DISABLE:
        return not account.enabled
    if kind is ActionKind.ENABLE:
        return account.enabled
    if kind is ActionKind.SIGN_OUT:
        return None  # sessions are not in a snapshot: record it as not known to be done
    if kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
        return None  # the flag is not in a snapshot either
    return set(step["add"]) <= held and not set(step["remove"]) & held


def _last_audit_record(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        line = read_tail(fd, os.fstat(fd).st_size).last_line
    finally:
        os.close(fd)
    try:
        record: dict[str, Any] | None = json.loads(line) if line else None
    except ValueError:
        return None  # a damaged tail: the writer refuses it and `audit verify` names it
    return record


def _is_record_of(record: dict[str, Any] | None, run_id: str, step: dict[str, Any]) -> bool:
    if record is None or record.get("run_id") != run_id or record.get("event") != "change":
        return False
    return all(record.get(k) == step[k] for k in ("target", "account", "action"))


def recover_interrupted(
    journal: StepJournal, audit_path: Path, snapshots: Mapping[str, Snapshot], run_id: str
) -> int:
    """Audit the steps a killed run left unrecorded, judged by the directory's state now.

    Returns how many records were written. The records carry the killed run's id, so the
    audit log reads as if that run had recorded them itself, plus a note of who did.
    """
    started, steps = journal.pending()
    if started is None:
        journal.clear()
        return 0
    accounts = {(s.target, a.key): a for s in snapshots.values() for a in s.accounts}
    last = _last_audit_record(audit_path)
    note = f"recorded on recovery by run {run_id}"
    audit = AuditLog(audit_path, run_id=started["run_id"], actor=f"{started['actor']}; {note}")
    try:
        for step in steps:
            if _is_record_of(last, started["run_id"], step):
                continue  # killed after its record was written, before the journal knew
            effect = _took_effect(step, accounts.get((step["target"], step["account"])))
            fields = {k: v for k, v in step.items() if k not in ("add", "remove")}
            error = (
                None
                if effect
                else f"interrupted: the run was killed during this step and the change is "
                f"{'not visible' if effect is False else 'not verifiable from a snapshot'}; "
                f"{note}"
            )
            audit.change(**fields, result="ok" if effect else "failed", error=error)
            log.warning("step_recovered", account=step["account"], took_effect=effect)
        audit.run_finished({"interrupted": True, "recovered_by": run_id, "steps": len(steps)})
    finally:
        audit.close()
    journal.clear()
    return len(steps) + 1
