"""Keeping a refused plan for approval: what `syncbot.sync` does before it raises a refusal.

Apart from `approval.apply`, which imports `syncbot.sync`: this is what `sync` imports.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from syncbot.approval.saved import Requester, SavedPlan, short_id
from syncbot.approval.store import PlanStore
from syncbot.audit import AuditLog
from syncbot.audit.record import PLAN_REFUSED
from syncbot.errors import SafetyError, SyncbotError
from syncbot.executor import recover_interrupted
from syncbot.reconcile import Prepared, actor, new_run_id
from syncbot.state import StateDir

log = structlog.get_logger("syncbot.approval")


def keep_refused(
    refused: SafetyError, prepared: Prepared, *, via: str, run_id: str | None
) -> SafetyError:
    """`refused`, its plan saved and its refusal audited, with `plan_id` set and the way
    to approve it in its message."""
    try:
        plan_id = save_refused(prepared, refused.problems, via=via, run_id=run_id or new_run_id())
    except (OSError, ValueError, KeyError, SyncbotError):
        # The refusal stands whatever happens to the copy kept for approval.
        log.exception("refused_plan_not_saved")
        return refused
    refused.plan_id = plan_id
    short = short_id(plan_id)
    refused.args = (
        f"{refused}\nĐã lưu kế hoạch để duyệt / saved for approval: plan {short}: "
        f"`syncbot plans show {short}`, then `syncbot approve {short}` or "
        f"`syncbot reject {short}`.",
    )
    return refused


def save_refused(prepared: Prepared, problems: list[str], *, via: str, run_id: str) -> str:
    """Save a refused plan for approval and audit the refusal; its id."""
    config = prepared.config
    saved = SavedPlan.of(
        prepared.plan,
        prepared.snapshots,
        problems,
        Requester.here(actor(via), f"{via} ({prepared.scope.value})"),
        prepared.scope.value,
    )
    plan_id = PlanStore(config.state_dir, config.approval).save(saved)
    # A killed run's records must stay the last of the log until recovery looks for them:
    # it goes first. A pending journal made the refused run read every target whole.
    state = StateDir(config.state_dir)
    recover_interrupted(state.journal(), config.audit_path, prepared.snapshots, run_id)
    audit_refusal(config.audit_path, saved, plan_id, via=via, run_id=run_id, state=state)
    return plan_id


def audit_refusal(
    audit_path: Path,
    saved: SavedPlan,
    plan_id: str,
    *,
    via: str,
    run_id: str,
    state: StateDir,
) -> None:
    """The refusal in the audit log, naming the plan saved for approval: sealed and
    anchored (by `state`'s keeping) as the log is after every run, so cutting it shows."""
    keeping = state.audit_keeping()
    with AuditLog(audit_path, run_id=run_id, actor=actor(via), keeping=keeping) as records:
        records.event(
            PLAN_REFUSED,
            {
                "plan_id": plan_id,
                "thresholds": list(saved.thresholds),
                "steps": len(saved.plan.actions),
                "requested_by": saved.requester.user,
                "trigger": saved.requester.trigger,
            },
        )
