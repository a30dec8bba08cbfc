"""`syncbot report compliance|dormant|orphans` from a hand-built `Prepared`, in every format.

The plan is written out here as the planner states it (semantics of the duties), so these
tests pin what the reports show for each finding and step, independently of the planner.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_report import (
    ACTOR,
    ROSTER,
    RUN_A,
    Clock,
    build_audit_log,
    by_column,
    change,
    csv_sections,
    parse_html,
)
from test_report import (
    utc as audit_time,
)

from syncbot.audit import AuditLog
from syncbot.config import Config, ProtectedConfig, RosterConfig, SafetyConfig
from syncbot.duty_settings import (
    CharClass,
    Dormancy,
    Duties,
    Orphans,
    PasswordPolicy,
    Response,
    WantedSettings,
)
from syncbot.errors import ConfigError
from syncbot.mappings import Mappings
from syncbot.matching import Fallback
from syncbot.model import (
    Account,
    Action,
    ActionKind,
    Duty,
    Finding,
    FindingKind,
    Plan,
    Reason,
    Roster,
    RosterRow,
    Snapshot,
    Status,
)
from syncbot.reconcile import Prepared
from syncbot.report import Period, changes_report, render, write_report
from syncbot.report.compliance import compliance_report
from syncbot.report.dormant import dormant_report
from syncbot.report.orphans import orphans_report

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
DEADLINE = date(2026, 11, 1)
ROSTER_FILE = "/srv/hr/nhan-su-2026-11.xlsx"
ROSTER_SHA = "5e" * 32
CONFIG_FILE = Path("/etc/syncbot/syncbot.toml")
PPOLICY = "cn=default,ou=policies,dc=sotttt,dc=gov,dc=vn"
UNSUPPORTED_VI = "OpenLDAP ppolicy không kiểm tra được loại ký tự (chữ hoa, chữ số...)."
UNSUPPORTED_EN = "OpenLDAP ppolicy cannot check character classes (upper case, digits...)."

POLICY = PasswordPolicy(
    min_length=12,
    classes=frozenset(CharClass),
    not_username=True,
    history=5,
    max_age_days=90,
    never_changed=Response.REQUIRE_CHANGE,
    expired=Response.REPORT,
    deadline=DEADLINE,
)
DUTIES = Duties(
    password=POLICY,
    dormancy=Dormancy(days=365, recorded_since=date(2025, 1, 1), disable_after_days=30),
    orphans=Orphans(disable=True, grace_days=30),
)


def utc(year: int, month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def person(row: int, employee_id: str, name: str, unit: str, email: str, **more: Any) -> RosterRow:
    return RosterRow(
        row=row,
        employee_id=employee_id,
        full_name=name,
        email=email,
        unit=unit,
        position="Chuyên viên",
        status=more.pop("status", Status.ACTIVE),
        status_word=more.pop("status_word", "Đang công tác"),
        effective_date=None,
        **more,
    )


ROWS = (
    person(2, "CB001", "Nguyễn Văn An", "Văn phòng", "annv@sotttt.gov.vn"),
    person(3, "CB002", "Trần Thị Bình", "Phòng Tài chính", "binhtt@sotttt.gov.vn"),
    person(4, "CB003", "Lê Văn Cường", "Văn phòng", "cuonglv@sotttt.gov.vn"),
    person(5, "CB004", "Phạm Thị Dung", "Đội Kiểm tra", "dungpt@sotttt.gov.vn"),
    person(6, "CB005", "Hoàng Văn Em", "Phòng Tài chính", "emhv@sotttt.gov.vn",
           status=Status.ON_LEAVE, status_word="Nghỉ dài hạn"),
)  # fmt: skip


def ldap(uid: str, employee_id: str | None, **fields: Any) -> Account:
    return Account(
        target="ldap",
        key=f"uid={uid},ou=people,dc=sotttt,dc=gov,dc=vn",
        username=uid,
        employee_id=employee_id,
        email=fields.pop("email", f"{uid}@sotttt.gov.vn"),
        enabled=fields.pop("enabled", True),
        **fields,
    )


def keycloak(uid: str, employee_id: str | None, **fields: Any) -> Account:
    return replace(ldap(uid, employee_id, **fields), target="keycloak", key=f"kc-{uid}")


LDAP_ACCOUNTS = (
    # Issued 5 minutes after creation, never changed: forced to change (deadline passed).
    ldap("annv", "CB001", created=utc(2025, 1, 10), password_changed=utc(2025, 1, 10, 2, 5),
         last_sign_in=utc(2026, 11, 1)),
    # Changed recently; no sign-in recorded since recording began: locked for dormancy.
    ldap("binhtt", "CB002", created=utc(2024, 1, 1), password_changed=utc(2026, 10, 1)),
    # Password older than 90 days (report only); last signed in a year ago: dormant, lock due.
    ldap("cuonglv", "CB003", created=utc(2023, 3, 3), password_changed=utc(2026, 5, 1),
         last_sign_in=utc(2025, 11, 1)),
    # Already made to change it (by an earlier run): waiting for her.
    ldap("dungpt", "CB004", created=utc(2023, 3, 3), password_changed=utc(2026, 1, 1),
         must_change_password=True, last_sign_in=utc(2026, 11, 18)),
    # On leave: not called dormant, whatever the dates.
    ldap("emhv", "CB005", created=utc(2022, 1, 1), password_changed=utc(2026, 9, 1)),
    # No HR record: one old (locked now, by policy), one new (due), one already locked.
    ldap("olduser", None, display_name="Người dùng cũ", created=utc(2024, 3, 1),
         password_changed=utc(2024, 3, 1, 2, 10), last_sign_in=utc(2026, 11, 10)),
    ldap("newbie", None, display_name="Người mới", created=utc(2026, 11, 5),
         password_changed=utc(2026, 11, 6), last_sign_in=utc(2026, 11, 6)),
    ldap("gone", None, enabled=False, created=utc(2023, 5, 5), password_changed=utc(2023, 5, 5)),
    # Protected: never in a report, however it looks.
    ldap("admin-sys", None, created=utc(2020, 1, 1), password_changed=utc(2020, 1, 1)),
    ldap("svc-backup", None, created=utc(2020, 1, 1), password_changed=utc(2020, 1, 1)),
)  # fmt: skip
KEYCLOAK_ACCOUNTS = (
    # Federated: the password lives in LDAP, so Keycloak has none of its own.
    keycloak("annv", "CB001", federated=True, created=utc(2025, 2, 1)),
    # Own password set 30 minutes after creation: forced to change, signed out.
    keycloak("binhtt", "CB002", created=utc(2026, 2, 1, 3),
             password_changed=utc(2026, 2, 1, 3, 30)),
    keycloak("kc-guest", None, created=utc(2026, 11, 1), password_changed=utc(2026, 11, 2)),
)  # fmt: skip


def ref(account: Account) -> dict[str, str]:
    return {"target": account.target, "account": account.key}


def by_name(accounts: tuple[Account, ...], uid: str) -> Account:
    return next(a for a in accounts if a.username == uid)


def step(account: Account, kind: ActionKind, duty: Duty, employee_id: str | None) -> Action:
    return Action(
        target=account.target,
        kind=kind,
        account=account.key,
        username=account.username,
        employee_id=employee_id,
        reason=Reason(vi="lý do", en="reason"),
        evidence=None,
        duty=duty,
    )


def finding(account: Account, kind: FindingKind, **fields: Any) -> Finding:
    return Finding(kind=kind, reason=Reason(vi="lý do", en="reason"), **ref(account), **fields)


def sample_plan() -> Plan:
    annv, binhtt, cuonglv = (by_name(LDAP_ACCOUNTS, u) for u in ("annv", "binhtt", "cuonglv"))
    dungpt, olduser, newbie = (by_name(LDAP_ACCOUNTS, u) for u in ("dungpt", "olduser", "newbie"))
    kc_binh, kc_guest = by_name(KEYCLOAK_ACCOUNTS, "binhtt"), by_name(KEYCLOAK_ACCOUNTS, "kc-guest")
    configure = Action(
        target="ldap",
        kind=ActionKind.CONFIGURE,
        account=PPOLICY,
        username=PPOLICY,
        employee_id=None,
        reason=Reason(vi="chính sách", en="policy"),
        evidence=None,
        duty=Duty.PASSWORD,
        settings=(("pwdMaxAge", None, "7776000"), ("pwdMinLength", "8", "12")),
    )
    actions = (
        configure,
        step(annv, ActionKind.REQUIRE_PASSWORD_CHANGE, Duty.PASSWORD, "CB001"),
        step(binhtt, ActionKind.DISABLE, Duty.DORMANT, "CB002"),
        step(olduser, ActionKind.DISABLE, Duty.ORPHAN, None),
        step(kc_binh, ActionKind.REQUIRE_PASSWORD_CHANGE, Duty.PASSWORD, "CB002"),
        step(kc_binh, ActionKind.SIGN_OUT, Duty.PASSWORD, "CB002"),
    )
    findings = (
        finding(binhtt, FindingKind.DORMANT, employee_id="CB002", since=date(2025, 1, 1),
                due=date(2026, 1, 31)),
        finding(cuonglv, FindingKind.PASSWORD_EXPIRED, employee_id="CB003",
                since=date(2026, 5, 1), due=DEADLINE),
        finding(cuonglv, FindingKind.DORMANT, employee_id="CB003", since=date(2025, 11, 1),
                due=date(2026, 11, 30)),
        finding(dungpt, FindingKind.PASSWORD_EXPIRED, employee_id="CB004",
                since=date(2026, 1, 1), due=DEADLINE),
        finding(newbie, FindingKind.ORPHAN, due=date(2026, 12, 5)),
        finding(kc_guest, FindingKind.ORPHAN, due=date(2026, 12, 1)),
        Finding(kind=FindingKind.SETTING_UNSUPPORTED, target="ldap",
                reason=Reason(vi=UNSUPPORTED_VI, en=UNSUPPORTED_EN)),
    )  # fmt: skip
    return Plan(
        today=TODAY,
        roster_path=ROSTER_FILE,
        roster_sha256=ROSTER_SHA,
        roster_rows=len(ROWS),
        actions=actions,
        findings=findings,
    )


class PolicyTarget:
    """Only what a report asks of a target: its translation of the password policy."""

    def __init__(self, wanted: WantedSettings) -> None:
        self.wanted = wanted

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        return self.wanted if duties.password.enforces_settings else WantedSettings()

    def entitlement_key(self, ref: str) -> str:
        return ref.casefold()


def prepared(
    duties: Duties = DUTIES, plan: Plan | None = None, ldap_accounts: tuple[Account, ...] = ()
) -> Prepared:
    config = Config(
        path=CONFIG_FILE,
        roster=RosterConfig(path=Path(ROSTER_FILE)),
        mappings_dir=Path("/etc/syncbot/mappings"),
        mapping_overrides={},
        fallback=Fallback.EMAIL,
        safety=SafetyConfig(),
        protected=ProtectedConfig(usernames=("admin-sys",), patterns=("svc-*",)),
        state_dir=Path("/var/lib/syncbot"),
        audit_path=Path("/var/lib/syncbot/audit.jsonl"),
        log_format="json",
        log_level="warning",
        targets={},
        duties=duties,
    )
    snapshots = {
        "ldap": Snapshot(
            "ldap",
            ldap_accounts or LDAP_ACCOUNTS,
            frozenset(),
            settings={"pwdMinLength": "8", "pwdInHistory": "5"},
            settings_key=PPOLICY,
        ),
        "keycloak": Snapshot(
            "keycloak",
            KEYCLOAK_ACCOUNTS,
            frozenset(),
            has_sessions=True,
            settings={"length": "12", "upperCase": "1"},
            settings_key="realm",
        ),
    }
    targets = {
        "ldap": PolicyTarget(
            WantedSettings(
                values={"pwdMinLength": "12", "pwdInHistory": "5", "pwdMaxAge": "7776000"},
                unsupported=("classes",),
            )
        ),
        "keycloak": PolicyTarget(WantedSettings(values={"length": "12", "upperCase": "1"})),
    }
    return Prepared(
        config=config,
        mappings=Mappings(positions={}, roles={}, statuses={}, units={}, files={}),
        roster=Roster(ROSTER_FILE, ROSTER_SHA, ROWS),
        targets=targets,
        snapshots=snapshots,
        plan=plan or sample_plan(),
    )


def account_rows(table: list[list[str]]) -> list[dict[str, str]]:
    """The data rows of an HTML table, without the one-cell heading row of each unit."""
    head, *rows = table
    return [dict(zip(head, row, strict=True)) for row in rows if len(row) == len(head)]


def written(report: Any, tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"report.{fmt}"
    write_report(report, fmt, out)
    return out


# --- compliance ---------------------------------------------------------------------------

COMPLIANCE_VI = [
    "STT", "Họ và tên", "Đơn vị", "Tài khoản", "Email", "Hệ thống", "Đổi mật khẩu lần cuối",
    "Tuổi mật khẩu (ngày)", "Tình trạng", "Hạn",
]  # fmt: skip
COMPLIANCE_EN = [
    "No.", "Full name", "Unit", "Account", "Email", "System", "Password last set",
    "Password age (days)", "Status", "Deadline",
]  # fmt: skip


def test_compliance_lists_every_own_password_by_unit(tmp_path: Path) -> None:
    out = written(compliance_report(prepared(), now=NOW), tmp_path, "csv")
    sections = csv_sections(out)
    assert sections[""][0] == ["Báo cáo tuân thủ chính sách mật khẩu"]
    head, *rows = sections["Tình trạng mật khẩu từng tài khoản"]
    assert head == COMPLIANCE_VI
    assert rows == [
        ["1", "Phạm Thị Dung", "Đội Kiểm tra", "dungpt", "dungpt@sotttt.gov.vn", "ldap",
         "01/01/2026", "323", "Đã yêu cầu đổi, chờ người dùng", "01/11/2026"],
        ["2", "Hoàng Văn Em", "Phòng Tài chính", "emhv", "emhv@sotttt.gov.vn", "ldap",
         "01/09/2026", "80", "Đạt", "30/11/2026"],
        ["3", "Trần Thị Bình", "Phòng Tài chính", "binhtt", "binhtt@sotttt.gov.vn", "keycloak",
         "01/02/2026", "292", "Chưa đổi mật khẩu được cấp", "01/11/2026"],
        ["4", "Trần Thị Bình", "Phòng Tài chính", "binhtt", "binhtt@sotttt.gov.vn", "ldap",
         "01/10/2026", "50", "Đạt", "30/12/2026"],
        ["5", "Lê Văn Cường", "Văn phòng", "cuonglv", "cuonglv@sotttt.gov.vn", "ldap",
         "01/05/2026", "203", "Quá hạn đổi mật khẩu", "01/11/2026"],
        ["6", "Nguyễn Văn An", "Văn phòng", "annv", "annv@sotttt.gov.vn", "ldap",
         "10/01/2025", "679", "Chưa đổi mật khẩu được cấp", "01/11/2026"],
        ["7", "", "(không có trong hồ sơ nhân sự)", "kc-guest", "kc-guest@sotttt.gov.vn",
         "keycloak", "02/11/2026", "18", "Đạt", "31/01/2027"],
        ["8", "Người dùng cũ", "(không có trong hồ sơ nhân sự)", "olduser",
         "olduser@sotttt.gov.vn", "ldap", "01/03/2024", "994", "Chưa đổi mật khẩu được cấp",
         "01/11/2026"],
        ["9", "Người mới", "(không có trong hồ sơ nhân sự)", "newbie", "newbie@sotttt.gov.vn",
         "ldap", "06/11/2026", "14", "Đạt", "04/02/2027"],
    ]  # fmt: skip
    everything = out.read_text("utf-8-sig")
    for hidden in ("admin-sys", "svc-backup", "gone"):  # protected, protected, locked
        assert hidden not in everything


def test_compliance_summary_by_unit_and_chart(tmp_path: Path) -> None:
    report = compliance_report(prepared(), now=NOW)
    sections = csv_sections(written(report, tmp_path, "csv"))
    assert sections["Tổng hợp theo đơn vị"] == [
        ["Đơn vị", "Số tài khoản", "Đạt", "Chưa đổi mật khẩu được cấp", "Quá hạn đổi mật khẩu",
         "Đã yêu cầu đổi, chờ người dùng", "Tỷ lệ đạt (%)"],
        ["Đội Kiểm tra", "1", "0", "0", "0", "1", "0"],
        ["Phòng Tài chính", "3", "2", "1", "0", "0", "67"],
        ["Văn phòng", "2", "0", "1", "1", "0", "0"],
        ["(không có trong hồ sơ nhân sự)", "3", "2", "1", "0", "0", "67"],
        ["Tổng", "9", "4", "3", "1", "1", "44"],
    ]  # fmt: skip
    by_unit = report.charts[0]
    assert [s.name for s in by_unit.series] == ["Đạt", "Chưa đạt", "Chờ người dùng đổi"]
    assert [(b.label, b.parts) for b in by_unit.bars] == [
        ("Đội Kiểm tra", (0, 0, 1)),
        ("Phòng Tài chính", (2, 1, 0)),
        ("Văn phòng", (0, 2, 0)),
        ("(không có trong hồ sơ nhân sự)", (2, 1, 0)),
    ]
    html = written(report, tmp_path, "html").read_text("utf-8")
    assert "<title>Phòng Tài chính – Chưa đạt: 1</title>" in html
    assert ">Chờ người dùng đổi</text>" in html  # the legend


def test_policy_settings_wanted_against_in_force(tmp_path: Path) -> None:
    sections = csv_sections(written(compliance_report(prepared(), now=NOW), tmp_path, "csv"))
    assert sections["Chính sách mật khẩu trên từng hệ thống: yêu cầu và đang áp dụng"] == [
        ["Hệ thống", "Thiết lập", "Yêu cầu", "Đang áp dụng", "Tình trạng"],
        ["ldap", "pwdInHistory", "5", "5", "Khớp"],
        ["ldap", "pwdMaxAge", "7776000", "(chưa đặt)",
         "Lệch — lần áp dụng tới (syncbot apply) sẽ đặt lại"],
        ["ldap", "pwdMinLength", "12", "8", "Lệch — lần áp dụng tới (syncbot apply) sẽ đặt lại"],
        ["ldap", "(điều khoản chính sách)", "—", "—", UNSUPPORTED_VI],
        ["keycloak", "length", "12", "12", "Khớp"],
        ["keycloak", "upperCase", "1", "1", "Khớp"],
    ]  # fmt: skip


def test_unreadable_settings_are_said_not_guessed(tmp_path: Path) -> None:
    base = prepared()
    blind = dict(base.snapshots)
    blind["keycloak"] = replace(blind["keycloak"], settings=None)
    report = compliance_report(replace(base, snapshots=blind), now=NOW, lang="en")
    rows = by_column(parse_html(written(report, tmp_path, "html")).tables[2])
    keycloak_rows = [r for r in rows if r["System"] == "keycloak"]
    assert [(r["Setting"], r["In force"], r["Status"]) for r in keycloak_rows] == [
        ("length", "(could not be read)", "Differs"),
        ("upperCase", "(could not be read)", "Differs"),
    ]


def test_compliance_header_names_inputs_and_policy(tmp_path: Path) -> None:
    sections = csv_sections(written(compliance_report(prepared(), now=NOW), tmp_path, "csv"))
    facts = dict(row for row in sections[""][1:] if len(row) == 2)
    assert facts["Tệp cấu hình"] == str(CONFIG_FILE)
    assert facts["Thời điểm lập báo cáo"] == "20/11/2026 10:00:00"
    assert facts["Số liệu tính đến ngày"] == "20/11/2026"
    assert facts["Tệp hồ sơ nhân sự"] == ROSTER_FILE
    assert facts["Mã SHA-256 của tệp nhân sự"] == ROSTER_SHA
    assert facts["Số cán bộ trong tệp"] == "5"
    assert facts["Hệ thống đã đọc"] == "ldap, keycloak"
    assert facts["Độ dài mật khẩu tối thiểu"] == "12"
    assert facts["Loại ký tự bắt buộc"] == "chữ hoa, chữ thường, chữ số, ký tự đặc biệt"
    assert facts["Không được trùng tên đăng nhập"] == "có"
    assert facts["Không dùng lại số mật khẩu gần nhất"] == "5"
    assert facts["Thời hạn đổi mật khẩu (ngày)"] == "90"
    assert facts["Xử lý mật khẩu được cấp chưa đổi"] == "buộc đổi ở lần đăng nhập tới"
    assert facts["Xử lý mật khẩu quá hạn"] == "chỉ báo cáo"
    assert facts["Hạn chót tuân thủ"] == "01/11/2026"


def test_compliance_in_english_html_groups_by_unit(tmp_path: Path) -> None:
    page_path = written(compliance_report(prepared(), lang="en", now=NOW), tmp_path, "html")
    page = parse_html(page_path)
    assert page.h1 == "Password compliance report"
    assert page.h2 == [
        "Password status of every account",
        "Summary by unit",
        "Each system's password policy: wanted and in force",
    ]
    assert page.svgs == 2 and page.scripts == 0
    head, *body = page.tables[0]
    assert head == COMPLIANCE_EN
    # A heading row before each unit's accounts, with how many it has.
    headings = [cells[0] for cells in body if len(cells) == 1]
    assert headings == [
        "Đội Kiểm tra (1)", "Phòng Tài chính (3)", "Văn phòng (2)", "(no HR record) (3)",
    ]  # fmt: skip
    rows = account_rows(page.tables[0])
    assert [r["Status"] for r in rows] == [
        "Change required, waiting for the user", "Compliant", "Issued password never changed",
        "Compliant", "Password past its maximum age", "Issued password never changed",
        "Compliant", "Issued password never changed", "Compliant",
    ]  # fmt: skip
    assert rows[4]["Password last set"] == "2026-05-01"
    assert rows[4]["Deadline"] == "2026-11-01"
    text = page_path.read_text("utf-8")
    assert "Compliance deadline" in text and "report only" in text
    assert text.count('<tr class="failed">') == 4  # never changed and past their age


def test_compliance_xlsx_sheets_headings_and_numbers(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(written(compliance_report(prepared(), now=NOW), tmp_path, "xlsx"))
    assert len(book.worksheets) == 3
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "Báo cáo tuân thủ chính sách mật khẩu"
    header_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "STT")
    assert [c.value for c in sheet[header_row]] == COMPLIANCE_VI
    assert sheet.freeze_panes == f"A{header_row + 1}"
    assert sheet.auto_filter.ref == f"A{header_row}:J{header_row + 9}"
    first = [c.value for c in sheet[header_row + 1]]
    assert first == [
        1, "Phạm Thị Dung", "Đội Kiểm tra", "dungpt", "dungpt@sotttt.gov.vn", "ldap",
        "01/01/2026", 323, "Đã yêu cầu đổi, chờ người dùng", "01/11/2026",
    ]  # fmt: skip
    summary = book.worksheets[1]
    assert [c.value for c in summary[summary.max_row]] == ["Tổng", 9, 4, 3, 1, 1, 44]


def test_dates_decide_when_the_plan_says_nothing(tmp_path: Path) -> None:
    """Responses switched off: nothing planned, yet an issued password is not "compliant"."""
    quiet = replace(POLICY, never_changed=Response.OFF, expired=Response.OFF, deadline=None)
    plan = replace(sample_plan(), actions=(), findings=())
    report = compliance_report(prepared(replace(DUTIES, password=quiet), plan), now=NOW)
    assert report.warning is not None and "never_changed" in report.warning
    rows = account_rows(parse_html(written(report, tmp_path, "html")).tables[0])
    standing = {(r["Tài khoản"], r["Hệ thống"]): (r["Tình trạng"], r["Hạn"]) for r in rows}
    assert standing[("annv", "ldap")] == ("Chưa đổi mật khẩu được cấp", "—")
    assert standing[("cuonglv", "ldap")] == ("Quá hạn đổi mật khẩu", "30/07/2026")
    assert standing[("binhtt", "keycloak")] == ("Chưa đổi mật khẩu được cấp", "—")
    assert standing[("dungpt", "ldap")] == ("Đã yêu cầu đổi, chờ người dùng", "—")
    assert standing[("emhv", "ldap")] == ("Đạt", "30/11/2026")


# --- dormant ------------------------------------------------------------------------------

DORMANT_VI = [
    "STT", "Email", "Họ và tên", "Đơn vị", "Tài khoản", "Hệ thống", "Lần đăng nhập cuối",
    "Số ngày không sử dụng", "Sẽ khóa từ ngày",
]  # fmt: skip


def test_dormant_accounts_by_unit_as_the_appendix(tmp_path: Path) -> None:
    report = dormant_report(prepared(), now=NOW)
    sections = csv_sections(written(report, tmp_path, "csv"))
    assert sections[""][0] == ["Báo cáo tài khoản không sử dụng"]
    head, *rows = sections["Danh sách tài khoản không sử dụng, theo đơn vị"]
    assert head == DORMANT_VI
    assert rows == [
        ["1", "binhtt@sotttt.gov.vn", "Trần Thị Bình", "Phòng Tài chính", "binhtt", "ldap",
         "chưa ghi nhận từ 01/01/2025", "688", "20/11/2026"],
        ["2", "cuonglv@sotttt.gov.vn", "Lê Văn Cường", "Văn phòng", "cuonglv", "ldap",
         "01/11/2025", "384", "30/11/2026"],
    ]  # fmt: skip
    assert sections["Tổng hợp theo đơn vị"] == [
        ["Đơn vị", "Số tài khoản không sử dụng", "Khóa ở lần áp dụng tới", "Sẽ khóa sau",
         "Chỉ báo cáo"],
        ["Phòng Tài chính", "1", "1", "0", "0"],
        ["Văn phòng", "1", "0", "1", "0"],
        ["Tổng", "2", "1", "1", "0"],
    ]  # fmt: skip
    facts = dict(row for row in sections[""][1:] if len(row) == 2)
    assert facts["Không sử dụng bao nhiêu ngày thì báo cáo"] == "365"
    assert facts["Ghi nhận đăng nhập từ ngày"] == "01/01/2025"
    assert facts["Khóa sau khi đã không sử dụng thêm (ngày)"] == "30"
    assert facts["Không áp dụng cho cán bộ có trạng thái"] == (
        "tạm nghỉ (nghỉ dài hạn, đi học, thai sản)"
    )
    assert facts["Mã SHA-256 của tệp nhân sự"] == ROSTER_SHA


def test_dormant_html_heading_per_unit_and_english(tmp_path: Path) -> None:
    page = parse_html(written(dormant_report(prepared(), now=NOW), tmp_path, "html"))
    head, *body = page.tables[0]
    assert head == DORMANT_VI
    assert [cells[0] for cells in body] == ["Phòng Tài chính (1)", "1", "Văn phòng (1)", "2"]
    assert page.svgs == 1
    english = parse_html(written(dormant_report(prepared(), lang="en", now=NOW), tmp_path, "html"))
    assert english.h1 == "Dormant accounts report"
    rows = account_rows(english.tables[0])
    assert rows[0]["Last sign-in"] == "none recorded since 2025-01-01"
    assert rows[0]["Days unused"] == "688"
    assert rows[0]["Locked from"] == "2026-11-20"


def test_dormant_xlsx(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(written(dormant_report(prepared(), now=NOW), tmp_path, "xlsx"))
    sheet = book.worksheets[0]
    header_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "STT")
    assert [c.value for c in sheet[header_row]] == DORMANT_VI
    assert [c.value for c in sheet[header_row + 2]] == [
        2, "cuonglv@sotttt.gov.vn", "Lê Văn Cường", "Văn phòng", "cuonglv", "ldap",
        "01/11/2025", 384, "30/11/2026",
    ]  # fmt: skip


def test_dormant_report_only_without_lock_and_nobody_dormant(tmp_path: Path) -> None:
    report_only = replace(DUTIES, dormancy=Dormancy(days=365, recorded_since=date(2025, 1, 1)))
    plan = replace(
        sample_plan(),
        actions=(),
        findings=tuple(f for f in sample_plan().findings if f.kind is FindingKind.DORMANT),
    )
    plan = replace(plan, findings=tuple(replace(f, due=None) for f in plan.findings))
    sections = csv_sections(written(dormant_report(prepared(report_only, plan)), tmp_path, "csv"))
    rows = sections["Danh sách tài khoản không sử dụng, theo đơn vị"][1:]
    assert [r[-1] for r in rows] == ["—", "—"]
    facts = dict(row for row in sections[""][1:] if len(row) == 2)
    assert facts["Khóa sau khi đã không sử dụng thêm (ngày)"] == "không khóa, chỉ báo cáo"
    nobody = dormant_report(prepared(plan=replace(plan, findings=())))
    assert nobody.note == "Không có tài khoản nào không sử dụng quá số ngày quy định."
    assert nobody.tables[0].rows == ()


def test_dormant_needs_the_dormancy_section() -> None:
    with pytest.raises(ConfigError, match=r"\[dormancy\]"):
        dormant_report(prepared(replace(DUTIES, dormancy=None)))


# --- orphans ------------------------------------------------------------------------------


def test_orphans_open_and_locked_with_lock_dates(tmp_path: Path) -> None:
    sections = csv_sections(written(orphans_report(prepared(), now=NOW), tmp_path, "csv"))
    head, *rows = sections["Danh sách tài khoản không có hồ sơ nhân sự"]
    assert head == [
        "STT", "Tài khoản", "Email", "Hệ thống", "Ngày tạo", "Trạng thái", "Sẽ khóa từ ngày",
    ]  # fmt: skip
    assert rows == [
        ["1", "kc-guest", "kc-guest@sotttt.gov.vn", "keycloak", "01/11/2026", "Đang mở",
         "01/12/2026"],
        ["2", "gone", "gone@sotttt.gov.vn", "ldap", "05/05/2023", "Đã khóa", "—"],
        ["3", "newbie", "newbie@sotttt.gov.vn", "ldap", "05/11/2026", "Đang mở", "05/12/2026"],
        ["4", "olduser", "olduser@sotttt.gov.vn", "ldap", "01/03/2024", "Đang mở",
         "20/11/2026"],
    ]  # fmt: skip
    assert sections["Tổng hợp theo hệ thống"] == [
        ["Hệ thống", "Đang mở", "Đã khóa", "Khóa ở lần áp dụng tới", "Tổng"],
        ["keycloak", "1", "0", "0", "1"],
        ["ldap", "2", "1", "1", "3"],
        ["Tổng", "3", "1", "1", "4"],
    ]
    facts = dict(row for row in sections[""][1:] if len(row) == 2)
    assert facts["Khóa tài khoản không có hồ sơ nhân sự"] == "có"
    assert facts["Thời gian chờ trước khi khóa, tính từ ngày tạo (ngày)"] == "30"


def test_orphans_without_lock_policy_in_english(tmp_path: Path) -> None:
    plan = replace(
        sample_plan(),
        actions=(),
        findings=tuple(
            replace(f, due=None) for f in sample_plan().findings if f.kind is FindingKind.ORPHAN
        ),
    )
    report = orphans_report(prepared(replace(DUTIES, orphans=Orphans()), plan), lang="en")
    page = parse_html(written(report, tmp_path, "html"))
    assert page.h1 == "Accounts with no HR record"
    rows = by_column(page.tables[0])
    assert list(rows[0]) == ["No.", "Account", "Email", "System", "Created", "State"]
    assert [(r["Account"], r["State"]) for r in rows] == [
        ("kc-guest", "Open"), ("gone", "Locked"), ("newbie", "Open"), ("olduser", "Open"),
    ]  # fmt: skip
    book = openpyxl.load_workbook(written(report, tmp_path, "xlsx"))
    summary = book.worksheets[1]
    assert [c.value for c in summary[summary.max_row]] == ["Total", 3, 1, 4]


def test_outside_names_stay_text_in_every_format(tmp_path: Path) -> None:
    hostile = ldap('=HYPERLINK("http://x")', None, display_name="<script>alert(1)</script>",
                   created=utc(2026, 11, 1), password_changed=utc(2026, 11, 2))  # fmt: skip
    base = prepared(ldap_accounts=(*LDAP_ACCOUNTS, hostile))
    for build in (compliance_report, orphans_report):
        report = build(base, now=NOW)
        html = written(report, tmp_path, "html").read_text("utf-8")
        assert "<script>" not in html
        cells = csv_sections(written(report, tmp_path, "csv"))
        assert '\'=HYPERLINK("http://x")' in {c for rows in cells.values() for r in rows for c in r}
        sheet = openpyxl.load_workbook(written(report, tmp_path, "xlsx")).worksheets[0]
        values = [c.value for row in sheet.iter_rows() for c in row]
        assert '\'=HYPERLINK("http://x")' in values


def test_every_format_renders_every_report() -> None:
    base = prepared()
    for build in (compliance_report, dormant_report, orphans_report):
        for lang in ("vi", "en"):
            report = build(base, lang=lang, now=NOW)
            assert render(report, "html").startswith(b"<!DOCTYPE html>")
            assert render(report, "csv").startswith(b"\xef\xbb\xbf")
            assert render(report, "xlsx")[:2] == b"PK"


# --- the command --------------------------------------------------------------------------


def cli(monkeypatch: pytest.MonkeyPatch, base: Prepared, *argv: str) -> int:
    from syncbot.cli import report as report_cli
    from syncbot.cli.parser import add_report_parser

    seen: list[date] = []

    def fake_prepare(config: Config, today: date, **_: Any) -> Prepared:
        seen.append(today)
        return base

    monkeypatch.setattr(report_cli, "prepare", fake_prepare)
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    code = report_cli.run(parser.parse_args(["report", *argv]), base.config)
    assert seen in ([], [TODAY])
    return code


def test_command_writes_each_report_with_default_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    base = prepared()
    expected = {
        "compliance": "bao-cao-tuan-thu-mat-khau-2026-11-20.html",
        "dormant": "bao-cao-tai-khoan-khong-su-dung-2026-11-20.html",
        "orphans": "bao-cao-tai-khoan-khong-co-ho-so-2026-11-20.html",
    }
    for kind, name in expected.items():
        assert cli(monkeypatch, base, kind, "--today", "2026-11-20") == 0
        assert capsys.readouterr().out.strip() == name
        assert (tmp_path / name).read_text("utf-8").startswith("<!DOCTYPE html>")
    assert cli(monkeypatch, base, "dormant", "--today", "2026-11-20", "--out", "d.xlsx") == 0
    assert (tmp_path / "d.xlsx").read_bytes()[:2] == b"PK"
    assert cli(monkeypatch, base, "orphans", "--today", "2026-11-20", "--format", "csv",
               "--lang", "en", "--out", "o.txt") == 0  # fmt: skip
    assert (tmp_path / "o.txt").read_text("utf-8-sig").startswith("Accounts with no HR record")


def test_command_refuses_dormant_without_config_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = prepared(replace(DUTIES, dormancy=None))
    with pytest.raises(ConfigError, match=r"\[dormancy\]"):
        cli(monkeypatch, base, "dormant", "--out", str(tmp_path / "d.html"))
    assert not (tmp_path / "d.html").exists()


# --- changes by unit ----------------------------------------------------------------------


def evidence(unit: str) -> dict[str, Any]:
    return {"roster_file": ROSTER, "roster_sha256": "ab" * 32, "row": 9, "unit": unit}


def test_changes_report_sums_changes_by_unit(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with AuditLog(path, run_id=RUN_A, actor=ACTOR, clock=clock) as log:
        clock.now = audit_time(1, 2)
        log.run_started({"forced_past": []})
        change(log, clock, audit_time(1, 2, 1), evidence=evidence("Văn phòng"))
        change(log, clock, audit_time(1, 2, 2), evidence=evidence("Đội Kiểm tra"))
        change(log, clock, audit_time(1, 2, 3), evidence=evidence("Văn phòng"),
               result="failed", error="LDAP: busy")  # fmt: skip
        change(log, clock, audit_time(1, 2, 4), username="olduser", employee_id=None,
               evidence=None)  # fmt: skip
    report = changes_report(path, Period(date(2026, 11, 1), date(2026, 11, 1)))
    sections = csv_sections(written(report, tmp_path, "csv"))
    assert sections["Tổng hợp theo đơn vị"] == [
        ["Đơn vị", "Thành công", "Lỗi", "Tổng"],
        ["Đội Kiểm tra", "1", "0", "1"],
        ["Văn phòng", "1", "1", "2"],
        ["(không theo hồ sơ cán bộ: chính sách, tài khoản không có hồ sơ)", "1", "0", "1"],
        ["Tổng", "3", "1", "4"],
    ]
    chart = report.charts[-1]
    assert chart.title == "Số thay đổi theo đơn vị"
    assert [(b.label, b.value) for b in chart.bars][:2] == [("Đội Kiểm tra", 1), ("Văn phòng", 2)]
    english = changes_report(path, Period(date(2026, 11, 1), date(2026, 11, 1)), lang="en")
    assert "Summary by unit" in [t.title for t in english.tables]
    sheets = openpyxl.load_workbook(written(report, tmp_path, "xlsx")).sheetnames
    assert "Tổng hợp theo đơn vị" in sheets


def test_changes_report_without_units_has_no_unit_summary(tmp_path: Path) -> None:
    """Evidence written before units were recorded: no table of blanks."""
    report = changes_report(
        build_audit_log(tmp_path / "audit.jsonl"), Period(date(2026, 11, 1), date(2026, 11, 2))
    )
    assert "Tổng hợp theo đơn vị" not in [t.title for t in report.tables]
    assert len(report.charts) == 3
