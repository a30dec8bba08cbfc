"""Planning for targets with sessions (Keycloak) and for accounts federated from LDAP."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from plan_builders import (
    CHUYEN_VIEN,
    LANH_DAO,
    TODAY,
    account,
    account_key,
    roster,
    row,
    shipped,
    target_state,
)

from syncbot.model import ActionKind, LedgerEntry, Snapshot, TargetMapping
from syncbot.planning.planner import TargetState, plan
from syncbot.protection import Protection
from syncbot.state import Ledger

KC = "keycloak"
KC_CLIENT = {r: f"client-role:qoffice:{r}" for r in ("van-thu", "chuyen-vien", "lanh-dao")}
KC_REALM = {r: f"realm-role:{r}" for r in ("van-thu", "chuyen-vien", "lanh-dao")}
KC_MAPPING = TargetMapping(
    roles={
        "Văn thư": frozenset({KC_CLIENT["van-thu"], KC_REALM["van-thu"]}),
        "Chuyên viên": frozenset({KC_CLIENT["chuyen-vien"], KC_REALM["chuyen-vien"]}),
        "Lãnh đạo": frozenset({KC_CLIENT["lanh-dao"], KC_REALM["lanh-dao"]}),
        "Quản trị": frozenset(),
    },
    units={},
)
DEPARTED = dict(status="Nghỉ việc", effective=TODAY)


def kc_state(*accounts: object, federated: bool = False) -> TargetState:
    accts = tuple(
        dataclasses.replace(a, target=KC, federated=federated)  # type: ignore[type-var]
        for a in accounts
    )
    return TargetState(
        snapshot=Snapshot(KC, accts, KC_MAPPING.managed, has_sessions=True),
        mapping=KC_MAPPING,
        protection=Protection(),
        federated_owned=frozenset(KC_CLIENT.values()),
    )


def kinds(p: object) -> list[tuple[str, str]]:
    return [(a.kind.value, (a.add + a.remove + ("",))[0]) for a in p.actions]  # type: ignore[attr-defined]


def test_departure_locks_then_signs_out_then_revokes() -> None:
    acct = account("an", "NV001", holds={KC_CLIENT["chuyen-vien"], KC_REALM["chuyen-vien"]})
    result = plan(roster(row(1, **DEPARTED)), shipped(), [kc_state(acct)], {}, TODAY)
    assert kinds(result) == [
        ("disable", ""),
        ("sign_out", ""),
        ("revoke", KC_CLIENT["chuyen-vien"]),
        ("revoke", KC_REALM["chuyen-vien"]),
    ]
    sign_out = result.actions[1]
    assert sign_out.offboarding and "đăng xuất mọi phiên" in sign_out.reason.vi
    assert sign_out.after()["offline_access"] == "revoked"


def test_sign_out_is_retried_until_the_ledger_says_it_happened() -> None:
    acct = account("an", "NV001", enabled=False)
    key = (KC, account_key("an"))
    locked = LedgerEntry(KC, account_key("an"), "NV001", True, "2024-06-01", "r1", (), False)
    again = plan(roster(row(1, **DEPARTED)), shipped(), [kc_state(acct)], {key: locked}, TODAY)
    assert kinds(again) == [("sign_out", "")]
    done = dataclasses.replace(locked, signed_out=True)
    assert plan(roster(row(1, **DEPARTED)), shipped(), [kc_state(acct)], {key: done}, TODAY).empty


def test_an_ldap_target_has_no_sessions_to_end() -> None:
    acct = account("an", "NV001")
    result = plan(roster(row(1, **DEPARTED)), shipped(), [target_state([acct])], {}, TODAY)
    assert ActionKind.SIGN_OUT not in {a.kind for a in result.actions}


def test_federated_account_drift_changes_client_roles_only() -> None:
    acct = account("an", "NV001", holds={KC_CLIENT["lanh-dao"], KC_REALM["lanh-dao"]})
    result = plan(roster(row(1)), shipped(), [kc_state(acct, federated=True)], {}, TODAY)
    assert sorted(kinds(result)) == [
        ("grant", KC_CLIENT["chuyen-vien"]),
        ("revoke", KC_CLIENT["lanh-dao"]),
    ]
    assert all("liên kết LDAP" in a.reason.vi for a in result.actions)
    assert all("LDAP-federated" in a.reason.en for a in result.actions)


def test_federated_departure_is_split_between_the_two_sides() -> None:
    ldap_acct = account("an", "NV001", holds={CHUYEN_VIEN})
    kc_acct = account("an", "NV001", holds={KC_CLIENT["chuyen-vien"], KC_REALM["chuyen-vien"]})
    result = plan(
        roster(row(1, **DEPARTED)),
        shipped(),
        [target_state([ldap_acct]), kc_state(kc_acct, federated=True)],
        {},
        TODAY,
    )
    by_target = {(a.target, a.kind.value, (*a.remove, "")[0]) for a in result.actions}
    assert by_target == {
        ("ldap", "disable", ""),
        ("ldap", "revoke", CHUYEN_VIEN),
        (KC, "disable", ""),
        (KC, "sign_out", ""),
        (KC, "revoke", KC_CLIENT["chuyen-vien"]),
    }  # the realm role is the LDAP side's: not touched twice
    assert len(result.people_losing_access()) == 1  # people, not actions or targets


def test_one_plan_orders_each_person_lock_first_across_targets() -> None:
    ldap_acct = account("an", "NV001", holds={LANH_DAO})
    kc_acct = account("an", "NV001", holds={KC_CLIENT["lanh-dao"]})
    result = plan(
        roster(row(1, **DEPARTED)),
        shipped(),
        [target_state([ldap_acct]), kc_state(kc_acct)],
        {},
        TODAY,
    )
    for target in ("ldap", KC):
        steps = [a.kind for a in result.actions if a.target == target]
        assert steps[0] is ActionKind.DISABLE
        assert ActionKind.REVOKE in steps and steps.index(ActionKind.REVOKE) > 0


def test_ledger_records_sign_out_and_a_new_lock_resets_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.signed_out(KC, "u1", "NV001", "r1")
    entry = Ledger(tmp_path / "ledger.jsonl").entries[(KC, "u1")]
    assert entry.signed_out and not entry.disabled_by_syncbot  # locked by others: no unlock
    ledger.will_disable(KC, "u1", "NV001", "r2")
    reloaded = Ledger(tmp_path / "ledger.jsonl").entries[(KC, "u1")]
    assert reloaded.disabled_by_syncbot and not reloaded.signed_out
    ledger.will_remove(KC, "u1", "NV001", "r2", (KC_CLIENT["lanh-dao"],))
    ledger.signed_out(KC, "u1", "NV001", "r2")
    final = Ledger(tmp_path / "ledger.jsonl").entries[(KC, "u1")]
    assert final.signed_out and final.removed == (KC_CLIENT["lanh-dao"],)


def test_a_plan_limited_to_named_people_keeps_their_steps_only() -> None:
    accounts = [account("an", "NV001", holds={LANH_DAO}), account("binh", "NV002")]
    rows = (row(1, **DEPARTED), row(2, **DEPARTED))
    whole = plan(roster(*rows), shipped(), [target_state(accounts)], {}, TODAY)
    narrowed = whole.limited_to({"nv002"})
    assert {a.employee_id for a in narrowed.actions} == {"NV002"}
    assert narrowed.matched_people == whole.matched_people == 2  # thresholds still see all
    assert {a.employee_id for a in whole.actions} == {"NV001", "NV002"}
    # A push names people as HR typed them: matching's own comparison, spaces and all.
    assert whole.limited_to({" nv002 "}).actions == narrowed.actions
