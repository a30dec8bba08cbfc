"""`syncbot plans list|show`, `approve`, `reject`, `plan --out` and `apply FILE`: saved plans
as people review, decide on and apply them (`syncbot.approval`).

An approver needs no target secret: `approve` records the decision as a file the person
owns; the worker applies a fully approved plan on its next tick. Only when no worker runs
does `approve` apply it itself, by the same function, which then needs what an
`apply` needs (the config's secrets, the state folder, the audit log).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncbot.approval.apply import (
    Applied,
    apply_saved,
    audit_decisions,
    interrupted,
    status_line,
)
from syncbot.approval.decisions_config import DecisionsConfig, load_decisions_config
from syncbot.approval.errors import PlanExpiredError, PlanNotApprovableError, UnknownPlanError
from syncbot.approval.refusal import audit_refusal
from syncbot.approval.saved import Requester, SavedPlan, os_user, short_id
from syncbot.approval.steps import Skipped
from syncbot.approval.store import APPROVE, PLAN_MODE, REJECT, PlanStore, PlanView, Status
from syncbot.audit import AuditError
from syncbot.cli.confirm import confirmed, print_outcome
from syncbot.cli.plan_view import render_plan
from syncbot.cli.progress import progress_bar
from syncbot.config import Config, load_config
from syncbot.durable import replace_file
from syncbot.errors import ConfigError, LockedError, SafetyError, StateError
from syncbot.exit_codes import ExitCode
from syncbot.logs import configure_logging
from syncbot.reconcile import Prepared, actor, new_run_id
from syncbot.state import StateDir
from syncbot.wording.pair import both
from syncbot.worker.loop import WORKER_LOCK, worker_lock

VIA_APPROVE = "syncbot approve"
VIA_APPLY_FILE = "syncbot apply FILE"


def run(args: argparse.Namespace) -> int:
    """`plans`, `approve`, `reject`: read the config without the targets' secrets."""
    config = load_decisions_config(args.config)
    store = PlanStore(config.state_dir, config.approval)
    if args.command == "approve":
        return approve(args, config, store)
    if args.command == "reject":
        return reject(args, config, store)
    if args.plans_command == "show":
        return show(args, store)
    return list_plans(args, store)


# -- reading -------------------------------------------------------------------------------


def summary(view: PlanView) -> dict[str, Any]:
    """One plan as `plans list --json` gives it."""
    steps = Counter(action.kind.value for action in view.saved.plan.actions)
    return {
        "id": view.id,
        "short_id": view.short,
        "created": view.saved.created.isoformat(),
        "expires": view.expires.isoformat(),
        "status": view.status.value,
        "requested_by": view.saved.requester.user,
        "trigger": view.saved.requester.trigger,
        "thresholds": list(view.saved.thresholds),
        "steps": dict(sorted(steps.items())),
        "approvals": [d.user for d in view.approvals],
        "approvals_required": view.settings.approvals_required,
        "rejected_by": [d.user for d in view.rejections],
    }


def list_plans(args: argparse.Namespace, store: PlanStore) -> int:
    views = store.views()
    if args.json:
        print(json.dumps([summary(v) for v in views], ensure_ascii=False, indent=2))
        return ExitCode.OK
    if not views:
        print(both(("Không có kế hoạch nào được lưu", "No saved plans")))
        return ExitCode.OK
    for view in views:
        data = summary(view)
        steps = ", ".join(f"{kind} {n}" for kind, n in data["steps"].items()) or "—"
        approvals = f"{len(data['approvals'])}/{data['approvals_required']}"
        print(
            f"{view.short}  {view.saved.created:%Y-%m-%d %H:%M}Z  {view.status.value:<8}  "
            f"duyệt/approvals {approvals}  {steps}  ({view.saved.requester.user})"
        )
        for threshold in view.saved.thresholds:
            print(f"    ! {threshold}")
    return ExitCode.OK


def show(args: argparse.Namespace, store: PlanStore) -> int:
    view = store.view(store.resolve(args.id))
    saved = view.saved
    print(f"{both(('Kế hoạch', 'Plan'))} {view.short}  ({view.id})")
    print(f"  {both(('Trạng thái', 'status'))}: {status_line(view)}")
    print(f"  {both(('Tạo lúc', 'created'))}: {saved.created.isoformat()}, "
          f"{both(('hết hạn', 'expires'))} {view.expires.isoformat()}")  # fmt: skip
    print(f"  {both(('Người yêu cầu', 'requested by'))}: {saved.requester.user} "
          f"({saved.requester.trigger}; {saved.requester.actor})")  # fmt: skip
    for threshold in saved.thresholds:
        print(f"  ! {both(('Vượt ngưỡng', 'threshold crossed'))}: {threshold}")
    targets = {action.target for action in saved.plan.actions}
    by = str(args.by or ("person" if len(targets) > 1 else "action"))
    for line in render_plan(saved.plan, lang=args.lang, by=by):
        print(line)
    print("")
    print(both(("Điều kiện trước mỗi bước", "Precondition of each step")))
    for number, (action, pre) in enumerate(saved.steps, 1):
        print(f"  {number:>3}. {action.target} {action.username} {action.kind.value}: "
              + "; ".join(pre.lines()))  # fmt: skip
    print("")
    print(both(("Quyết định", "Decisions")))
    for decision in view.decisions:
        note = f" — {decision.note}" if decision.note else ""
        print(f"  {decision.decision:<8} {decision.user} {decision.made:%Y-%m-%d %H:%M:%S}Z{note}")
    if not view.decisions:
        print("  —")
    return ExitCode.OK


# -- deciding ------------------------------------------------------------------------------


def _check_open(view: PlanView) -> None:
    if view.status is Status.APPLIED:
        raise PlanNotApprovableError(f"plan {view.short} was applied already / đã áp dụng")
    if view.status is Status.REJECTED:
        who = ", ".join(d.user for d in view.rejections)
        raise PlanNotApprovableError(f"plan {view.short} was rejected by {who} / đã bị từ chối")


def approve(args: argparse.Namespace, config: DecisionsConfig, store: PlanStore) -> int:
    view = store.view(store.resolve(args.id))
    _check_open(view)
    if view.status is Status.EXPIRED:
        raise PlanExpiredError(
            f"plan {view.short} was made at {view.saved.created.isoformat()}, more than "
            f"approval.plan_max_age_hours = {config.approval.plan_max_age_hours:g} ago; it "
            "cannot be approved: run `syncbot plan` again / kế hoạch đã quá hạn duyệt"
        )
    me = os.geteuid()
    if config.approval.approvals_required > 1 and me == view.saved.requester.uid:
        raise PlanNotApprovableError(
            f"{os_user(me)} requested plan {view.short}: under the four-eyes rule "
            f"(approval.approvals_required = {config.approval.approvals_required}) two other "
            "users approve it / người yêu cầu không được tự duyệt"
        )
    if view.status is not Status.APPROVED or me not in {d.uid for d in view.approvals}:
        if store.decide(view.id, APPROVE, args.note or "") is None:
            print(both(("Bạn đã duyệt kế hoạch này rồi", "You approved this plan already")))
        view = store.view(view.id)
    print(f"{view.short}: {status_line(view)}")
    if view.status is not Status.APPROVED:
        _audit_now(config, store, view.id)
        return ExitCode.OK
    return _apply_approved(args, config, store, view)


def reject(args: argparse.Namespace, config: DecisionsConfig, store: PlanStore) -> int:
    view = store.view(store.resolve(args.id))
    _check_open(view)
    store.decide(view.id, REJECT, args.note or "")
    print(f"{view.short}: {status_line(store.view(view.id))}")
    _audit_now(config, store, view.id)
    return ExitCode.OK


def _audit_now(config: DecisionsConfig, store: PlanStore, plan_id: str) -> None:
    """Audit the decision at once when this user can; else the next run that can does."""
    try:
        audit_decisions(config.state_dir, config.audit_path, store, plan_id, via=VIA_APPROVE)
    except (LockedError, AuditError, OSError):
        print(both(("Quyết định sẽ được ghi nhật ký ở lần chạy sau",
                    "the decision is audited by the next run")))  # fmt: skip


def _apply_approved(
    args: argparse.Namespace, decisions: DecisionsConfig, store: PlanStore, view: PlanView
) -> int:
    """Apply it here when no worker runs; else the worker does, on its next tick."""
    running = _worker_running(decisions.state_dir)
    if running is None:
        print(both(("Không rõ tiến trình chạy nền có đang chạy không; nếu có, nó sẽ áp dụng "
                    "kế hoạch, nếu không, người có quyền áp dụng chạy lại `syncbot approve`",
                    "cannot tell whether the worker runs: if it does, it applies the plan; "
                    "if not, someone who may apply runs `syncbot approve` again")))  # fmt: skip
        return ExitCode.OK
    try:
        if running:
            raise LockedError("the worker runs")
        with worker_lock(decisions.state_dir):  # no worker starts while this applies
            config = _config_to_apply(decisions, view)
            configure_logging(
                config.log_format, os.environ.get("SYNCBOT_LOG_LEVEL", config.log_level)
            )
            applied = apply_saved(
                config,
                view.id,
                view.saved,
                via=VIA_APPROVE,
                store=store,
                show=lambda prepared, skipped: _show(args, config, prepared, skipped),
                confirm=lambda prepared: args.yes or confirmed(len(prepared.plan.actions)),
                progress=progress_bar,
            )
    except LockedError:
        print(both(("Tiến trình chạy nền sẽ áp dụng kế hoạch ở lượt kế tiếp",
                    "the worker applies the plan on its next tick")))  # fmt: skip
        return ExitCode.OK
    except PermissionError as error:
        raise StateError(
            f"cannot apply plan {view.short} as {os_user()} ({error}); start the worker "
            "(`systemctl start syncbot`), which applies it"
        ) from None
    return _outcome(applied)


def _config_to_apply(decisions: DecisionsConfig, view: PlanView) -> Config:
    """The whole config, secrets and all: with no worker running, this process applies."""
    try:
        return load_config(decisions.path)
    except ConfigError as error:
        raise ConfigError(
            f"plan {view.short} is approved, but no worker runs and {os_user()} cannot "
            f"apply it ({error}): start the worker (`systemctl start syncbot`), which applies "
            f"it, or run `syncbot approve {view.short}` as a user who may apply"
        ) from None


def _worker_running(state_dir: Path) -> bool | None:
    """Whether a worker holds its lock, probed read-only (an approver may not write the
    state folder); None when this user cannot tell."""
    try:
        fd = os.open(state_dir / WORKER_LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and with it the shared lock, had it been taken
    return False


def _show(
    args: argparse.Namespace, config: Config, prepared: Prepared, skipped: list[Skipped]
) -> None:
    by = str(args.by or ("person" if len(config.targets) > 1 else "action"))
    for line in render_plan(prepared.plan, lang=args.lang, by=by):
        print(line)
    for each in skipped:
        a = each.action
        print(f"  ⤼ {both(('bỏ qua', 'skipped'))}: {a.target} {a.username} {a.kind.value}: "
              f"{each.reason.vi} / {each.reason.en}")  # fmt: skip


def _outcome(applied: Applied) -> int:
    if applied.report is None:
        return ExitCode.NOT_CONFIRMED
    skipped = len(applied.skipped)
    if skipped:
        print(both((f"Bỏ qua {skipped} bước", f"{skipped} steps skipped")))
    return print_outcome(applied.report, "apply the plan again to finish it")


# -- plan files ----------------------------------------------------------------------------


def write_plan_file(path: Path, prepared: Prepared, thresholds: list[str]) -> str:
    """`plan --out`: the plan now, in the saved format; its id."""
    via = "syncbot plan --out"
    saved = SavedPlan.of(
        prepared.plan,
        prepared.snapshots,
        thresholds,
        Requester.here(actor(via), via),
        prepared.scope.value,
    )
    replace_file(path, saved.canonical(), PLAN_MODE)
    return saved.id


def apply_file(args: argparse.Namespace, config: Config) -> int:
    """`apply FILE`: exactly the saved plan in FILE, each step checked first."""
    path: Path = args.file
    try:
        data = path.read_bytes()
        saved = SavedPlan.parse(data)
    except (OSError, ValueError) as error:
        raise UnknownPlanError(f"{path}: not a saved plan ({error})") from None
    plan_id = hashlib.sha256(data).hexdigest()
    if datetime.now(UTC) > saved.created + config.approval.max_age:
        raise PlanExpiredError(
            f"{path}: plan {short_id(plan_id)} was made at {saved.created.isoformat()}, more "
            f"than approval.plan_max_age_hours = {config.approval.plan_max_age_hours:g} ago"
        )
    if saved.thresholds and not args.force:
        refused = SafetyError(
            f"{path}: the plan crosses the safety thresholds:\n  - "
            + "\n  - ".join(saved.thresholds)
            + "\nApply it with --force after review, or have it approved: "
            f"`syncbot approve {short_id(plan_id)}`.",
            problems=saved.thresholds,
            plan=saved.plan,
        )
        refused.plan_id = PlanStore(config.state_dir, config.approval).save(saved)
        state = StateDir(config.state_dir)
        with state.lock():  # never between a run's records
            if not interrupted(config.state_dir):  # then the next run's recovery comes first
                audit_refusal(
                    config.audit_path, saved, refused.plan_id, via=VIA_APPLY_FILE,
                    run_id=new_run_id(), state=state,
                )  # fmt: skip
        raise refused
    applied = apply_saved(
        config,
        plan_id,
        saved,
        via=VIA_APPLY_FILE,
        show=lambda prepared, skipped: _show(args, config, prepared, skipped),
        confirm=lambda prepared: args.yes or confirmed(len(prepared.plan.actions)),
        progress=progress_bar,
    )
    return _outcome(applied)
