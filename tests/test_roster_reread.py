"""A new version of a plain CSV export is read from its changed lines: whatever HR did to
the file, the rows (or the error) are those a full read of the new file gives."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_roster import ACTIVE, VI_HEADER, VOCAB, csv_text

from syncbot.errors import RosterError
from syncbot.model import ROW_CONTENT, Roster, RosterRow
from syncbot.roster import load_roster
from syncbot.roster.prints import fingerprint, prints_of

STATUSES = ("Đang công tác", "Nghỉ việc", "Chuyển công tác", "Nghỉ hưu")


def person(i: int, status: str = "Đang công tác", name: str | None = None) -> list[str]:
    effective = "" if status == "Đang công tác" else "05/01/2026"
    return [f"NV{i:04d}", name or f"Người {i}", f"nv{i}@tinh.gov.vn", "Văn phòng",
            "Chuyên viên", status, effective, "", ""]  # fmt: skip


def export(rows: Sequence[Sequence[str]], delimiter: str = ",", bom: bool = True) -> bytes:
    return ("\ufeff" if bom else "").encode() + csv_text(VI_HEADER, rows, delimiter).encode()


def read_both(path: Path, data: bytes) -> tuple[object, object]:
    """What a worker that read the last version gets for `data`, and a full read's answer."""
    path.write_bytes(data)
    answers: list[object] = []
    for reuse in (True, False):
        try:
            answers.append(load_roster(path, VOCAB, reuse=reuse).rows)
        except RosterError as error:
            answers.append(str(error))
    return answers[0], answers[1]


def test_row_content_is_every_field_but_the_number() -> None:
    names = [field.name for field in dataclasses.fields(RosterRow)]
    row = RosterRow(7, *ROW_CONTENT(load_row()))
    assert names[0] == "row" and row == dataclasses.replace(load_row(), row=7)
    assert ROW_CONTENT.__reduce__()[1] == tuple(names[1:])


def load_row() -> RosterRow:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nhan_su.csv"
        path.write_bytes(export([ACTIVE]))
        return load_roster(path, VOCAB).rows[0]


def test_unchanged_lines_keep_their_rows(tmp_path: Path) -> None:
    """Ten departures in 300 lines: the other rows are the very objects of the last read."""
    rows = [person(i) for i in range(300)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows))
    before = load_roster(path, VOCAB, reuse=True)
    for i in range(0, 300, 30):
        rows[i] = person(i, "Nghỉ việc")
    now, full = read_both(path, export(rows))
    assert now == full
    assert isinstance(now, tuple) and isinstance(full, tuple)
    kept = sum(a is b for a, b in zip(now, before.rows, strict=True))
    assert kept == 290 and not any(a is b for a, b in zip(full, before.rows, strict=True))


def test_a_line_removed_above_renumbers_the_rows_below(tmp_path: Path) -> None:
    rows = [person(i) for i in range(50)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows))
    load_roster(path, VOCAB, reuse=True)
    del rows[3]
    now, full = read_both(path, export(rows))
    assert isinstance(now, tuple) and now == full
    assert [row.row for row in now] == list(range(2, 51))


def test_a_problem_in_a_changed_line_is_the_full_reads_error(tmp_path: Path) -> None:
    rows = [person(i) for i in range(50)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows))
    load_roster(path, VOCAB, reuse=True)
    rows[10] = person(10, "Đi du lịch")
    rows[20] = person(3)  # the id of line 5, twice
    now, full = read_both(path, export(rows))
    assert now == full
    assert isinstance(now, str) and "Đi du lịch" in now and "NV0003" in now
    # and the next good version reads as it should, after the error
    rows[10], rows[20] = person(10), person(20)
    now, full = read_both(path, export(rows))
    assert isinstance(now, tuple) and now == full


def test_quoted_cells_on_their_line_are_read_from_the_changed_lines(tmp_path: Path) -> None:
    """Excel quotes a cell holding the delimiter: each line is still one row."""
    rows = [person(i, name=f"Người {i}, tổ {i % 3}") for i in range(20)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows))
    assert b'"' in path.read_bytes()
    before = load_roster(path, VOCAB, reuse=True)
    rows[5] = person(5, "Nghỉ việc", name='Lê "Năm", con')
    now, full = read_both(path, export(rows))
    assert isinstance(now, tuple) and now == full
    assert now[5].full_name == 'Lê "Năm", con' and now[5].status is not before.rows[5].status
    assert sum(a is b for a, b in zip(now, before.rows, strict=True)) == 19


def test_a_line_break_in_a_quoted_cell_is_read_whole(tmp_path: Path) -> None:
    """A quoted cell holding a line break makes a row of two lines: never read by line,
    whether it comes in a new version or was in the last one."""
    rows = [person(i) for i in range(20)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows))
    before = load_roster(path, VOCAB, reuse=True)
    rows[5] = person(5, name="Lê Văn\nNăm, con")
    now, full = read_both(path, export(rows))
    assert isinstance(now, tuple) and now == full
    assert now[5].full_name == "Lê Văn\nNăm, con" and now[0] is not before.rows[0]
    rows[7] = person(7, "Nghỉ việc")
    again, full = read_both(path, export(rows))
    assert isinstance(again, tuple) and again == full and again[0] is not now[0]


def test_prints_of_a_reread_roster_are_each_rows_print(tmp_path: Path) -> None:
    rows = [person(i) for i in range(40)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows))
    prints_of(load_roster(path, VOCAB, reuse=True).rows)
    rows[7] = person(7, "Nghỉ việc")
    del rows[2]
    path.write_bytes(export(rows))
    roster = load_roster(path, VOCAB, reuse=True)
    assert prints_of(roster.rows) == {row.employee_id: fingerprint(row) for row in roster.rows}
    moved = Roster(roster.path, roster.sha256, tuple(reversed(roster.rows)))
    assert prints_of(moved.rows) == {row.employee_id: fingerprint(row) for row in roster.rows}


# -- any edit HR's tools might make --------------------------------------------------------


def line_edits() -> st.SearchStrategy[tuple[str, int, int]]:
    kinds = st.sampled_from(
        ["status", "delete", "insert", "blank", "duplicate", "bad-status", "short",
         "quote", "line-break", "open-quote", "other-delimiter", "header", "lf",
         "undecodable"]
    )  # fmt: skip
    return st.tuples(kinds, st.integers(0, 10_000), st.integers(0, 3))


def apply_edit(lines: list[bytes], edit: tuple[str, int, int], delimiter: str) -> None:
    """Change `lines` (the file's lines after the header, each ending in CRLF) as `edit` says."""
    kind, where, pick = edit
    at = where % (len(lines) + 1)
    index = min(at, len(lines) - 1)

    def row_line(cells: Sequence[str]) -> bytes:
        return csv_text([], [cells], delimiter).encode().lstrip(b"\r\n")

    if kind == "header":
        lines.insert(0, b"")  # replaced below: the header itself changes
        return
    if not lines:
        lines.append(row_line(person(9000 + where)))
        return
    if kind == "status":
        lines[index] = row_line(person(index, STATUSES[pick]))
    elif kind == "delete":
        del lines[index]
    elif kind == "insert":
        lines.insert(at, row_line(person(5000 + where, STATUSES[pick])))
    elif kind == "blank":
        lines.insert(at, b"\r\n")
    elif kind == "duplicate":
        lines.insert(at, lines[index])
    elif kind == "bad-status":
        lines[index] = row_line(person(index, "Đi du lịch"))
    elif kind == "short":
        lines[index] = row_line(person(index)[:3])
    elif kind == "quote":
        lines[index] = row_line(person(index, name=f'Họ, "tên" {pick}'))
    elif kind == "line-break":
        lines[index] = row_line(person(index, name=f"Họ\r\ntên {pick}"))
    elif kind == "open-quote":
        lines[index] = lines[index].replace(b",", b',"', 1)
    elif kind == "other-delimiter":
        other = ";" if delimiter == "," else ","
        lines[index] = row_line(person(index, name=other.join("Tên" * (pick + 2))))
    elif kind == "lf":
        lines[index] = lines[index].replace(b"\r\n", b"\n")
    elif kind == "undecodable":
        lines[index] = lines[index].replace("Người".encode(), b"Ng\xff")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.integers(1, 30),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
    versions=st.lists(st.lists(line_edits(), min_size=1, max_size=6), min_size=1, max_size=4),
)
def test_any_new_version_reads_as_a_full_read_does(
    people: int, delimiter: str, bom: bool, versions: list[list[tuple[str, int, int]]]
) -> None:
    rows = [person(i) for i in range(people)]
    first = export(rows, delimiter, bom)
    head, _, body = first.partition(b"\r\n")
    lines = [line + b"\r\n" for line in body.split(b"\r\n")[:-1]]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nhan_su.csv"
        path.write_bytes(first)
        load_roster(path, VOCAB, reuse=True)
        for edits in versions:
            header = head
            for edit in edits:
                apply_edit(lines, edit, delimiter)
                if lines and lines[0] == b"":
                    del lines[0]
                    header = head.replace(b"Email", b"E-mail")
            now, full = read_both(path, header + b"\r\n" + b"".join(lines))
            assert now == full


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_changed_line_that_would_sniff_another_delimiter_is_read_whole(
    tmp_path: Path, delimiter: str
) -> None:
    other = ";" if delimiter == "," else ","
    rows = [person(i) for i in range(5)]
    path = tmp_path / "nhan_su.csv"
    path.write_bytes(export(rows, delimiter))
    load_roster(path, VOCAB, reuse=True)
    rows[0] = person(0, name=other.join("Tên" * 12))
    now, full = read_both(path, export(rows, delimiter))
    assert now == full
