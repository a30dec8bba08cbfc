"""Apply a plan step by step, each step on the audit log's disk before that person's next.

Steps go out a window of people at a time (see `WINDOW`): one fsync of the window's
journal before any is sent, one of all its audit records after, and never two steps of one
person in a window. Steps are independent at the directory level (locking an account does
not depend on its group removals succeeding), so a failed step is recorded and the others
go on; the next run re-plans from the directory's actual state and retries whatever is
still needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby, islice
from pathlib import Path

import structlog

from syncbot.audit import AuditLog
from syncbot.audit.change import Attempt
from syncbot.audit.record import RESULT_FAILED, RESULT_OK
from syncbot.audit.tail import recorded_at_end
from syncbot.model import Account, Action, ActionKind, Duty, Plan, Snapshot
from syncbot.state import Ledger, NamedStep, StepJournal
from syncbot.targets.base import AnswerLost, ApplyError, Progress, Target, no_progress

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


#: How many people's steps are sent together. Each window: the ledger intents and the
#: journal's names of its steps on disk (one fsync each), the changes sent, then all their
#: audit records appended with one write and one fsync. A window holds at most one step
#: per person, so every step's record is durable before that person's next step is sent;
#: the fsync count per step falls from three to three per window.
WINDOW = 64


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


def _message(error: ApplyError | None) -> str | None:
    return None if error is None else (str(error) or type(error).__name__)


def apply_plan(
    plan: Plan,
    targets: Mapping[str, Target],
    snapshots: Mapping[str, Snapshot],
    audit: AuditLog,
    ledger: Ledger,
    run_id: str,
    *,
    journal: StepJournal,
    progress: Progress = no_progress,
    should_stop: Callable[[], bool] = lambda: False,
    window: int = WINDOW,
) -> ApplyReport:
    """Apply every action of `plan`, a window of people at a time; see `WINDOW`.

    `snapshots` are the ones the plan was computed from: each target's steps go out with
    its own, which says where in the directory each account and group is.

    Asked to stop, it takes no one new and finishes the steps of the people it started,
    so a stop never leaves one person's departure half done.
    """
    report = ApplyReport()
    # An approved plan's steps name it in their records (`syncbot.approval.apply`).
    approved = getattr(plan, "plan_id", None)
    if isinstance(approved, str) and approved:
        audit.bind(plan_id=approved)
        journal.approved_plan(approved)
    total = len(plan.actions)
    waiting = _by_person(plan)
    active: list[_Person] = []
    while True:
        if not report.interrupted and should_stop():
            report.interrupted = True
            log.warning("apply_interrupted", done=len(report.results), total=total)
        if not report.interrupted:
            active += [_Person(steps) for steps in islice(waiting, max(window - len(active), 0))]
        if not active:
            break
        _apply_window(active, targets, snapshots, audit, ledger, run_id, journal, report)
        progress(len(report.results), total)
        with ledger.batch():
            for person in active:
                if person.finished:
                    person.close(ledger)
        active = [person for person in active if not person.finished]
    return report


@dataclass(slots=True)
class _Person:
    """One person's steps in plan order, and how far the run has gone through them."""

    steps: list[Action]
    position: int = 0
    failed: set[tuple[str, str]] = field(default_factory=set)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.steps)

    def current(self) -> Action:
        return self.steps[self.position]

    def close(self, ledger: Ledger) -> None:
        for action in self.steps:
            # Only once the account's whole rehire went through: until then the ledger
            # still holds the roles to restore.
            key = (action.target, action.account)
            if action.kind is ActionKind.ENABLE and key not in self.failed:
                ledger.enabled(*key)


def _apply_window(
    people: list[_Person],
    targets: Mapping[str, Target],
    snapshots: Mapping[str, Snapshot],
    audit: AuditLog,
    ledger: Ledger,
    run_id: str,
    journal: StepJournal,
    report: ApplyReport,
) -> None:
    """Each person's next step: intents and journal durable, changes sent, records durable.

    Three fsyncs for the window, whatever its size. The journal names every step before
    any is sent, so a kill anywhere in between leaves each change either recorded or
    named for recovery.
    """
    actions = [person.current() for person in people]
    first = len(report.results)
    numbers = list(range(first, first + len(actions)))
    # Built (and checked) before anything is sent: a record the log would refuse stops here.
    steps = [NamedStep.of(action) for action in actions]
    with ledger.batch():
        for action in actions:
            _note_intent(ledger, action, run_id)
    journal.begin_many(list(zip(numbers, steps, strict=True)))
    failures = _perform_window(targets, snapshots, actions)
    errors = list(map(_message, failures))
    audit.changes([step.change.answered(error) for step, error in zip(steps, errors, strict=True)])
    # A lost answer leaves the step for the next run, which records it if it was made.
    lost = [isinstance(failure, AnswerLost) for failure in failures]
    journal.done_many([n for n, unsure in zip(numbers, lost, strict=True) if not unsure])
    journal.unsettled_many([n for n, unsure in zip(numbers, lost, strict=True) if unsure])
    with ledger.batch():
        for person, action, error in zip(people, actions, errors, strict=True):
            person.position += 1
            if error is None and action.kind is ActionKind.SIGN_OUT:
                ledger.signed_out(action.target, action.account, action.employee_id, run_id)
            if error is not None:
                person.failed.add((action.target, action.account))
            report.results.append(StepResult(action, error))
            log.info(
                "step_applied" if error is None else "step_failed",
                target=action.target,
                account=action.username,
                action=action.kind.value,
                error=error,
            )


def _perform_window(
    targets: Mapping[str, Target], snapshots: Mapping[str, Snapshot], actions: list[Action]
) -> list[ApplyError | None]:
    """Send a window's steps, each target's in one batch with the snapshot they came from.

    The targets' batches go out together, one thread each: a window holds one step per
    person, so no person's steps can overtake each other, and an LDAP lock need not wait
    behind a realm's requests (or the other way round).
    """
    by_target: dict[str, list[int]] = {}
    for index, action in enumerate(actions):
        by_target.setdefault(action.target, []).append(index)

    def send(name: str) -> list[ApplyError | None]:
        return _perform(targets[name], snapshots[name], [actions[i] for i in by_target[name]])

    if len(by_target) == 1:
        answers = {name: send(name) for name in by_target}
    else:
        with ThreadPoolExecutor(len(by_target), "apply") as pool:
            answers = dict(zip(by_target, pool.map(send, by_target), strict=True))
    errors: list[ApplyError | None] = [None] * len(actions)
    for name, indexes in by_target.items():
        for index, error in zip(indexes, answers[name], strict=True):
            errors[index] = error
    return errors


def _perform(target: Target, snapshot: Snapshot, steps: list[Action]) -> list[ApplyError | None]:
    try:
        answers = target.apply(steps, snapshot)
    except Exception as exc:  # an adapter bug must not stop the other people's steps
        if len(steps) > 1:
            # Steps are idempotent, so each is sent again alone: the bug fails only the
            # step that meets it.
            log.exception("steps_crashed", target=target.name, steps=len(steps))
            return [error for step in steps for error in _perform(target, snapshot, [step])]
        log.exception("step_crashed", target=target.name, account=steps[0].account)
        return [ApplyError(f"{type(exc).__name__}: {exc}")]
    if len(answers) != len(steps):  # also an adapter bug: no step may go unanswered
        log.error("steps_unanswered", target=target.name, steps=len(steps), answers=len(answers))
        unanswered = ApplyError(f"{target.name} answered {len(answers)} of {len(steps)} steps")
        return [unanswered] * len(steps)
    return answers


def _took_effect(step: NamedStep, accounts: Mapping[tuple[str, str], Account]) -> bool | None:
    """Whether a journalled step is visible in the directory now; None if the account is gone."""
    change = step.change
    account = accounts.get((change.target, change.account))
    if account is None:
        return None
    held = account.entitlements
    kind = ActionKind(change.action)
    if kind is ActionKind.DISABLE:
        return not account.enabled
    if kind is ActionKind.ENABLE:
        return account.enabled
    if kind is ActionKind.SIGN_OUT:
        return None  # sessions are not in a snapshot: record it as not known to be done
    if kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
        return None  # the flag is not in a snapshot either
    return set(step.add) <= held and not set(step.remove) & held


def recover_interrupted(
    journal: StepJournal, audit_path: Path, snapshots: Mapping[str, Snapshot], run_id: str
) -> int:
    """Audit what the last run could not, judged by the directory's state now: the steps
    a killed run left unrecorded, and the changes made although their answer was lost.

    Returns how many records were written. The records carry the earlier run's id, so the
    audit log reads as if that run had recorded them itself, plus a note of who did.
    """
    left = journal.pending()
    if left.started is None:
        journal.clear()
        return 0
    accounts = {(s.target, a.key): a for s in snapshots.values() for a in s.accounts}
    note = f"recorded on recovery by run {run_id}"
    started = left.started
    audit = AuditLog(audit_path, run_id=started["run_id"], actor=f"{started['actor']}; {note}")
    if isinstance(started.get("plan_id"), str):
        audit.bind(plan_id=started["plan_id"])
    written = 0
    try:
        # A lost answer was recorded as failed; a change made after all gets its record.
        for step in left.unsettled:
            if _took_effect(step, accounts):
                audit.changes([step.change.answered(None)])
                log.warning("step_answer_recovered", account=step.change.account)
                written += 1
        if not left.finished:
            written += _record_killed(left.open, audit, audit_path, accounts, note)
            audit.run_finished(
                {"interrupted": True, "recovered_by": run_id, "steps": len(left.open)}
            )
            written += 1
    finally:
        audit.close()
    journal.clear()
    return written


def _record_killed(
    steps: list[NamedStep],
    audit: AuditLog,
    audit_path: Path,
    accounts: Mapping[tuple[str, str], Account],
    note: str,
) -> int:
    """Records for a killed run's steps that have none, each as the directory shows it.
    `audit` writes under the killed run's id."""
    recorded = recorded_at_end(audit_path, audit.run_id, [step.change for step in steps])
    for index, step in enumerate(steps):
        if index in recorded:
            continue  # killed after its record was written, before the journal knew
        effect = _took_effect(step, accounts)
        error = (
            None
            if effect
            else f"interrupted: the run was killed during this step and the change is "
            f"{'not visible' if effect is False else 'not verifiable from a snapshot'}; "
            f"{note}"
        )
        audit.changes([Attempt(step.change, RESULT_OK if effect else RESULT_FAILED, error)])
        log.warning("step_recovered", account=step.change.account, took_effect=effect)
    return len(steps) - len(recorded)
