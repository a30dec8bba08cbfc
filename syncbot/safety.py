"""Safety thresholds: a roster that would lock out many people needs a human to say yes.

A truncated export, a wrong sheet or a status column shifted by one would otherwise look
like a mass departure. The checks run on the plan before anything is applied.
"""

from __future__ import annotations

from syncbot.config import SafetyConfig
from syncbot.model import Plan

#: Tiny rosters (a pilot, a test) are exempt from the match rule: a few new hires would trip it.
MIN_ROWS_FOR_MATCH_RULE = 10


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def threshold_violations(plan: Plan, safety: SafetyConfig, previous_rows: int | None) -> list[str]:
    """Every threshold the plan crosses, each naming the setting and the numbers."""
    problems: list[str] = []
    if plan.roster_rows < safety.min_roster_rows:
        problems.append(
            f"the roster has {plan.roster_rows} rows, fewer than "
            f"safety.min_roster_rows = {safety.min_roster_rows}"
        )
    if previous_rows and plan.roster_rows < previous_rows:
        shrink = (previous_rows - plan.roster_rows) / previous_rows
        if shrink > safety.max_shrink_share:
            problems.append(
                f"the roster shrank from {previous_rows} to {plan.roster_rows} rows "
                f"({_pct(shrink)}) since the last successful run, above "
                f"safety.max_shrink_share = {_pct(safety.max_shrink_share)}"
            )
    if plan.roster_rows >= MIN_ROWS_FOR_MATCH_RULE:
        matched_share = plan.matched_people / plan.roster_rows
        if matched_share < safety.min_matched_share:
            problems.append(
                f"only {plan.matched_people} of {plan.roster_rows} roster rows match an account "
                f"({_pct(matched_share)}), below safety.min_matched_share = "
                f"{_pct(safety.min_matched_share)}: is this the right organisation's export, "
                "and the right match_attribute?"
            )
    # People, and accounts with no person (orphans), each counted once: a lock for
    # disuse or for having no HR record takes access just as a departure does.
    losing = len(plan.people_losing_access())
    matched = plan.matched_people
    if losing >= safety.min_people_for_share and not matched:
        # Nothing matched yet something would be locked: only orphans, or a wrong export.
        problems.append(
            f"the plan would lock or strip roles from {losing} accounts while no roster row "
            f"matches an account, above safety.max_disable_share = "
            f"{_pct(safety.max_disable_share)}"
        )
    elif losing >= safety.min_people_for_share:
        share = losing / matched
        if share > safety.max_disable_share:
            problems.append(
                f"the plan would lock or strip roles from {losing} of {matched} matched people "
                f"({_pct(share)}), above safety.max_disable_share = "
                f"{_pct(safety.max_disable_share)}"
            )
    return problems
