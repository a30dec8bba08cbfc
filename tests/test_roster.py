"""The HR export reader: formats, encodings, header names, and every kind of roster problem."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from syncbot.errors import ConfigError, RosterError, RosterProblem
from syncbot.match_keys import fold
from syncbot.model import Roster, RosterRow, Status, Vocabulary
from syncbot.roster import CANONICAL_FIELDS, REQUIRED_FIELDS, load_roster
from syncbot.roster.dates import DateProblem, parse_date

VOCAB = Vocabulary(
    statuses={
        fold("Đang công tác"): Status.ACTIVE,
        fold("active"): Status.ACTIVE,
        fold("Nghỉ việc"): Status.DEPARTED,
        fold("Thôi việc"): Status.DEPARTED,
        fold("Nghỉ hưu"): Status.DEPARTED,
        fold("Chuyển công tác"): Status.TRANSFERRED,
    },
    roles={fold(r): r for r in ("Văn thư", "Chuyên viên", "Lãnh đạo", "Quản trị")},
)

VI_HEADER = [
    "Mã cán bộ",
    "Họ và tên",
    "Email",
    "Đơn vị",
    "Chức vụ",
    "Trạng thái",
    "Ngày hiệu lực",
    "Tên đăng nhập",
    "Vai trò",
]
EN_HEADER = list(CANONICAL_FIELDS)

ACTIVE = ["1001", "Nguyễn Văn An", "An.NV@Tinh.Gov.VN", "Phòng Tổ chức", "Chuyên viên"]
ACTIVE += ["Đang công tác", "", "annv", "Chuyên viên"]
DEPARTED = ["1002", "Trần Thị Bình", "", "Văn phòng", "Chánh văn phòng"]
DEPARTED += ["Nghỉ hưu", "05/01/2026", "", ""]
TRANSFERRED = ["1003", "Lê Hoàng Cường", "cuong@tinh.gov.vn", "Thanh tra", ""]
TRANSFERRED += ["Chuyển công tác", "2026-02-01", "", "lãnh đạo"]
GOOD_ROWS = [ACTIVE, DEPARTED, TRANSFERRED]


def csv_text(header: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_csv(
    tmp_path: Path,
    rows: Sequence[Sequence[str]] = GOOD_ROWS,
    *,
    header: Sequence[str] = VI_HEADER,
    delimiter: str = ",",
    encoding: str = "utf-8",
    name: str = "nhan_su.csv",
) -> Path:
    path = tmp_path / name
    path.write_bytes(csv_text(header, rows, delimiter).encode(encoding))
    return path


def write_xlsx(
    tmp_path: Path,
    sheets: Mapping[str, Sequence[Sequence[object]]],
    name: str = "nhan_su.xlsx",
) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        worksheet = workbook.create_sheet(title)
        for row_number, row in enumerate(rows, start=1):
            for column_number, value in enumerate(row, start=1):
                if value is not None:
                    worksheet.cell(row=row_number, column=column_number, value=value)
    path = tmp_path / name
    workbook.save(path)
    return path


def write_json(tmp_path: Path, document: object, name: str = "nhan_su.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def problems_of(path: Path, **options: object) -> list[RosterProblem]:
    with pytest.raises(RosterError) as caught:
        load_roster(path, VOCAB, **options)  # type: ignore[arg-type]
    return caught.value.problems


def only_problem(path: Path, **options: object) -> RosterProblem:
    problems = problems_of(path, **options)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def assert_good_rows(roster: Roster) -> None:
    """The three rows of GOOD_ROWS, read back field by field."""
    active, departed, transferred = roster.rows
    assert active.row == 2
    assert active.employee_id == "1001"
    assert active.full_name == "Nguyễn Văn An"
    assert active.email == "an.nv@tinh.gov.vn"
    assert active.unit == "Phòng Tổ chức"
    assert active.position == "Chuyên viên"
    assert active.status is Status.ACTIVE
    assert active.status_word == "Đang công tác"
    assert active.effective_date is None
    assert active.username == "annv"
    assert active.role == "Chuyên viên"

    assert departed.row == 3
    assert departed.email is None
    assert departed.status is Status.DEPARTED
    assert departed.status_word == "Nghỉ hưu"
    assert departed.effective_date == date(2026, 1, 5)
    assert departed.username is None
    assert departed.role is None

    assert transferred.row == 4
    assert transferred.status is Status.TRANSFERRED
    assert transferred.effective_date == date(2026, 2, 1)
    assert transferred.position == ""
    assert transferred.role == "Lãnh đạo"


# --- the public constants ---------------------------------------------------------------


def test_required_fields_are_the_canonical_fields_without_username_and_role() -> None:
    assert set(CANONICAL_FIELDS) - set(REQUIRED_FIELDS) == {"username", "role"}
    assert REQUIRED_FIELDS == (
        "employee_id",
        "full_name",
        "email",
        "unit",
        "position",
        "status",
        "effective_date",
    )


# --- CSV: headers, encodings, delimiters --------------------------------------------------


def test_vietnamese_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    roster = load_roster(path, VOCAB)
    assert roster.path == str(path)
    assert_good_rows(roster)


def test_english_headers(tmp_path: Path) -> None:
    assert_good_rows(load_roster(write_csv(tmp_path, header=EN_HEADER), VOCAB))


def test_alternative_vietnamese_header_names_ignoring_case_and_spaces(tmp_path: Path) -> None:
    header = ["MÃ  CBCC", "Họ tên", "Thư điện tử", "Phòng ban", "chức danh", "TRẠNG THÁI"]
    header += ["Ngày có hiệu lực", "Tài khoản", "vai trò"]
    assert_good_rows(load_roster(write_csv(tmp_path, header=header), VOCAB))


def test_configured_header_names_are_added_to_the_defaults(tmp_path: Path) -> None:
    header = ["Số hiệu CC", "Họ và tên", "Hộp thư công vụ", "Đơn vị", "Chức vụ", "Trạng thái"]
    header += ["Ngày hiệu lực", "Tên đăng nhập", "Vai trò"]
    path = write_csv(tmp_path, header=header)
    roster = load_roster(
        path, VOCAB, headers={"employee_id": "Số hiệu CC", "email": ["Hộp thư công vụ", "Mail"]}
    )
    assert_good_rows(roster)


def test_configured_header_name_wins_over_a_default_of_another_field(tmp_path: Path) -> None:
    header = ["Mã cán bộ", "Họ và tên", "Tài khoản", "Đơn vị", "Chức vụ", "Trạng thái"]
    header += ["Ngày hiệu lực"]
    rows = [["7", "Phạm Minh Đức", "duc@tinh.gov.vn", "Sở Nội vụ", "", "active", ""]]
    roster = load_roster(
        write_csv(tmp_path, rows, header=header), VOCAB, headers={"email": "Tài khoản"}
    )
    assert roster.rows[0].email == "duc@tinh.gov.vn"
    assert roster.rows[0].username is None


def test_configured_headers_for_an_unknown_field_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="phone"):
        load_roster(write_csv(tmp_path), VOCAB, headers={"phone": "Điện thoại"})


def test_one_header_configured_for_two_fields_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both 'employee_id' and 'username'"):
        load_roster(write_csv(tmp_path), VOCAB, headers={"employee_id": "Mã", "username": ["mã "]})


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, delimiter: str) -> None:
    rows = [*GOOD_ROWS[:1], ["1002", "Trần, Thị; Bình", *DEPARTED[2:]], GOOD_ROWS[2]]
    roster = load_roster(write_csv(tmp_path, rows, delimiter=delimiter), VOCAB)
    assert [r.employee_id for r in roster.rows] == ["1001", "1002", "1003"]
    assert roster.rows[1].full_name == "Trần, Thị; Bình"


def test_explicit_delimiter(tmp_path: Path) -> None:
    path = write_csv(tmp_path, delimiter="|")
    assert_good_rows(load_roster(path, VOCAB, delimiter="|"))


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_encodings_detected_automatically(tmp_path: Path, encoding: str, bom: bytes) -> None:
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(bom + csv_text(VI_HEADER, GOOD_ROWS).encode(encoding))
    assert_good_rows(load_roster(path, VOCAB))


def test_excel_unicode_text_is_utf16_le_with_bom_and_tabs(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.txt"
    path.write_bytes(b"\xff\xfe" + csv_text(VI_HEADER, GOOD_ROWS, "\t").encode("utf-16-le"))
    assert_good_rows(load_roster(path, VOCAB))


def test_explicit_legacy_encoding(tmp_path: Path) -> None:
    path = write_csv(tmp_path, header=EN_HEADER, encoding="utf-16-le")
    assert_good_rows(load_roster(path, VOCAB, encoding="utf-16-le"))


def test_a_nul_in_one_cell_is_named_by_row_and_column(tmp_path: Path) -> None:
    rows = [list(r) for r in GOOD_ROWS]
    rows[1][1] = "Trần Thị\x00 Bình"
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (3, "Họ và tên")
    assert "control character" in problem.message


def test_utf16_without_a_bom_is_explained_for_the_whole_file(tmp_path: Path) -> None:
    # Plain ASCII, so the bytes are valid UTF-8 and only the NULs give it away.
    ascii_rows = [["1001", "Nguyen Van An", "an@tinh.gov.vn", "Van phong", "Chuyen vien"]]
    ascii_rows[0] += ["active", "", "annv", ""]
    path = write_csv(tmp_path, ascii_rows, header=EN_HEADER, encoding="utf-16-le")
    problem = only_problem(path)
    assert (problem.row, problem.column) == (None, None)
    assert "UTF-16 without a BOM" in problem.message


def test_decomposed_vietnamese_reads_the_same_as_composed(tmp_path: Path) -> None:
    def nfd(cells: Sequence[str]) -> list[str]:
        return [unicodedata.normalize("NFD", c) for c in cells]

    composed = load_roster(write_csv(tmp_path, name="nfc.csv"), VOCAB)
    decomposed_path = write_csv(
        tmp_path, [nfd(r) for r in GOOD_ROWS], header=nfd(VI_HEADER), name="nfd.csv"
    )
    decomposed = load_roster(decomposed_path, VOCAB)
    assert decomposed.rows == composed.rows
    assert decomposed.rows[0].full_name == unicodedata.normalize("NFC", "Nguyễn Văn An")
    assert unicodedata.is_normalized("NFC", decomposed.rows[1].status_word)


def test_quoted_cell_with_newline_counts_as_one_row(tmp_path: Path) -> None:
    rows = [[*ACTIVE[:3], "Phòng Tổ chức\nBộ phận Một cửa", *ACTIVE[4:]], DEPARTED]
    path = write_csv(tmp_path, rows)
    assert path.read_text(encoding="utf-8").count("\n") == 4  # header, 2 lines, 1 line
    roster = load_roster(path, VOCAB)
    assert roster.rows[0].unit == "Phòng Tổ chức\nBộ phận Một cửa"
    assert [r.row for r in roster.rows] == [2, 3]


def test_values_are_trimmed_and_blank_rows_skipped(tmp_path: Path) -> None:
    rows = [
        [
            "  1001 ",
            " Nguyễn Văn An ",
            " An@Tinh.Gov.VN ",
            " Phòng Tổ chức",
            "",
            " đang  CÔNG tác ",
        ],
        ["", "", "", "", "", "", ""],
        ["  ", "", "\t", "", "", "", ""],
        ["1002", "Trần Thị Bình", "", "Văn phòng", "", "Nghỉ việc", "1/2/2026"],
    ]
    roster = load_roster(write_csv(tmp_path, rows, header=VI_HEADER[:7]), VOCAB)
    first, second = roster.rows
    assert (first.employee_id, first.full_name, first.email) == (
        "1001",
        "Nguyễn Văn An",
        "an@tinh.gov.vn",
    )
    assert first.status_word == "đang  CÔNG tác"
    assert first.status is Status.ACTIVE
    assert second.row == 5
    assert second.effective_date == date(2026, 2, 1)


def test_unknown_columns_are_ignored(tmp_path: Path) -> None:
    header = ["STT", *VI_HEADER, "Ghi chú"]
    rows = [[str(i), *row, "ghi chú"] for i, row in enumerate(GOOD_ROWS, start=1)]
    assert_good_rows(load_roster(write_csv(tmp_path, rows, header=header), VOCAB))


def test_title_lines_above_the_header(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.csv"
    title = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\r\nDANH SÁCH CÁN BỘ\r\n\r\n"
    path.write_text(title + csv_text(VI_HEADER, GOOD_ROWS, ";"), encoding="utf-8")
    roster = load_roster(path, VOCAB)
    assert [r.row for r in roster.rows] == [5, 6, 7]
    assert roster.rows[2].role == "Lãnh đạo"


def test_excel_formula_error_is_a_problem_not_a_value(tmp_path: Path) -> None:
    rows = [[*ACTIVE[:3], "#N/A", *ACTIVE[4:]]]
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (2, "Đơn vị")
    assert "#N/A" in problem.message


def test_header_only_is_an_empty_roster(tmp_path: Path) -> None:
    roster = load_roster(write_csv(tmp_path, []), VOCAB)
    assert roster.rows == ()


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    roster = load_roster(path, VOCAB)
    assert roster.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# --- XLSX -----------------------------------------------------------------------------------


def test_xlsx_first_sheet_with_date_cells_and_numeric_ids(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        {
            "Danh sách": [
                ["DANH SÁCH CÁN BỘ"],  # a title above the header, as HR files have
                [],
                VI_HEADER,
                [
                    1001,
                    "Nguyễn Văn An",
                    "an@tinh.gov.vn",
                    "Phòng Tổ chức",
                    "Chuyên viên",
                    "Đang công tác",
                    None,
                    None,
                    None,
                ],
                [],
                [
                    1002.0,
                    "Trần Thị Bình",
                    None,
                    "Văn phòng",
                    None,
                    "Nghỉ hưu",
                    datetime(2026, 1, 5),
                    None,
                    "Văn thư",
                ],
                [
                    "1003",
                    "Lê Hoàng Cường",
                    None,
                    "Thanh tra",
                    None,
                    "Chuyển công tác",
                    date(2026, 2, 1),
                ],
                ["1004", "Đỗ Thu Hà", None, "Thanh tra", None, "Thôi việc", "15/03/2026"],
            ],
            "Khác": [["not", "this"]],
        },
    )
    roster = load_roster(path, VOCAB)
    assert [r.employee_id for r in roster.rows] == ["1001", "1002", "1003", "1004"]
    assert [r.row for r in roster.rows] == [4, 6, 7, 8]
    assert [r.effective_date for r in roster.rows] == [
        None,
        date(2026, 1, 5),
        date(2026, 2, 1),
        date(2026, 3, 15),
    ]
    assert roster.rows[1].role == "Văn thư"
    assert roster.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        {
            "Hướng dẫn": [["Điền danh sách ở trang sau"]],
            "Nhân sự": [EN_HEADER, *GOOD_ROWS],
        },
    )
    assert_good_rows(load_roster(path, VOCAB, sheet="Nhân sự"))
    assert_good_rows(load_roster(path, VOCAB, sheet="nhân  SỰ"))


def test_xlsx_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, {"Hướng dẫn": [["x"]], "Nhân sự": [VI_HEADER]})
    problem = only_problem(path, sheet="Cán bộ")
    assert (problem.file, problem.row, problem.column) == (str(path), None, None)
    assert "'Cán bộ'" in problem.message
    assert "'Hướng dẫn', 'Nhân sự'" in problem.message


def test_xlsx_problems_use_the_real_sheet_row(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        {"DS": [[], VI_HEADER, [], [], ["1001", "Nguyễn Văn An", None, "VP", None, "Đi học"]]},
    )
    problem = only_problem(path)
    assert (problem.row, problem.column) == (5, "Trạng thái")


def test_xlsx_missing_column_is_reported_on_the_header_row(tmp_path: Path) -> None:
    header = [h for h in VI_HEADER if h != "Trạng thái"]
    path = write_xlsx(tmp_path, {"DS": [["DANH SÁCH"], [], header]})
    problem = only_problem(path)
    assert (problem.row, problem.column) == (3, "status")
    assert "'Trạng thái'" in problem.message


def test_xlsx_fractional_id_is_a_problem(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path, {"DS": [VI_HEADER, [1001.5, "Nguyễn Văn An", None, "VP", None, "active"]]}
    )
    problem = only_problem(path)
    assert (problem.row, problem.column) == (2, "Mã cán bộ")
    assert "1001.5" in problem.message


def test_corrupt_xlsx_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.xlsx"
    path.write_bytes(b"Ma can bo,Ho va ten\n1,2\n")
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), None, None)
    assert ".xlsx" in problem.message


def test_workbook_saved_with_a_csv_name_is_explained(tmp_path: Path) -> None:
    source = write_xlsx(tmp_path, {"DS": [VI_HEADER]})
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(source.read_bytes())
    assert "xlsx" in only_problem(path).message


# --- JSON -----------------------------------------------------------------------------------


def json_records(rows: Sequence[Sequence[str]] = GOOD_ROWS) -> list[dict[str, object]]:
    return [dict(zip(VI_HEADER, row, strict=True)) for row in rows]


def test_json_array_of_objects(tmp_path: Path) -> None:
    path = write_json(tmp_path, json_records())
    roster = load_roster(path, VOCAB)
    assert [r.employee_id for r in roster.rows] == ["1001", "1002", "1003"]
    assert [r.row for r in roster.rows] == [1, 2, 3]
    assert roster.rows[1].effective_date == date(2026, 1, 5)
    assert roster.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("key", ["rows", "staff", "nhan_su"])
def test_json_array_under_a_known_key(tmp_path: Path, key: str) -> None:
    records: list[dict[str, object]] = [
        {
            "employee_id": 1001,
            "full_name": "Nguyễn Văn An",
            "email": None,
            "unit": "VP",
            "position": None,
            "status": "active",
            "effective_date": None,
        },
        {
            "employee_id": 1002.0,
            "full_name": "Trần Thị Bình",
            "email": "binh@tinh.gov.vn",
            "unit": "VP",
            "position": "Chuyên viên",
            "status": "Nghỉ việc",
            "effective_date": "2026-01-05T00:00:00",
            "role": "Quản trị",
        },
        {"ghi_chu": None},
    ]
    path = write_json(tmp_path, {"exported_at": "2026-01-01", key: records})
    roster = load_roster(path, VOCAB)
    assert [r.employee_id for r in roster.rows] == ["1001", "1002"]
    assert roster.rows[0].email is None
    assert roster.rows[0].position == ""
    assert roster.rows[1].effective_date == date(2026, 1, 5)
    assert roster.rows[1].role == "Quản trị"


def test_json_problems_name_the_record(tmp_path: Path) -> None:
    records = json_records()
    records[1]["Trạng thái"] = "Đã chết"
    path = write_json(tmp_path, records)
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), 2, "Trạng thái")
    assert "record 2" in problem.message


def test_json_duplicate_id_names_the_earlier_record(tmp_path: Path) -> None:
    records = json_records()
    records[2]["Mã cán bộ"] = 1001
    problem = only_problem(write_json(tmp_path, records))
    assert (problem.row, problem.column) == (3, "Mã cán bộ")
    assert "record 3" in problem.message
    assert "record 1" in problem.message


def test_json_two_keys_for_one_field(tmp_path: Path) -> None:
    records = json_records()
    records[0]["email"] = "khac@tinh.gov.vn"
    problem = only_problem(write_json(tmp_path, records))
    assert (problem.row, problem.column) == (1, "email")


def test_invalid_json_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.json"
    path.write_text('[\n  {"employee_id": "1"},\n  {"employee_id": "2",}\n]\n', encoding="utf-8")
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), None, None)
    assert "line 3" in problem.message


def test_json_of_the_wrong_shape(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"data": json_records()})
    problem = only_problem(path)
    assert problem.row is None
    assert "'nhan_su'" in problem.message


def test_json_missing_key_in_every_record(tmp_path: Path) -> None:
    records = json_records()
    for record in records:
        del record["Đơn vị"]
    problem = only_problem(write_json(tmp_path, records))
    assert (problem.row, problem.column) == (None, "unit")


# --- problems: each kind names file, row and column -----------------------------------------


def test_missing_column(tmp_path: Path) -> None:
    header = [h for h in VI_HEADER if h != "Đơn vị"]
    rows = [[c for h, c in zip(VI_HEADER, row, strict=True) if h != "Đơn vị"] for row in GOOD_ROWS]
    path = write_csv(tmp_path, rows, header=header)
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), 1, "unit")
    for accepted in ("Đơn vị", "Phòng ban", "Đơn vị công tác", "unit"):
        assert f"'{accepted}'" in problem.message


def test_two_columns_for_one_field(tmp_path: Path) -> None:
    header = [*VI_HEADER, "Họ tên"]
    rows = [[*row, "x"] for row in GOOD_ROWS]
    problem = only_problem(write_csv(tmp_path, rows, header=header))
    assert (problem.row, problem.column) == (1, "Họ tên")
    assert "Họ và tên" in problem.message


def test_duplicate_employee_id_names_the_earlier_row(tmp_path: Path) -> None:
    rows = [*GOOD_ROWS, ["  1001", "Nguyễn Văn An", "", "VP", "", "active", "", "", ""]]
    path = write_csv(tmp_path, rows)
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), 5, "Mã cán bộ")
    assert "row 2" in problem.message


def test_duplicate_employee_id_ignores_case(tmp_path: Path) -> None:
    rows = [
        ["CB-01", "A", "", "VP", "", "active", ""],
        ["cb-01", "B", "", "VP", "", "active", ""],
    ]
    problem = only_problem(write_csv(tmp_path, rows, header=VI_HEADER[:7]))
    assert problem.row == 3


def test_unknown_status_lists_the_accepted_words(tmp_path: Path) -> None:
    rows = [[*ACTIVE[:5], "Đang nghỉ phép", *ACTIVE[6:]]]
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (2, "Trạng thái")
    assert "'Đang nghỉ phép'" in problem.message
    assert "'nghỉ hưu'" in problem.message


@pytest.mark.parametrize(
    "bad", ["31/02/2026", "2026-13-01", "05/01/26", "mai", "01/05/2026 kết thúc"]
)
def test_bad_date_quotes_the_value(tmp_path: Path, bad: str) -> None:
    rows = [[*DEPARTED[:6], bad, *DEPARTED[7:]]]
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (2, "Ngày hiệu lực")
    assert f"'{bad}'" in problem.message


def test_departure_without_a_date(tmp_path: Path) -> None:
    rows = [[*DEPARTED[:6], "", *DEPARTED[7:]]]
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (2, "Ngày hiệu lực")


@pytest.mark.parametrize(
    ("index", "column"), [(0, "Mã cán bộ"), (1, "Họ và tên"), (3, "Đơn vị"), (5, "Trạng thái")]
)
def test_missing_required_value(tmp_path: Path, index: int, column: str) -> None:
    row = list(ACTIVE)
    row[index] = "   "
    problem = only_problem(write_csv(tmp_path, [row]))
    assert (problem.row, problem.column) == (2, column)


@pytest.mark.parametrize(
    "email", ["an.nv", "an@@tinh.gov.vn", "an@tinh", "an nv@tinh.gov.vn", "an@tỉnh.gov.vn"]
)
def test_bad_email(tmp_path: Path, email: str) -> None:
    rows = [[*ACTIVE[:2], email, *ACTIVE[3:]]]
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (2, "Email")
    assert f"'{email}'" in problem.message


def test_unknown_role_lists_the_roles(tmp_path: Path) -> None:
    rows = [[*ACTIVE[:8], "Giám đốc"]]
    problem = only_problem(write_csv(tmp_path, rows))
    assert (problem.row, problem.column) == (2, "Vai trò")
    assert "'Lãnh đạo'" in problem.message


def test_row_with_more_cells_than_the_header(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.csv"
    # "Nguyễn, Văn An" written without quotes: every later cell moves one column right.
    lines = [",".join(VI_HEADER[:7]), "1001,Nguyễn, Văn An,an@tinh.gov.vn,VP,CV,active,"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), 2, None)
    assert "8" in problem.message


def test_not_utf8_suggests_csv_utf8(tmp_path: Path) -> None:
    # "Lê Hà" in Windows-1258, as Excel writes a plain "CSV (Comma delimited)" in Vietnam.
    rows = [["1001", "Lê Hà", "", "VP", "", "active", ""]]
    path = write_csv(tmp_path, rows, header=EN_HEADER[:7], encoding="cp1258")
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), None, None)
    assert "CSV UTF-8" in problem.message


def test_unclosed_quote_is_reported_not_swallowed(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.csv"
    text = ",".join(VI_HEADER[:7]) + '\n1001,An,,VP,,active,"\n1002,Bình,,VP,,active,\n'
    path.write_text(text, encoding="utf-8")
    problem = only_problem(path)
    assert problem.row is not None
    assert "quote" in problem.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "khong_co.csv"
    problem = only_problem(path)
    assert (problem.file, problem.row, problem.column) == (str(path), None, None)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "nhan_su.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    assert ".xlsx" in only_problem(path).message


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_text(json.dumps(json_records()), encoding="utf-8")
    assert len(load_roster(path, VOCAB, format="json").rows) == 3


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    with pytest.raises(ConfigError):
        load_roster(path, VOCAB, format="xml")
    with pytest.raises(ConfigError):
        load_roster(path, VOCAB, delimiter=";;")
    with pytest.raises(ConfigError):
        load_roster(path, VOCAB, encoding="no-such-codec")


def test_every_problem_of_the_file_is_reported(tmp_path: Path) -> None:
    rows = [
        ACTIVE,
        ["", "Không Mã", "", "VP", "", "active", "", "", ""],
        ["1005", "Sai Ngày", "", "VP", "", "Nghỉ việc", "30/02/2026", "", ""],
        ["1006", "Sai Thư", "sai@", "VP", "", "active", "", "", "Thủ quỹ"],
        ["1001", "Trùng Mã", "", "VP", "", "Đi công tác", "", "", ""],
    ]
    path = write_csv(tmp_path, rows)
    with pytest.raises(RosterError) as caught:
        load_roster(path, VOCAB)
    where = [(p.row, p.column) for p in caught.value.problems]
    assert where == [
        (3, "Mã cán bộ"),
        (4, "Ngày hiệu lực"),
        (5, "Email"),
        (5, "Vai trò"),
        (6, "Trạng thái"),
        (6, "Mã cán bộ"),
    ]
    assert all(p.file == str(path) for p in caught.value.problems)
    assert "nothing was changed" in str(caught.value)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05/01/2026", date(2026, 1, 5)),
        ("5/1/2026", date(2026, 1, 5)),
        ("05-01-2026", date(2026, 1, 5)),
        ("05.01.2026", date(2026, 1, 5)),
        ("2026-01-05", date(2026, 1, 5)),
        ("2026-01-05T00:00:00", date(2026, 1, 5)),
        ("2026-01-05T00:00:00+07:00", date(2026, 1, 5)),
        ("2026-01-04T17:00:00.000Z", date(2026, 1, 5)),  # local midnight written as UTC
        ("05/01/2026 00:00:00", date(2026, 1, 5)),
        ("29/02/2028", date(2028, 2, 29)),
    ],
)
def test_date_formats(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "29/02/2026",
        "05/01/26",
        "2026/01/05",
        "0/1/2026",
        "05/01/0206",
        "01-02.2026",
        "05/01/2026 24:00",
        "2026-01-05T25:00:00",
        46027,
        True,
    ],
)
def test_not_dates(value: object) -> None:
    with pytest.raises(DateProblem):
        parse_date(value)


# --- size -----------------------------------------------------------------------------------


def _bare_parse(path: Path) -> list[RosterRow]:
    """The least any reader must do: parse the CSV and build one RosterRow per row."""
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    return [
        RosterRow(
            row=i,
            employee_id=c[0],
            full_name=c[1],
            email=c[2],
            unit=c[3],
            position=c[4],
            status=Status.ACTIVE,
            status_word=c[5],
            effective_date=None,
            username=c[7],
            role=c[8],
        )
        for i, c in enumerate(rows, start=2)
    ]


def _cpu_seconds(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def test_hundred_thousand_rows_load_in_linear_time(tmp_path: Path) -> None:
    """Checked against a bare parse on the same machine, so a slow shared runner cannot fail
    it, while any per-row regex compile or quadratic step does. (Absolute: ~0.6-1.2 s.)"""
    statuses = ["Đang công tác", "Nghỉ việc", "Chuyển công tác"]
    rows = [
        [
            f"CB{i:06d}",
            f"Nguyễn Văn {i}",
            f"cb{i}@tinh.gov.vn",
            f"Phòng {i % 40}",
            "Chuyên viên",
            statuses[i % 3],
            f"{i % 28 + 1:02d}/{i % 12 + 1:02d}/2026",
            f"cb{i}",
            "Chuyên viên",
        ]
        for i in range(100_000)
    ]
    path = write_csv(tmp_path, rows)
    roster = load_roster(path, VOCAB)
    assert len(roster.rows) == 100_000
    assert roster.rows[-1].row == 100_001
    assert roster.rows[-1].effective_date == date(2026, 4, 12)

    # Best of three: other processes on a shared runner add noise to single timings.
    bare = min(_cpu_seconds(lambda: _bare_parse(path)) for _ in range(3))
    full = min(_cpu_seconds(lambda: load_roster(path, VOCAB)) for _ in range(3))
    assert full < 5 * bare, f"load_roster {full:.2f}s, bare parse {bare:.2f}s"


def test_pushed_rows_replace_and_extend_the_export() -> None:
    from syncbot.model import RowSource
    from syncbot.roster.overlay import PushedRow, lay_over

    base = Roster(path="a.csv", sha256="1" * 64, rows=(make_row(2, "NV1"), make_row(3, "NV2")))
    source = RowSource("push", "2" * 64)
    pushed = {
        "NV2": PushedRow(make_row(1, "nv2", "Nghỉ việc"), source),
        "NV3": PushedRow(make_row(2, "NV3"), source),
    }
    merged = lay_over(base, pushed).roster
    assert [(r.employee_id, r.status_word) for r in merged.rows] == [
        ("NV1", "Đang công tác"), ("nv2", "Nghỉ việc"), ("NV3", "Đang công tác"),
    ]  # fmt: skip
    assert merged.path == "a.csv + 2 pushed rows"
    assert merged.sha256 not in (base.sha256, source.sha256)
    assert merged.sources == {"NV2": source, "NV3": source}


def make_row(n: int, employee_id: str, status: str = "Đang công tác") -> RosterRow:
    return RosterRow(
        row=n, employee_id=employee_id, full_name="X", email=None, unit="Văn phòng",
        position="Chuyên viên", status=VOCAB.statuses[fold(status)], status_word=status,
        effective_date=None,
    )  # fmt: skip
