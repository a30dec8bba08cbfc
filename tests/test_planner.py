"""The planning rules, one scenario per test, against the shipped mappings and one LDAP target."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from plan_builders import (
    ALL_MANAGED,
    CHUYEN_VIEN,
    LANH_DAO,
    QUAN_TRI,
    ROSTER_FILE,
    ROSTER_SHA,
    TARGET,
    TODAY,
    UNIT_CNTT,
    UNIT_KHTC,
    UNIT_TT,
    UNIT_VP,
    UNMANAGED,
    VAN_THU,
    Ledger,
    account,
    account_key,
    actions_of,
    applied,
    findings_of,
    kinds,
    ledger_entry,
    roster,
    row,
    run,
    shipped,
    target_state,
)

from syncbot.matching import Fallback
from syncbot.model import KIND_ORDER, Account, Action, ActionKind, FindingKind, Plan, RosterRow
from syncbot.planning.planner import plan
from syncbot.protection import Protection

D, R, C, E, G = (
    ActionKind.DISABLE,
    ActionKind.REVOKE,
    ActionKind.CHANGE_UNIT,
    ActionKind.ENABLE,
    ActionKind.GRANT,
)
LAST_MONTH = TODAY - timedelta(days=30)
NEXT_MONTH = TODAY + timedelta(days=30)


def _only(actions: list[Action], kind: ActionKind) -> Action:
    matching = [a for a in actions if a.kind is kind]
    assert len(matching) == 1, matching
    return matching[0]


# --- departure ----------------------------------------------------------------------------


def test_departure_today_disables_and_revokes_every_managed_group() -> None:
    hr = row(7, position="Phó Giám đốc", status="Nghỉ việc", effective=TODAY)
    acc = account("an", "NV007", holds={LANH_DAO, UNIT_VP}, groups={UNMANAGED})
    result = run([hr], [acc])

    assert kinds(result.actions) == [D, R, R]
    assert all(a.offboarding for a in result.actions)
    assert all(a.account == account_key("an") and a.employee_id == "NV007" for a in result.actions)
    disable, revoke_unit, revoke_role = result.actions  # revokes sort by group key
    assert "nghỉ việc" in disable.reason.vi
    assert "15/06/2024" in disable.reason.vi
    assert "trạng thái: Nghỉ việc" in disable.reason.vi
    assert "departed" in disable.reason.en
    assert (revoke_role.remove, revoke_role.add, revoke_role.role) == ((LANH_DAO,), (), "Lãnh đạo")
    assert "thu hồi vai trò Lãnh đạo" in revoke_role.reason.vi
    assert (revoke_unit.remove, revoke_unit.role) == ((UNIT_VP,), None)
    assert "thu hồi nhóm đơn vị Văn phòng" in revoke_unit.reason.vi
    assert all(UNMANAGED not in a.remove for a in result.actions)
    assert result.findings == ()


def test_departure_evidence_points_at_the_roster_row() -> None:
    hr = row(12, status="Nghỉ hưu", effective=LAST_MONTH, unit="Thanh tra", position="Cán sự")
    result = run([hr], [account("an", "NV012", holds={CHUYEN_VIEN})])
    for action in result.actions:
        assert action.evidence is not None
        assert action.evidence.roster_file == ROSTER_FILE
        assert action.evidence.roster_sha256 == ROSTER_SHA
        assert action.evidence.row == 12
        assert action.evidence.status == "Nghỉ hưu"
        assert action.evidence.effective_date == LAST_MONTH
        assert action.evidence.position == "Cán sự"
        assert action.evidence.unit == "Thanh tra"


@pytest.mark.parametrize("word", ["Nghỉ việc", "Thôi việc", "Nghỉ hưu"])
def test_every_departure_word_offboards(word: str) -> None:
    hr = row(1, status=word, effective=date(2024, 3, 1))
    result = run([hr], [account("an", "NV001", holds={CHUYEN_VIEN})])
    assert kinds(result.actions) == [D, R]
    assert all(a.offboarding for a in result.actions)
    assert f"trạng thái: {word}" in result.actions[0].reason.vi
    assert "01/03/2024" in result.actions[0].reason.vi
    assert result.actions[1].remove == (CHUYEN_VIEN,)


def test_departure_without_a_date_takes_effect_now() -> None:
    hr = row(1, status="Nghỉ việc", effective=None)
    result = run([hr], [account("an", "NV001", holds={CHUYEN_VIEN})])
    assert kinds(result.actions) == [D, R]


def test_departed_account_already_disabled_and_empty_needs_nothing() -> None:
    hr = row(1, status="Nghỉ việc", effective=LAST_MONTH)
    result = run([hr], [account("an", "NV001", enabled=False)])
    assert result.actions == ()
    assert result.findings == ()


def test_departed_account_disabled_but_still_holding_roles_is_only_revoked() -> None:
    hr = row(1, status="Thôi việc", effective=LAST_MONTH)
    acc = account("an", "NV001", enabled=False, holds={VAN_THU, QUAN_TRI})
    result = run([hr], [acc])
    assert kinds(result.actions) == [R, R]
    assert {a.remove for a in result.actions} == {(VAN_THU,), (QUAN_TRI,)}
    assert {a.role for a in result.actions} == {"Văn thư", "Quản trị"}
    assert all(a.offboarding for a in result.actions)


def test_future_departure_is_reported_and_roles_kept_in_step() -> None:
    hr = row(4, status="Nghỉ hưu", effective=NEXT_MONTH, position="Chuyên viên chính")
    result = run([hr], [account("an", "NV004", holds={UNIT_VP})])

    grant = _only(list(result.actions), G)
    assert kinds(result.actions) == [G]
    assert (grant.add, grant.role, grant.offboarding) == ((CHUYEN_VIEN,), "Chuyên viên", False)
    (finding,) = result.findings
    assert finding.kind is FindingKind.FUTURE_DEPARTURE
    assert (finding.employee_id, finding.row, finding.due) == ("NV004", 4, NEXT_MONTH)
    assert NEXT_MONTH.strftime("%d/%m/%Y") in finding.reason.vi
    assert "sẽ nghỉ việc" in finding.reason.vi


def test_departure_tomorrow_is_still_future() -> None:
    tomorrow = TODAY + timedelta(days=1)
    hr = row(1, status="Nghỉ việc", effective=tomorrow)
    result = run([hr], [account("an", "NV001", holds={CHUYEN_VIEN, UNIT_VP})])
    assert result.actions == ()
    assert [(f.kind, f.due) for f in result.findings] == [(FindingKind.FUTURE_DEPARTURE, tomorrow)]


def test_transfer_out_is_offboarded_with_its_own_wording() -> None:
    hr = row(2, status="Chuyển công tác", effective=LAST_MONTH, unit="Phòng Công nghệ thông tin")
    acc = account("binh", "NV002", holds={CHUYEN_VIEN, UNIT_CNTT})
    result = run([hr], [acc])
    assert kinds(result.actions) == [D, R, R]
    assert all(a.offboarding for a in result.actions)
    assert all("chuyển công tác" in a.reason.vi for a in result.actions)
    assert all("transferred out" in a.reason.en for a in result.actions)
    assert "nhóm đơn vị Phòng Công nghệ thông tin" in result.actions[2].reason.vi


def test_future_transfer_out_is_reported_with_its_due_date() -> None:
    hr = row(2, status="Chuyển công tác", effective=NEXT_MONTH)
    result = run([hr], [account("binh", "NV002", holds={CHUYEN_VIEN, UNIT_VP})])
    assert result.actions == ()
    (finding,) = findings_of(result, FindingKind.FUTURE_DEPARTURE)
    assert finding.due == NEXT_MONTH
    assert "sẽ chuyển công tác" in finding.reason.vi


def test_active_row_with_future_effective_date_waits() -> None:
    hr = row(3, position="Trưởng phòng", effective=NEXT_MONTH)
    result = run([hr], [account("an", "NV003", holds={CHUYEN_VIEN, UNIT_VP})])
    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.FUTURE_CHANGE
    assert (finding.target, finding.account, finding.due) == (
        TARGET,
        account_key("an"),
        NEXT_MONTH,
    )


# --- internal transfer -------------------------------------------------------------------


def test_internal_transfer_moves_the_unit_group() -> None:
    hr = row(5, unit="Phòng Công nghệ thông tin")
    result = run([hr], [account("an", "NV005", holds={CHUYEN_VIEN, UNIT_VP})])
    (move,) = result.actions
    assert move.kind is C
    assert (move.add, move.remove) == ((UNIT_CNTT,), (UNIT_VP,))
    assert move.reason.vi == "Điều động nội bộ từ Văn phòng sang Phòng Công nghệ thông tin."
    assert move.offboarding is False
    assert move.takes_access is False
    assert result.findings == ()


def test_person_in_no_unit_group_is_added_to_theirs() -> None:
    result = run([row(5)], [account("an", "NV005", holds={CHUYEN_VIEN})])
    (move,) = result.actions
    assert (move.kind, move.add, move.remove) == (C, (UNIT_VP,), ())
    assert "Bổ sung vào nhóm đơn vị Văn phòng" in move.reason.vi


def test_person_in_new_and_old_unit_groups_leaves_the_old() -> None:
    hr = row(5, unit="Phòng Công nghệ thông tin")
    result = run([hr], [account("an", "NV005", holds={CHUYEN_VIEN, UNIT_VP, UNIT_CNTT})])
    (move,) = result.actions
    assert (move.kind, move.add, move.remove) == (C, (), (UNIT_VP,))
    assert "Rời nhóm đơn vị Văn phòng" in move.reason.vi


def test_unit_name_spelling_does_not_move_anyone() -> None:
    hr = row(5, unit="  phòng CÔNG NGHỆ   thông tin")
    result = run([hr], [account("an", "NV005", holds={CHUYEN_VIEN, UNIT_CNTT})])
    assert result.actions == ()
    assert result.findings == ()


# --- rehire ------------------------------------------------------------------------------


def test_rehire_of_account_disabled_by_syncbot_enables_and_grants() -> None:
    hr = row(9, position="Văn thư")
    ledger = dict([ledger_entry("an", "NV009", removed=(VAN_THU, UNIT_VP))])
    result = run([hr], [account("an", "NV009", enabled=False)], ledger=ledger)

    assert kinds(result.actions) == [C, E, G]
    enable, grant = _only(list(result.actions), E), _only(list(result.actions), G)
    assert result.actions.index(enable) < result.actions.index(grant)
    assert "mở lại tài khoản" in enable.reason.vi
    assert "2024-01-10" in enable.reason.vi
    assert (grant.add, grant.role) == ((VAN_THU,), "Văn thư")
    assert "theo chức vụ Văn thư" in grant.reason.vi
    assert _only(list(result.actions), C).add == (UNIT_VP,)
    assert not any(a.offboarding for a in result.actions)


def test_rehire_with_unknown_position_restores_the_roles_syncbot_took() -> None:
    hr = row(10, position="Trợ lý dự án")
    ledger = dict([ledger_entry("an", "NV010", removed=(LANH_DAO, UNIT_TT))])
    result = run([hr], [account("an", "NV010", enabled=False)], ledger=ledger)

    assert kinds(result.actions) == [C, E, G]
    grant = _only(list(result.actions), G)
    assert (grant.add, grant.role) == ((LANH_DAO,), "Lãnh đạo")
    assert "Khôi phục vai trò Lãnh đạo" in grant.reason.vi
    # The unit comes from the roster, not from what was taken away.
    assert _only(list(result.actions), C).add == (UNIT_VP,)
    assert [f.kind for f in result.findings] == [FindingKind.UNKNOWN_POSITION]


@pytest.mark.parametrize("by_syncbot", [None, False], ids=["no-ledger", "locked-by-admin"])
def test_account_locked_by_someone_else_stays_locked(by_syncbot: bool | None) -> None:
    hr = row(11)
    ledger = {} if by_syncbot is None else dict([ledger_entry("an", by_syncbot=by_syncbot)])
    acc = account("an", "NV011", enabled=False)
    result = run([hr], [acc], ledger=ledger)

    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.LOCKED_BY_OTHERS
    assert (finding.target, finding.account, finding.employee_id, finding.row) == (
        TARGET,
        acc.key,
        "NV011",
        11,
    )
    assert "không phải do syncbot" in finding.reason.vi


# --- roles -------------------------------------------------------------------------------


def test_role_drift_revokes_the_unjustified_role_and_grants_the_right_one() -> None:
    hr = row(12, position="Chuyên viên")
    result = run([hr], [account("an", "NV012", holds={LANH_DAO, UNIT_VP})])

    assert kinds(result.actions) == [R, G]
    revoke, grant = result.actions
    assert (revoke.remove, revoke.role, revoke.offboarding) == ((LANH_DAO,), "Lãnh đạo", False)
    assert "Vai trò Lãnh đạo không phù hợp với chức vụ Chuyên viên" in revoke.reason.vi
    assert "vai trò đúng: Chuyên viên" in revoke.reason.vi
    assert (grant.add, grant.role) == ((CHUYEN_VIEN,), "Chuyên viên")
    assert grant.reason.vi == "Cấp vai trò Chuyên viên theo chức vụ Chuyên viên."


def test_explicit_role_overrides_the_position() -> None:
    hr = row(13, position="Chuyên viên", role="Quản trị")
    result = run([hr], [account("an", "NV013", holds={CHUYEN_VIEN, UNIT_VP})])

    assert kinds(result.actions) == [R, G]
    revoke, grant = result.actions
    assert revoke.remove == (CHUYEN_VIEN,)
    assert "vai trò đúng: Quản trị" in revoke.reason.vi
    assert (grant.add, grant.role) == ((QUAN_TRI,), "Quản trị")
    assert "vai trò ghi trong hồ sơ" in grant.reason.vi


def test_explicit_role_makes_an_unknown_position_harmless() -> None:
    hr = row(13, position="Trợ lý dự án", role="Văn thư")
    result = run([hr], [account("an", "NV013", holds={VAN_THU, UNIT_VP})])
    assert result.actions == ()
    assert result.findings == ()


def test_holding_the_right_role_needs_nothing() -> None:
    hr = row(1, position="Quản trị hệ thống", unit="Phòng Công nghệ thông tin")
    result = run([hr], [account("an", "NV001", holds={QUAN_TRI, UNIT_CNTT})])
    assert result.actions == ()
    assert result.findings == ()


@pytest.mark.parametrize(
    "spelling",
    [
        "Phó giám đốc",
        "PHÓ GIÁM ĐỐC",
        unicodedata.normalize("NFD", "Phó Giám đốc"),
        " Phó  Giám   đốc ",
    ],
    ids=["lower", "upper", "nfd", "spaces"],
)
def test_leader_title_spellings_all_mean_lanh_dao(spelling: str) -> None:
    hr = row(1, position=spelling)
    result = run([hr], [account("an", "NV001", holds={CHUYEN_VIEN, UNIT_VP})])
    assert [(a.kind, a.add, a.remove) for a in result.actions] == [
        (R, (), (CHUYEN_VIEN,)),
        (G, (LANH_DAO,), ()),
    ]
    assert findings_of(result, FindingKind.UNKNOWN_POSITION) == []


def test_unknown_positions_are_reported_once_each_and_change_no_roles() -> None:
    rows = [
        row(3, position="Kỹ sư phần mềm", unit="Phòng Công nghệ thông tin"),
        row(4, position=""),
        row(5, position="Kỹ sư phần mềm", unit="Phòng Công nghệ thông tin"),
    ]
    accounts = [
        account("c", "NV003", holds={LANH_DAO, UNIT_VP}),
        account("d", "NV004", holds={QUAN_TRI, UNIT_VP}),
        account("e", "NV005", holds=set()),
    ]
    result = run(rows, accounts)

    unknown = findings_of(result, FindingKind.UNKNOWN_POSITION)
    assert [f.row for f in unknown] == [3, 4]
    assert "'Kỹ sư phần mềm'" in unknown[0].reason.vi
    assert "dòng 3, 5" in unknown[0].reason.vi
    assert "'(trống)'" in unknown[1].reason.vi
    assert "dòng 4" in unknown[1].reason.vi
    assert all(a.kind is C for a in result.actions)  # units are still enforced
    assert {(a.username, a.add, a.remove) for a in result.actions} == {
        ("c", (UNIT_CNTT,), (UNIT_VP,)),
        ("e", (UNIT_CNTT,), ()),
    }


def test_unknown_position_spelt_two_ways_is_one_finding() -> None:
    # One mapping entry fixes both spellings, so the administrator needs one warning.
    rows = [row(3, position="Kỹ sư phần mềm"), row(5, position="KỸ SƯ  PHẦN MỀM")]
    result = run(rows, [])
    unknown = findings_of(result, FindingKind.UNKNOWN_POSITION)
    assert len(unknown) == 1
    assert "dòng 3, 5" in unknown[0].reason.vi


def test_unknown_unit_is_reported_and_unit_groups_untouched() -> None:
    hr = row(6, unit="Phòng Đối ngoại", position="Trưởng phòng")
    result = run([hr], [account("an", "NV006", holds={CHUYEN_VIEN, UNIT_VP})])

    assert [(a.kind, a.add, a.remove) for a in result.actions] == [
        (R, (), (CHUYEN_VIEN,)),
        (G, (LANH_DAO,), ()),
    ]
    (finding,) = result.findings
    assert (finding.kind, finding.row) == (FindingKind.UNKNOWN_UNIT, 6)
    assert "'Phòng Đối ngoại'" in finding.reason.vi


def test_missing_role_group_is_reported_not_granted() -> None:
    hr = row(8, position="Văn thư")
    result = run(
        [hr], [account("an", "NV008", holds={UNIT_VP})], entitlements=ALL_MANAGED - {VAN_THU}
    )
    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.MISSING_ENTITLEMENT
    assert (finding.target, finding.account, finding.row) == (TARGET, account_key("an"), 8)
    assert VAN_THU in finding.reason.vi


def test_missing_unit_group_is_reported_and_old_unit_kept() -> None:
    hr = row(8, unit="Thanh tra")
    acc = account("an", "NV008", holds={CHUYEN_VIEN, UNIT_VP})
    result = run([hr], [acc], entitlements=ALL_MANAGED - {UNIT_TT})
    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.MISSING_ENTITLEMENT
    assert UNIT_TT in finding.reason.en


# --- unmatched, orphaned, protected, ambiguous -------------------------------------------


def test_enabled_account_without_roster_row_is_an_orphan_finding() -> None:
    result = run([], [account("tam", "NV900", holds={LANH_DAO}), account("cu", enabled=False)])
    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.ORPHAN
    assert (finding.target, finding.account) == (TARGET, account_key("tam"))
    assert "tam" in finding.reason.vi


def test_active_person_without_account_is_reported_departed_is_not() -> None:
    rows = [
        row(1, name="Trần Thị Hoa"),
        row(2, status="Nghỉ việc", effective=LAST_MONTH),
        row(3, status="Chuyển công tác", effective=LAST_MONTH),
    ]
    result = run(rows, [])
    (finding,) = result.findings
    assert finding.kind is FindingKind.NO_ACCOUNT
    assert (finding.target, finding.employee_id, finding.row) == (TARGET, "NV001", 1)
    assert "Trần Thị Hoa (NV001)" in finding.reason.vi


PROTECTIONS = {
    "username": Protection.build(usernames=["Admin", "admin-kho"], patterns=[], groups=frozenset()),
    "pattern": Protection.build(usernames=[], patterns=["ADM*"], groups=frozenset()),
    "group": Protection.build(
        usernames=[], patterns=[], groups=frozenset({"cn=break-glass,ou=groups,dc=t"})
    ),
}


@pytest.mark.parametrize("how", PROTECTIONS)
def test_protected_accounts_are_never_planned_or_reported(how: str) -> None:
    glass = {"cn=break-glass,ou=groups,dc=t"}
    departed_admin = account("admin", "NV001", holds={QUAN_TRI}, groups=glass)
    orphan_admin = account("admin-kho", "NV900", holds={QUAN_TRI}, groups=glass)
    rows = [row(1, status="Nghỉ việc", effective=LAST_MONTH)]
    result = run(rows, [departed_admin, orphan_admin], protection=PROTECTIONS[how])

    assert result.actions == ()
    assert result.findings == ()
    assert result.matched == {TARGET: 0}


def test_protection_pattern_also_matches_the_account_key() -> None:
    protection = Protection.build(usernames=[], patterns=["*,OU=System,dc=t"], groups=frozenset())
    svc = dataclasses.replace(account("svc-backup", None), key="uid=backup,ou=system,dc=t")
    person = account("an", None)
    result = run([], [svc, person], protection=protection)
    assert [(f.kind, f.account) for f in result.findings] == [(FindingKind.ORPHAN, person.key)]


def test_protected_admin_account_beside_a_personal_one_is_ignored_not_ambiguous() -> None:
    protection = Protection.build(usernames=["admin.an"], patterns=[], groups=frozenset())
    personal = account("an", "NV001", holds={CHUYEN_VIEN, UNIT_VP})
    admin = account("admin.an", "NV001", holds={QUAN_TRI})
    result = run([row(1, status="Nghỉ việc")], [personal, admin], protection=protection)
    assert {a.account for a in result.actions} == {personal.key}
    assert kinds(result.actions) == [D, R, R]
    assert result.findings == ()


def test_person_whose_only_account_is_protected_is_not_reported_without_account() -> None:
    # "Đang công tác nhưng chưa có tài khoản" would be false: the account exists, it is
    # only out of syncbot's reach, and an administrator acting on it would create a duplicate.
    protection = Protection.build(usernames=["admin"], patterns=[], groups=frozenset())
    result = run([row(1)], [account("admin", "NV001", holds={QUAN_TRI})], protection=protection)
    assert result.actions == ()
    assert findings_of(result, FindingKind.NO_ACCOUNT) == []


def test_two_accounts_with_one_employee_id_are_left_alone() -> None:
    hr = row(14, status="Nghỉ việc", effective=LAST_MONTH)
    accounts = [account("an", "NV014", holds={CHUYEN_VIEN}), account("an2", "NV014")]
    result = run([hr], accounts)

    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.AMBIGUOUS
    assert (finding.target, finding.employee_id, finding.row) == (TARGET, "NV014", 14)
    assert finding.account in {account_key("an"), account_key("an2")}
    assert "an, an2" in finding.reason.vi
    assert "NV014" in finding.reason.vi


def test_one_account_claimed_by_two_rows_through_email_is_left_alone() -> None:
    rows = [
        row(1, email="vanthu@so.gov.vn", status="Nghỉ việc", effective=LAST_MONTH),
        row(2, email="VanThu@so.gov.vn", position="Văn thư"),
    ]
    shared = account("vanthu", None, email="vanthu@so.gov.vn", holds={CHUYEN_VIEN})
    result = run(rows, [shared], fallback=Fallback.EMAIL)

    assert result.actions == ()
    (finding,) = result.findings
    assert finding.kind is FindingKind.AMBIGUOUS
    assert (finding.account, finding.row) == (shared.key, 1)
    assert "NV001, NV002" in finding.reason.vi


def test_email_fallback_offboards_an_account_without_employee_id() -> None:
    hr = row(1, email="an@so.gov.vn", status="Nghỉ việc", effective=LAST_MONTH)
    result = run(
        [hr], [account("an", None, email="an@so.gov.vn", holds={VAN_THU})], fallback=Fallback.EMAIL
    )
    assert kinds(result.actions) == [D, R]
    assert result.matched == {TARGET: 1}
    assert result.matched_people == 1


def test_email_fallback_never_claims_an_account_of_another_employee() -> None:
    hr = row(1, email="an@so.gov.vn", status="Nghỉ việc", effective=LAST_MONTH)
    other = account("an", "NV777", email="an@so.gov.vn", holds={VAN_THU})
    result = run([hr], [other], fallback=Fallback.EMAIL)
    assert result.actions == ()
    assert [(f.kind, f.account) for f in result.findings] == [(FindingKind.ORPHAN, other.key)]


# --- several targets, ordering, counting --------------------------------------------------


def test_roster_findings_are_reported_once_across_targets() -> None:
    rows = [row(1, position="Kỹ sư"), row(2, unit="Phòng Đối ngoại")]
    states = [
        target_state([account("a", "NV001"), account("b", "NV002")], target="ldap"),
        target_state([account("a", "NV001"), account("b", "NV002")], target="ldap-du-phong"),
    ]
    result = plan(roster(*rows), shipped(), states, {}, TODAY)
    assert sorted(f.kind for f in result.findings) == [
        FindingKind.UNKNOWN_POSITION,
        FindingKind.UNKNOWN_UNIT,
    ]
    assert result.matched == {"ldap": 2, "ldap-du-phong": 2}
    assert result.matched_people == 2
    assert {a.target for a in result.actions} == {"ldap", "ldap-du-phong"}


def test_actions_are_grouped_per_person_in_kind_order() -> None:
    rows = [
        row(1, status="Nghỉ việc", effective=LAST_MONTH),
        row(2, position="Văn thư", unit="Thanh tra"),
        row(3, position="Giám đốc"),
    ]
    ledger = dict([ledger_entry("b", "NV002")])
    accounts = [
        account("c", "NV003", holds={CHUYEN_VIEN, UNIT_KHTC}),
        account("b", "NV002", enabled=False, holds={CHUYEN_VIEN, UNIT_VP}),
        account("a", "NV001", holds={QUAN_TRI, LANH_DAO, UNIT_CNTT}),
    ]
    result = run(rows, accounts, ledger=ledger)

    people = [a.employee_id or "" for a in result.actions]
    assert people == sorted(people)
    assert [(a.employee_id, a.kind) for a in result.actions] == [
        ("NV001", D),
        ("NV001", R),
        ("NV001", R),
        ("NV001", R),
        ("NV002", R),
        ("NV002", C),
        ("NV002", E),
        ("NV002", G),
        ("NV003", R),
        ("NV003", C),
        ("NV003", G),
    ]
    for person in ("NV001", "NV002", "NV003"):
        order = [KIND_ORDER[a.kind] for a in result.actions if a.employee_id == person]
        assert order == sorted(order)


def test_people_losing_access_counts_people_not_actions() -> None:
    rows = [
        row(1, status="Nghỉ việc", effective=LAST_MONTH),
        row(2, position="Giám đốc"),
        row(3),
    ]
    accounts = [
        account("a", "NV001", holds={LANH_DAO, QUAN_TRI, UNIT_VP}),
        account("b", "NV002", holds={UNIT_VP}),
        account("c", "NV003", holds={LANH_DAO, UNIT_VP}),
    ]
    result = run(rows, accounts)
    assert len(actions_of(result, "a")) == 4
    assert kinds(actions_of(result, "b")) == [G]
    assert result.people_losing_access() == {"NV001", "NV003"}


def test_plan_carries_the_roster_identity() -> None:
    result = run([row(1), row(2)], [account("a", "NV001", holds={CHUYEN_VIEN, UNIT_VP})])
    assert (result.today, result.roster_path, result.roster_sha256, result.roster_rows) == (
        TODAY,
        ROSTER_FILE,
        ROSTER_SHA,
        2,
    )
    assert result.empty
    assert result.matched == {TARGET: 1}
    assert result.matched_people == 1


# --- idempotence -------------------------------------------------------------------------


def _mixed_scenario() -> tuple[list[RosterRow], list[Account], Ledger]:
    rows = [
        row(1),  # in step already
        row(2, position="Phó Giám đốc", status="Nghỉ việc", effective=LAST_MONTH),
        row(3, status="Thôi việc", effective=LAST_MONTH),  # disabled, nothing left
        row(4, status="Nghỉ hưu", effective=TODAY),  # disabled, roles left behind
        row(5, position="Chuyên viên chính", status="Nghỉ hưu", effective=NEXT_MONTH),
        row(6, status="Chuyển công tác", effective=LAST_MONTH, unit="Phòng Công nghệ thông tin"),
        row(7, unit="Phòng Công nghệ thông tin"),  # internal transfer
        row(8, position="Cán sự", unit="Phòng Tổ chức cán bộ"),  # no unit group yet
        row(9, position="Văn thư"),  # rehire
        row(10, position="Trợ lý dự án"),  # rehire, roles restored from the ledger
        row(11),  # locked by an administrator
        row(12, position="Chuyên viên"),  # role drift
        row(13, position="Chuyên viên", role="Quản trị"),  # explicit role
        row(14, unit="Phòng Đối ngoại", position="PHÓ GIÁM ĐỐC"),  # unknown unit
        row(15, name="Lê Văn Mới"),  # no account
        row(16, status="Nghỉ việc", effective=LAST_MONTH),  # two accounts
        row(17, unit="Thanh tra", position="Trưởng phòng"),  # unit group missing in target
        row(18, email="hoa@so.gov.vn", position="Văn thư"),  # matched by email
    ]
    accounts = [
        account("a01", "NV001", holds={CHUYEN_VIEN, UNIT_VP}),
        account("a02", "NV002", holds={LANH_DAO, UNIT_VP}, groups={UNMANAGED}),
        account("a03", "NV003", enabled=False),
        account("a04", "NV004", enabled=False, holds={CHUYEN_VIEN, UNIT_VP}),
        account("a05", "NV005", holds={UNIT_VP}),
        account("a06", "NV006", holds={QUAN_TRI, UNIT_CNTT}),
        account("a07", "NV007", holds={CHUYEN_VIEN, UNIT_VP}),
        account("a08", "NV008", holds={CHUYEN_VIEN}),
        account("a09", "NV009", enabled=False),
        account("a10", "NV010", enabled=False),
        account("a11", "NV011", enabled=False, holds={CHUYEN_VIEN}),
        account("a12", "NV012", holds={LANH_DAO, UNIT_VP}),
        account("a13", "NV013", holds={CHUYEN_VIEN, UNIT_VP}),
        account("a14", "NV014", holds={CHUYEN_VIEN, UNIT_KHTC}),
        account("a16", "NV016", holds={CHUYEN_VIEN}),
        account("a16b", "NV016"),
        account("a17", "NV017", holds={LANH_DAO, UNIT_VP}),
        account("hoa", None, email="hoa@so.gov.vn", holds={VAN_THU}),
        account("tam", "NV900", holds={CHUYEN_VIEN}),  # orphan
        account("cu", "NV901", enabled=False),  # disabled orphan
        account("root", "NV002", holds={QUAN_TRI}),  # protected
    ]
    ledger = dict(
        [
            ledger_entry("a09", "NV009", removed=(VAN_THU, UNIT_VP)),
            ledger_entry("a10", "NV010", removed=(LANH_DAO, UNIT_VP)),
        ]
    )
    return rows, accounts, ledger


def test_a_perfect_apply_leaves_nothing_to_do() -> None:
    rows, accounts, ledger = _mixed_scenario()
    protection = Protection.build(usernames=["root"], patterns=[], groups=frozenset())

    def plan_for(current: Sequence[Account]) -> Plan:
        return run(
            rows,
            current,
            ledger=ledger,
            protection=protection,
            fallback=Fallback.EMAIL,
            entitlements=ALL_MANAGED - {UNIT_TT},
        )

    first = plan_for(accounts)

    # LDAP has no sessions; password changes and settings are the duties', not HR's.
    assert set(kinds(first.actions)) == set(ActionKind) - {
        ActionKind.SIGN_OUT,
        ActionKind.REQUIRE_PASSWORD_CHANGE,
        ActionKind.CONFIGURE,
    }
    assert {a.username for a in first.actions} == {
        "a02",
        "a04",
        "a05",
        "a06",
        "a07",
        "a08",
        "a09",
        "a10",
        "a12",
        "a13",
        "a14",
        "hoa",
    }
    assert {f.kind for f in first.findings} == {
        FindingKind.FUTURE_DEPARTURE,
        FindingKind.UNKNOWN_POSITION,
        FindingKind.UNKNOWN_UNIT,
        FindingKind.LOCKED_BY_OTHERS,
        FindingKind.NO_ACCOUNT,
        FindingKind.AMBIGUOUS,
        FindingKind.MISSING_ENTITLEMENT,
        FindingKind.ORPHAN,
    }

    second = plan_for(applied(accounts, first.actions))
    assert second.actions == ()
    assert second.findings == first.findings


def test_applied_helper_really_changes_accounts() -> None:
    # Guards the idempotence test: a no-op `applied` would make it pass vacuously.
    acc = account("an", "NV001", holds={LANH_DAO, UNIT_VP})
    result = run([row(1, unit="Thanh tra")], [acc])
    (after,) = applied([acc], result.actions)
    assert after.entitlements == {CHUYEN_VIEN, UNIT_TT}
    (disabled,) = applied([acc], run([row(1, status="Nghỉ việc")], [acc]).actions)
    assert disabled.enabled is False
    assert disabled.entitlements == frozenset()
