"""`[approval]`: how long a saved plan may wait for approval, and how many people approve it.

Parsed here, beside what it fills, as every part of syncbot parses its own table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from syncbot.config_table import Table


@dataclass(frozen=True, slots=True)
class ApprovalSettings:
    #: A plan older than this cannot be approved: the accounts it was computed from have
    #: moved on too far for its review to stand for them.
    plan_max_age_hours: float = 24.0
    #: 2 is the four-eyes rule: two different users, neither of them the one who
    #: requested the plan.
    approvals_required: int = 1

    @property
    def max_age(self) -> timedelta:
        return timedelta(hours=self.plan_max_age_hours)


def parse_approval(table: Table) -> ApprovalSettings:
    defaults = ApprovalSettings()
    settings = ApprovalSettings(
        plan_max_age_hours=table.positive("plan_max_age_hours", float, defaults.plan_max_age_hours),
        approvals_required=table.positive("approvals_required", int, defaults.approvals_required),
    )
    table.done()
    return settings
