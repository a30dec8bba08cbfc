"""What a newcomer meets first: relative paths, and failures they can fix reported in one line.

Each failure here is one a user causes or can fix (a server not installed, no Java, a port
in use, a state file damaged by hand or by a full disk). The command must say which file or
what to do, in one line, with the documented exit code, and never print a traceback: exit 1
and a traceback are kept for syncbot's own bugs. The commands run as a user runs them, in a
child process, so what is checked is exactly what reaches the terminal.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_e2e import sample_department

from localdev.slapd import SlapdServer

pytestmark = pytest.mark.slapd
REPO = Path(__file__).resolve().parent.parent
EXIT_STATE, EXIT_LOCAL = 13, 14


def syncbot(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # This checkout's syncbot, whatever folder the command runs in or pip last installed.
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "SYNCBOT_LOG_FORMAT": "json", "PYTHONPATH": python_path, **env}
    environment.pop("SYNCBOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "syncbot", *argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The failure's message, checked to be a single `syncbot:` line with `code`."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("syncbot: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def sample(slapd_server: SlapdServer, tmp_path: Path) -> Iterator[Path]:
    yield sample_department(slapd_server, tmp_path)


# -- relative paths -------------------------------------------------------------------------


def test_relative_config_and_output_paths_work_from_the_folder_they_were_typed_in(
    sample: Path, tmp_path: Path
) -> None:
    folder = sample.parent
    applied = syncbot("--config", sample.name, "apply", "--yes", cwd=folder)
    assert applied.returncode == 0, applied.stderr
    report = syncbot(
        "--config", sample.name, "report", "orphans", "--out", "out/mo-coi.csv", cwd=folder
    )
    assert report.returncode == 0, report.stderr
    assert (folder / "out" / "mo-coi.csv").read_text("utf-8-sig").count("\n") > 1
    verified = syncbot("audit", "verify", "--file", "audit/audit.jsonl", cwd=folder)
    assert verified.returncode == 0, verified.stderr
    assert str(folder / "audit" / "audit.jsonl") in verified.stdout


def test_the_demo_runs_in_a_relative_workdir_and_again_in_the_same_one(tmp_path: Path) -> None:
    for _ in range(2):
        done = syncbot("demo", "--workdir", "demo-rel", "--no-keycloak", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        assert f"are in {tmp_path / 'demo-rel'}" in done.stdout
    assert (tmp_path / "demo-rel" / "audit" / "audit.jsonl").is_file()


def test_the_demo_never_empties_a_folder_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.odt").write_text("years of work", encoding="utf-8")
    done = syncbot("demo", "--workdir", "documents", "--no-keycloak", cwd=tmp_path)
    line = one_line_error(done, EXIT_LOCAL)
    assert "was not made by `syncbot demo`" in line
    assert (precious / "thesis.odt").read_text(encoding="utf-8") == "years of work"


# -- what the machine lacks ------------------------------------------------------------------


def test_the_demo_without_keycloak_installed_says_how_to_install_it(tmp_path: Path) -> None:
    done = syncbot(
        "demo",
        "--workdir",
        "d",
        cwd=tmp_path,
        SYNCBOT_KEYCLOAK_HOME=str(tmp_path / "no-keycloak-here"),
        SYNCBOT_KEYCLOAK_URL="",
    )
    line = one_line_error(done, EXIT_LOCAL)
    assert "is not installed" in line and "bash .ci/install-keycloak" in line


def test_the_demo_without_java_names_what_it_looked_for(tmp_path: Path) -> None:
    done = syncbot(
        "demo",
        "--workdir",
        "d",
        cwd=tmp_path,
        KEYCLOAK_JAVA_HOME=str(tmp_path / "no-java-here"),
        SYNCBOT_KEYCLOAK_URL="",
    )
    line = one_line_error(done, EXIT_LOCAL)
    assert f"KEYCLOAK_JAVA_HOME={tmp_path / 'no-java-here'} is not a Java 21+ JDK" in line


def test_a_listen_port_in_use_is_named_with_its_setting(sample: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with sample.open("a", encoding="utf-8") as config:
            config.write(f'\n[worker]\n[worker.metrics]\nlisten = "127.0.0.1:{port}"\n')
        done = syncbot("--config", str(sample), "run", cwd=sample.parent)
    line = one_line_error(done, EXIT_LOCAL)
    assert f"cannot listen on 127.0.0.1:{port} ([worker.metrics] listen)" in line
    assert "in use" in line


# -- damaged state -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["plan"], ["apply", "--yes"], ["audit", "verify"]])
def test_a_corrupt_last_run_file_is_named_with_the_fix(sample: Path, command: list[str]) -> None:
    state = sample.parent / "state"
    state.mkdir()
    (state / "last-run.json").write_text("{not json", encoding="utf-8")
    done = syncbot("--config", str(sample), *command, cwd=sample.parent)
    line = one_line_error(done, EXIT_STATE)
    assert str(state / "last-run.json") in line
    assert "restore it from a backup, or delete it" in line
    assert not (sample.parent / "audit" / "audit.jsonl").exists()  # nothing was applied


def test_a_corrupt_ledger_line_is_named_and_nothing_is_applied(sample: Path) -> None:
    state = sample.parent / "state"
    state.mkdir()
    good = '{"op": "clear", "target": "ldap", "account": "uid=x"}\n'
    (state / "ledger.jsonl").write_text(good + '{"op": "set", "tar\n', encoding="utf-8")
    done = syncbot("--config", str(sample), "apply", "--yes", cwd=sample.parent)
    line = one_line_error(done, EXIT_STATE)
    assert f"{state / 'ledger.jsonl'}, line 2: unreadable" in line
    assert "do not delete it" in line
    assert not (sample.parent / "audit" / "audit.jsonl").exists()


def test_a_corrupt_worker_status_is_named(sample: Path) -> None:
    state = sample.parent / "state"
    state.mkdir()
    (state / "worker.json").write_text("[1, 2", encoding="utf-8")
    done = syncbot("--config", str(sample), "status", cwd=sample.parent)
    line = one_line_error(done, EXIT_STATE)
    assert str(state / "worker.json") in line and "the worker writes it again" in line
