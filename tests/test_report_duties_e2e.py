"""End to end: `python -m syncbot report compliance|dormant|orphans` against a real slapd.

The sample department is loaded online (so ppolicy stamps every password with the time the
account was made: nobody has changed the password they were issued), one person signs in,
and the reports are read back: a dormant account with its unit, never-changed passwords,
the directory's own policy, and the account HR does not know.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from localdev import probes
from localdev.demo import REPO_MAPPINGS, write_config
from localdev.sample import SAMPLE_PASSWORD, directory_ldif, people, roster_csv
from localdev.slapd import SlapdServer
from syncbot.report.period import local

pytestmark = pytest.mark.slapd
REPO = Path(__file__).resolve().parent.parent
TODAY = date.today()
LATER = TODAY + timedelta(days=45)  # what-if: a month and a half with no sign-in
RECORDED_SINCE = TODAY - timedelta(days=400)
PEOPLE = {p.employee_id: p for p in people(TODAY)}
SIGNED_IN = PEOPLE["CB2006"]  # Bùi Quang Sơn, Văn phòng
IDLE = PEOPLE["CB1001"]  # Phòng Tổ chức cán bộ, never signs in
LOCKED = PEOPLE["CB2011"]  # locked by an administrator: has no password anyone can use
ORPHAN = PEOPLE["CB0999"]  # an account of someone long gone, missing from the roster


def duties() -> str:
    """write_config already names the LDAP policy entry the password policy is set on."""
    return f"""
[password_policy]
min_length = 12
history = 5
max_age_days = 90
never_changed = "report"

[dormancy]
days = 30
recorded_since = {RECORDED_SINCE.isoformat()}
disable_after_days = 60
"""


@pytest.fixture
def department(slapd_server: SlapdServer, tmp_path: Path) -> Iterator[Path]:
    """The sample directory and roster with the duties configured; yields the config path."""
    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.restore_default_policy()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    (tmp_path / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    yield write_config(tmp_path, slapd_server, REPO_MAPPINGS, duties())


def syncbot(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # Run from the report's folder (relative --out), importing this checkout of syncbot.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "SYNCBOT_LOG_FORMAT": "json", "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "syncbot", "--config", str(config), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=config.parent,
    )


def report(config: Path, kind: str, out: str, *more: str) -> Path:
    done = syncbot(config, "report", kind, "--out", out, *more)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-3000:]}"
    path = config.parent / out
    # The path typed is relative to where syncbot ran; it prints where the file landed.
    assert done.stdout.strip() == str(path.resolve())
    return path


def table(path: Path, title: str) -> list[dict[str, str]]:
    """The rows of one table of a CSV report, by heading."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    start = rows.index([title])
    head = rows[start + 1]
    body = []
    for row in rows[start + 2 :]:
        if not row:
            break
        body.append(dict(zip(head, row, strict=True)))
    return body


def facts(path: Path) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    return {row[0]: row[1] for row in rows[: rows.index([])] if len(row) == 2}


def sign_in(server: SlapdServer, uid: str) -> None:
    dn = f"uid={uid},{server.people_base}"
    assert probes.can_bind(server.url, dn, SAMPLE_PASSWORD), f"{uid} cannot sign in"


def test_dormant_account_is_reported_with_its_unit(
    department: Path, slapd_server: SlapdServer
) -> None:
    sign_in(slapd_server, SIGNED_IN.uid)
    signed_in_on = local(datetime.now(UTC)).date()
    created_on = datetime.now(UTC).date()  # the planner counts from the UTC day
    out = report(department, "dormant", "dormant.csv", "--format", "csv", "--today", str(LATER))
    rows = {r["Tài khoản"]: r for r in table(out, "Danh sách tài khoản không sử dụng, theo đơn vị")}
    sonbq = rows[SIGNED_IN.uid]
    assert sonbq["Đơn vị"] == "Văn phòng" == SIGNED_IN.unit
    assert sonbq["Họ và tên"] == SIGNED_IN.full_name
    assert sonbq["Email"] == SIGNED_IN.email
    assert sonbq["Hệ thống"] == "ldap"
    assert sonbq["Lần đăng nhập cuối"] == signed_in_on.strftime("%d/%m/%Y")
    idle = rows[IDLE.uid]
    assert idle["Đơn vị"] == "Phòng Tổ chức cán bộ"
    assert idle["Lần đăng nhập cuối"] == f"chưa ghi nhận từ {created_on:%d/%m/%Y}"
    assert idle["Số ngày không sử dụng"] == str((LATER - created_on).days)
    assert idle["Sẽ khóa từ ngày"] == f"{created_on + timedelta(days=90):%d/%m/%Y}"
    # Units are contiguous, in order, and every listed person's unit is the roster's.
    units = [r["Đơn vị"] for r in rows.values()]
    assert units == sorted(units, key=units.index)
    for uid, row in rows.items():
        person = next((p for p in PEOPLE.values() if p.uid == uid), None)
        if person is not None and person.in_roster:
            assert row["Đơn vị"] == person.unit, uid
    assert "admin-sys" not in rows and "breakglass" not in rows and "svc-qoffice" not in rows
    assert LOCKED.uid not in rows  # locked by an administrator: not in use, not "dormant"
    summary = table(out, "Tổng hợp theo đơn vị")
    assert summary[-1]["Đơn vị"] == "Tổng"
    assert summary[-1]["Số tài khoản không sử dụng"] == str(len(rows))
    assert facts(out)["Số liệu tính đến ngày"] == f"{LATER:%d/%m/%Y}"
    # Today nobody has been idle for 30 days: the same command lists nobody.
    today = report(department, "dormant", "today.csv")
    assert table(today, "Danh sách tài khoản không sử dụng, theo đơn vị") == []


def test_never_changed_passwords_and_the_directory_policy(department: Path) -> None:
    out = report(department, "compliance", "compliance.csv")
    rows = {
        (r["Tài khoản"], r["Hệ thống"]): r for r in table(out, "Tình trạng mật khẩu từng tài khoản")
    }
    sonbq = rows[(SIGNED_IN.uid, "ldap")]
    assert sonbq["Tình trạng"] == "Chưa đổi mật khẩu được cấp"
    assert sonbq["Đơn vị"] == SIGNED_IN.unit
    assert sonbq["Họ và tên"] == SIGNED_IN.full_name
    assert sonbq["Tuổi mật khẩu (ngày)"] in ("0", "1")  # set today (UTC+7 may be tomorrow)
    assert sonbq["Hạn"] == "—"  # no deadline configured: reported, not forced
    assert (LOCKED.uid, "ldap") not in rows
    assert not any(uid in ("admin-sys", "breakglass", "svc-qoffice") for uid, _ in rows)
    orphan = rows[(ORPHAN.uid, "ldap")]
    assert orphan["Đơn vị"] == "(không có trong hồ sơ nhân sự)"
    settings = {r["Thiết lập"]: r for r in table(out, _SETTINGS_VI) if r["Hệ thống"] == "ldap"}
    assert settings["pwdMinLength"]["Yêu cầu"] == "12"
    assert settings["pwdInHistory"]["Yêu cầu"] == "5"
    assert settings["pwdMaxAge"]["Yêu cầu"] == str(90 * 86400)
    header = facts(out)
    assert header["Độ dài mật khẩu tối thiểu"] == "12"
    assert header["Xử lý mật khẩu được cấp chưa đổi"] == "chỉ báo cáo"
    assert len(header["Mã SHA-256 của tệp nhân sự"]) == 64

    english = report(department, "compliance", "compliance.xlsx", "--lang", "en")
    sheet = openpyxl.load_workbook(english).worksheets[0]
    header_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "No.")
    head = [c.value for c in sheet[header_row]]
    assert head[:4] == ["No.", "Full name", "Unit", "Account"]
    data = [dict(zip(head, (c.value for c in row), strict=True))
            for row in sheet.iter_rows(min_row=header_row + 1)]  # fmt: skip
    mine = next(r for r in data if r["Account"] == SIGNED_IN.uid)
    assert mine["Status"] == "Issued password never changed"


_SETTINGS_VI = "Chính sách mật khẩu trên từng hệ thống: yêu cầu và đang áp dụng"


def test_orphans_report_lists_the_account_nobody_owns(department: Path) -> None:
    out = report(department, "orphans", "orphans.html")
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")
    csv_out = report(department, "orphans", "orphans.csv")
    rows = {r["Tài khoản"]: r for r in table(csv_out, "Danh sách tài khoản không có hồ sơ nhân sự")}
    assert rows[ORPHAN.uid]["Trạng thái"] == "Đang mở"
    assert rows[ORPHAN.uid]["Email"] == ORPHAN.email
    assert "Sẽ khóa từ ngày" not in rows[ORPHAN.uid]  # locking orphans is off
    assert "admin-sys" not in rows and "svc-qoffice" not in rows
    assert SIGNED_IN.uid not in rows


def test_dormant_report_without_dormancy_is_a_config_error(
    department: Path, slapd_server: SlapdServer
) -> None:
    text = department.read_text("utf-8")
    department.write_text(text[: text.index("[dormancy]")], "utf-8")
    done = syncbot(department, "report", "dormant", "--out", "x.html")
    assert done.returncode == 3, done.stderr
    assert "[dormancy]" in done.stderr
    assert not (department.parent / "x.html").exists()
