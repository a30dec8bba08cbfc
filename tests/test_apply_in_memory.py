"""The executor and the one apply path (`syncbot.sync.sync`) against an in-memory target.

Pure: no directory server starts. The fake target (`fake_target.py`) holds accounts in a
dict and changes them as a real directory would, so each test can apply a plan, read the
target again and plan once more, as a second `syncbot plan` after an apply does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_target import FakeTarget, fail_step
from plan_builders import (
    ALL_MANAGED,
    CHUYEN_VIEN,
    MAPPINGS_DIR,
    TARGET,
    TODAY,
    UNIT_KHTC,
    UNIT_VP,
    VAN_THU,
    account,
    row,
    run,
)

from syncbot import reconcile
from syncbot.audit import AuditLog, iter_records, verify_chain
from syncbot.config import load_config
from syncbot.executor import WINDOW, ApplyReport, apply_plan
from syncbot.model import Account, Action, ActionKind, Plan, RosterRow, Snapshot
from syncbot.reconcile import RosterRule
from syncbot.state import StateDir
from syncbot.sync import Synced, sync
from syncbot.targets.base import ApplyError, ReadRequest, Target

LEFT = TODAY - timedelta(days=10)


def drifted() -> tuple[list[RosterRow], list[Account]]:
    """Four people: one who left, one moved unit, one without her role, one in step."""
    rows = [
        row(1, unit="Phòng Kế hoạch - Tài chính", status="Nghỉ việc", effective=LEFT),
        row(2, unit="Phòng Kế hoạch - Tài chính"),
        row(3, position="Văn thư"),
        row(4),
    ]
    accounts = [
        account("u1", "NV001", holds={CHUYEN_VIEN, UNIT_KHTC}),
        account("u2", "NV002", holds={CHUYEN_VIEN, UNIT_VP}),
        account("u3", "NV003", holds={UNIT_VP}),
        account("u4", "NV004", holds={CHUYEN_VIEN, UNIT_VP}),
    ]
    return rows, accounts


def by_person(actions: Iterable[Action]) -> dict[str, list[Action]]:
    """Each account's steps in the order sent: the executor interleaves people, never steps."""
    steps: dict[str, list[Action]] = {}
    for action in actions:
        steps.setdefault(action.account, []).append(action)
    return steps


def replan(rows: list[RosterRow], target: FakeTarget) -> Plan:
    """What a second `syncbot plan` sees: the target read again, the same roster."""
    return run(rows, target.read(ReadRequest(ALL_MANAGED)).accounts)


def apply(plan: Plan, target: FakeTarget, state: Path, window: int = WINDOW) -> ApplyReport:
    folder = StateDir(state)
    folder.prepare()
    journal = folder.journal()
    journal.start({"run_id": "r1", "actor": "test"})
    with AuditLog(state / "audit.jsonl", run_id="r1", actor="test") as audit:
        snapshots = {TARGET: target.read(ReadRequest(ALL_MANAGED))}
        return apply_plan(
            plan,
            {TARGET: target},
            snapshots,
            audit,
            folder.ledger(),
            "r1",
            journal=journal,
            window=window,
        )


@pytest.mark.parametrize("window", [1, WINDOW], ids=["one-by-one", "batch"])
def test_a_plan_applied_leaves_the_next_plan_empty(window: int, tmp_path: Path) -> None:
    rows, accounts = drifted()
    target = FakeTarget(accounts)
    plan = run(rows, accounts)
    assert {a.username for a in plan.actions} == {"u1", "u2", "u3"}

    report = apply(plan, target, tmp_path, window)

    assert (max(target.batches) > 1) is (window > 1)
    assert report.failed == [] and report.succeeded == len(plan.actions)
    assert by_person(target.applied) == by_person(plan.actions)
    assert not target.accounts["uid=u1,ou=people,dc=t"].enabled
    assert target.accounts["uid=u2,ou=people,dc=t"].groups == {CHUYEN_VIEN, UNIT_KHTC}
    assert target.accounts["uid=u3,ou=people,dc=t"].groups == {VAN_THU, UNIT_VP}
    assert replan(rows, target).actions == ()
    assert verify_chain(tmp_path / "audit.jsonl").ok
    assert len(list(iter_records(tmp_path / "audit.jsonl"))) == len(plan.actions)


def test_a_batch_target_gets_several_peoples_steps_at_once(tmp_path: Path) -> None:
    rows, accounts = drifted()
    target = FakeTarget(accounts)

    apply(run(rows, accounts), target, tmp_path)

    # u1, u2 and u3 each have a first step: one window sends all three together.
    assert target.batches[0] == 3


def test_a_failed_step_is_reported_and_audited_and_the_others_go_on(tmp_path: Path) -> None:
    rows, accounts = drifted()
    target = FakeTarget(accounts, fail=fail_step(ActionKind.DISABLE, "u1"))
    plan = run(rows, accounts)

    report = apply(plan, target, tmp_path)

    assert [(r.action.kind, r.action.username) for r in report.failed] == [
        (ActionKind.DISABLE, "u1")
    ]
    assert report.failed[0].error == "fake: disable of u1 refused"
    assert by_person(target.attempted) == by_person(plan.actions)
    assert target.accounts["uid=u1,ou=people,dc=t"].enabled
    failed = list(iter_records(tmp_path / "audit.jsonl", account="uid=u1,", action="disable"))
    assert [(r["result"], r["error"]) for r in failed] == [
        ("failed", "fake: disable of u1 refused")
    ]
    # The next run plans what is still missing: the lock, nothing already done.
    assert [(a.kind, a.username) for a in replan(rows, target).actions] == [
        (ActionKind.DISABLE, "u1")
    ]


def test_an_adapter_bug_is_one_failed_step_not_a_stopped_run(tmp_path: Path) -> None:
    rows, accounts = drifted()
    crash = fail_step(ActionKind.GRANT, "u3", error=None)

    class Buggy(FakeTarget):
        def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
            if any(crash(step) is not None for step in steps):
                raise KeyError("a bug in the adapter")
            return super().apply(steps, snapshot)

    target = Buggy(accounts)
    report = apply(run(rows, accounts), target, tmp_path)

    assert [r.error for r in report.failed] == ["KeyError: 'a bug in the adapter'"]
    assert report.succeeded == len(report.results) - 1


# Through `sync`, the sequence `syncbot apply`, quarantine and the worker all take.


def write_config(folder: Path, rows: list[RosterRow]) -> Path:
    """A config whose one LDAP target the test replaces with a fake, and the roster CSV."""
    lines = ["Mã cán bộ,Họ và tên,Email,Đơn vị,Chức vụ,Trạng thái,Ngày hiệu lực"]
    for r in rows:
        effective = r.effective_date.strftime("%d/%m/%Y") if r.effective_date else ""
        lines.append(
            f"{r.employee_id},{r.full_name},,{r.unit},{r.position},{r.status_word},{effective}"
        )
    (folder / "nhan-su.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "ldap-password").write_text("not used\n", encoding="utf-8")
    (folder / "ldap-password").chmod(0o600)
    config = folder / "syncbot.toml"
    config.write_text(
        f"""
[roster]
path = "nhan-su.csv"

[mappings]
dir = "{MAPPINGS_DIR}"

[safety]
max_disable_share = 1.0
max_shrink_share = 1.0

[state]
dir = "state"

[audit]
path = "audit/audit.jsonl"

[targets.{TARGET}]
type = "ldap"
url = "ldap://127.0.0.1:9"
bind_dn = "cn=syncbot,dc=t"
bind_password_file = "ldap-password"
users_base = "ou=people,dc=t"
groups_base = "ou=groups,dc=t"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def fake_ldap(monkeypatch: pytest.MonkeyPatch) -> list[FakeTarget]:
    """Every target a sync opens is the fake put in this list (one directory, kept across
    syncs as a real one is)."""
    held: list[FakeTarget] = []

    def open_targets(config: object) -> dict[str, Target]:
        return {TARGET: held[0]}

    monkeypatch.setattr(reconcile, "open_targets", open_targets)
    return held


def synced(config: Path, **options: Any) -> Synced:
    return sync(load_config(config), RosterRule(), via="test", today=TODAY, **options)


def test_sync_applies_the_plan_and_the_second_sync_has_nothing_to_do(
    tmp_path: Path, fake_ldap: list[FakeTarget]
) -> None:
    rows, accounts = drifted()
    config = write_config(tmp_path, rows)
    fake_ldap.append(FakeTarget(accounts))

    first = synced(config)

    assert first.report is not None and first.report.failed == []
    assert first.prepared.plan.actions != ()
    assert by_person(fake_ldap[0].applied) == by_person(first.prepared.plan.actions)
    assert fake_ldap[0].closed
    last_run = StateDir(tmp_path / "state").last_run()
    assert last_run["actions"] == len(first.prepared.plan.actions)

    second = synced(config)

    assert second.prepared.plan.actions == ()
    assert second.report is not None and second.report.results == []
    assert fake_ldap[0].reads == 2
    assert verify_chain(tmp_path / "audit" / "audit.jsonl").ok


def test_sync_reports_a_failed_step_and_keeps_the_last_good_run(
    tmp_path: Path, fake_ldap: list[FakeTarget]
) -> None:
    rows, accounts = drifted()
    config = write_config(tmp_path, rows)
    fake_ldap.append(FakeTarget(accounts, fail=fail_step(ActionKind.DISABLE, "u1")))

    done = synced(config)

    assert done.report is not None
    assert [(r.action.kind, r.action.username) for r in done.report.failed] == [
        (ActionKind.DISABLE, "u1")
    ]
    assert len(done.report.results) == len(done.prepared.plan.actions)
    # A run with a failed step is not a finished reconcile: nothing is recorded as the last,
    # but the audit anchor follows its records as after every run.
    last = StateDir(tmp_path / "state").last_run()
    records = (tmp_path / "audit" / "audit.jsonl").read_text("utf-8").splitlines()
    assert set(last) == {"audit_seq", "audit_hash"}
    assert last["audit_seq"] == len(records)


def test_sync_asks_before_applying_and_a_no_changes_nothing(
    tmp_path: Path, fake_ldap: list[FakeTarget]
) -> None:
    rows, accounts = drifted()
    config = write_config(tmp_path, rows)
    fake_ldap.append(FakeTarget(accounts))

    done = synced(config, confirm=lambda prepared: False)

    assert done.report is None
    assert fake_ldap[0].attempted == []
