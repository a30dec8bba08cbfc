"""Properties of the planner over generated rosters and directories (hypothesis).

Whatever HR and the directory say: a perfect apply of the plan leaves nothing to do,
protected accounts never appear, every action has a reason and evidence, and a person is
never locked in one step and granted a role in another. The same holds with the circulars'
duties on, over accounts with random dates and flags and random duty settings.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_builders import (
    ALL_MANAGED,
    CHUYEN_VIEN,
    ROLE_GROUPS,
    TODAY,
    UNIT_GROUPS,
    UNIT_VP,
    account,
    applied,
    configured,
    ledger_entry,
    roster,
    row,
    shipped,
    target_state,
)

from syncbot.duty_settings import (
    NO_DUTIES,
    Dormancy,
    Duties,
    FailedSignIns,
    Orphans,
    PasswordPolicy,
    Response,
    WantedSettings,
)
from syncbot.matching import Fallback
from syncbot.model import Account, ActionKind, Duty, LedgerEntry, Plan, RosterRow, Status
from syncbot.planning.planner import plan
from syncbot.protection import Protection

POSITIONS = ["Chuyên viên", "Văn thư", "Phó Giám đốc", "Quản trị hệ thống", "Lái xe", ""]
UNITS = ["Văn phòng", "Thanh tra", "Phòng Công nghệ thông tin", "Đội xe"]
STATUSES = ["Đang công tác", "Nghỉ việc", "Nghỉ hưu", "Chuyển công tác", "Nghỉ thai sản"]
PROTECTION = Protection.build(["admin"], ["svc-*"], frozenset())


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list, list, dict]:  # type: ignore[type-arg]
    """A roster of up to 12 people and a directory that knows some of them, drifted."""
    n = draw(st.integers(min_value=0, max_value=12))
    rows, accounts, ledger = [], [], {}
    for i in range(1, n + 1):
        status = draw(st.sampled_from(STATUSES))
        effective = TODAY + timedelta(days=draw(st.integers(-60, 60)))
        rows.append(
            row(
                i + 1,
                f"NV{i:03d}",
                position=draw(st.sampled_from(POSITIONS)),
                unit=draw(st.sampled_from(UNITS)),
                status=status,
                effective=effective if status != "Đang công tác" or draw(st.booleans()) else None,
                email=f"u{i}@t.vn",
            )
        )
        copies = draw(st.integers(min_value=0, max_value=2))  # 2: an ambiguous match
        for c in range(copies):
            username = f"u{i}" if c == 0 else f"u{i}b"
            enabled = draw(st.booleans())
            holds = draw(st.sets(st.sampled_from(sorted(ROLE_GROUPS | UNIT_GROUPS)), max_size=3))
            accounts.append(account(username, f"NV{i:03d}", email=f"u{i}@t.vn",
                                    enabled=enabled, holds=holds))  # fmt: skip
            if not enabled and draw(st.booleans()):
                key, entry = ledger_entry(username, f"NV{i:03d}", removed=sorted(holds))
                ledger[key] = entry
    for name in draw(st.sets(st.sampled_from(["admin", "svc-qoffice", "tuanpq"]))):
        held = draw(st.sets(st.sampled_from(sorted(ROLE_GROUPS)), max_size=2))
        accounts.append(account(name, None, holds=held))
    return rows, accounts, ledger


def run(rows: list, accounts: list, ledger: dict):  # type: ignore[no-untyped-def]
    state = target_state(accounts, entitlements=ALL_MANAGED, protection=PROTECTION)
    return plan(roster(*rows), shipped(), [state], ledger, TODAY, Fallback.EMAIL)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each duty case draws a date or two per account: fewer of them cover as much ground.
DUTY_SETTINGS = settings(SETTINGS, max_examples=150)


@SETTINGS
@given(scenario())
def test_a_perfect_apply_leaves_nothing_to_do(case: tuple[list, list, dict]) -> None:
    rows, accounts, ledger = case
    first = run(rows, accounts, ledger)
    after = applied(accounts, first.actions)
    # What the executor does to the ledger: locks recorded, re-enables cleared.
    for action in first.actions:
        key = (action.target, action.account)
        if action.kind is ActionKind.DISABLE:
            ledger[key] = ledger_entry(action.username, action.employee_id)[1]
        elif action.kind is ActionKind.ENABLE:
            ledger.pop(key, None)
    second = run(rows, list(after), ledger)
    assert second.actions == ()


@SETTINGS
@given(scenario())
def test_protected_accounts_never_appear(case: tuple[list, list, dict]) -> None:
    result = run(*case)
    shown = {a.username for a in result.actions} | {f.account or "" for f in result.findings}
    assert not {"admin", "svc-qoffice"} & shown
    assert not any("admin" in (f.account or "") or "svc-" in (f.account or "")
                   for f in result.findings)  # fmt: skip


@SETTINGS
@given(scenario())
def test_every_action_has_a_reason_and_evidence(case: tuple[list, list, dict]) -> None:
    for action in run(*case).actions:
        assert action.reason.vi.strip() and action.reason.en.strip()
        assert action.evidence is not None and action.evidence.row >= 2
        assert action.employee_id == f"NV{action.evidence.row - 1:03d}"


@SETTINGS
@given(scenario())
def test_no_one_is_locked_and_granted_at_once(case: tuple[list, list, dict]) -> None:
    by_account: dict[str, set[ActionKind]] = {}
    for action in run(*case).actions:
        by_account.setdefault(action.account, set()).add(action.kind)
    for kinds in by_account.values():
        assert not ({ActionKind.DISABLE} <= kinds and kinds & {ActionKind.GRANT, ActionKind.ENABLE})


@SETTINGS
@given(scenario())
def test_ambiguous_people_are_left_alone(case: tuple[list, list, dict]) -> None:
    rows, accounts, ledger = case
    twins = {a.employee_id for a in accounts if a.username.endswith("b")}
    touched = {a.employee_id for a in run(rows, accounts, ledger).actions}
    assert not twins & touched


# --- with the circulars' duties ------------------------------------------------------------


def _moment(draw: st.DrawFn, span: int = 1200) -> datetime | None:
    """A time up to `span` days before TODAY (a few after, for clock skew), or unknown."""
    offset = draw(st.none() | st.integers(-5, span))
    if offset is None:
        return None
    start = datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC)
    return start - timedelta(days=offset, minutes=draw(st.integers(0, 600)))


@st.composite
def dated(draw: st.DrawFn, acc: Account) -> Account:
    created = _moment(draw)
    issued = created + timedelta(minutes=draw(st.integers(0, 90))) if created else None
    return dataclasses.replace(
        acc,
        created=created,
        password_changed=draw(st.sampled_from([issued, _moment(draw), None])),
        must_change_password=draw(st.booleans()),
        last_sign_in=_moment(draw),
        failed_sign_ins=draw(st.integers(0, 8)),
        federated=draw(st.integers(0, 5)) == 0,
    )


@st.composite
def some_duties(draw: st.DrawFn) -> Duties:
    responses = st.sampled_from(list(Response))
    password = PasswordPolicy(
        max_age_days=draw(st.sampled_from([None, 90, 180])),
        never_changed=draw(responses),
        expired=draw(responses),
        deadline=draw(st.none() | st.integers(-30, 30).map(lambda d: TODAY + timedelta(days=d))),
        issued_within_minutes=draw(st.sampled_from([1, 60])),
    )
    dormancy = draw(
        st.none()
        | st.builds(
            Dormancy,
            days=st.integers(30, 400),
            recorded_since=st.integers(0, 900).map(lambda d: TODAY - timedelta(days=d)),
            disable_after_days=st.none() | st.integers(0, 60),
            exempt_statuses=st.sets(st.sampled_from(list(Status))).map(frozenset),
        )
    )
    return Duties(
        password=password,
        dormancy=dormancy,
        orphans=Orphans(disable=draw(st.booleans()), grace_days=draw(st.integers(0, 60))),
        failed_sign_ins=draw(st.none() | st.builds(FailedSignIns, threshold=st.integers(1, 6))),
    )


@dataclasses.dataclass
class DutyCase:
    rows: list[RosterRow]
    accounts: list[Account]
    ledger: dict[tuple[str, str], LedgerEntry]
    duties: Duties
    has_sessions: bool
    settings: dict[str, str] | None
    wanted: WantedSettings


@st.composite
def duty_scenario(draw: st.DrawFn) -> DutyCase:
    rows, accounts, ledger = draw(scenario())
    accounts = [draw(dated(a)) for a in accounts]
    for key, entry in list(ledger.items()):
        if draw(st.booleans()):  # some locks were for disuse, some a stale departure flag too
            locked = draw(st.integers(0, 500))
            ledger[key] = dataclasses.replace(
                entry, dormant_locked_on=(TODAY - timedelta(days=locked)).isoformat()
            )
    names = st.sampled_from(["pwdMinLength", "pwdMaxAge", "pwdInHistory"])
    values = st.dictionaries(names, st.sampled_from(["5", "12", "7776000"]), max_size=3)
    return DutyCase(
        rows=rows,
        accounts=accounts,
        ledger=ledger,
        duties=draw(some_duties()),
        has_sessions=draw(st.booleans()),
        settings=draw(st.none() | values),
        wanted=WantedSettings(values=draw(values), unsupported=draw(st.sets(names).map(tuple))),
    )


def run_duties(
    case: DutyCase, accounts: list[Account] | None = None, settings: dict[str, str] | None = None
) -> Plan:
    state = target_state(
        accounts if accounts is not None else case.accounts,
        protection=PROTECTION,
        has_sessions=case.has_sessions,
        settings=settings if settings is not None else case.settings,
        wanted=case.wanted,
    )
    rows = roster(*case.rows)
    return plan(rows, shipped(), [state], case.ledger, TODAY, Fallback.EMAIL, case.duties)


def _unlocked(username: str, employee_id: str | None) -> LedgerEntry:
    """A fresh ledger entry of an account syncbot has not locked (before a note is added)."""
    return ledger_entry(username, employee_id, by_syncbot=False, disabled_on=None)[1]


def _executor_ledger(case: DutyCase, first: Plan) -> None:
    """What syncbot.executor writes to the ledger for the steps of `first` (see _note_intent)."""
    for action in first.actions:
        key = (action.target, action.account)
        old = case.ledger.get(key)
        if action.kind is ActionKind.DISABLE and action.offboarding:
            fresh = ledger_entry(action.username, action.employee_id, disabled_on=str(TODAY))[1]
            case.ledger[key] = dataclasses.replace(fresh, removed=old.removed if old else ())
        elif action.kind is ActionKind.DISABLE and action.duty is Duty.DORMANT:
            base = old or _unlocked(action.username, action.employee_id)
            case.ledger[key] = dataclasses.replace(base, dormant_locked_on=TODAY.isoformat())
        elif action.kind is ActionKind.SIGN_OUT:
            base = old or _unlocked(action.username, action.employee_id)
            case.ledger[key] = dataclasses.replace(base, signed_out=True)
        elif action.kind is ActionKind.ENABLE:
            fresh = _unlocked(action.username, action.employee_id)
            case.ledger[key] = dataclasses.replace(fresh, reopened_on=TODAY.isoformat())


@DUTY_SETTINGS
@given(duty_scenario())
def test_with_duties_a_perfect_apply_leaves_nothing_to_do(case: DutyCase) -> None:
    first = run_duties(case)
    after = list(applied(case.accounts, first.actions))
    settings = configured(case.settings, first.actions) if case.settings is not None else None
    _executor_ledger(case, first)
    second = run_duties(case, after, settings)
    assert second.actions == ()


@DUTY_SETTINGS
@given(duty_scenario())
def test_with_duties_protected_accounts_never_get_an_action(case: DutyCase) -> None:
    result = run_duties(case)
    assert not {"admin", "svc-qoffice"} & {a.username for a in result.actions}
    protected = {a.key for a in case.accounts if PROTECTION.covers(a)}
    # Failed sign-ins are the one finding about them: reporting is not touching.
    assert all(f.kind.value == "failed_sign_ins" for f in result.findings if f.account in protected)


@DUTY_SETTINGS
@given(duty_scenario())
def test_with_duties_every_action_has_a_reason_and_evidence(case: DutyCase) -> None:
    for action in run_duties(case).actions:
        assert action.reason.vi.strip() and action.reason.en.strip()
        if action.kind is ActionKind.CONFIGURE or action.duty is Duty.ORPHAN:
            assert action.evidence is None and action.employee_id is None
        elif action.employee_id is None:  # an orphan locked for disuse
            assert action.duty is Duty.DORMANT and action.evidence is None
        else:
            assert action.evidence is not None
            assert action.employee_id == f"NV{action.evidence.row - 1:03d}"


@DUTY_SETTINGS
@given(duty_scenario())
def test_with_duties_no_one_is_locked_and_granted_at_once(case: DutyCase) -> None:
    by_account: dict[str, set[ActionKind]] = {}
    for action in run_duties(case).actions:
        by_account.setdefault(action.account, set()).add(action.kind)
    for kinds in by_account.values():
        assert not ({ActionKind.DISABLE} <= kinds and kinds & {ActionKind.GRANT, ActionKind.ENABLE})
        assert not ({ActionKind.DISABLE} <= kinds and ActionKind.REQUIRE_PASSWORD_CHANGE in kinds)


LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
HOLDS = {CHUYEN_VIEN, UNIT_VP}  # in step with the default row


def test_run_duties_really_passes_the_duties_on() -> None:
    """Guards the properties above: duties dropped on the way would make them pass vacuously."""
    case = DutyCase(
        rows=[row(2, "NV001")],
        accounts=[account("u1", "NV001", holds=HOLDS, created=LONG_AGO, password_changed=LONG_AGO)],
        ledger={},
        duties=Duties(password=PasswordPolicy(never_changed=Response.REQUIRE_CHANGE)),
        has_sessions=False,
        settings={"pwdMinLength": "5"},
        wanted=WantedSettings(values={"pwdMinLength": "12"}),
    )
    assert [a.duty for a in run_duties(case).actions] == [Duty.PASSWORD, Duty.PASSWORD]
    assert run_duties(dataclasses.replace(case, duties=NO_DUTIES)).actions[0].kind is (
        ActionKind.CONFIGURE
    )
