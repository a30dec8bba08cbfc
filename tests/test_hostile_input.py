"""Hostile and broken input against a real slapd: a clear error or a refused plan, never a
change. The directory starts in step with the sample roster, so any change is a wrong one."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from test_cli_e2e import sample_department

from localdev.slapd import SlapdServer
from syncbot.cli import main
from syncbot.config import load_config
from syncbot.model import Snapshot
from syncbot.reconcile import open_targets
from syncbot.targets.base import ReadRequest

pytestmark = pytest.mark.slapd
TODAY = date.today()


@pytest.fixture
def in_step(slapd_server: SlapdServer, tmp_path: Path) -> Path:
    """The sample department after one successful apply: directory and roster agree."""
    config = sample_department(slapd_server, tmp_path)
    assert main(["--config", str(config), "apply", "--yes"]) == 0
    return config


def snapshot(config: Path) -> Snapshot:
    target = open_targets(load_config(config))["ldap"]
    try:
        return target.read(ReadRequest(frozenset()))
    finally:
        target.close()


def rows_of(config: Path) -> list[list[str]]:
    text = (config.parent / "nhan-su.csv").read_text("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def write_rows(config: Path, rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    (config.parent / "nhan-su.csv").write_text("\ufeff" + out.getvalue(), encoding="utf-8")


def with_cell(row: int, column: int, value: str) -> Callable[[list[list[str]]], None]:
    def change(rows: list[list[str]]) -> None:
        rows[row][column] = value

    return change


# (name, how to break the roster, expected exit code, words the error must contain)
CASES = [
    ("filter metacharacters in a name", with_cell(5, 1, "*)(uid=*"), 0, ""),
    ("DN metacharacters in a unit", with_cell(5, 3, "Phòng A, cn=admin+uid=x\\"), 0, ""),
    ("control character", with_cell(7, 1, "Nguyễn\x1bAn"), 3, "control character"),
    ("over-long field", with_cell(8, 3, "Phòng " * 100), 3, "at most 256"),
    ("over-long id", with_cell(9, 0, "CB" + "9" * 100), 3, "at most 64"),
    ("duplicate row", lambda rows: rows.append(list(rows[3])), 3, "row 74"),
]


@pytest.mark.parametrize(("name", "change", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_hostile_cells_change_nothing(
    in_step: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    change: Callable[[list[list[str]]], None],
    code: int,
    words: str,
) -> None:
    before = snapshot(in_step)
    rows = rows_of(in_step)
    change(rows)
    write_rows(in_step, rows)
    capsys.readouterr()
    assert main(["--config", str(in_step), "apply", "--yes"]) == code, name
    assert words in capsys.readouterr().err
    assert snapshot(in_step) == before, name


def test_a_roster_cut_mid_row_is_an_error(
    in_step: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(in_step)
    path = in_step.parent / "nhan-su.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # an export that stopped mid-row
    capsys.readouterr()
    assert main(["--config", str(in_step), "apply", "--yes"]) == 3
    assert "must not be empty" in capsys.readouterr().err
    assert snapshot(in_step) == before


def test_an_empty_roster_is_refused(in_step: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(in_step)
    write_rows(in_step, rows_of(in_step)[:1])
    capsys.readouterr()
    assert main(["--config", str(in_step), "apply", "--yes"]) == 4
    err = capsys.readouterr().err
    assert "safety.min_roster_rows" in err and "safety.max_shrink_share" in err
    assert snapshot(in_step) == before


def test_another_organisations_roster_is_refused(
    in_step: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(in_step)
    rows = rows_of(in_step)
    for i, row in enumerate(rows[1:], start=1):
        row[0], row[2] = f"KHAC{i:04d}", f"nguoi{i}@tinh-khac.gov.vn"
    write_rows(in_step, rows)
    capsys.readouterr()
    assert main(["--config", str(in_step), "apply", "--yes"]) == 4
    assert "safety.min_matched_share" in capsys.readouterr().err
    assert snapshot(in_step) == before


def test_mixed_unicode_forms_match_the_same_people(
    in_step: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A roster saved in decomposed Unicode (NFD) is the same roster: nothing to do."""
    import unicodedata

    path = in_step.parent / "nhan-su.csv"
    path.write_text(unicodedata.normalize("NFD", path.read_text("utf-8")), encoding="utf-8")
    before = snapshot(in_step)
    assert main(["--config", str(in_step), "apply", "--yes"]) == 0
    assert snapshot(in_step) == before
