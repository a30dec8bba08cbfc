"""The commands that read only syncbot's own files start without the target and report
libraries: `syncbot --help`, `status` and `audit verify` must not import python-keycloak,
python-ldap, ldap3 or openpyxl (issue 15, start-up), even with an LDAP and a Keycloak target
configured.

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
from syncbot.exit_codes import ExitCode

#: Top-level modules of the libraries only reading targets or writing XLSX needs:
#: python-keycloak, python-ldap (`ldap`), ldap3 and openpyxl.
HEAVY = frozenset({"keycloak", "ldap", "ldap3", "openpyxl", "requests"})


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


CONFIG = """
[roster]
path = "nhan-su.xlsx"

[state]
dir = "state"

[audit]
path = "audit.jsonl"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_file = "pw"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"

[targets.sso]
type = "keycloak"
server_url = "http://127.0.0.1:8080"
realm = "demo"
client_id = "syncbot"
client_secret_file = "pw"
"""


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    """A config with both kinds of target, and an audit log of one whole run."""
    (tmp_path / "pw").write_text("not-a-real-secret\n", encoding="utf-8")
    config = tmp_path / "syncbot.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with AuditLog(tmp_path / "audit.jsonl", run_id="run-1", actor="test") as log:
        log.run_started({"roster": "nhan-su.xlsx"})
        log.run_finished({"result": "ok"})
    return config


def test_audit_verify_of_a_file_loads_no_target_or_report_library(configured: Path) -> None:
    log_path = configured.parent / "audit.jsonl"
    code, modules = imported_modules(
        "audit", "verify", "--file", str(log_path), cwd=configured.parent
    )
    assert code == 0
    assert "syncbot.audit" in modules  # the command ran, not only its parser
    assert not top_level(modules) & HEAVY, sorted(top_level(modules) & HEAVY)


@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [(("audit", "verify"), ExitCode.OK), (("status",), ExitCode.NO_WORKER_STATUS)],
)
def test_commands_on_a_config_load_no_target_or_report_library(
    configured: Path, argv: tuple[str, ...], exit_code: ExitCode
) -> None:
    code, modules = imported_modules("--config", str(configured), *argv, cwd=configured.parent)
    assert code == exit_code
    assert "syncbot.config" in modules  # the config was read, with both targets in it
    assert not top_level(modules) & HEAVY, sorted(top_level(modules) & HEAVY)
