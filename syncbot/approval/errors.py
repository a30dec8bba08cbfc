"""Why a saved plan cannot be approved, each with its exit code (`syncbot.exit_codes`)."""

from __future__ import annotations

from syncbot.errors import SyncbotError
from syncbot.exit_codes import ExitCode


class PlanExpiredError(SyncbotError):
    """The plan is older than `[approval] plan_max_age_hours`: the directories it was
    computed from have moved on too far for its review to stand. Plan again."""

    exit_code = ExitCode.PLAN_EXPIRED


class PlanNotApprovableError(SyncbotError):
    """The plan was rejected or applied already, or this user may not approve it (the one
    who requested it, under the four-eyes rule)."""

    exit_code = ExitCode.PLAN_NOT_APPROVABLE


class UnknownPlanError(SyncbotError):
    """No saved plan has this id, or more than one begins with it."""

    exit_code = ExitCode.INVALID_INPUT
