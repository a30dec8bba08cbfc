"""Every exit code syncbot ends with, and what it means, in one table.

Scripts, timers and monitoring act on these numbers, so each means one thing: the CLI,
the worker and the error classes take theirs from here, the `--help` epilog is printed
from `MEANINGS`, and the README's table says the same. A new code gets a new number;
a number is never given a second meaning.
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class ExitCode(IntEnum):
    """The number a `syncbot` command exits with; an int, so it is returned as one."""

    OK = 0
    INTERNAL_ERROR = 1
    USAGE = 2
    INVALID_INPUT = 3
    REFUSED_BY_SAFETY = 4
    TARGET_UNREADABLE = 5
    STEPS_FAILED = 6
    NOT_CONFIRMED = 7
    LOCKED = 8
    CHAIN_BROKEN = 9
    PLAN_HAS_CHANGES = 10
    WORKER_LAST_RUN_FAILED = 11
    NO_WORKER_STATUS = 12
    STATE_UNREADABLE = 13
    LOCAL_RESOURCE = 14
    AUDIT_LOG_FAILED = 15
    PLAN_EXPIRED = 16
    PLAN_NOT_APPROVABLE = 17
    NOTIFY_FAILED = 18
    INTERRUPTED = 130


#: What each code tells the person or script that ran the command (the README has the same).
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (for `plan`: computed; for `audit verify`: the chain is whole)",
    ExitCode.INTERNAL_ERROR: "unexpected internal error",
    ExitCode.USAGE: "command-line usage error",
    ExitCode.INVALID_INPUT: "invalid config, mapping or roster: nothing was changed",
    ExitCode.REFUSED_BY_SAFETY: "refused by a safety threshold: nothing was changed "
    "(use --force after review)",
    ExitCode.TARGET_UNREADABLE: "a target could not be reached or read: nothing was changed",
    ExitCode.STEPS_FAILED: "apply finished, but some steps failed (they are in the audit log; "
    "the next run retries)",
    ExitCode.NOT_CONFIRMED: "apply not confirmed (answered no, or no terminal and no --yes)",
    ExitCode.LOCKED: "another syncbot run holds the lock (for `run`: another worker runs on "
    "this config)",
    ExitCode.CHAIN_BROKEN: "audit verify: the chain is broken, a seal or a witnessed head "
    "does not match, or lines are missing (the message names the first bad line)",
    ExitCode.PLAN_HAS_CHANGES: "plan --detailed-exitcode: the plan has changes",
    ExitCode.WORKER_LAST_RUN_FAILED: "status: the worker's last run failed or was refused",
    ExitCode.NO_WORKER_STATUS: "status: no worker status file exists (the worker never ran "
    "with this config)",
    ExitCode.STATE_UNREADABLE: "a state file is unreadable (the message names it and the "
    "fix): nothing was changed",
    ExitCode.LOCAL_RESOURCE: "something this machine must provide is missing or busy: a port "
    "in use; for `demo`, slapd or Keycloak not installed, or no Java 21+ (the message says "
    "how to fix it)",
    ExitCode.AUDIT_LOG_FAILED: "the audit log is damaged or could not be written: the run "
    "stopped before its next change (run `syncbot audit verify`)",
    ExitCode.PLAN_EXPIRED: "approve: the saved plan is older than [approval] "
    "plan_max_age_hours: plan again",
    ExitCode.PLAN_NOT_APPROVABLE: "approve/reject: the saved plan was already rejected or "
    "applied, or you requested it (four-eyes rule)",
    ExitCode.NOTIFY_FAILED: "notify test: a channel could not deliver (its line says why)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_code_table(width: int = 76) -> list[str]:
    """The table as lines for a terminal: the code right-aligned, its meaning wrapped."""
    import textwrap

    lines: list[str] = []
    for code, meaning in MEANINGS.items():
        wrapped = textwrap.wrap(meaning, width - 5) or [""]
        lines.append(f"{int(code):>3}  {wrapped[0]}")
        lines.extend(f"     {more}" for more in wrapped[1:])
    return lines
