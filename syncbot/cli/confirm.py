"""What a person at a terminal sees of an apply (`syncbot apply`, `syncbot quarantine`): the
question before it, and how it went after. The apply itself is `syncbot.sync`'s."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from syncbot.exit_codes import ExitCode
from syncbot.wording.cli import YES, applied, apply_question

if TYPE_CHECKING:
    from syncbot.executor import ApplyReport


def confirmed(count: int) -> bool:
    if not sys.stdin.isatty():
        print("syncbot: not a terminal: pass --yes to apply without a question", file=sys.stderr)
        return False
    answer = input(apply_question(count))
    return answer.strip().casefold() in YES


def print_outcome(report: ApplyReport, after_sigterm: str) -> int:
    print(applied(report.succeeded, len(report.failed)))
    for failed in report.failed:
        a = failed.action
        print(f"  ✗ {a.target} {a.username} {a.kind.value}: {failed.error}", file=sys.stderr)
    if report.interrupted:
        print(f"syncbot: stopped early on SIGTERM; {after_sigterm}", file=sys.stderr)
    return ExitCode.STEPS_FAILED if report.failed or report.interrupted else ExitCode.OK
