"""Rosters read a block at a time: the quick path agrees with the checked one, every problem
after the first block is still reported, and repeated values are shared, not copied."""

from __future__ import annotations

import gc
import tracemalloc
import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_roster import VI_HEADER, VOCAB, problems_of, write_csv, write_json, write_xlsx

from syncbot.model import RosterRow, Status
from syncbot.roster import CANONICAL_FIELDS, load_roster
from syncbot.roster.lookups import Lookups
from syncbot.roster.problems import ProblemList
from syncbot.roster.records import BLOCK_ROWS, Record, Table
from syncbot.roster.validate import validate
from syncbot.roster.validate_block import Batch
from syncbot.roster.validate_row import RowChecker
from syncbot.roster.values import all_emails, is_email

UNITS = ["Văn phòng", "Phòng Kế hoạch - Tài chính", "Thanh tra", "Phòng Tổ chức cán bộ"]


def person(i: int, *, status: str = "Đang công tác", day: str = "") -> list[str]:
    """One clean row of VI_HEADER for employee number `i`."""
    unit = UNITS[i % len(UNITS)]
    return [f"NV{i:05d}", f"Người {i}", f"nv{i}@tinh.gov.vn", unit, "Chuyên viên", status, day]


def people(count: int) -> list[list[str]]:
    return [person(i) for i in range(count)]


def write_people(tmp_path: Path, rows: Sequence[Sequence[str]], name: str = "ns.csv") -> Path:
    return write_csv(tmp_path, rows, header=VI_HEADER[:7], name=name)


def where(path: Path) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in problems_of(path)]


# --- the quick path builds exactly the rows the checked path builds --------------------------

COLUMNS = {field: field for field in CANONICAL_FIELDS}

# Rows `Batch` takes, each with every field of CANONICAL_FIELDS.
ACCEPTED: list[tuple[str, ...]] = [
    ("1001", "Nguyễn Văn An", "An.NV@Tinh.Gov.VN", "Phòng Tổ chức", "Chuyên viên",
     "Đang công tác", "", "annv", "chuyên VIÊN"),
    ("1002", "Trần Thị Bình", "", "Văn phòng", "", "Nghỉ hưu", "05/01/2026", "", ""),
    ("1003", "Lê Hoàng Cường", "c@tinh.gov.vn", "Thanh tra", "", "Chuyển công tác",
     "2026-02-01T00:00:00+07:00", "", "lãnh đạo"),
    ("  1004 ", " Phạm  Đức ", " d@x.vn ", " Sở Nội vụ ", " Phó  Giám đốc ", " đang  CÔNG tác ",
     " 1/2/2026 ", " duc ", " "),
    ("1005", "Hồ \"Út\"\nThị", "e@x.vn", "Phòng Tổ chức\nBộ phận Một cửa", "Văn thư",
     "active", "", "", "Văn thư"),
]  # fmt: skip


def checked_row(record: Record, fields: Sequence[str]) -> RosterRow | None:
    problems = ProblemList("ns.csv")
    _, row = RowChecker(Lookups.of(VOCAB), fields, frozenset(), problems).check(record)
    assert row is not None or problems.items
    return row


def batch_rows(records: Sequence[Record], fields: Sequence[str]) -> list[RosterRow] | None:
    return Batch(Lookups.of(VOCAB), fields).rows(records)


@pytest.mark.parametrize("cells", ACCEPTED)
def test_a_clean_row_is_built_alike_by_both_paths(cells: tuple[str, ...]) -> None:
    record: Record = (7, cells, COLUMNS)
    expected = checked_row(record, CANONICAL_FIELDS)
    assert expected is not None
    assert batch_rows([record], CANONICAL_FIELDS) == [expected]


def test_a_block_in_another_column_order_is_built_alike() -> None:
    """Sources give fields in the file's column order, some of them absent."""
    fields = ("status", "unit", "full_name", "employee_id", "effective_date", "email")
    order = [CANONICAL_FIELDS.index(name) for name in fields]
    records: list[Record] = [
        (n, tuple(cells[i] for i in order), COLUMNS) for n, cells in enumerate(ACCEPTED, 2)
    ]
    expected = [checked_row(record, fields) for record in records]
    assert all(row is not None for row in expected)
    assert batch_rows(records, fields) == expected
    assert [row.position for row in expected if row is not None] == [""] * len(ACCEPTED)


def _with(index: int, value: object) -> tuple[object, ...]:
    cells: list[object] = list(ACCEPTED[0])
    cells[index] = value
    return tuple(cells)


# Rows `Batch` must leave to `validate_row`: each is reported there, or is read cell by cell.
REFUSED = {
    "number": _with(0, 1001),
    "empty cell": _with(7, None),
    "decomposed": _with(1, unicodedata.normalize("NFD", "Nguyễn Văn An")),
    "control character": _with(1, "Nguyễn\x07Văn An"),
    "no-break space": _with(1, "Nguyễn\xa0Văn An"),
    "Excel error": _with(3, "#N/A"),
    "long id": _with(0, "9" * 65),
    "long name": _with(1, "A" * 257),
    "no id": _with(0, " "),
    "no name": _with(1, ""),
    "no unit": _with(3, ""),
    "no status": _with(5, ""),
    "bad email": _with(2, "an@tinh"),
    "email of two lines": _with(2, "a@b.vn\nc@d.vn"),
    "unknown status": _with(5, "Đi học"),
    "bad date": _with(6, "31/02/2026"),
    "departure without a date": (*ACCEPTED[1][:6], "", *ACCEPTED[1][7:]),
    "unknown role": _with(8, "Giám đốc"),
}


@pytest.mark.parametrize("cells", REFUSED.values(), ids=REFUSED.keys())
def test_anything_unusual_is_left_to_the_checked_path(cells: tuple[object, ...]) -> None:
    clean: Record = (2, ACCEPTED[2], COLUMNS)
    assert batch_rows([clean, (3, cells, COLUMNS)], CANONICAL_FIELDS) is None
    assert batch_rows([clean], CANONICAL_FIELDS) is not None


def test_a_hash_sign_outside_an_excel_error_is_plain_text() -> None:
    cells = _with(3, "Phòng #2")
    rows = batch_rows([(2, cells, COLUMNS)], CANONICAL_FIELDS)
    assert rows is not None
    assert rows[0].unit == "Phòng #2"


# Characters that trip normalization, trimming and the other rules: combining marks (which
# compose with the letter before them, or stand alone), Hangul jamo, spaces of all kinds,
# line breaks, control and invisible characters, "#", "@" and ".".
_TRICKY = "aeEđ\u0301\u0323\u0300\u1100\u1161\u11a8 \t\n\xa0\u3000\x07\u200b#@.0/"


# Texts that break one rule each, or that only one of the two paths might get wrong.
_SPOILERS = ["", " ", "\t", "\u0301", "#N/A", "\x07", "\xa0", "x" * 300, "Đi học", "31/02/2026"]


def _mutate(cell: str, kind: int, text: str) -> str:
    if kind == 0:
        return text  # replaced
    if kind == 1:
        return text + cell  # a prefix
    if kind == 2:
        return cell + text  # a suffix
    if kind == 3:
        return cell.upper()  # an id of another case, an unknown word
    return unicodedata.normalize("NFD", cell)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.integers(0, len(ACCEPTED) - 1), min_size=1, max_size=8),
    st.lists(
        st.tuples(
            st.integers(0, 7),
            st.integers(0, len(CANONICAL_FIELDS) - 1),
            st.integers(0, 4),
            st.one_of(st.sampled_from(_SPOILERS), st.text(alphabet=_TRICKY, max_size=3)),
        ),
        max_size=3,
    ),
)
def test_validation_of_any_block_matches_checking_every_row(
    picks: list[int], mutations: list[tuple[int, int, int, str]]
) -> None:
    """Blocks of clean rows with a few cells spoiled: whatever `Batch` takes or refuses, the
    rows and problems are those of checking each row on its own."""
    blocks = [list(ACCEPTED[pick]) for pick in picks]
    for where_, field, kind, text in mutations:
        row = blocks[where_ % len(blocks)]
        row[field] = _mutate(row[field], kind, text)
    records: list[Record] = [(n, tuple(cells), COLUMNS) for n, cells in enumerate(blocks, 2)]

    problems = ProblemList("ns.csv")
    rows = validate(Table([records], CANONICAL_FIELDS, frozenset()), VOCAB, problems)

    expected_problems = ProblemList("ns.csv")
    checker = RowChecker(Lookups.of(VOCAB), CANONICAL_FIELDS, frozenset(), expected_problems)
    expected: list[RosterRow] = []
    first_row_of: dict[str, int] = {}
    for record in records:
        employee_id, row = checker.check(record)
        if employee_id and first_row_of.setdefault(employee_id.casefold(), record[0]) != record[0]:
            expected_problems.add(record[0], "employee_id", "duplicate")
        elif row is not None:
            expected.append(row)
    assert list(rows) == expected
    assert [(p.row, p.column) for p in problems.items] == [
        (p.row, p.column) for p in expected_problems.items
    ]


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [""],
        ["a@b.vn", "", "X.Y@Tinh.Gov.VN"],
        ["a@b.vn", "a@b"],
        ["a@b.vn", "a@@b.vn"],
        ["a@b.vn\n"],
        ["a@b.vn\nc@d.vn"],
        ["á@b.vn"],
        ["a b@c.vn"],
        ["@b.vn", "a@.b.vn", "a@b.", "a@b..vn"],
    ],
)
def test_a_column_of_emails_is_checked_like_each_email(texts: list[str]) -> None:
    assert all_emails(texts) == all(is_email(text) for text in texts if text)


# --- whole files, several blocks long --------------------------------------------------------


def test_every_problem_after_the_first_block_is_reported_in_row_order(tmp_path: Path) -> None:
    rows = people(1000)
    rows[0][0] = ""  # row 2
    rows[298][5] = "Đi học"  # row 300, second block
    rows[511][2] = "sai@"  # row 513, the last row of the second block
    rows[512][6] = "30/02/2026"  # row 514, the first of the third
    rows[698][0] = "nv00004"  # row 700: the id of row 6, in another case
    rows[998] = ["NV99999", "A", "", "VP", "", "Nghỉ việc", ""]  # row 1000: no date
    assert where(write_people(tmp_path, rows)) == [
        (2, "Mã cán bộ"),
        (300, "Trạng thái"),
        (513, "Email"),
        (514, "Ngày hiệu lực"),
        (700, "Mã cán bộ"),
        (1000, "Ngày hiệu lực"),
    ]


def test_a_bad_row_does_not_cost_its_block_the_good_rows(tmp_path: Path) -> None:
    """Rows `Batch` refuses but `validate_row` accepts load like the others, in order."""
    rows = people(3 * BLOCK_ROWS)
    rows[10][1] = " Người 10 "  # trimmed
    rows[300][3] = unicodedata.normalize("NFD", rows[300][3])  # composed
    rows[301][1] = "Người\xa0301"  # kept as written
    rows[600][5] = " đang công TÁC"
    roster = load_roster(write_people(tmp_path, rows), VOCAB)
    assert [row.row for row in roster.rows] == list(range(2, 3 * BLOCK_ROWS + 2))
    assert roster.rows[10].full_name == "Người 10"
    assert roster.rows[300].unit == UNITS[300 % len(UNITS)]
    assert roster.rows[301].full_name == "Người\xa0301"
    assert roster.rows[600].status is Status.ACTIVE
    assert roster.rows[600].status_word == "đang công TÁC"


def test_blank_and_wide_rows_in_a_later_block(tmp_path: Path) -> None:
    rows = people(600)
    rows[400:400] = [["", "", "", "", "", "", ""], ["  "], []]  # rows 402-404
    rows[500].append("thừa")  # row 502: one cell more than the header
    path = write_people(tmp_path, rows)
    assert where(path) == [(502, None)]
    del rows[500][-1]
    roster = load_roster(write_people(tmp_path, rows), VOCAB)
    numbers = [row.row for row in roster.rows]
    assert numbers == [*range(2, 402), *range(405, 605)]


def test_an_unclosed_quote_in_a_later_block_names_its_row(tmp_path: Path) -> None:
    path = write_people(tmp_path, people(700))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[599] = lines[599].replace("Người", '"Người', 1)  # row 600
    path.write_text("".join(lines), encoding="utf-8")
    problems = problems_of(path)
    assert [(p.row, p.column) for p in problems] == [(600, None)]
    assert "quote" in problems[0].message


def test_a_json_duplicate_in_a_later_block_names_the_first_record(tmp_path: Path) -> None:
    records = [dict(zip(VI_HEADER, row, strict=False)) for row in people(2 * BLOCK_ROWS)]
    records[-1]["Mã cán bộ"] = "NV00000"
    problems = problems_of(write_json(tmp_path, records))
    assert [(p.row, p.column) for p in problems] == [(2 * BLOCK_ROWS, "Mã cán bộ")]
    assert "record 1" in problems[0].message


def test_an_xlsx_sheet_of_several_blocks(tmp_path: Path) -> None:
    rows: list[list[object]] = [list(VI_HEADER[:7])]
    rows += [[1000 + i, *person(i)[1:6], None] for i in range(BLOCK_ROWS * 2)]
    rows[-1][6] = date(2026, 3, 1)
    path = write_xlsx(tmp_path, {"DS": rows})
    roster = load_roster(path, VOCAB)
    assert len(roster.rows) == BLOCK_ROWS * 2
    assert roster.rows[-1].employee_id == str(1000 + BLOCK_ROWS * 2 - 1)
    assert roster.rows[-1].effective_date == date(2026, 3, 1)
    rows[400][5] = "Đi học"
    assert where(write_xlsx(tmp_path, {"DS": rows}, name="sai.xlsx")) == [(401, "Trạng thái")]


# --- what a roster keeps ---------------------------------------------------------------------


def test_repeated_values_are_one_object_equal_to_the_cell(tmp_path: Path) -> None:
    rows = [person(i, status="Nghỉ việc", day="01/03/2026") for i in range(2 * BLOCK_ROWS)]
    rows[5][3] = f" {UNITS[5 % len(UNITS)]} "  # through the checked path
    rows[6][4] = unicodedata.normalize("NFD", "Chuyên viên")
    roster = load_roster(write_people(tmp_path, rows), VOCAB)
    for unit in UNITS:
        held = [row.unit for row in roster.rows if row.unit == unit]
        assert len(held) == 2 * BLOCK_ROWS // len(UNITS)
        assert all(text is held[0] for text in held)
    for name in ("position", "status_word", "effective_date"):
        values = [getattr(row, name) for row in roster.rows]
        assert all(value is values[0] for value in values), name
    assert roster.rows[0].position == "Chuyên viên"
    assert roster.rows[0].status_word == "Nghỉ việc"
    assert roster.rows[0].effective_date == date(2026, 3, 1)


def test_memory_a_loaded_roster_keeps_per_row(tmp_path: Path) -> None:
    """About 380 B/row held (the `RosterRow`, its row number, id, name and email) and 570 at
    the peak (with the file's bytes and the duplicate check); 666 and 1,532 before rows were
    checked as they are read and repeated values shared."""
    path = write_people(tmp_path, people(20_000))
    gc.collect()
    tracemalloc.start()
    try:
        roster = load_roster(path, VOCAB)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    count = len(roster.rows)
    assert count == 20_000
    assert held / count < 450, f"{held / count:.0f} B/row held"
    assert peak / count < 700, f"{peak / count:.0f} B/row at the peak"
