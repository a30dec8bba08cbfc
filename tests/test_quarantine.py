"""Quarantine of leaked credentials, planned without a server: list parsing and the plan."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest

from syncbot.audit.record import secret_key_paths
from syncbot.config import SafetyConfig
from syncbot.errors import ConfigError
from syncbot.leak_list import LeakList, ListedName, parse_leak_list, read_leak_list
from syncbot.model import (
    LEAKED_STATUS,
    Account,
    Action,
    ActionKind,
    FindingKind,
    Roster,
    RosterRow,
    Snapshot,
    Status,
    TargetMapping,
)
from syncbot.planning.planner import TargetState
from syncbot.planning.quarantine import not_found, plan_quarantine
from syncbot.protection import Protection
from syncbot.safety import threshold_violations

TODAY = date(2026, 11, 23)
LIST_FILE = "/tmp/ca-tinh/lo-lot.txt"
SHA = "ab" * 32


def parse(text: str) -> LeakList:
    return parse_leak_list(text, path=LIST_FILE, sha256=SHA)


def names(leaks: LeakList) -> list[tuple[int, tuple[str, ...]]]:
    return [(e.line, e.names) for e in leaks.entries]


# -- the list -------------------------------------------------------------------------------


def test_plain_list_skips_comments_and_blanks_and_keeps_line_numbers() -> None:
    leaks = parse("# from CERT, 2026-11-20\n\nnguyenvana\n  TranThiB@Example.gov.vn  \n# end\n")
    assert names(leaks) == [(3, ("nguyenvana",)), (4, ("TranThiB@Example.gov.vn",))]


def test_duplicates_count_once_at_their_first_line_whatever_the_case() -> None:
    leaks = parse("levanc\nLEVANC\nlevanc@x.vn\nLeVanC@X.VN\n")
    assert names(leaks) == [(1, ("levanc",)), (3, ("levanc@x.vn",))]


def test_only_the_first_word_of_a_line_is_a_name_so_passwords_are_never_echoed() -> None:
    leaks = parse("hoa@x.vn\tMatKhau123!\nlan,  secret\n")
    assert names(leaks) == [(1, ("hoa@x.vn",)), (2, ("lan",))]
    assert "MatKhau123!" not in repr(leaks) and "secret" not in repr(leaks)


def test_csv_header_picks_the_identifier_columns_only() -> None:
    text = "STT;Tài khoản;Email;Mật khẩu\n1;hoantt;hoantt@x.vn;p@ss\n2;;lan@x.vn;123456\n"
    leaks = parse(text)
    assert names(leaks) == [(2, ("hoantt", "hoantt@x.vn")), (3, ("lan@x.vn",))]
    assert "p@ss" not in repr(leaks) and "123456" not in repr(leaks)


def test_read_strips_the_bom_and_hashes_the_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "lo-lot.txt"
    path.write_bytes("\ufeffnguyễnvăna\n".encode())
    leaks = read_leak_list(path)
    assert names(leaks) == [(1, ("nguyễnvăna",))]
    assert leaks.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unusable_lists_stop_before_anything_is_read(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="names no account"):
        read_leak_list(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("nguy\xeanvana\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_leak_list(latin)
    with pytest.raises(ConfigError, match="cannot read"):
        read_leak_list(tmp_path / "missing.txt")


# -- the plan -------------------------------------------------------------------------------


def person(n: int, employee_id: str, email: str, unit: str = "Văn phòng") -> RosterRow:
    return RosterRow(
        row=n,
        employee_id=employee_id,
        full_name=f"Người {n}",
        email=email,
        unit=unit,
        position="Chuyên viên",
        status=Status.ACTIVE,
        status_word="Đang công tác",
        effective_date=None,
    )


ROSTER = Roster(
    path="/srv/hr/nhan-su.csv",
    sha256="cd" * 32,
    rows=(
        person(2, "CB001", "a@x.vn"),
        person(3, "CB002", "b@x.vn", unit="Thanh tra"),
        person(4, "CB003", "c@x.vn"),
        person(5, "CB004", "d@x.vn"),
    ),
)


def ldap_account(
    username: str, employee_id: str | None, email: str, *, enabled: bool = True
) -> Account:
    return Account(
        target="ldap",
        key=f"uid={username},ou=people,dc=t",
        username=username,
        employee_id=employee_id,
        email=email,
        enabled=enabled,
    )


def kc_account(username: str, email: str, *, enabled: bool = True) -> Account:
    return Account(
        target="keycloak",
        key=f"id-{username}",
        username=username,
        employee_id=None,
        email=email,
        enabled=enabled,
        federated=True,
    )


def state(
    name: str, accounts: list[Account], *, sessions: bool, protect: tuple[str, ...] = ()
) -> TargetState:
    return TargetState(
        snapshot=Snapshot(
            target=name, accounts=tuple(accounts), entitlements=frozenset(), has_sessions=sessions
        ),
        mapping=TargetMapping(roles={}, units={}),
        protection=Protection.build(list(protect), [], frozenset()),
    )


def two_targets(
    *, ldap_locked: bool = False, kc_locked: bool = False, protect: tuple[str, ...] = ()
) -> list[TargetState]:
    ldap = state(
        "ldap",
        [
            ldap_account("anv", "CB001", "a@x.vn", enabled=not ldap_locked),
            ldap_account("btt", "CB002", "b@x.vn"),
            ldap_account("clv", "CB003", "c@x.vn"),
            ldap_account("admin-sys", None, "admin@x.vn"),
        ],
        sessions=False,
        protect=protect,
    )
    keycloak = state(
        "keycloak",
        [
            kc_account("anv", "a@x.vn", enabled=not kc_locked),
            kc_account("btt", "b@x.vn"),
            kc_account("admin-sys", "admin@x.vn"),
        ],
        sessions=True,
        protect=protect,
    )
    return [ldap, keycloak]


def steps(actions: Iterable[Action]) -> list[tuple[str, str, str]]:
    return [(a.username, a.target, a.kind.value) for a in actions]


def test_a_username_and_an_email_match_in_both_targets_in_safe_order() -> None:
    leaks = parse("anv\nB@X.VN\n")
    plan = plan_quarantine(leaks, ROSTER, two_targets(), TODAY, disable=False)
    assert steps(plan.actions) == [
        ("anv", "keycloak", "require_password_change"),
        ("anv", "ldap", "require_password_change"),
        ("anv", "keycloak", "sign_out"),
        ("btt", "keycloak", "require_password_change"),
        ("btt", "ldap", "require_password_change"),
        ("btt", "keycloak", "sign_out"),
    ]
    assert plan.matched == {"ldap": 2, "keycloak": 2}
    assert plan.findings == ()


def test_disable_locks_first_then_requires_a_new_password_then_signs_out() -> None:
    plan = plan_quarantine(parse("anv\n"), ROSTER, two_targets(), TODAY, disable=True)
    assert steps(plan.actions) == [
        ("anv", "keycloak", "disable"),
        ("anv", "ldap", "disable"),
        ("anv", "keycloak", "require_password_change"),
        ("anv", "ldap", "require_password_change"),
        ("anv", "keycloak", "sign_out"),
    ]
    # Not a departure: the ledger must not let a rehire lift this lock.
    assert not any(a.offboarding for a in plan.actions)


def test_an_account_already_locked_is_not_locked_again() -> None:
    targets = two_targets(ldap_locked=True)
    plan = plan_quarantine(parse("a@x.vn\n"), ROSTER, targets, TODAY, disable=True)
    kinds = {(a.target, a.kind) for a in plan.actions}
    assert ("ldap", ActionKind.DISABLE) not in kinds
    assert ("keycloak", ActionKind.DISABLE) in kinds
    assert ("ldap", ActionKind.REQUIRE_PASSWORD_CHANGE) in kinds


def test_without_disable_nothing_is_locked() -> None:
    plan = plan_quarantine(parse("anv\nbtt\n"), ROSTER, two_targets(), TODAY, disable=False)
    assert ActionKind.DISABLE not in {a.kind for a in plan.actions}


def test_unmatched_names_are_findings_not_silence() -> None:
    leaks = parse("anv\nkhongco\nai@dau.vn\n")
    plan = plan_quarantine(leaks, ROSTER, two_targets(), TODAY)
    missing = [f for f in plan.findings if f.kind is FindingKind.LEAKED_NOT_FOUND]
    assert [(f.row, f.reason.en) for f in missing] == [
        (2, f"No account matches 'khongco' ({LIST_FILE}, line 2); check it by hand."),
        (3, f"No account matches 'ai@dau.vn' ({LIST_FILE}, line 3); check it by hand."),
    ]
    assert "Không tìm thấy" in missing[0].reason.vi
    assert not_found(leaks, plan) == [ListedName(2, ("khongco",)), ListedName(3, ("ai@dau.vn",))]


def test_protected_accounts_are_reported_and_never_touched() -> None:
    targets = two_targets(protect=("admin-sys",))
    plan = plan_quarantine(parse("admin-sys\nanv\n"), ROSTER, targets, TODAY, disable=True)
    assert "admin-sys" not in {a.username for a in plan.actions}
    protected = [f for f in plan.findings if f.kind is FindingKind.LEAKED_PROTECTED]
    assert {(f.target, f.account) for f in protected} == {
        ("ldap", "uid=admin-sys,ou=people,dc=t"),
        ("keycloak", "id-admin-sys"),
    }
    assert all("được bảo vệ" in f.reason.vi for f in protected)
    # Protected is not "not found": the name did match something.
    assert not [f for f in plan.findings if f.kind is FindingKind.LEAKED_NOT_FOUND]


def test_reasons_and_evidence_point_at_the_list_line_and_the_person() -> None:
    plan = plan_quarantine(parse("# x\nbtt\n"), ROSTER, two_targets(), TODAY)
    ldap = next(a for a in plan.actions if a.target == "ldap")
    assert ldap.reason.vi == (
        f"Tài khoản nằm trong danh sách lộ lọt ({LIST_FILE}, dòng 2); "
        "buộc đổi mật khẩu ở lần đăng nhập tới."
    )
    assert ldap.employee_id == "CB002"
    assert ldap.evidence is not None
    # The list stands where a roster would, and says it is a leak list, not a roster.
    assert ldap.evidence.as_dict() == {
        "kind": "leak_list",
        "roster_file": LIST_FILE,
        "roster_sha256": SHA,
        "row": 2,
        "position": "Chuyên viên",
        "unit": "Thanh tra",
    }
    assert ldap.evidence.status == LEAKED_STATUS  # what the plan shows beside the line
    sign_out = next(a for a in plan.actions if a.kind is ActionKind.SIGN_OUT)
    assert "đăng xuất mọi phiên" in sign_out.reason.vi


def test_an_account_outside_the_roster_has_empty_position_and_unit() -> None:
    leaks = parse("zed\n")
    extra = state("ldap", [ldap_account("zed", "NV999", "z@x.vn")], sessions=False)
    plan = plan_quarantine(leaks, ROSTER, [extra], TODAY)
    (action,) = plan.actions
    assert action.employee_id == "NV999"
    assert action.evidence is not None
    assert (action.evidence.position, action.evidence.unit) == ("", "")


def test_thresholds_measure_the_people_affected_against_the_people_matched() -> None:
    plan = plan_quarantine(parse("anv\nbtt\nclv\n"), ROSTER, two_targets(), TODAY)
    assert plan.matched_people == 3  # CB001..CB003 have accounts; CB004 has none
    assert plan.roster_rows == 4 and plan.roster_sha256 == ROSTER.sha256
    tight = SafetyConfig(max_disable_share=0.5, min_people_for_share=1)
    (problem,) = threshold_violations(plan, tight, previous_rows=None)
    assert "2 of 3 matched people" in problem  # only Keycloak sign-outs take access
    locked = plan_quarantine(parse("anv\nbtt\nclv\n"), ROSTER, two_targets(), TODAY, disable=True)
    (problem,) = threshold_violations(locked, tight, previous_rows=None)
    assert "3 of 3 matched people" in problem


def test_every_step_can_be_written_to_the_audit_log() -> None:
    """The audit writer refuses records with secret-looking keys ("password", "token")."""
    plan = plan_quarantine(parse("anv\n"), ROSTER, two_targets(), TODAY, disable=True)
    assert {a.kind for a in plan.actions} == {
        ActionKind.DISABLE,
        ActionKind.SIGN_OUT,
        ActionKind.REQUIRE_PASSWORD_CHANGE,
    }
    for action in plan.actions:
        assert list(secret_key_paths(action.as_dict())) == []
