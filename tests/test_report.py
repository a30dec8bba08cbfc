"""`syncbot report changes` read back from every format, on a real audit log."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from syncbot.audit import AuditLog
from syncbot.audit.change import Change
from syncbot.cli.parser import add_report_parser
from syncbot.cli.report import run
from syncbot.errors import ConfigError
from syncbot.report import Period, changes_report

ACTOR = "root@sotttt via syncbot apply"
RUN_A = "a1b2c3d4-20261101T020000Z"
RUN_B = "e5f6a7b8-20261102T163000Z"
RUN_C = "c0ffee99-20261102T173000Z"
RUN_EDGE = "0dd0dd00-20261031T165959Z"
ROSTER = "/srv/hr/drop/nhan-su.csv"
DEPARTED = {
    "vi": "Cán bộ đã nghỉ việc từ ngày 24/10/2026",
    "en": "Staff member departed on 2026-10-24",
}
NEW_ROLE = {"vi": "Chức vụ mới: Văn thư", "en": "New position: Văn thư"}
VI_HEADINGS = [
    "STT",
    "Thời gian",
    "Tài khoản",
    "Mã cán bộ",
    "Hệ thống",
    "Thay đổi",
    "Lý do",
    "Căn cứ",
    "Kết quả",
    "Lần chạy",
]
EN_HEADINGS = [
    "No.",
    "Time",
    "Account",
    "Employee ID",
    "System",
    "Change",
    "Reason",
    "Evidence",
    "Result",
    "Run",
]


class Clock:
    """The time each record is written at, set by the test before each write."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def change(log: AuditLog, clock: Clock, at: datetime, **fields: Any) -> None:
    clock.now = at
    record: dict[str, Any] = {
        "target": "ldap",
        "account": "uid=hattt,ou=people,dc=sotttt,dc=gov,dc=vn",
        "username": "hattt",
        "employee_id": "CB2001",
        "action": "disable",
        "before": {"enabled": True},
        "after": {"enabled": False},
        "reason": DEPARTED,
        "evidence": {"roster_file": ROSTER, "roster_sha256": "ab" * 32, "row": 62},
        "result": "ok",
        "error": None,
    }
    record.update(fields)
    result, error = record.pop("result"), record.pop("error")
    log.change(Change(**record), result=result, error=error)


def utc(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def build_audit_log(path: Path) -> Path:
    """Four runs around 1-2 November 2026 (Vietnam time), one failure, every edge of a day.

    Local (UTC+7) times: RUN_EDGE at 31/10 23:59:59 and 01/11 00:00:00; RUN_A 01/11 09:00;
    RUN_B 02/11 23:30 (the failure, thresholds forced); RUN_C 03/11 00:30.
    """
    clock = Clock()
    with AuditLog(path, run_id=RUN_EDGE, actor=ACTOR, clock=clock) as log:
        clock.now = utc(31, 16, 59, 59, month=10)
        log.run_started({"forced_past": []})
        change(log, clock, utc(31, 16, 59, 59, month=10), username="before", employee_id="CB0001")
        change(log, clock, utc(31, 17, month=10), username="midnight", employee_id="CB0002")
    with AuditLog(path, run_id=RUN_A, actor=ACTOR, clock=clock) as log:
        clock.now = utc(1, 2)
        log.run_started({"roster_file": ROSTER, "forced_past": []})
        change(log, clock, utc(1, 2))
        change(
            log,
            clock,
            utc(1, 2, 0, 1),
            target="keycloak",
            account="0b7f1c2e-uuid",
            action="sign_out",
            before={"sessions": "any"},
            after={"sessions": "ended"},
        )
        change(
            log,
            clock,
            utc(1, 2, 0, 2),
            action="revoke",
            before={"member_of": ["cn=chuyen-vien,ou=groups,dc=sotttt,dc=gov,dc=vn"]},
            after={"member_of": []},
        )
        change(
            log,
            clock,
            utc(1, 2, 0, 3),
            username="lanpt",
            employee_id="CB2002",
            action="grant",
            before={"member_of": []},
            after={"member_of": ["cn=van-thu,ou=groups,dc=sotttt,dc=gov,dc=vn"]},
            reason=NEW_ROLE,
        )
        clock.now = utc(1, 2, 0, 4)
        log.run_finished({"succeeded": 4, "failed": 0})
    with AuditLog(path, run_id=RUN_B, actor="hr-push via syncbot run", clock=clock) as log:
        clock.now = utc(2, 16, 30)
        log.run_started({"forced_past": ["max_disable_percent"]})
        change(
            log,
            clock,
            utc(2, 16, 30, 1),
            username="minhnv",
            employee_id="CB2003",
            action="change_unit",
            before={"member_of": ["cn=phong-ke-hoach,ou=units,dc=sotttt,dc=gov,dc=vn"]},
            after={"member_of": ["cn=van-phong,ou=units,dc=sotttt,dc=gov,dc=vn"]},
        )
        change(
            log,
            clock,
            utc(2, 16, 30, 2),
            username="minhnv",
            employee_id="CB2003",
            action="grant",
            after={"member_of": ["cn=lanh-dao,ou=groups,dc=sotttt,dc=gov,dc=vn"]},
            result="failed",
            error="LDAP: insufficient access",
        )
        clock.now = utc(2, 16, 30, 3)
        log.run_finished({"succeeded": 1, "failed": 1})
    with AuditLog(path, run_id=RUN_C, actor=ACTOR, clock=clock) as log:
        clock.now = utc(2, 17, 30)
        log.run_started({"forced_past": []})
        change(log, clock, utc(2, 17, 30), username="ducla", employee_id="CB2004")
    return path


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return build_audit_log(tmp_path / "audit.jsonl")


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    return run(parser.parse_args(["report", "changes", *argv]), None)


def november(audit_file: Path, out: Path, *more: str) -> int:
    return cli("--file", str(audit_file), "--since", "2026-11-01", "--until", "2026-11-02",
               "--out", str(out), *more)  # fmt: skip


# --- reading the formats back -------------------------------------------------------------


def csv_sections(path: Path) -> dict[str, list[list[str]]]:
    """Table title -> [heading row, data rows...], plus "" -> the lines before any table."""
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 BOM"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    sections: dict[str, list[list[str]]] = {"": []}
    current = ""
    for n, row in enumerate(rows):
        if not row:
            current = rows[n + 1][0]
            sections[current] = []
        elif row != [current] or sections[current]:
            sections[current].append(row)
    return sections


class Page(HTMLParser):
    """The parts of the report page the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.h1 = ""
        self.h2: list[str] = []
        self.svgs = 0
        self.charset = ""
        self.warning = ""
        self.scripts = 0
        self.first_block = ""
        self._stack: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "meta" and attributes.get("charset"):
            self.charset = attributes["charset"] or ""
        if tag == "svg":
            self.svgs += 1
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []
        marker = "warning" if attributes.get("class") == "warning" else tag
        if tag in ("div", "h1") and not self.first_block:
            self.first_block = marker
        self._stack.append(marker)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        if self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif "h1" in self._stack:
            self.h1 += data
        elif "h2" in self._stack:
            self.h2.append(data)
        if "warning" in self._stack:
            self.warning += data


def parse_html(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text("utf-8"))
    return page


def by_column(table: list[list[str]]) -> list[dict[str, str]]:
    head, *rows = table
    return [dict(zip(head, row, strict=True)) for row in rows]


# --- the tests ----------------------------------------------------------------------------


def test_csv_holds_the_changes_in_vietnamese(audit_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert november(audit_file, out) == 0
    sections = csv_sections(out)
    assert sections[""][0] == ["Báo cáo thay đổi tài khoản"]
    facts = dict(row for row in sections[""][1:] if len(row) == 2)
    assert facts["Khoảng thời gian"] == "01/11/2026 – 02/11/2026"
    assert facts["Tệp nhật ký kiểm toán"] == str(audit_file)
    lines = audit_file.read_text("utf-8").splitlines()
    assert facts["Số bản ghi trong nhật ký"] == str(len(lines))
    assert facts["Mã băm bản ghi cuối (còn nguyên vẹn)"] == json.loads(lines[-1])["hash"]
    assert facts["Múi giờ hiển thị"] == "Giờ Việt Nam (UTC+7)"
    head, *rows = sections["Các thay đổi"]
    assert head == VI_HEADINGS
    changes = [dict(zip(head, row, strict=True)) for row in rows]
    assert [c["Tài khoản"] for c in changes] == [
        "midnight", "hattt", "hattt", "hattt", "lanpt", "minhnv", "minhnv",
    ]  # fmt: skip
    first_a = changes[1]
    assert first_a == {
        "STT": "2",
        "Thời gian": "01/11/2026 09:00:00",
        "Tài khoản": "hattt",
        "Mã cán bộ": "CB2001",
        "Hệ thống": "ldap",
        "Thay đổi": "Khóa tài khoản",
        "Lý do": DEPARTED["vi"],
        "Căn cứ": f"{ROSTER}, dòng 62",
        "Kết quả": "Thành công",
        "Lần chạy": RUN_A[:8],
    }
    assert changes[4]["Thay đổi"] == "Cấp vai trò: van-thu"
    assert changes[5]["Thay đổi"] == "Chuyển nhóm đơn vị: phong-ke-hoach → van-phong"
    assert changes[6]["Kết quả"] == "Lỗi: LDAP: insufficient access"
    assert changes[6]["Thời gian"] == "02/11/2026 23:30:02"


def test_summary_tables(audit_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert november(audit_file, out) == 0
    sections = csv_sections(out)
    kinds = sections["Tổng hợp theo loại thay đổi"]
    assert kinds[0] == ["Thay đổi", "Thành công", "Lỗi", "Tổng"]
    assert kinds[1:] == [
        ["Khóa tài khoản", "2", "0", "2"],
        ["Đăng xuất, thu hồi token", "1", "0", "1"],
        ["Thu hồi vai trò / nhóm", "1", "0", "1"],
        ["Chuyển nhóm đơn vị", "1", "0", "1"],
        ["Cấp vai trò", "1", "1", "2"],
        ["Tổng", "6", "1", "7"],
    ]
    days = sections["Tổng hợp theo ngày"]
    assert days[1:] == [
        ["01/11/2026", "5", "0", "5"],
        ["02/11/2026", "1", "1", "2"],
        ["Tổng", "6", "1", "7"],
    ]
    runs = sections["Các lần chạy"]
    assert runs[0] == [
        "Lần chạy", "Bắt đầu", "Người chạy", "Thành công", "Lỗi", "Vượt ngưỡng an toàn (--force)",
    ]  # fmt: skip
    assert runs[1:] == [
        [RUN_EDGE, "01/11/2026 00:00:00", ACTOR, "1", "0", "—"],
        [RUN_A, "01/11/2026 09:00:00", ACTOR, "4", "0", "—"],
        [RUN_B, "02/11/2026 23:30:00", "hr-push via syncbot run", "1", "1", "max_disable_percent"],
    ]


def test_period_is_whole_days_in_vietnam_time(audit_file: Path) -> None:
    def accounts(since: date, until: date) -> list[Any]:
        report = changes_report(audit_file, Period(since, until))
        return [row[2] for row in report.tables[0].rows]

    # 23:59:59 on 31/10 local is 16:59:59 UTC; 00:00:00 on 01/11 local is 17:00 UTC on 31/10.
    assert accounts(date(2026, 10, 31), date(2026, 10, 31)) == ["before"]
    assert accounts(date(2026, 11, 1), date(2026, 11, 1))[0] == "midnight"
    # 23:30 on 02/11 is in; 00:30 on 03/11 (still 02/11 in UTC) is not.
    assert accounts(date(2026, 11, 2), date(2026, 11, 2)) == ["minhnv", "minhnv"]
    assert accounts(date(2026, 11, 3), date(2026, 11, 3)) == ["ducla"]
    assert len(accounts(date(2026, 10, 1), date(2026, 11, 30))) == 9


def test_xlsx_has_one_sheet_per_table(audit_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    assert november(audit_file, out) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [
        "Các thay đổi",
        "Tổng hợp theo loại thay đổi",
        "Tổng hợp theo ngày",
        "Các lần chạy",
    ]
    sheet = book["Các thay đổi"]
    assert sheet["A1"].value == "Báo cáo thay đổi tài khoản"
    assert sheet["A1"].font.bold
    header_row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "STT")
    assert [c.value for c in sheet[header_row]] == VI_HEADINGS
    assert all(c.font.bold for c in sheet[header_row])
    assert sheet.freeze_panes == f"A{header_row + 1}"
    assert sheet.column_dimensions["G"].width == 50
    data = [[c.value for c in row] for row in sheet.iter_rows(min_row=header_row + 1)]
    assert len(data) == 7
    assert data[1][:6] == [2, "01/11/2026 09:00:00", "hattt", "CB2001", "ldap", "Khóa tài khoản"]
    assert data[6][8] == "Lỗi: LDAP: insufficient access"
    total = [c.value for c in book["Tổng hợp theo ngày"][book["Tổng hợp theo ngày"].max_row]]
    assert total == ["Tổng", 6, 1, 7]


def test_html_page_has_tables_charts_and_header(audit_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert november(audit_file, out) == 0
    page = parse_html(out)
    assert page.charset == "utf-8"
    assert page.h1 == "Báo cáo thay đổi tài khoản"
    assert page.h2 == [
        "Các thay đổi",
        "Tổng hợp theo loại thay đổi",
        "Tổng hợp theo ngày",
        "Các lần chạy",
    ]
    assert page.svgs == 3
    assert page.scripts == 0
    assert page.warning == ""
    changes = by_column(page.tables[0])
    assert list(changes[0]) == VI_HEADINGS
    assert len(changes) == 7
    assert changes[6]["Kết quả"] == "Lỗi: LDAP: insufficient access"
    text = out.read_text("utf-8")
    assert str(audit_file) in text
    assert json.loads(audit_file.read_text("utf-8").splitlines()[-1])["hash"] in text
    assert "Giờ Việt Nam (UTC+7)" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    # The per-day chart has one column slot per day of the range, with a hover title.
    assert "<title>01/11/2026: 5</title>" in text
    assert "<title>02/11/2026: 2</title>" in text
    assert '<tr class="failed">' in text


def test_english_on_request(audit_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert november(audit_file, out, "--lang", "en") == 0
    page = parse_html(out)
    assert page.h1 == "Account changes report"
    changes = by_column(page.tables[0])
    assert list(changes[0]) == EN_HEADINGS
    assert changes[1]["Time"] == "2026-11-01 09:00:00"
    assert changes[1]["Change"] == "Disable account"
    assert changes[1]["Reason"] == DEPARTED["en"]
    assert changes[1]["Evidence"] == f"{ROSTER}, row 62"
    assert changes[1]["Result"] == "OK"
    assert changes[6]["Result"] == "Failed: LDAP: insufficient access"
    assert "2026-11-01 – 2026-11-02" in out.read_text("utf-8")


def tamper(path: Path, line: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(b"CB2001", b"CB9999")
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize("suffix", ["html", "csv", "xlsx"])
def test_broken_chain_still_reports_with_warning_and_exit_9(
    audit_file: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(audit_file, 6)  # RUN_A's first change
    out = tmp_path / f"r.{suffix}"
    assert november(audit_file, out) == 9
    warning = "Nhật ký kiểm toán bị sửa đổi từ dòng 6 — số liệu có thể không đầy đủ"
    assert warning in capsys.readouterr().err
    if suffix == "html":
        assert "<dd>15</dd>" in out.read_text("utf-8")  # every line counted, not the first 6
        page = parse_html(out)
        assert page.first_block == "warning"
        assert warning in page.warning
        assert len(page.tables[0]) == 8  # the report is still whole: heading and 7 changes
    elif suffix == "csv":
        assert warning in csv_sections(out)[""][1][0]
    else:
        for sheet in openpyxl.load_workbook(out).worksheets:
            assert warning in str(sheet["A2"].value)
            assert sheet["A2"].font.bold


def test_cut_off_tail_is_caught_through_the_anchor(audit_file: Path) -> None:
    lines = audit_file.read_text("utf-8").splitlines(keepends=True)
    last = json.loads(lines[-1])
    audit_file.write_text("".join(lines[:-1]), "utf-8")
    report = changes_report(
        audit_file, Period(date(2026, 11, 1), date(2026, 11, 2)), anchor=(last["seq"], last["hash"])
    )
    assert not report.intact
    assert report.warning is not None and f"từ dòng {last['seq']}" in report.warning


def test_empty_range_says_so(audit_file: Path, tmp_path: Path) -> None:
    for suffix in ("html", "csv", "xlsx"):
        out = tmp_path / f"empty.{suffix}"
        assert cli("--file", str(audit_file), "--since", "2026-12-01", "--until", "2026-12-31",
                   "--out", str(out)) == 0  # fmt: skip
    page = parse_html(tmp_path / "empty.html")
    assert "Không có thay đổi nào trong khoảng thời gian này." in (
        tmp_path / "empty.html"
    ).read_text("utf-8")
    assert page.tables[0] == [VI_HEADINGS, ["—"]]
    assert page.svgs == 3
    sections = csv_sections(tmp_path / "empty.csv")
    assert sections["Các thay đổi"] == [VI_HEADINGS]
    assert sections["Tổng hợp theo loại thay đổi"][1:] == [["Tổng", "0", "0", "0"]]
    sheet = openpyxl.load_workbook(tmp_path / "empty.xlsx")["Các thay đổi"]
    assert sheet.cell(sheet.max_row, 1).value == "STT"


def test_default_name_and_format(
    audit_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert cli("--file", str(audit_file), "--since", "2026-11-01", "--until", "2026-11-02") == 0
    written = Path(capsys.readouterr().out.strip())
    assert written == Path("bao-cao-thay-doi-2026-11-01-2026-11-02.html")
    assert (tmp_path / written).read_text("utf-8").startswith("<!DOCTYPE html>")
    assert cli("--file", str(audit_file), "--since", "2026-11-01", "--until", "2026-11-02",
               "--format", "csv") == 0  # fmt: skip
    assert (tmp_path / "bao-cao-thay-doi-2026-11-01-2026-11-02.csv").read_bytes()[:3] == (
        b"\xef\xbb\xbf"
    )
    assert cli("--file", str(audit_file), "--since", "2026-11-01", "--until", "2026-11-02",
               "--out", "x.xlsx") == 0  # fmt: skip
    assert (tmp_path / "x.xlsx").read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_reversed_period_is_a_usage_error(audit_file: Path, tmp_path: Path) -> None:
    code = cli("--file", str(audit_file), "--since", "2026-11-02", "--until", "2026-11-01",
               "--out", str(tmp_path / "r.html"))  # fmt: skip
    assert code == 2
    assert not (tmp_path / "r.html").exists()


def test_missing_log_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no audit log"):
        changes_report(tmp_path / "nope.jsonl", Period(date(2026, 11, 1), date(2026, 11, 2)))


def test_outside_text_cannot_become_markup_or_formulas(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    with AuditLog(path, run_id=RUN_A, actor=ACTOR, clock=clock) as log:
        change(log, clock, utc(1, 3), username="=HYPERLINK(\"http://x\")",
               error="<script>alert(1)</script>", result="failed")  # fmt: skip
    for suffix in ("html", "csv", "xlsx"):
        assert november(path, tmp_path / f"r.{suffix}") == 0
    html = (tmp_path / "r.html").read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    rows = csv_sections(tmp_path / "r.csv")["Các thay đổi"]
    assert rows[1][2] == '\'=HYPERLINK("http://x")'
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["Các thay đổi"]
    cell = sheet.cell(sheet.max_row, 3)
    assert cell.data_type == "s" and cell.value == '\'=HYPERLINK("http://x")'
