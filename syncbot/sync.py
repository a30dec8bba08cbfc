"""The one sequence that applies a plan, whoever asks for it.

`syncbot apply`, `syncbot quarantine` and the worker's runs (full, and limited to the people
an HR push names) all come here: lock → read → plan (by the caller's rule) → thresholds →
show → confirm → apply → record. When this sequence was written once per caller, each copy
decided on its own what a threshold counts and what a run leaves behind, and a push could do
what an export could not. Like octoDNS's `Manager.sync`, the callers now differ only in the
rule and in how they show, ask and report.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from types import FrameType

from syncbot.approval.refusal import keep_refused
from syncbot.config import Config
from syncbot.errors import SafetyError
from syncbot.executor import ApplyReport
from syncbot.push_store import PushStore
from syncbot.reconcile import (
    PlanRule,
    Prepared,
    ProgressFactory,
    Scope,
    actor,
    apply_prepared,
    new_run_id,
    prepare,
    silent,
    violations,
)
from syncbot.roster.prints import AppliedExport, prints_of
from syncbot.state import StateDir

Lock = Callable[[], contextlib.AbstractContextManager[None]]


@dataclass(frozen=True, slots=True)
class Synced:
    """How a sync ended: `report` is None when the person asked said no."""

    prepared: Prepared
    forced: list[str]  # the thresholds crossed, applied past on --force
    report: ApplyReport | None


def sync(
    config: Config,
    rule: PlanRule,
    *,
    via: str,
    today: date | None = None,
    run_id: str | None = None,
    force: bool = False,
    show: Callable[[Prepared], None] = lambda prepared: None,
    confirm: Callable[[Prepared], bool] = lambda prepared: True,
    should_stop: Callable[[], bool] | None = None,
    progress: ProgressFactory | None = None,
    lock: Lock | None = None,
) -> Synced:
    """Plan by `rule` and apply it; raise `SafetyError` (nothing changed) past a threshold.

    `show` sees the plan before the thresholds are judged; `confirm` is asked only when
    there is something to change. Without `should_stop`, SIGTERM stops the apply between
    steps (a person's terminal); the worker passes its own flag. `lock` defaults to the
    state folder's, which fails at once when held; the worker waits for it instead.
    """
    progress = progress or silent
    with (
        (lock or StateDir(config.state_dir).lock)(),
        prepare(config, today or date.today(), rule=rule, progress=progress) as prepared,
    ):
        _remember_what_reading_learnt(prepared)
        show(prepared)
        problems = violations(prepared)
        if problems and not force:
            # Saved for approval first, so the error names the plan to approve.
            raise keep_refused(refusal(prepared, problems), prepared, via=via, run_id=run_id)
        if prepared.plan.actions and not confirm(prepared):
            return Synced(prepared, problems, None)
        with _stop_flag(should_stop) as stop, progress("Áp dụng") as bar:
            report = apply_prepared(
                prepared,
                run_id=run_id or new_run_id(),
                actor_name=actor(via),
                forced=problems,
                progress=bar,
                should_stop=stop,
            )
        _record_scope(prepared, report)
        return Synced(prepared, problems, report)


def refusal(prepared: Prepared, problems: list[str]) -> SafetyError:
    """The error for a plan past a threshold: every threshold, and what a person does next."""
    return SafetyError(
        "refused, nothing was changed / từ chối, không thay đổi gì:\n  - "
        + "\n  - ".join(problems)
        + f"\nReview the {prepared.rule.reviewed}; if the plan is right, run again with --force.",
        problems=problems,
        plan=prepared.plan,
    )


def _remember_what_reading_learnt(prepared: Prepared) -> None:
    """First prints of the export for new pushed rows, and rows the export overtook."""
    overlaid = prepared.overlaid
    if overlaid is not None:
        PushStore(prepared.config.state_dir).learnt(overlaid.baselines, overlaid.superseded)


def _record_scope(prepared: Prepared, report: ApplyReport) -> None:
    """What a push run took counts towards the next thresholds until a run judged the
    whole roster (a full one, or one for what a new export changed) succeeds; such a run
    also leaves the roster's prints for the next export to be compared with."""
    store = PushStore(prepared.config.state_dir)
    scope = prepared.scope
    if scope is Scope.PUSH:
        store.took(r.action.person for r in report.results if r.ok and r.action.takes_access)
    elif scope in (Scope.FULL, Scope.EXPORT) and not report.failed and not report.interrupted:
        store.full_reconcile_done()
        roster = prepared.roster
        prints = StateDir(prepared.config.state_dir).export_prints()
        if not prints.made_from(roster.sha256):  # a scheduled run on the same roster
            prints.save(AppliedExport(roster.sha256, prints_of(roster.rows)))


@contextlib.contextmanager
def _stop_flag(should_stop: Callable[[], bool] | None) -> Iterator[Callable[[], bool]]:
    """The caller's stop flag, or one SIGTERM raises: the step in flight is finished first."""
    if should_stop is not None:
        yield should_stop
        return
    raised = False

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        raised = True

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield lambda: raised
    finally:
        signal.signal(signal.SIGTERM, previous)
