"""The commands that read only syncbot's own files start without the target and report
libraries: `syncbot --help`, `status --help` and `audit verify` must not import
python-keycloak, python-ldap, ldap3 or openpyxl (issue 15, start-up).

A property of the import graph, read from `python -X importtime`, not a timing: each
command runs in a fresh interpreter, as a person or a monitoring check would run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from syncbot.audit import AuditLog

#: Top-level modules of the libraries only reading targets or writing XLSX needs:
#: python-keycloak, python-ldap (`ldap`), ldap3 and openpyxl.
HEAVY = frozenset({"keycloak", "ldap", "ldap3", "openpyxl"})


def imported_modules(*argv: str, cwd: Path) -> tuple[int, set[str]]:
    """The exit code of `python -X importtime -m syncbot ARGV`, and every module it imported."""
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "error"}
    env.pop("SYNCBOT_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "syncbot", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    modules = set(re.findall(r"^import time:\s*\d+ \|\s*\d+ \|\s*(\S+)$", done.stderr, re.M))
    assert modules, done.stderr  # -X importtime printed nothing: the check would pass vacuously
    return done.returncode, modules


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


@pytest.mark.parametrize("argv", [("--help",), ("status", "--help"), ("audit", "verify", "--help")])
def test_help_loads_no_target_or_report_library(argv: tuple[str, ...], tmp_path: Path) -> None:
    code, modules = imported_modules(*argv, cwd=tmp_path)
    assert code == 0
    assert not top_level(modules) & HEAVY, sorted(top_level(modules) & HEAVY)


def test_help_imports_no_command(tmp_path: Path) -> None:
    """Only the parser is loaded to answer --help: each command is imported when it runs."""
    _, modules = imported_modules("--help", cwd=tmp_path)
    assert "syncbot.cli.parser" in modules
    commands = {"syncbot.cli.apply", "syncbot.cli.audit", "syncbot.cli.report",
                "syncbot.cli.quarantine", "syncbot.cli.status"}  # fmt: skip
    assert not modules & commands, sorted(modules & commands)


def test_audit_verify_loads_no_target_or_report_library(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path, run_id="run-1", actor="test") as log:
        log.run_started({"roster": "nhan-su.csv"})
        log.run_finished({"result": "ok"})
    code, modules = imported_modules("audit", "verify", "--file", str(log_path), cwd=tmp_path)
    assert code == 0
    assert "syncbot.audit" in modules  # the command ran, not only its parser
    assert not top_level(modules) & HEAVY, sorted(top_level(modules) & HEAVY)
