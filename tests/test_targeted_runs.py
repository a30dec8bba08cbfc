"""Targeted runs through the one apply path, against an in-memory target.

A push or a new export narrows a run to the people concerned: the target is asked for
their accounts only, the plan is theirs, the thresholds judge it against the population
the last full reconcile matched, and the export's prints move on only when the run
succeeded. A run that cannot be narrowed safely reads everyone.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_target import FakeTarget
from plan_builders import CHUYEN_VIEN, TODAY, UNIT_VP, account, row
from test_apply_in_memory import fake_ldap, write_config  # noqa: F401 - the fixture

from syncbot.config import load_config
from syncbot.errors import SafetyError
from syncbot.model import ActionKind, RosterRow
from syncbot.reconcile import RosterRule, Scope
from syncbot.state import StateDir
from syncbot.sync import Synced, sync

LEFT = TODAY - timedelta(days=3)


def staffed(folder: Path, held: list[FakeTarget], n: int) -> tuple[list[RosterRow], Path]:
    """n people in step with their accounts in the fake `held` gives every sync: the
    roster's rows and the config."""
    rows = [row(i + 1, f"NV{i:03d}") for i in range(1, n + 1)]
    accounts = [
        account(f"u{i}", f"NV{i:03d}", holds={CHUYEN_VIEN, UNIT_VP}) for i in range(1, n + 1)
    ]
    held.append(FakeTarget(accounts))
    return rows, write_config(folder, rows)


def departed(rows: list[RosterRow], *ids: str) -> list[RosterRow]:
    return [
        row(r.row, r.employee_id, status="Nghỉ việc", effective=LEFT) if r.employee_id in ids else r
        for r in rows
    ]


def run(config: Path, rule: RosterRule, **options: object) -> Synced:
    return sync(load_config(config), rule, via="test", today=TODAY, **options)  # type: ignore[arg-type]


def test_a_new_export_is_applied_for_the_people_it_changed(
    tmp_path: Path,
    fake_ldap: list[FakeTarget],  # noqa: F811
) -> None:
    rows, config = staffed(tmp_path, fake_ldap, 20)
    first = run(config, RosterRule(export_changed=True))  # nothing to compare with yet
    assert first.prepared.scope is Scope.FULL
    assert fake_ldap[0].lookups == [None]

    write_config(tmp_path, departed(rows, "NV004", "NV009"))
    second = run(config, RosterRule(export_changed=True))

    assert second.prepared.scope is Scope.EXPORT
    lookup = fake_ldap[0].lookups[-1]
    assert lookup is not None and lookup.ids == {"NV004", "NV009"}
    assert {(a.kind, a.employee_id) for a in second.prepared.plan.actions} >= {
        (ActionKind.DISABLE, "NV004"),
        (ActionKind.DISABLE, "NV009"),
    }
    assert {a.employee_id for a in second.prepared.plan.actions} == {"NV004", "NV009"}
    assert not fake_ldap[0].accounts["uid=u4,ou=people,dc=t"].enabled
    # Judged against the whole population, not the two people read.
    assert second.prepared.plan.matched_people == 20
    assert second.prepared.plan.roster_rows == 20

    third = run(config, RosterRule(export_changed=True))  # the same export again
    assert third.prepared.scope is Scope.EXPORT
    assert fake_ldap[0].lookups[-1] is not None and not fake_ldap[0].lookups[-1].ids
    assert third.prepared.plan.actions == ()
    full = run(config, RosterRule())
    assert full.prepared.plan.actions == ()


def test_a_push_reads_only_the_people_it_names(
    tmp_path: Path,
    fake_ldap: list[FakeTarget],  # noqa: F811
) -> None:
    rows, config = staffed(tmp_path, fake_ldap, 12)
    before = run(config, RosterRule(frozenset({"NV002"})))  # no full reconcile yet
    assert before.prepared.scope is Scope.PUSH and fake_ldap[0].lookups == [None]
    run(config, RosterRule())
    write_config(tmp_path, departed(rows, "NV002", "NV003"))

    pushed = run(config, RosterRule(frozenset({"NV002"})))

    lookup = fake_ldap[0].lookups[-1]
    assert lookup is not None and lookup.ids == {"NV002"}
    assert {a.employee_id for a in pushed.prepared.plan.actions} == {"NV002"}
    # A push does not move the export's prints: the next export run still sees NV003.
    after = run(config, RosterRule(export_changed=True))
    assert {a.employee_id for a in after.prepared.plan.actions} == {"NV003"}


def test_a_targeted_plan_past_a_threshold_is_refused_against_the_whole_population(
    tmp_path: Path,
    fake_ldap: list[FakeTarget],  # noqa: F811
) -> None:
    rows, config = staffed(tmp_path, fake_ldap, 30)
    text = config.read_text(encoding="utf-8").replace(
        "max_disable_share = 1.0", "max_disable_share = 0.1\nmin_people_for_share = 2"
    )
    config.write_text(text, encoding="utf-8")
    run(config, RosterRule())
    write_config(tmp_path, departed(rows, "NV001", "NV002", "NV003", "NV004"))
    config.write_text(text, encoding="utf-8")

    with pytest.raises(SafetyError, match="4 of 30 matched people"):
        run(config, RosterRule(export_changed=True))
    assert all(a.enabled for a in fake_ldap[0].accounts.values())
    # Refused: the prints stay those of the last applied export, so a retry sees them.
    with pytest.raises(SafetyError):
        run(config, RosterRule(export_changed=True))
    forced = run(config, RosterRule(export_changed=True), force=True)
    assert forced.report is not None and not forced.report.failed
    assert sum(not a.enabled for a in fake_ldap[0].accounts.values()) == 4


def test_a_run_after_a_killed_one_reads_everyone(
    tmp_path: Path,
    fake_ldap: list[FakeTarget],  # noqa: F811
) -> None:
    _, config = staffed(tmp_path, fake_ldap, 8)
    run(config, RosterRule())
    StateDir(tmp_path / "state").journal().start({"run_id": "killed-run", "actor": "test"})

    after = run(config, RosterRule(frozenset({"NV001"})))

    assert fake_ldap[0].lookups[-1] is None  # the killed run's steps are judged whole
    assert after.prepared.scope is Scope.PUSH


def test_lost_prints_cost_a_full_reconcile_not_a_wrong_plan(
    tmp_path: Path,
    fake_ldap: list[FakeTarget],  # noqa: F811
) -> None:
    rows, config = staffed(tmp_path, fake_ldap, 8)
    run(config, RosterRule())
    prints = tmp_path / "state" / "export-prints.tsv"
    assert prints.read_text(encoding="utf-8").count("\n") == 9  # a header, a line each
    prints.write_bytes(prints.read_bytes()[:-5])  # torn
    write_config(tmp_path, departed(rows, "NV005"))

    after = run(config, RosterRule(export_changed=True))

    assert after.prepared.scope is Scope.FULL and fake_ldap[0].lookups[-1] is None
    assert {a.employee_id for a in after.prepared.plan.actions} == {"NV005"}
    # The full run wrote them again, whole: the next drop is narrowed once more.
    assert prints.read_text(encoding="utf-8").count("\n") == 9
    write_config(tmp_path, departed(rows, "NV005", "NV006"))
    assert run(config, RosterRule(export_changed=True)).prepared.scope is Scope.EXPORT


def test_a_full_run_on_the_roster_last_applied_keeps_its_prints_file(
    tmp_path: Path,
    fake_ldap: list[FakeTarget],  # noqa: F811
) -> None:
    """A scheduled run on an unchanged roster neither hashes every row nor rewrites them."""
    rows, config = staffed(tmp_path, fake_ldap, 8)
    run(config, RosterRule())
    prints = tmp_path / "state" / "export-prints.tsv"
    first = prints.stat().st_ino
    run(config, RosterRule())
    assert prints.stat().st_ino == first
    write_config(tmp_path, departed(rows, "NV002"))
    run(config, RosterRule())
    assert prints.stat().st_ino != first  # replaced whole for the new roster
