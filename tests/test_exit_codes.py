"""One table of exit codes: each number means one thing, and the README, `--help` and the
error classes say the same as `syncbot.exit_codes`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syncbot.audit import AuditError
from syncbot.cli import main
from syncbot.cli.parser import DUTY_REPORTS, REPORT_FORMATS, REPORT_LANGS
from syncbot.errors import (
    ConfigError,
    LocalResourceError,
    LockedError,
    SafetyError,
    StateError,
    SyncbotError,
    TargetError,
)
from syncbot.exit_codes import MEANINGS, ExitCode

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_code_has_one_meaning() -> None:
    assert set(MEANINGS) == set(ExitCode)
    assert len(ExitCode.__members__) == len(ExitCode)  # no name is an alias of another's number


def test_audit_error_and_failed_steps_are_told_apart() -> None:
    assert ExitCode.STEPS_FAILED == 6
    assert AuditError.exit_code == ExitCode.AUDIT_LOG_FAILED != ExitCode.STEPS_FAILED


ERRORS = [SyncbotError, ConfigError, TargetError, SafetyError, LockedError, StateError,
          LocalResourceError, AuditError]  # fmt: skip


@pytest.mark.parametrize("error", ERRORS)
def test_error_classes_exit_with_a_listed_code(error: type[SyncbotError]) -> None:
    assert error.exit_code in set(ExitCode)


def test_readme_lists_the_same_codes() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| exit | meaning |") :]
    table = table[: table.index("\n\n")]
    assert [int(n) for n in re.findall(r"^\| (\d+) \|", table, re.M)] == [int(c) for c in MEANINGS]


def test_help_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for code in ExitCode:
        assert re.search(rf"^ +{int(code)}  \S", shown, re.M), code


def test_parser_offers_what_the_report_package_writes() -> None:
    """The parser spells these itself so `--help` need not import the writers (openpyxl)."""
    from syncbot.cli.report import DUTY_REPORT_BUILDERS
    from syncbot.report import FORMATS
    from syncbot.wording.report import LANGS

    assert REPORT_FORMATS == FORMATS
    assert REPORT_LANGS == LANGS
    assert set(DUTY_REPORTS) == set(DUTY_REPORT_BUILDERS)
