"""Roster size limits: an .xlsx bomb, an oversized file and too many rows are refused
before they cost the host its memory; the service units bound memory and tasks too."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from localdev.demo import REPO_MAPPINGS
from localdev.sample import roster_csv
from syncbot.config import load_config
from syncbot.errors import ConfigError, RosterError
from syncbot.mappings import load_mappings
from syncbot.roster import load_roster
from syncbot.roster.limits import DEFAULT_LIMITS, RosterLimits

REPO = Path(__file__).resolve().parents[1]
UNITS = REPO / "systemd"
SHEET = "xl/worksheets/sheet1.xml"
#: A row of inline strings, repeated: deflate packs it about 250 to one.
BOMB_ROW = (
    b'<row><c t="inlineStr"><is><t>CB1000</t></is></c>'
    b'<c t="inlineStr"><is><t>Nguyen Van An</t></is></c>'
    b'<c t="inlineStr"><is><t>annv@tinhmau.gov.vn</t></is></c></row>'
)
BOMB_UNPACKED = 1024 * 1024 * 1024


def write_bomb(path: Path) -> None:
    """A real workbook whose one sheet unpacks to 1 GiB of rows (about 4 MB zipped)."""
    book = openpyxl.Workbook()
    book.active.append(["Mã cán bộ", "Họ và tên", "Email"])
    plain = io.BytesIO()
    book.save(plain)
    chunk = BOMB_ROW * (1024 * 1024 // len(BOMB_ROW))
    with (
        zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for member in source.infolist():
            if member.filename != SHEET:
                bomb.writestr(member, source.read(member))
                continue
            with bomb.open(SHEET, "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns=')
                sheet.write(b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
                sheet.write(b"<sheetData>")
                for _ in range(BOMB_UNPACKED // len(chunk)):
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")


def write_config(folder: Path, roster: str, roster_extra: str = "") -> Path:
    secret = folder / "ldap-password"
    secret.write_text("not-used\n", encoding="utf-8")
    secret.chmod(0o600)
    config = folder / "syncbot.toml"
    config.write_text(
        textwrap.dedent(
            f"""\
            [roster]
            path = "{roster}"
            {roster_extra}

            [mappings]
            dir = "{REPO_MAPPINGS}"

            [state]
            dir = "state"

            [audit]
            path = "audit.jsonl"

            [targets.ldap]
            url = "ldap://127.0.0.1:1"
            bind_dn = "cn=syncbot,dc=example"
            bind_password_file = "ldap-password"
            users_base = "ou=people,dc=example"
            groups_base = "ou=groups,dc=example"
            password_policy_dn = "cn=default,dc=example"
            """
        ),
        encoding="utf-8",
    )
    return config


#: Runs `syncbot plan` as its only child and prints the child's peak resident KiB.
MEASURE = textwrap.dedent(
    """
    import resource, subprocess, sys
    done = subprocess.run(
        [sys.executable, "-m", "syncbot", "--config", sys.argv[1], "plan"],
        capture_output=True, text=True, timeout=300,
    )
    sys.stderr.write(done.stderr)
    print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """
)


def test_an_xlsx_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    write_bomb(tmp_path / "nhan-su.xlsx")
    assert (tmp_path / "nhan-su.xlsx").stat().st_size < 8 * 1024 * 1024
    config = write_config(tmp_path, "nhan-su.xlsx")
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=360,
        check=True,
    )
    code, peak_kib = (int(word) for word in done.stdout.split())
    assert code == 3, done.stderr  # invalid input, before any target is contacted
    assert "nhan-su.xlsx" in done.stderr
    assert "limit 100" in done.stderr  # the compression ratio named the bomb
    assert peak_kib < 300 * 1024, f"peak {peak_kib} KiB"


def test_the_unpacked_total_is_checked_against_its_own_limit(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Mã cán bộ", "Họ và tên", "Email"])
    path = tmp_path / "nhan-su.xlsx"
    book.save(path)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as workbook:
        workbook.writestr("docProps/padding.bin", b"\0" * (2 * 1024 * 1024))  # ratio 1
    mappings = load_mappings(REPO_MAPPINGS)
    with pytest.raises(RosterError) as refused:
        load_roster(path, mappings.vocabulary(), limits=RosterLimits(max_unpacked_bytes=2**20))
    assert "max_unpacked_bytes" in str(refused.value) and str(path) in str(refused.value)


def test_a_roster_over_max_bytes_is_refused_naming_file_and_limit(tmp_path: Path) -> None:
    roster = tmp_path / "nhan-su.csv"
    roster.write_text(roster_csv(date.today()), encoding="utf-8")
    config = load_config(write_config(tmp_path, "nhan-su.csv", "max_bytes = 1000"))
    assert config.roster.limits.max_bytes == 1000
    mappings = load_mappings(REPO_MAPPINGS)
    with pytest.raises(RosterError) as refused:
        load_roster(roster, mappings.vocabulary(), limits=config.roster.limits)
    message = str(refused.value)
    assert str(roster) in message and "max_bytes" in message


def test_rows_past_max_rows_are_refused(tmp_path: Path) -> None:
    roster = tmp_path / "nhan-su.csv"
    roster.write_text(roster_csv(date.today()), encoding="utf-8")  # 72 people
    mappings = load_mappings(REPO_MAPPINGS)
    within = load_roster(roster, mappings.vocabulary(), limits=RosterLimits(max_rows=72))
    assert len(within.rows) == 72
    with pytest.raises(RosterError) as refused:
        load_roster(roster, mappings.vocabulary(), limits=RosterLimits(max_rows=71))
    assert "71" in str(refused.value) and "max_rows" in str(refused.value)


def test_limits_default_and_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "nhan-su.csv").write_text("", encoding="utf-8")
    assert load_config(write_config(tmp_path, "nhan-su.csv")).roster.limits == DEFAULT_LIMITS
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path, "nhan-su.csv", "max_rows = 0"))
    assert refused.value.key == "roster.max_rows"


@pytest.mark.parametrize("unit", ["syncbot.service", "syncbot-oneshot.service"])
def test_service_units_bound_memory_and_tasks(unit: str) -> None:
    lines = (UNITS / unit).read_text("utf-8").splitlines()
    assert "MemoryMax=2G" in lines
    assert "TasksMax=64" in lines
