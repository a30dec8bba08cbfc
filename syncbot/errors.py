"""Errors that stop a run before anything is changed, each naming where the problem is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from syncbot.exit_codes import ExitCode

if TYPE_CHECKING:
    from syncbot.model import Plan


class SyncbotError(Exception):
    """Base class: an error the CLI reports in one clear message and a documented exit code."""

    exit_code: int = ExitCode.INTERNAL_ERROR


class ConfigError(SyncbotError):
    """The configuration or a mapping file is invalid; `key` names the offending setting."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class RosterError(SyncbotError):
    """One or more roster rows are invalid; nothing may be applied from such a roster."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: list[RosterProblem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[:50]]
        if len(problems) > 50:
            lines.append(f"... and {len(problems) - 50} more")
        super().__init__("invalid roster, nothing was changed:\n" + "\n".join(lines))


class RosterProblem:
    """Where a roster is wrong: file, 1-based row as the user sees it, and column header."""

    __slots__ = ("column", "file", "message", "row")

    def __init__(self, file: str, row: int | None, column: str | None, message: str) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.message = message

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"RosterProblem({self!s})"


class TargetError(SyncbotError):
    """A target could not be reached or read; the run stops before planning."""

    exit_code = ExitCode.TARGET_UNREADABLE


class SafetyError(SyncbotError):
    """The plan crosses a safety threshold; `--force` is required to apply it.

    `problems` are the thresholds crossed and `plan` the plan refused, for a caller that
    reports them elsewhere than on a terminal (the worker's status and metrics).
    `plan_id` names the refused plan once it is saved for approval (`syncbot approve`).
    """

    exit_code = ExitCode.REFUSED_BY_SAFETY

    def __init__(
        self, message: str, *, problems: Sequence[str] = (), plan: Plan | None = None
    ) -> None:
        super().__init__(message)
        self.problems = list(problems)
        self.plan = plan
        self.plan_id: str | None = None


class LockedError(SyncbotError):
    """Another syncbot run holds the state lock."""

    exit_code = ExitCode.LOCKED


class StateError(SyncbotError):
    """A file syncbot keeps between runs (state folder, worker status) cannot be read."""

    exit_code = ExitCode.STATE_UNREADABLE


class LocalResourceError(SyncbotError, RuntimeError):
    """Something this machine must provide is missing or busy: a server the demo starts is
    not installed, Java is missing, a port to listen on is in use.

    Also a RuntimeError, which is what the test fixtures expect of a server that fails.
    """

    exit_code = ExitCode.LOCAL_RESOURCE
