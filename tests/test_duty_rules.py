"""The circulars' duties in the plan: settings drift, stale passwords, dormant, orphan and
much-guessed accounts, one scenario per test (pure: hand-built accounts and snapshots)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from plan_builders import (
    CHUYEN_VIEN,
    LANH_DAO,
    POLICY_KEY,
    TARGET,
    TODAY,
    UNIT_VP,
    account,
    account_key,
    applied,
    configured,
    findings_of,
    kinds,
    ledger_entry,
    roster,
    row,
    run,
    shipped,
    target_state,
)

from syncbot.cli.plan_view import render_plan
from syncbot.config import SafetyConfig
from syncbot.duty_settings import (
    CharClass,
    Dormancy,
    Duties,
    FailedSignIns,
    Orphans,
    PasswordPolicy,
    Response,
    WantedSettings,
)
from syncbot.model import (
    Account,
    ActionKind,
    Duty,
    FindingKind,
    LedgerEntry,
    Plan,
    RosterRow,
    Status,
)
from syncbot.planning.planner import plan
from syncbot.protection import Protection
from syncbot.safety import threshold_violations

D, S, P = ActionKind.DISABLE, ActionKind.SIGN_OUT, ActionKind.REQUIRE_PASSWORD_CHANGE
HOLDS = {CHUYEN_VIEN, UNIT_VP}  # what an ordinary person of the default row holds: in step


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


CREATED = at(date(2023, 1, 10))
ISSUED = CREATED + timedelta(minutes=5)  # the administrator's first password
POLICY = PasswordPolicy(
    min_length=12,
    classes=frozenset(CharClass),
    not_username=True,
    history=5,
    max_age_days=90,
)
NEVER_REPORT = Duties(password=dataclasses.replace(POLICY, never_changed=Response.REPORT))
NEVER_REQUIRE = Duties(password=dataclasses.replace(POLICY, never_changed=Response.REQUIRE_CHANGE))
EXPIRED_REPORT = Duties(password=dataclasses.replace(POLICY, expired=Response.REPORT))
DORMANCY = Dormancy(days=365, recorded_since=date(2022, 1, 1), disable_after_days=30)
DORMANT_DUTIES = Duties(dormancy=DORMANCY)


def locked_for_disuse(
    username: str, employee_id: str, on: date, *, by_syncbot: bool = False
) -> dict[tuple[str, str], LedgerEntry]:
    """The ledger after syncbot locked an account for disuse on `on`."""
    return dict(
        [
            ledger_entry(
                username,
                employee_id,
                by_syncbot=by_syncbot,
                disabled_on=None,
                dormant_locked_on=on.isoformat(),
            )
        ]
    )


def person(**fields: Any) -> tuple[list[RosterRow], list[Account]]:
    """The default active Chuyên viên NV001 with account "an", in step with HR."""
    return [row(1)], [account("an", "NV001", holds=HOLDS, **fields)]


# --- target-wide settings ------------------------------------------------------------------

WANTED = WantedSettings(
    values={"pwdMinLength": "12", "pwdMaxAge": "7776000", "pwdInHistory": "5"},
)


def test_settings_drift_is_one_configure_step_naming_only_what_differs() -> None:
    now = {"pwdMinLength": "8", "pwdInHistory": "5", "pwdLockout": "TRUE"}
    result = run(*person(), duties=Duties(password=POLICY), settings=now, wanted=WANTED)
    (configure,) = result.actions
    assert configure.kind is ActionKind.CONFIGURE
    assert (configure.account, configure.username, configure.employee_id) == (
        POLICY_KEY,
        POLICY_KEY,
        None,
    )
    assert configure.evidence is None and configure.duty is Duty.PASSWORD
    # Absent from the target means "not set": it differs; pwdLockout is not ours to touch.
    assert configure.settings == (("pwdMaxAge", None, "7776000"), ("pwdMinLength", "8", "12"))
    assert configure.before() == {
        "settings": [{"name": "pwdMaxAge", "value": None}, {"name": "pwdMinLength", "value": "8"}]
    }
    assert configure.after() == {
        "settings": [
            {"name": "pwdMaxAge", "value": "7776000"},
            {"name": "pwdMinLength", "value": "12"},
        ]
    }
    for words in ("tối thiểu 12 ký tự", "5 mật khẩu gần nhất", "90 ngày", "pwdMinLength: 8 → 12"):
        assert words in configure.reason.vi
    assert "chữ hoa, chữ thường, chữ số, ký tự đặc biệt" in configure.reason.vi
    assert "at least 12 characters" in configure.reason.en
    assert "every 90 days" in configure.reason.en


def test_settings_in_step_need_nothing() -> None:
    result = run(*person(), settings=dict(WANTED.values), wanted=WANTED)
    assert result.empty
    assert result.findings == ()


def test_configure_runs_before_anyone_is_made_to_change_a_password() -> None:
    rows = [row(1, "AA001")]  # sorts before the policy DN by name
    accounts = [account("aa", "AA001", holds=HOLDS, created=CREATED, password_changed=ISSUED)]
    result = run(rows, accounts, duties=NEVER_REQUIRE, settings={}, wanted=WANTED)
    assert kinds(result.actions) == [ActionKind.CONFIGURE, P]


def test_unreadable_settings_are_reported_not_changed() -> None:
    result = run(*person(), settings=None, wanted=WANTED)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.SETTING_UNSUPPORTED)
    assert (finding.target, finding.account) == (TARGET, POLICY_KEY)
    assert "Không đọc được" in finding.reason.vi
    assert "could not be read" in finding.reason.en


def test_each_unsupported_term_is_said_once_per_target() -> None:
    wanted = WantedSettings(values={"pwdMinLength": "12"}, unsupported=("upper", "special"))
    states = [
        target_state([], settings={"pwdMinLength": "12"}, wanted=wanted, target=name)
        for name in ("ldap", "ldap-hn")
    ]
    result = plan(roster(row(1)), shipped(), states, {}, TODAY)
    found = findings_of(result, FindingKind.SETTING_UNSUPPORTED)
    assert sorted((f.target, f.reason.vi.split("'")[1]) for f in found) == [
        ("ldap", "chữ hoa"),
        ("ldap", "ký tự đặc biệt"),
        ("ldap-hn", "chữ hoa"),
        ("ldap-hn", "ký tự đặc biệt"),
    ]


# --- passwords never changed ----------------------------------------------------------------


def test_issued_password_never_changed_is_reported_with_its_date() -> None:
    result = run(*person(created=CREATED, password_changed=ISSUED), duties=NEVER_REPORT)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.PASSWORD_NEVER_CHANGED)
    assert (finding.employee_id, finding.row, finding.account) == ("NV001", 1, account_key("an"))
    assert (finding.since, finding.due) == (date(2023, 1, 10), None)
    assert "chưa đổi lần nào" in finding.reason.vi
    assert "10/01/2023" in finding.reason.vi
    assert "2023-01-10" in finding.reason.en


def test_issued_password_never_changed_must_be_changed_when_configured() -> None:
    result = run(*person(created=CREATED, password_changed=ISSUED), duties=NEVER_REQUIRE)
    (action,) = result.actions
    assert (action.kind, action.duty, action.employee_id) == (P, Duty.PASSWORD, "NV001")
    assert action.evidence is not None and action.evidence.row == 1
    assert "buộc đổi mật khẩu ở lần đăng nhập tới" in action.reason.vi
    assert not findings_of(result, FindingKind.PASSWORD_NEVER_CHANGED)


def test_password_set_after_the_issue_window_was_chosen_by_its_owner() -> None:
    changed = CREATED + timedelta(minutes=61)
    assert run(*person(created=CREATED, password_changed=changed), duties=NEVER_REQUIRE).empty
    window = dataclasses.replace(NEVER_REQUIRE.password, issued_within_minutes=120)
    result = run(*person(created=CREATED, password_changed=changed), duties=Duties(password=window))
    assert kinds(result.actions) == [P]


def test_already_required_change_is_not_asked_again() -> None:
    accounts = person(created=CREATED, password_changed=ISSUED, must_change_password=True)
    result = run(*accounts, duties=NEVER_REQUIRE)
    assert result.empty
    assert not findings_of(result, FindingKind.PASSWORD_NEVER_CHANGED)


@pytest.mark.parametrize(
    "fields",
    [
        {"password_changed": ISSUED},  # creation time unknown: cannot tell issued from chosen
        {"created": CREATED},  # no password of its own here, or not observed
        {"created": CREATED, "password_changed": ISSUED, "enabled": False},
    ],
)
def test_never_changed_needs_both_dates_and_an_enabled_account(fields: dict[str, Any]) -> None:
    result = run([row(1)], [account("an", "NV001", holds=HOLDS, **fields)], duties=NEVER_REQUIRE)
    assert not result.actions
    assert not findings_of(result, FindingKind.PASSWORD_NEVER_CHANGED)


def test_people_leaving_are_not_asked_to_change_their_password() -> None:
    hr = row(1, status="Nghỉ việc", effective=TODAY + timedelta(days=10))
    acc = account("an", "NV001", holds=HOLDS, created=CREATED, password_changed=ISSUED)
    result = run([hr], [acc], duties=NEVER_REQUIRE)
    assert result.empty
    assert not findings_of(result, FindingKind.PASSWORD_NEVER_CHANGED)


# --- password age ---------------------------------------------------------------------------


def test_password_older_than_the_maximum_age_is_reported_with_its_age() -> None:
    result = run(*person(created=CREATED, password_changed=at(days_ago(91))), duties=EXPIRED_REPORT)
    (finding,) = findings_of(result, FindingKind.PASSWORD_EXPIRED)
    assert (finding.since, finding.due) == (days_ago(91), None)
    assert "91 ngày" in finding.reason.vi and "quá thời hạn 90 ngày" in finding.reason.vi
    assert "91 days old" in finding.reason.en and "90-day maximum" in finding.reason.en
    on_the_day = run(*person(password_changed=at(days_ago(90))), duties=EXPIRED_REPORT)
    assert not findings_of(on_the_day, FindingKind.PASSWORD_EXPIRED)


def test_expired_password_must_be_changed_when_configured() -> None:
    policy = dataclasses.replace(POLICY, expired=Response.REQUIRE_CHANGE)
    result = run(*person(password_changed=at(days_ago(200))), duties=Duties(password=policy))
    (action,) = result.actions
    assert (action.kind, action.duty) == (P, Duty.PASSWORD)
    assert "200 ngày" in action.reason.vi


def test_expired_password_already_required_waits_for_its_owner() -> None:
    policy = dataclasses.replace(POLICY, expired=Response.REQUIRE_CHANGE)
    accounts = person(password_changed=at(days_ago(200)), must_change_password=True)
    result = run(*accounts, duties=Duties(password=policy))
    assert result.empty
    (finding,) = findings_of(result, FindingKind.PASSWORD_EXPIRED)
    assert "đang chờ người dùng đổi" in finding.reason.vi


def test_never_changed_and_expired_is_one_finding_and_the_firmer_response_wins() -> None:
    policy = dataclasses.replace(
        POLICY, never_changed=Response.REPORT, expired=Response.REQUIRE_CHANGE
    )
    result = run(*person(created=CREATED, password_changed=ISSUED), duties=Duties(password=policy))
    (action,) = result.actions
    assert action.kind is P
    assert "chưa đổi lần nào" in action.reason.vi  # the more specific fact is the one said


# --- deadline -------------------------------------------------------------------------------

DEADLINE = date(2024, 10, 26)
WITH_DEADLINE = Duties(
    password=dataclasses.replace(POLICY, never_changed=Response.REPORT, deadline=DEADLINE)
)


def test_before_the_deadline_only_the_finding_with_its_due_date() -> None:
    result = run(*person(created=CREATED, password_changed=ISSUED), duties=WITH_DEADLINE)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.PASSWORD_NEVER_CHANGED)
    assert finding.due == DEADLINE
    assert "từ ngày 26/10/2024" in finding.reason.vi


def test_from_the_deadline_a_change_is_required_and_sessions_end() -> None:
    accounts = person(created=CREATED, password_changed=ISSUED)
    result = run(*accounts, duties=WITH_DEADLINE, today=DEADLINE, has_sessions=True)
    assert kinds(result.actions) == [P, S]  # the executor's order: KIND_ORDER
    assert all(a.duty is Duty.PASSWORD for a in result.actions)
    assert "đăng xuất mọi phiên" in result.actions[1].reason.vi
    assert "đã đến hạn 26/10/2024" in result.actions[1].reason.vi
    without_sessions = run(*accounts, duties=WITH_DEADLINE, today=DEADLINE)
    assert kinds(without_sessions.actions) == [P]


def test_after_the_deadline_a_forced_change_is_not_repeated() -> None:
    rows, accounts = person(created=CREATED, password_changed=ISSUED)
    first = run(rows, accounts, duties=WITH_DEADLINE, today=DEADLINE, has_sessions=True)
    second = run(
        rows,
        applied(accounts, first.actions),
        duties=WITH_DEADLINE,
        today=DEADLINE + timedelta(days=3),
        has_sessions=True,
    )
    assert first.actions and second.empty


# --- dormancy -------------------------------------------------------------------------------


def test_unused_account_is_reported_dormant_with_its_lock_date() -> None:
    last = days_ago(370)
    result = run(*person(created=CREATED, last_sign_in=at(last)), duties=DORMANT_DUTIES)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.DORMANT)
    assert (finding.since, finding.due) == (last, last + timedelta(days=395))
    assert (finding.employee_id, finding.row) == ("NV001", 1)
    assert "370 ngày" in finding.reason.vi and "ngưỡng 365 ngày" in finding.reason.vi
    assert f"đăng nhập lần cuối ngày {last:%d/%m/%Y}" in finding.reason.vi
    assert "370 days" in finding.reason.en


def test_account_used_within_the_limit_is_not_dormant() -> None:
    result = run(*person(created=CREATED, last_sign_in=at(days_ago(364))), duties=DORMANT_DUTIES)
    assert not result.findings


def test_dormant_account_is_locked_after_the_warning_period_and_nothing_else_changes() -> None:
    hr = row(1, position="Phó Giám đốc")  # would be granted Lãnh đạo
    acc = account("an", "NV001", holds=HOLDS, created=CREATED, last_sign_in=at(days_ago(395)))
    result = run([hr], [acc], duties=DORMANT_DUTIES, has_sessions=True)
    assert kinds(result.actions) == [D, S]
    disable = result.actions[0]
    assert (disable.duty, disable.offboarding, disable.employee_id) == (
        Duty.DORMANT,
        False,
        "NV001",
    )
    assert disable.evidence is not None and disable.evidence.row == 1
    assert "395 ngày" in disable.reason.vi and "365 ngày và 30 ngày cảnh báo" in disable.reason.vi
    assert "khóa tài khoản" in disable.reason.vi
    assert "30-day warning" in disable.reason.en


def test_report_only_dormancy_never_locks() -> None:
    duties = Duties(dormancy=dataclasses.replace(DORMANCY, disable_after_days=None))
    result = run(*person(created=CREATED, last_sign_in=at(days_ago(900))), duties=duties)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.DORMANT)
    assert finding.due is None
    assert "cần xác minh còn nhu cầu sử dụng" in finding.reason.vi


@pytest.mark.parametrize(
    ("fields", "ledger_on", "since", "words"),
    [
        # Recording began later than the last sign-in we know of: silence before proves nothing.
        ({"last_sign_in": at(date(2021, 5, 1))}, None, date(2022, 1, 1), "bắt đầu ghi nhận"),
        ({"created": at(days_ago(380))}, None, days_ago(380), "chưa ghi nhận lần đăng nhập"),
        ({"last_sign_in": at(days_ago(500))}, days_ago(370), days_ago(370), "syncbot khóa"),
    ],
)
def test_dormancy_counts_from_the_latest_sign_of_use(
    fields: dict[str, Any],
    ledger_on: date | None,
    since: date,
    words: str,
) -> None:
    ledger = locked_for_disuse("an", "NV001", ledger_on) if ledger_on else {}
    today = since + timedelta(days=366)
    result = run(*person(**fields), ledger=ledger, duties=DORMANT_DUTIES, today=today)
    (finding,) = findings_of(result, FindingKind.DORMANT)
    assert finding.since == since
    assert words in finding.reason.vi


def test_reopened_after_a_dormancy_lock_is_not_locked_again_at_once() -> None:
    ledger = locked_for_disuse("an", "NV001", days_ago(2))
    result = run(*person(last_sign_in=at(days_ago(800))), ledger=ledger, duties=DORMANT_DUTIES)
    assert result.empty and not result.findings


def test_staff_on_leave_are_exempt_from_dormancy_by_default() -> None:
    hr = row(1, status="Nghỉ thai sản")
    assert hr.status is Status.ON_LEAVE
    acc = account("an", "NV001", holds=HOLDS, last_sign_in=at(days_ago(800)))
    assert run([hr], [acc], duties=DORMANT_DUTIES).empty
    strict = Duties(dormancy=dataclasses.replace(DORMANCY, exempt_statuses=frozenset()))
    assert kinds(run([hr], [acc], duties=strict).actions) == [D]


def test_departing_people_are_left_to_the_roster() -> None:
    hr = row(1, status="Nghỉ hưu", effective=TODAY + timedelta(days=20))
    acc = account("an", "NV001", holds=HOLDS, last_sign_in=at(days_ago(800)))
    result = run([hr], [acc], duties=DORMANT_DUTIES)
    assert result.empty
    assert not findings_of(result, FindingKind.DORMANT)


# --- a lock for disuse is not undone by the roster ------------------------------------------


@pytest.mark.parametrize("by_syncbot", [False, True])  # True: a stale departure flag
def test_dormancy_lock_is_reported_with_how_to_reopen_it(by_syncbot: bool) -> None:
    locked_on = days_ago(10)
    ledger = locked_for_disuse("an", "NV001", locked_on, by_syncbot=by_syncbot)
    result = run(*person(enabled=False), ledger=ledger, duties=DORMANT_DUTIES)
    assert result.empty  # no ENABLE, no role change
    (finding,) = findings_of(result, FindingKind.LOCKED_BY_OTHERS)
    assert finding.since == locked_on
    relock = locked_on + timedelta(days=395)
    assert f"khóa ngày {locked_on:%d/%m/%Y} vì không sử dụng" in finding.reason.vi
    assert "quản trị viên mở khóa tài khoản" in finding.reason.vi
    assert f"khóa lại từ ngày {relock:%d/%m/%Y}" in finding.reason.vi
    assert "an administrator enables the account" in finding.reason.en


# --- orphans --------------------------------------------------------------------------------

ORPHANS_LOCKED = Duties(orphans=Orphans(disable=True, grace_days=30))


def test_old_orphan_is_locked_when_the_policy_says_so() -> None:
    orphan = account("tam", "NV900", created=at(days_ago(30)))
    result = run([row(1)], [orphan], duties=ORPHANS_LOCKED, has_sessions=True)
    assert kinds(result.actions) == [D, S]
    disable = result.actions[0]
    assert (disable.duty, disable.employee_id, disable.evidence) == (Duty.ORPHAN, None, None)
    assert "không có trong hồ sơ nhân sự" in disable.reason.vi
    assert "30 ngày chờ" in disable.reason.vi
    assert not findings_of(result, FindingKind.ORPHAN)


def test_young_orphan_is_reported_with_the_day_it_will_be_locked() -> None:
    created = days_ago(29)
    result = run([row(1)], [account("tam", None, created=at(created))], duties=ORPHANS_LOCKED)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.ORPHAN)
    assert finding.due == created + timedelta(days=30)
    assert f"Sẽ khóa ngày {finding.due:%d/%m/%Y}" in finding.reason.vi


@pytest.mark.parametrize("duties", [Duties(), Duties(orphans=Orphans(disable=True))])
def test_orphan_without_lock_policy_or_creation_date_is_only_reported(duties: Duties) -> None:
    created = None if duties.orphans.disable else at(days_ago(900))
    result = run([row(1)], [account("tam", None, created=created)], duties=duties)
    assert result.empty
    (finding,) = findings_of(result, FindingKind.ORPHAN)
    assert finding.due is None


def test_unused_orphan_is_also_dormant() -> None:
    orphan = account("tam", None, created=CREATED, last_sign_in=at(days_ago(400)))
    result = run([row(1)], [orphan], duties=DORMANT_DUTIES)
    (lock,) = result.actions
    assert (lock.kind, lock.duty, lock.employee_id, lock.evidence) == (D, Duty.DORMANT, None, None)
    assert findings_of(result, FindingKind.ORPHAN)


# --- federated accounts, failed sign-ins -----------------------------------------------------


def test_federated_accounts_leave_passwords_and_dormancy_to_ldap_but_failures_are_reported() -> (
    None
):
    duties = Duties(
        password=NEVER_REQUIRE.password,
        dormancy=DORMANCY,
        failed_sign_ins=FailedSignIns(threshold=5, days=7),
    )
    acc = account(
        "an",
        "NV001",
        holds=HOLDS,
        federated=True,
        created=CREATED,
        password_changed=ISSUED,
        last_sign_in=at(days_ago(900)),
        failed_sign_ins=6,
    )
    result = run([row(1)], [acc], duties=duties)
    assert result.empty
    assert [f.kind for f in result.findings] == [FindingKind.FAILED_SIGN_INS]


def test_repeated_failed_sign_ins_are_reported_even_for_protected_accounts() -> None:
    duties = Duties(failed_sign_ins=FailedSignIns(threshold=5, days=7))
    accounts = [
        account("an", "NV001", holds=HOLDS, failed_sign_ins=5),
        account("binh", "NV002", holds=HOLDS, failed_sign_ins=4),
        account("admin", None, failed_sign_ins=40),
    ]
    protection = Protection.build(["admin"], [], frozenset())
    result = run([row(1), row(2)], accounts, duties=duties, protection=protection)
    assert result.empty
    found = findings_of(result, FindingKind.FAILED_SIGN_INS)
    assert [(f.account, f.since) for f in found] == [
        (account_key("an"), days_ago(7)),
        (account_key("admin"), days_ago(7)),
    ]
    assert "5 lần đăng nhập sai trong 7 ngày qua (ngưỡng 5)" in found[0].reason.vi
    assert "40 failed sign-ins in the last 7 days" in found[1].reason.en


# --- on leave -------------------------------------------------------------------------------


def test_staff_on_leave_keep_their_roles_and_are_rehired_like_active_staff() -> None:
    on_leave = row(1, status="Đi học", position="Phó Giám đốc")
    result = run([on_leave], [account("an", "NV001", holds={UNIT_VP})])
    assert [(a.kind, a.role) for a in result.actions] == [(ActionKind.GRANT, "Lãnh đạo")]
    no_account = run([on_leave], [])
    assert [f.employee_id for f in findings_of(no_account, FindingKind.NO_ACCOUNT)] == ["NV001"]
    ledger = dict([ledger_entry("an", "NV001", removed=(LANH_DAO, UNIT_VP))])
    rehired = run([on_leave], [account("an", "NV001", enabled=False)], ledger=ledger)
    assert ActionKind.ENABLE in kinds(rehired.actions)


def test_a_rehire_with_a_stale_password_is_reopened_and_asked_to_change_it_at_once() -> None:
    policy = dataclasses.replace(POLICY, expired=Response.REQUIRE_CHANGE)
    duties = Duties(password=policy, dormancy=DORMANCY)
    ledger = dict([ledger_entry("an", "NV001", removed=(CHUYEN_VIEN, UNIT_VP))])
    rows, accounts = person(enabled=False, password_changed=at(days_ago(400)),
                            last_sign_in=at(days_ago(400)))  # fmt: skip
    result = run(rows, accounts, ledger=ledger, duties=duties)
    assert set(kinds(result.actions)) == {ActionKind.ENABLE, P}  # not locked for disuse
    assert not findings_of(result, FindingKind.DORMANT)


# --- idempotence, thresholds, display -------------------------------------------------------

EVERYTHING = Duties(
    password=dataclasses.replace(
        POLICY, never_changed=Response.REQUIRE_CHANGE, expired=Response.REPORT, deadline=DEADLINE
    ),
    dormancy=DORMANCY,
    orphans=Orphans(disable=True, grace_days=30),
    failed_sign_ins=FailedSignIns(),
)


def _duty_scenario(
    today: date,
) -> tuple[list[RosterRow], list[Account], dict[tuple[str, str], LedgerEntry]]:
    def ago(n: int) -> datetime:
        return at(today - timedelta(days=n))

    rows = [row(n) for n in range(1, 7)]
    used = ago(2)
    accounts = [
        account(
            "a1", "NV001", holds=HOLDS, created=CREATED, password_changed=ISSUED, last_sign_in=used
        ),
        account("a2", "NV002", holds=HOLDS, password_changed=ago(300), last_sign_in=used),
        account("a3", "NV003", holds=HOLDS, created=CREATED, last_sign_in=ago(500)),
        account("a4", "NV004", holds=HOLDS, last_sign_in=ago(370)),
        account("a5", "NV005", holds=HOLDS, last_sign_in=ago(1), failed_sign_ins=9),
        account("a6", "NV006", enabled=False),  # locked for disuse earlier
        account("tam", None, created=ago(100), last_sign_in=used),  # orphan, locked
        account("moi", None, created=ago(3)),  # orphan, in its grace period
    ]
    ledger = locked_for_disuse("a6", "NV006", today - timedelta(days=40))
    return rows, accounts, ledger


def test_a_perfect_apply_of_the_duties_leaves_nothing_to_do() -> None:
    today = DEADLINE + timedelta(days=1)
    rows, accounts, ledger = _duty_scenario(today)
    kw: dict[str, Any] = {
        "duties": EVERYTHING,
        "has_sessions": True,
        "wanted": WANTED,
        "today": today,
    }
    first = run(rows, accounts, ledger=ledger, settings={"pwdMinLength": "8"}, **kw)
    assert {(a.username, a.kind) for a in first.actions} == {
        (POLICY_KEY, ActionKind.CONFIGURE),
        ("a1", P),
        ("a1", S),
        ("a2", P),  # only reported before the deadline; from it, out of policy is out
        ("a2", S),
        ("a3", D),
        ("a3", S),
        ("tam", D),
        ("tam", S),
    }
    for action in first.actions:  # what the executor writes to the ledger
        if action.kind is D and action.duty is Duty.DORMANT:
            ledger.update(locked_for_disuse(action.username, action.employee_id or "", today))
    after = applied(accounts, first.actions)
    second = run(
        rows,
        list(after),
        ledger=ledger,
        settings=configured({"pwdMinLength": "8"}, first.actions),
        **kw,
    )
    assert second.actions == ()
    assert {f.kind for f in second.findings} >= {
        FindingKind.FAILED_SIGN_INS,
        FindingKind.PASSWORD_EXPIRED,
        FindingKind.DORMANT,
        FindingKind.ORPHAN,
        FindingKind.LOCKED_BY_OTHERS,
    }


def _dormant_office(people: int, unused: int) -> Plan:
    rows = [row(n) for n in range(1, people + 1)]
    accounts = [
        account(
            f"a{n}",
            f"NV{n:03d}",
            holds=HOLDS,
            created=CREATED,
            last_sign_in=at(days_ago(400 if n <= unused else 1)),
        )
        for n in range(1, people + 1)
    ]
    return run(rows, accounts, duties=DORMANT_DUTIES, has_sessions=True)


def test_a_mass_dormancy_lock_is_refused_like_a_mass_departure() -> None:
    safety = SafetyConfig()  # 10 % of matched people, from 3 people on
    assert threshold_violations(_dormant_office(40, 4), safety, None) == []
    (problem,) = threshold_violations(_dormant_office(40, 5), safety, None)
    assert "5 of 40 matched people" in problem and "max_disable_share" in problem


def test_orphan_locks_are_counted_per_account() -> None:
    orphans = [account(f"x{n}", None, created=CREATED) for n in range(3)]
    rows = [row(n) for n in range(1, 11)]
    people = [account(f"a{n}", f"NV{n:03d}", holds=HOLDS) for n in range(1, 11)]
    result = run(rows, people + orphans, duties=ORPHANS_LOCKED, has_sessions=True)
    assert result.people_losing_access() == {f"{TARGET}:{account_key(f'x{n}')}" for n in range(3)}
    (problem,) = threshold_violations(result, SafetyConfig(), None)
    assert "3 of 10 matched people" in problem
    # A roster that matches nobody makes every account an orphan: never a mass lock.
    nobody = run([row(n, f"ZZ{n}") for n in range(1, 3)], orphans, duties=ORPHANS_LOCKED)
    (problem, *_) = threshold_violations(nobody, SafetyConfig(), None)
    assert "3 accounts while no roster row matches" in problem


def test_plan_shows_settings_as_now_and_wanted_and_dates_of_findings() -> None:
    today = DEADLINE - timedelta(days=1)
    rows, accounts, ledger = _duty_scenario(today)
    result = run(
        rows,
        accounts,
        ledger=ledger,
        duties=EVERYTHING,
        wanted=WANTED,
        settings={"pwdMinLength": "8"},
        today=today,
    )
    text = "\n".join(render_plan(result, lang="both"))
    assert "Cấu hình chính sách của hệ thống / Configure target settings (1)" in text
    assert "pwdMinLength: 8 → 12" in text and "pwdMaxAge: ∅ → 7776000" in text
    assert "Mật khẩu được cấp chưa đổi lần nào / Issued passwords never changed (1)" in text
    assert "hạn / due 26/10/2024" in text
    assert "Tài khoản không sử dụng / Dormant accounts (1)" in text
    assert f"từ / since {today - timedelta(days=370):%d/%m/%Y}" in text
    assert "Mật khẩu quá hạn chưa đổi / Passwords past their maximum age (1)" in text
    english = "\n".join(render_plan(result, lang="en", by="person"))
    assert "ldap: cn=default,ou=policies,dc=t" in english
    assert "pwdMinLength: 8 → 12" in english
    assert "due 2024-10-26" in english
    assert "3 changes for 2 people" in english  # a3 and tam locked; the policy is no person
