"""The steps every apply a person starts shares (`syncbot apply`, `syncbot quarantine`):
refuse past the thresholds, ask, apply so that SIGTERM ends cleanly, and say how it went."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from syncbot.errors import SafetyError
from syncbot.executor import ApplyReport
from syncbot.progress import progress_bar
from syncbot.reconcile import Prepared, actor, apply_prepared, new_run_id

EXIT_OK, EXIT_STEPS_FAILED, EXIT_NOT_CONFIRMED = 0, 6, 7


def refuse_unless_forced(problems: list[str], force: bool, what: str) -> None:
    """Raise `SafetyError` naming every crossed threshold, unless a human said --force."""
    if problems and not force:
        raise SafetyError(
            "refused, nothing was changed / từ chối, không thay đổi gì:\n  - "
            + "\n  - ".join(problems)
            + f"\nReview the {what}; if the plan is right, run again with --force."
        )


def confirmed(count: int) -> bool:
    if not sys.stdin.isatty():
        print("syncbot: not a terminal: pass --yes to apply without a question", file=sys.stderr)
        return False
    answer = input(f"Áp dụng {count} thay đổi? / Apply {count} changes? [y/N] ")
    return answer.strip().casefold() in {"y", "yes", "c", "có", "co"}


class _StopFlag:
    """SIGTERM during apply finishes the current step, audits it, then stops cleanly."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.raised = True


def apply_until_sigterm(prepared: Prepared, forced: list[str], via: str) -> ApplyReport:
    """Apply with a progress bar; SIGTERM stops between steps, never inside one."""
    stop = _StopFlag()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with progress_bar("Áp dụng") as bar:
            return apply_prepared(
                prepared,
                run_id=new_run_id(),
                actor_name=actor(via),
                forced=forced,
                progress=bar,
                should_stop=lambda: stop.raised,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_outcome(report: ApplyReport, after_sigterm: str) -> int:
    print(f"Đã áp dụng / applied: {report.succeeded} ok, {len(report.failed)} lỗi / failed.")
    for failed in report.failed:
        a = failed.action
        print(f"  ✗ {a.target} {a.username} {a.kind.value}: {failed.error}", file=sys.stderr)
    if report.interrupted:
        print(f"syncbot: stopped early on SIGTERM; {after_sigterm}", file=sys.stderr)
    return EXIT_STEPS_FAILED if report.failed or report.interrupted else EXIT_OK
