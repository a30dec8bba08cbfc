"""What every plan shares, whichever rule made it: evidence that says its kind, one step
order the executor can group by, and one test of "leaving" and "in force" (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import groupby

from plan_builders import (
    CHUYEN_VIEN,
    ROSTER_FILE,
    TODAY,
    UNIT_VP,
    account,
    roster,
    row,
    run,
    shipped,
    target_state,
)
from test_quarantine import ROSTER, kc_account, ldap_account, parse, state

from syncbot.audit.render import render_change
from syncbot.duty_settings import Dormancy, Duties
from syncbot.match_keys import id_key
from syncbot.model import (
    KIND_ORDER,
    Account,
    Action,
    ActionKind,
    Duty,
    DutyEvidence,
    Evidence,
    EvidenceKind,
    LeakEvidence,
    Roster,
    RosterRow,
    RowEvidence,
    RowSource,
    step_order,
)
from syncbot.planning.planner import plan
from syncbot.planning.quarantine import plan_quarantine

LAST_MONTH = TODAY - timedelta(days=30)
NEXT_MONTH = TODAY + timedelta(days=30)


def departed(n: int, on: date = LAST_MONTH) -> tuple[list[RosterRow], list[Account]]:
    """Row `n` departed on `on`, and the account NV00n still holds, open."""
    return (
        [row(n, status="Nghỉ việc", effective=on)],
        [account(f"u{n}", f"NV{n:03d}", holds={CHUYEN_VIEN, UNIT_VP})],
    )


def test_a_departure_rests_on_a_roster_row() -> None:
    result = run(*departed(7))
    evidence = result.actions[0].evidence
    assert isinstance(evidence, RowEvidence) and evidence.kind is EvidenceKind.ROSTER_ROW
    record = evidence.as_dict()
    assert record["kind"] == "roster_row"
    assert (record["row"], record["status"], record["effective_date"]) == (
        7,
        "Nghỉ việc",
        LAST_MONTH.isoformat(),
    )


def test_a_pushed_row_says_it_was_pushed_and_names_the_push() -> None:
    rows, accounts = departed(7)
    push = RowSource("HR push from 127.0.0.1 at 2026-11-23T09:00:00Z", "9" * 64)
    pushed = Roster("export.csv + 1 pushed rows", "1" * 64, tuple(rows), {id_key("NV007"): push})
    result = plan(pushed, shipped(), [target_state(accounts)], {}, TODAY)
    (evidence,) = {a.evidence for a in result.actions}
    assert isinstance(evidence, RowEvidence) and evidence.kind is EvidenceKind.PUSHED_ROW
    assert evidence.as_dict()["kind"] == "pushed_row"
    assert (evidence.roster_file, evidence.roster_sha256) == (push.file, push.sha256)


def test_a_duty_step_names_its_duty_and_the_row_of_its_person() -> None:
    dormancy = Dormancy(days=365, recorded_since=date(2022, 1, 1), disable_after_days=30)
    created = datetime(2023, 1, 10, 9, tzinfo=UTC)
    unused = account("an", "NV001", holds={CHUYEN_VIEN, UNIT_VP}, created=created)
    result = run([row(1)], [unused], duties=Duties(dormancy=dormancy), has_sessions=True)
    lock, sign_out = result.actions
    assert lock.evidence is sign_out.evidence  # one evidence per person, not per step
    evidence = lock.evidence
    assert isinstance(evidence, DutyEvidence)
    record = evidence.as_dict()
    assert (record["kind"], record["duty"], record["row_kind"]) == ("duty", "dormant", "roster_row")
    assert (record["roster_file"], record["row"]) == (ROSTER_FILE, 1)
    assert evidence.status == "Đang công tác"


def test_a_quarantine_rests_on_the_list_line_not_on_a_roster_status() -> None:
    leaks = parse("# header\nbtt\n")
    ldap = state("ldap", [ldap_account("btt", "CB002", "b@x.vn")], sessions=False)
    (step,) = plan_quarantine(leaks, ROSTER, [ldap], TODAY).actions
    evidence = step.evidence
    assert isinstance(evidence, LeakEvidence)
    assert (evidence.list_file, evidence.line, evidence.unit) == (leaks.path, 2, "Thanh tra")
    record = evidence.as_dict()
    assert record["kind"] == "leak_list"
    assert "status" not in record and "effective_date" not in record


def test_every_kind_reads_in_the_audit_view_as_a_file_and_a_line() -> None:
    """`syncbot audit show` reads `roster_file` and `row` whatever the kind."""
    evidences: list[Evidence] = [
        RowEvidence("nhan-su.csv", "0" * 64, 12, "Nghỉ việc", LAST_MONTH, "CV", "VP"),
        DutyEvidence(Duty.PASSWORD, "nhan-su.csv", "0" * 64, 12, "Đang công tác", None, "", ""),
        LeakEvidence("lo-lot.txt", "0" * 64, 12, "", ""),
    ]
    for evidence in evidences:
        record = {"action": "disable", "result": "ok", "evidence": evidence.as_dict()}
        assert f"Căn cứ: {evidence.as_dict()['roster_file']}, dòng 12" in render_change(record)


def test_leaving_and_in_force_are_one_test_for_every_rule() -> None:
    gone, going = row(1, status="Nghỉ việc", effective=LAST_MONTH), row(2, status="Nghỉ việc")
    moving = row(3, status="Chuyển công tác", effective=NEXT_MONTH)
    staying, on_leave = row(4), row(5, status="Nghỉ phép dài hạn")
    assert [r.leaving for r in (gone, going, moving, staying, on_leave)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [r.in_force(TODAY) for r in (gone, going, moving, staying)] == [True, True, False, True]
    assert moving.in_force(NEXT_MONTH)  # from its own day on


def person_runs(actions: tuple[Action, ...]) -> list[str]:
    """The executor's groups, in order: a person twice means their steps were split."""
    return [key for key, _ in groupby(actions, key=lambda a: a.employee_id or a.account)]


def test_a_quarantine_keeps_each_unknown_account_s_steps_together() -> None:
    """Accounts with no employee id are grouped by account, like every other plan's."""
    ldap = state("ldap", [ldap_account("zed", None, "z@x.vn")], sessions=False)
    keycloak = state("keycloak", [kc_account("zed", "z@x.vn")], sessions=True)
    result = plan_quarantine(parse("zed\n"), ROSTER, [ldap, keycloak], TODAY, disable=True)
    runs = person_runs(result.actions)
    assert len(runs) == len(set(runs)) == 2
    assert list(result.actions) == sorted(result.actions, key=step_order)
    for _, steps in groupby(result.actions, key=lambda a: a.account):
        order = [KIND_ORDER[a.kind] for a in steps]
        assert order == sorted(order)


def test_a_reconcile_is_in_step_order_person_by_person() -> None:
    rows, accounts = departed(3)
    more_rows, more_accounts = departed(1)
    result = plan(
        roster(*rows, *more_rows),
        shipped(),
        [target_state(accounts + more_accounts, has_sessions=True)],
        {},
        TODAY,
    )
    assert list(result.actions) == sorted(result.actions, key=step_order)
    assert person_runs(result.actions) == ["NV001", "NV003"]
    assert result.actions[0].kind is ActionKind.DISABLE
