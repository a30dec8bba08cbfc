"""The pure parts of saved plans: canonical bytes and ids, steps read back exactly, each
step judged against the state of its account now, and what decisions make of a plan."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from plan_builders import (
    CHUYEN_VIEN,
    LANH_DAO,
    TARGET,
    UNIT_TCCB,
    UNIT_VP,
    account,
    account_key,
    row,
    run,
    target_state,
)

from syncbot.approval.saved import Requester, SavedPlan, short_id
from syncbot.approval.settings import ApprovalSettings, parse_approval
from syncbot.approval.steps import ALREADY_DONE, action_of, action_record, judge
from syncbot.approval.store import APPROVE, REJECT, Decision, PlanStore, PlanView, Status
from syncbot.config_table import Table
from syncbot.errors import ConfigError
from syncbot.model import (
    Action,
    ActionKind,
    Duty,
    DutyEvidence,
    EvidenceKind,
    LeakEvidence,
    Plan,
    Reason,
    Snapshot,
)

CREATED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROOT = Requester("root@host via syncbot apply", "syncbot apply (full)", 0, "root")


def departure_plan() -> tuple[Plan, dict[str, Snapshot]]:
    """hattt leaves (lock, take her roles); anhnv moves unit; lanvt, locked, comes back."""
    accounts = [
        account("hattt", "NV001", holds={LANH_DAO, UNIT_VP}),
        account("anhnv", "NV002", holds={CHUYEN_VIEN, UNIT_VP}),
    ]
    rows = [
        row(1, status="Nghỉ việc", effective=date(2024, 6, 1)),
        row(2, unit="Phòng Tổ chức cán bộ"),
    ]
    plan = run(rows, accounts)
    state = target_state(accounts)
    return plan, {TARGET: state.snapshot}


def saved_plan(created: datetime = CREATED) -> SavedPlan:
    plan, snapshots = departure_plan()
    return SavedPlan.of(plan, snapshots, ["too many (3 of 10)"], ROOT, "full", created)


def test_the_sample_plan_has_the_steps_the_tests_rely_on() -> None:
    plan, _ = departure_plan()
    kinds = {(a.username, a.kind) for a in plan.actions}
    assert ("hattt", ActionKind.DISABLE) in kinds
    assert ("hattt", ActionKind.REVOKE) in kinds
    assert ("anhnv", ActionKind.CHANGE_UNIT) in kinds


def test_canonical_bytes_and_id_are_stable_and_read_back_exactly() -> None:
    saved = saved_plan()
    data = saved.canonical()
    assert data == saved_plan().canonical()  # the same content, the same bytes
    assert saved.id == hashlib.sha256(data).hexdigest() and len(short_id(saved.id)) == 12
    text = data.decode("utf-8")
    assert text == json.dumps(
        json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    again = SavedPlan.parse(data, saved.id)
    assert again == saved and again.canonical() == data
    assert saved_plan(CREATED + timedelta(seconds=1)).id != saved.id


def test_an_edited_or_reformatted_plan_is_refused() -> None:
    saved = saved_plan()
    data = saved.canonical()
    edited = data.replace(b'"hattt"', b'"hatt2"')
    with pytest.raises(ValueError, match="does not match its id"):
        SavedPlan.parse(edited, saved.id)
    pretty = json.dumps(json.loads(data), indent=1, sort_keys=True).encode()
    with pytest.raises(ValueError, match="canonical"):
        SavedPlan.parse(pretty)
    with pytest.raises(ValueError, match="not a saved plan"):
        SavedPlan.parse(b'{"format":1}')


def test_every_kind_of_step_and_evidence_reads_back_as_the_same_action() -> None:
    plan, _ = departure_plan()
    reason = Reason("lộ mật khẩu", "leaked")
    extra = [
        Action(
            TARGET, ActionKind.CONFIGURE, "cn=default,ou=policies,dc=t", "password policy",
            None, reason, None,
            settings=(("pwdMinLength", "6", "12"), ("pwdMaxAge", None, "7776000")),
        ),
        Action(
            TARGET, ActionKind.REQUIRE_PASSWORD_CHANGE, account_key("x"), "x", "NV9", reason,
            LeakEvidence("/srv/lo-lot.txt", "ab" * 32, 3, "Chuyên viên", "Văn phòng"),
            duty=Duty.LEAK,
        ),
        Action(
            TARGET, ActionKind.DISABLE, account_key("y"), "y", "NV8", reason,
            DutyEvidence(Duty.DORMANT, "/srv/nhan-su.csv", "cd" * 32, 7, "Đang công tác",
                         None, "Chuyên viên", "Văn phòng", EvidenceKind.PUSHED_ROW),
            duty=Duty.DORMANT,
        ),
    ]  # fmt: skip
    for action in [*plan.actions, *extra]:
        assert action_of(json.loads(json.dumps(action_record(action)))) == action


def test_preconditions_record_the_state_each_step_was_computed_from() -> None:
    saved = saved_plan()
    by_step = {(a.username, a.kind): pre for a, pre in saved.steps}
    lock = by_step[("hattt", ActionKind.DISABLE)]
    assert (lock.account, lock.enabled) == (account_key("hattt"), True)
    revoke = next(pre for (who, kind), pre in by_step.items() if kind is ActionKind.REVOKE)
    assert revoke.held and not revoke.lacked
    move = by_step[("anhnv", ActionKind.CHANGE_UNIT)]
    assert (move.held, move.lacked) == ((UNIT_VP,), (UNIT_TCCB,))


def now_state(**changed: Snapshot) -> dict[str, Snapshot]:
    return {TARGET: changed.get(TARGET) or departure_plan()[1][TARGET]}


def snapshot_of(*accounts: object) -> Snapshot:
    return target_state(list(accounts)).snapshot  # type: ignore[arg-type]


def test_unchanged_accounts_get_every_step() -> None:
    saved = saved_plan()
    apply, skipped = judge(saved.steps, now_state())
    assert apply == list(saved.plan.actions) and skipped == []


def test_a_step_whose_account_changed_by_hand_is_skipped_never_replaced() -> None:
    saved = saved_plan()
    # anhnv was given lanh-dao and moved out of Văn phòng by hand meanwhile.
    snapshot = snapshot_of(
        account("hattt", "NV001", holds={LANH_DAO, UNIT_VP}),
        account("anhnv", "NV002", holds={CHUYEN_VIEN, UNIT_TCCB}),
    )
    apply, skipped = judge(saved.steps, now_state(**{TARGET: snapshot}))
    assert [s.action.username for s in skipped] == ["anhnv"]
    assert skipped[0].reason == ALREADY_DONE  # the move it planned is in effect
    assert {a.username for a in apply} == {"hattt"}
    # Locked by hand instead: the lock is done, her role still goes.
    snapshot = snapshot_of(
        account("hattt", "NV001", enabled=False, holds={LANH_DAO, UNIT_VP}),
        account("anhnv", "NV002", holds={CHUYEN_VIEN, UNIT_VP}),
    )
    apply, skipped = judge(saved.steps, now_state(**{TARGET: snapshot}))
    assert [(s.action.kind, s.reason) for s in skipped] == [(ActionKind.DISABLE, ALREADY_DONE)]
    assert ActionKind.REVOKE in {a.kind for a in apply}


def test_a_broken_precondition_names_what_changed() -> None:
    saved = saved_plan()
    snapshot = snapshot_of(account("anhnv", "NV002", holds={CHUYEN_VIEN, UNIT_VP}))
    apply, skipped = judge(saved.steps, now_state(**{TARGET: snapshot}))
    assert {s.action.username for s in skipped} == {"hattt"}
    assert all("is gone" in s.reason.en for s in skipped)
    assert all(a.username == "anhnv" for a in apply)
    # anhnv left Văn phòng for a unit the plan never named: the move no longer holds.
    snapshot = snapshot_of(
        account("hattt", "NV001", holds={LANH_DAO, UNIT_VP}),
        account("anhnv", "NV002", enabled=False, holds={CHUYEN_VIEN, UNIT_VP}),
    )
    _, skipped = judge(saved.steps, now_state(**{TARGET: snapshot}))
    assert [s.reason.en for s in skipped] == [
        "precondition no longer holds: the account is disabled now"
    ]


def test_a_plan_applied_halfway_is_finished_by_applying_it_again() -> None:
    saved = saved_plan()
    # Killed after hattt's lock: the steps after it still hold, though she is locked now.
    snapshot = snapshot_of(
        account("hattt", "NV001", enabled=False, holds={LANH_DAO, UNIT_VP}),
        account("anhnv", "NV002", holds={CHUYEN_VIEN, UNIT_VP}),
    )
    apply, skipped = judge(saved.steps, now_state(**{TARGET: snapshot}))
    assert [s.action.kind for s in skipped] == [ActionKind.DISABLE]
    assert len(apply) == len(saved.plan.actions) - 1


def test_settings_steps_are_judged_by_the_values_read() -> None:
    step = Action(
        TARGET, ActionKind.CONFIGURE, "cn=default,ou=policies,dc=t", "policy", None,
        Reason("a", "b"), None, settings=(("pwdMinLength", "6", "12"),),
    )  # fmt: skip
    pre = SavedPlan.of(
        dataclasses.replace(saved_plan().plan, actions=(step,)), {}, [], ROOT, "full"
    ).preconditions[0]

    def judged(value: str) -> str | None:
        snapshot = dataclasses.replace(snapshot_of(), settings={"pwdMinLength": value})
        apply, skipped = judge([(step, pre)], {TARGET: snapshot})
        return None if apply else skipped[0].reason.en

    assert judged("6") is None
    assert judged("12") == ALREADY_DONE.en
    assert judged("8") == "precondition no longer holds: pwdMinLength is now 8"


def decision(kind: str, uid: int, minutes: int = 5, user: str | None = None) -> Decision:
    return Decision(
        "0" * 64, kind, uid, user or f"u{uid}", "", CREATED + timedelta(minutes=minutes),
        f"{'0' * 64}.{kind}.{uid}.json",
    )  # fmt: skip


def view(*decisions: Decision, required: int = 1, hours: float = 1.0) -> PlanView:
    settings = ApprovalSettings(plan_max_age_hours=24, approvals_required=required)
    return PlanView(
        "0" * 64, saved_plan(), decisions, {}, settings, CREATED + timedelta(hours=hours)
    )


def test_status_follows_the_decisions_and_the_four_eyes_rule() -> None:
    assert view().status is Status.PENDING and view().needed == 1
    assert view(decision(APPROVE, 0)).status is Status.APPROVED  # one person may be enough
    four_eyes = {"required": 2}
    assert view(decision(APPROVE, 0), **four_eyes).needed == 2  # the requester's: none
    assert view(decision(APPROVE, 65534), **four_eyes).needed == 1
    twice = view(decision(APPROVE, 65534), decision(APPROVE, 65534, 9), **four_eyes)
    assert twice.needed == 1  # the same user twice counts once
    both_ = view(decision(APPROVE, 65534), decision(APPROVE, 1), **four_eyes)
    assert both_.status is Status.APPROVED
    assert view(decision(APPROVE, 1), decision(REJECT, 2)).status is Status.REJECTED
    assert view(hours=25).status is Status.EXPIRED
    late = view(decision(APPROVE, 1, minutes=25 * 60), hours=26)
    assert late.status is Status.EXPIRED  # made after the plan expired: it does not count
    done = dataclasses.replace(view(decision(APPROVE, 1)), progress={"applied": {"run_id": "r"}})
    assert done.status is Status.APPLIED


def test_the_approval_table_is_checked() -> None:
    def parsed(data: dict[str, object]) -> ApprovalSettings:
        return parse_approval(Table(data, "approval", "syncbot.toml", Path()))

    assert parsed({}) == ApprovalSettings(24.0, 1)
    assert parsed({"plan_max_age_hours": 4, "approvals_required": 2}) == ApprovalSettings(4.0, 2)
    with pytest.raises(ConfigError, match=r"approval\.approvals_required"):
        parsed({"approvals_required": 0})
    with pytest.raises(ConfigError, match=r"approval\.plan_max_age"):
        parsed({"plan_max_age": 4})


def test_the_workers_tick_reads_a_plans_progress_again_only_when_its_decisions_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PlanStore(tmp_path / "state", ApprovalSettings())
    plan_id = store.save(saved_plan())
    decision = store.decide(plan_id, APPROVE, "ok")
    assert decision is not None
    assert list(store.unaudited()) == [plan_id]  # decided, not audited yet
    store.save_progress(plan_id, {"audited": store.decision_names(plan_id)})
    reads: list[str] = []
    real = store.progress
    monkeypatch.setattr(store, "progress", lambda p: (reads.append(p), real(p))[1])
    assert list(store.unaudited()) == []
    assert list(store.unaudited()) == []
    assert reads == [plan_id]  # once, then known to be settled
    # another approver's decision comes in (their file, owned by them)
    monkeypatch.setattr(os, "geteuid", lambda: 12345)
    store.decide(plan_id, REJECT, "no")
    os.chown(store.approvals_dir / f"{plan_id}.{REJECT}.12345.json", 12345, -1)
    assert list(store.unaudited()) == [plan_id]
