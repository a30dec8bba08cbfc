"""The change a step makes, typed: built once from its action, journalled, then audited.

The same object is named in the step journal before the step is sent and written to the
audit log after its answer, so the two can never disagree about what a step was. It is
checked when it is built (plain JSON, both reason texts, no secret-looking key), which is
before the step is sent: a record the log would refuse stops the step instead of leaving a
change made that nothing records.

`as_dict` gives the fields in the audit record format (`syncbot.audit.record`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from syncbot.audit.record import (
    RESULT_FAILED,
    RESULT_OK,
    RESULTS,
    has_secret_key,
    plain_json,
    refused_secret_keys,
)

if TYPE_CHECKING:
    # Only the type: `syncbot audit verify|show` must not pay for loading the model.
    from syncbot.model import Action

#: What tells one step of a run from another: two steps of a run never share all of it.
StepKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """The fields of one "change" record apart from its result.

    The mappings are plain JSON (dicts, lists, strings, finite numbers) once built; treat
    them as read-only.
    """

    target: str
    account: str  # the target's handle: a DN or a user id
    username: str | None  # the login name, for people reading the record
    employee_id: str | None
    action: str  # the action kind's value, as the record spells it
    before: dict[str, Any]
    after: dict[str, Any]
    reason: dict[str, str]  # "vi" and "en"
    evidence: dict[str, Any] | None

    def __post_init__(self) -> None:
        reason = self.reason
        if not isinstance(reason.get("vi"), str) or not isinstance(reason.get("en"), str):
            raise ValueError("reason needs both 'vi' and 'en' texts")
        # Frozen: the checked, plain forms replace what the caller gave.
        object.__setattr__(self, "before", plain_json(self.before))
        object.__setattr__(self, "after", plain_json(self.after))
        object.__setattr__(self, "reason", plain_json(reason))
        if self.evidence is not None:
            object.__setattr__(self, "evidence", plain_json(self.evidence))
        if has_secret_key([self.before, self.after, self.reason, self.evidence]):
            raise refused_secret_keys(self.as_dict())

    @classmethod
    def of(cls, action: Action) -> Change:
        return cls(
            target=action.target,
            account=action.account,
            username=action.username,
            employee_id=action.employee_id,
            action=action.kind.value,
            before=action.before(),
            after=action.after(),
            reason=action.reason.as_dict(),
            evidence=action.evidence.as_dict() if action.evidence else None,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Read back from a journal line or a record; other keys (the result...) are left.

        KeyError, TypeError or ValueError when it is not a change.
        """
        return cls(
            target=data["target"],
            account=data["account"],
            username=data.get("username"),  # records before it was added have none
            employee_id=data["employee_id"],
            action=data["action"],
            before=data["before"],
            after=data["after"],
            reason=data["reason"],
            evidence=data["evidence"],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "account": self.account,
            "username": self.username,
            "employee_id": self.employee_id,
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "evidence": self.evidence,
        }

    @property
    def key(self) -> StepKey:
        return step_key(self.as_dict())

    def answered(self, error: str | None) -> Attempt:
        """This change as the target answered: done when there is no error."""
        return Attempt(self, RESULT_OK if error is None else RESULT_FAILED, error)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One "change" record: a change and how it went."""

    change: Change
    result: str  # RESULT_OK or RESULT_FAILED
    error: str | None = None

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise ValueError(f"result must be one of {sorted(RESULTS)}, not {self.result!r}")

    def as_dict(self) -> dict[str, Any]:
        return {**self.change.as_dict(), "result": self.result, "error": self.error}


def step_key(fields: Mapping[str, Any]) -> StepKey:
    """The key of a change, or of a change record read back from the log."""
    return (
        fields.get("target"),
        fields.get("account"),
        fields.get("action"),
        json.dumps(fields.get("before"), sort_keys=True),
        json.dumps(fields.get("after"), sort_keys=True),
    )
