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


def threshold_violations(
    plan: Plan,
    safety: SafetyConfig,
    previous_rows: int | None,
    *,
    export_rows: int | None = None,
    taken_by_pushes: frozenset[str] = frozenset(),
) -> list[str]:
    """Every threshold the plan crosses, each naming the setting and the numbers.

    `export_rows` is the export's own size when pushed rows were laid over it: the shrink
    rule compares exports with exports. `taken_by_pushes` are the people HR pushes locked or
    stripped since the last successful full reconcile: they count towards the disable
    share, so a mass departure split into pushes is refused like the same export.
    """
    problems: list[str] = []
    rows = plan.roster_rows if export_rows is None else export_rows
    if rows < safety.min_roster_rows:
        problems.append(
            f"the roster has {rows} rows, fewer than "
            f"safety.min_roster_rows = {safety.min_roster_rows}"
        )
    if previous_rows and rows < previous_rows:
        shrink = (previous_rows - rows) / previous_rows
        if shrink > safety.max_shrink_share:
            problems.append(
                f"the roster shrank from {previous_rows} to {rows} rows "
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
    planned = plan.people_losing_access()
    earlier = len(taken_by_pushes - planned)
    losing = len(planned) + earlier
    matched = plan.matched_people
    # Said only when pushes took part, so every other refusal reads as before.
    by_pushes = (
        f" (with {earlier} already locked or stripped by HR pushes since the last full reconcile)"
        if earlier
        else ""
    )
    if losing >= safety.min_people_for_share and not matched:
        # Nothing matched yet something would be locked: only orphans, or a wrong export.
        problems.append(
            f"the plan would lock or strip roles from {losing} accounts{by_pushes} while no "
            f"roster row matches an account, above safety.max_disable_share = "
            f"{_pct(safety.max_disable_share)}"
        )
    elif losing >= safety.min_people_for_share:
        share = losing / matched
        if share > safety.max_disable_share:
            problems.append(
                f"the plan would lock or strip roles from {losing} of {matched} matched people "
                f"({_pct(share)}){by_pushes}, above safety.max_disable_share = "
                f"{_pct(safety.max_disable_share)}"
            )
    return problems
