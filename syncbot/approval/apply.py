"""Applying a saved plan: its own `PlanRule` through `syncbot.sync`, and the audit around it.

The rule reads every target whole, then keeps the saved steps whose precondition still
holds (`steps.judge`) and plans nothing else: no step is ever computed afresh. A full
read, not the targeted one (`planning.focus`): a precondition names an account by its
key (a DN, a user id), which a lookup by employee id or e-mail might not reach once it
was edited by hand; and a focused plan keeps only its people's steps, which would drop
target-wide settings and accounts without an id. Approvals are rare, so the cost of the
read is paid rarely.

The thresholds are not judged again (people approved the plan past them: `force`); the
audit says which they were, who approved, and every step skipped and why. Everything
here takes the state lock, through `sync` or directly, so a worker and a person never
audit one decision twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog

from syncbot.approval.saved import SavedPlan, os_user
from syncbot.approval.steps import Skipped, judge
from syncbot.approval.store import APPROVE, REJECT, PlanStore, PlanView, Status
from syncbot.audit import AuditLog, Change
from syncbot.audit.record import PLAN_APPROVED, PLAN_REJECTED, STEP_SKIPPED
from syncbot.config import Config
from syncbot.duty_settings import Observe
from syncbot.executor import ApplyReport, recover_interrupted
from syncbot.mappings import Mappings
from syncbot.model import Plan, Roster
from syncbot.planning.focus import Focus
from syncbot.planning.planner import TargetState
from syncbot.reconcile import Prepared, ProgressFactory, Scope, actor, new_run_id
from syncbot.state import StateDir
from syncbot.sync import Lock, Synced, sync

log = structlog.get_logger("syncbot.approval")


@dataclass(frozen=True, slots=True)
class ApprovedPlan(Plan):
    """A saved plan's steps as applied: the executor stamps `plan_id` on their records."""

    plan_id: str = ""


@dataclass(frozen=True, slots=True)
class SavedPlanRule:
    """The `PlanRule` of a saved plan: its steps that still hold, and nothing new."""

    plan_id: str
    saved: SavedPlan
    skipped: list[Skipped] = field(default_factory=list)  # filled when it plans
    reviewed: str = "saved plan"

    def focus(self, config: Config, roster: Roster) -> Focus | None:
        return None  # a full read: see the module's docstring

    def scope(self, focus: Focus | None) -> Scope:
        # Whom it judged is no roster's population: a success leaves no prints or counts.
        return Scope.LIST

    def observe(self, config: Config, today: date) -> Observe:
        return Observe()  # accounts and memberships; settings come with wanted ones

    def plan(
        self,
        roster: Roster,
        mappings: Mappings,
        states: Sequence[TargetState],
        config: Config,
        today: date,
    ) -> Plan:
        apply, skipped = judge(self.saved.steps, {s.name: s.snapshot for s in states})
        self.skipped[:] = skipped
        saved = self.saved.plan
        kept = {f.name: getattr(saved, f.name) for f in fields(Plan)}
        return ApprovedPlan(**{**kept, "actions": tuple(apply)}, plan_id=self.plan_id)


@dataclass(frozen=True, slots=True)
class Applied:
    """How applying a saved plan ended; `report` None when the person asked said no."""

    plan_id: str
    run_id: str
    report: ApplyReport | None
    skipped: list[Skipped]

    @property
    def finished(self) -> bool:
        report = self.report
        return report is not None and not report.failed and not report.interrupted


def apply_saved(
    config: Config,
    plan_id: str,
    saved: SavedPlan,
    *,
    via: str,
    store: PlanStore | None = None,
    show: Callable[[Prepared, list[Skipped]], None] = lambda prepared, skipped: None,
    confirm: Callable[[Prepared], bool] = lambda prepared: True,
    should_stop: Callable[[], bool] | None = None,
    progress: ProgressFactory | None = None,
    lock: Lock | None = None,
    run_id: str | None = None,
) -> Applied:
    """Apply `saved` as it was reviewed. With `store` (a plan saved for approval) its
    decisions are audited first and, once it finishes, it is marked applied; without (a
    plan file given to `apply FILE`), the person running it is audited as approving it."""
    rule = SavedPlanRule(plan_id, saved)
    run_id = run_id or new_run_id()
    actor_name = actor(via)

    def audit() -> AuditLog:
        log_ = AuditLog(config.audit_path, run_id=run_id, actor=actor_name)
        log_.bind(plan_id=plan_id)
        return log_

    def shown(prepared: Prepared) -> None:
        # A killed run's records must stay the last of the log until recovery looks for
        # them (`recorded_at_end`): it goes first, judged by the full read just taken.
        recover_interrupted(
            StateDir(config.state_dir).journal(), config.audit_path, prepared.snapshots, run_id
        )
        if store is not None:
            with audit() as records:
                _audit_decisions(store, plan_id, records)
        show(prepared, rule.skipped)

    def accepted() -> None:
        """Said yes to (or nothing left to ask): who applies a plan file, and the skips."""
        with audit() as records:
            if store is None:
                records.event(PLAN_APPROVED, _applied_by_hand(plan_id, saved, via))
            _audit_skipped(records, plan_id, rule.skipped)

    def confirmed(prepared: Prepared) -> bool:
        if not confirm(prepared):
            return False
        accepted()
        return True

    synced: Synced = sync(
        config,
        rule,
        via=via,
        run_id=run_id,
        force=True,  # approved past the thresholds
        show=shown,
        confirm=confirmed,
        should_stop=should_stop,
        progress=progress,
        lock=lock,
    )
    if synced.report is not None and not synced.prepared.plan.actions:
        accepted()  # nothing was left to confirm
    applied = Applied(plan_id, run_id, synced.report, rule.skipped)
    if store is not None and applied.finished:
        report = applied.report
        assert report is not None
        progress_ = store.progress(plan_id)
        progress_["applied"] = {
            "run_id": run_id,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "applied": report.succeeded,
            "skipped": len(rule.skipped),
        }
        store.save_progress(plan_id, progress_)
    log.info(
        "saved_plan_applied" if applied.finished else "saved_plan_unfinished",
        plan_id=plan_id,
        run_id=run_id,
        skipped=len(rule.skipped),
    )
    return applied


def _applied_by_hand(plan_id: str, saved: SavedPlan, via: str) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "decision": via,
        "user": os_user(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "",
        "thresholds": list(saved.thresholds),
    }


def _audit_skipped(records: AuditLog, plan_id: str, skipped: list[Skipped]) -> None:
    for each in skipped:
        records.event(
            STEP_SKIPPED,
            {
                "plan_id": plan_id,
                "step": Change.of(each.action).as_dict(),
                "reason": each.reason.as_dict(),
            },
        )


def _audit_decisions(store: PlanStore, plan_id: str, records: AuditLog) -> None:
    """Audit the decisions on `plan_id` the log does not hold yet; the caller holds the
    state lock. A file not to be trusted is noted as seen, so it is not looked at again."""
    progress = store.progress(plan_id)
    seen = set(progress.get("audited", ()))
    saved = store.load(plan_id)
    trusted = {d.name: d for d in store.decisions(plan_id)}
    names = set(store.decision_names(plan_id))
    new = sorted(names - seen)
    if not new:
        return
    for name in new:
        decision = trusted.get(name)
        if decision is None:
            continue
        details = decision.as_record()
        if decision.decision == APPROVE:
            details["thresholds"] = list(saved.thresholds)
        records.event(PLAN_APPROVED if decision.decision == APPROVE else PLAN_REJECTED, details)
    progress["audited"] = sorted(seen | names)
    store.save_progress(plan_id, progress)


def interrupted(state_dir: Path) -> bool:
    """Whether a killed run awaits recovery: until a run that reads the targets has audited
    its last steps, nothing else is written to the log (`recorded_at_end` stops at the
    first record of another run)."""
    return StateDir(state_dir).journal().pending().started is not None


def audit_decisions(
    state_dir: Path, audit_path: Path, store: PlanStore, plan_id: str, *, via: str
) -> None:
    """Audit the decisions on a plan that is not being applied now (a rejection, the first
    of two approvals), under the state lock."""
    with StateDir(state_dir).lock():
        if set(store.decision_names(plan_id)) <= set(store.progress(plan_id).get("audited", ())):
            return
        if interrupted(state_dir):
            return
        with AuditLog(audit_path, run_id=new_run_id(), actor=actor(via)) as records:
            records.bind(plan_id=plan_id)
            _audit_decisions(store, plan_id, records)


def apply_approved(
    config: Config,
    *,
    via: str,
    lock: Lock | None = None,
    should_stop: Callable[[], bool] | None = None,
    run_id: str | None = None,
) -> list[Applied]:
    """What the worker does each run: audit new decisions, and apply every plan that is
    approved and not yet applied (again after a kill or a failure: it converges)."""
    store = PlanStore(config.state_dir, config.approval)
    done: list[Applied] = []
    unaudited = set(store.unaudited())
    for plan_id in store.with_decisions():
        if plan_id not in unaudited and _closed(store, plan_id):
            continue  # applied or rejected, every decision audited: not read again
        view = store.view(plan_id)
        if view.status is Status.APPROVED:
            done.append(
                apply_saved(
                    config,
                    plan_id,
                    view.saved,
                    via=via,
                    store=store,
                    should_stop=should_stop,
                    lock=lock,
                    run_id=run_id if not done else None,
                )
            )
        elif plan_id in unaudited:
            with (lock or StateDir(config.state_dir).lock)():
                if interrupted(config.state_dir):
                    continue
                with AuditLog(config.audit_path, run_id=new_run_id(), actor=actor(via)) as log_:
                    log_.bind(plan_id=plan_id)
                    _audit_decisions(store, plan_id, log_)
    return done


def _closed(store: PlanStore, plan_id: str) -> bool:
    rejected = any(d.decision == REJECT for d in store.decisions(plan_id))
    return rejected or bool(store.progress(plan_id).get("applied"))


def decisions_waiting(store: PlanStore) -> Callable[[], bool]:
    """The worker's look, each tick, for decisions its next run should take up."""

    def waiting() -> bool:
        try:
            return any(store.unaudited())
        except Exception:  # a bad file must not stop the worker; the next run names it
            log.exception("decisions_unreadable")
            return False

    return waiting


def status_line(view: PlanView) -> str:
    """One plan's state in a sentence, for `approve` and `plans list`."""
    if view.status is Status.PENDING:
        return (
            f"chờ duyệt: còn thiếu {view.needed} người duyệt / pending: "
            f"{view.needed} more approval(s) needed"
        )
    words = {
        Status.APPROVED: "đã duyệt / approved",
        Status.REJECTED: "đã từ chối / rejected",
        Status.APPLIED: "đã áp dụng / applied",
        Status.EXPIRED: "quá hạn / expired",
    }
    return words[view.status]
