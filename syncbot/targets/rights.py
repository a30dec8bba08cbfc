"""What `syncbot check-config` learns about the rights of the account a target signs in as.

An account that can read accounts but not their locks makes every locked person look
active: the plan then shows `disable` steps that are not needed, and apply fails on them.
Each target kind checks the rights its reads and writes need, without changing anything,
and says plainly what it could not check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class RightsReport:
    """`lines` say what was checked; `missing` name each right the account lacks."""

    lines: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@runtime_checkable
class ChecksRights(Protocol):
    """A target that can tell whether its account may do what syncbot asks of it."""

    def check_rights(self, managed: frozenset[str]) -> RightsReport:
        """Check the account's rights on what `managed` (entitlement keys) and the
        accounts need; change nothing. Raise `TargetError` when the target is unreachable."""
        ...
