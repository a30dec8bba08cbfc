"""The shipped systemd units parse and stay hardened (systemd-analyze, offline)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_units_parse() -> None:
    units = sorted(str(p) for p in UNITS.iterdir() if p.suffix in (".service", ".path", ".timer"))
    assert len(units) == 4
    result = analyze("verify", *units)
    # The binary only exists once syncbot is installed on the server; anything else is real.
    problems = [
        line for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable" not in line and "No such file" not in line
    ]  # fmt: skip
    assert problems == []


@pytest.mark.parametrize("unit", ["syncbot.service", "syncbot-oneshot.service"])
def test_exposure_rating_is_ok_or_better(unit: str) -> None:
    result = analyze("security", "--offline=true", str(UNITS / unit))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert found, result.stdout + result.stderr
    score, rating = float(found.group(1)), found.group(2)
    assert rating in ("OK", "SAFE") and score <= 2.0, (score, rating)


def test_worker_unit_is_a_notify_service_with_a_watchdog() -> None:
    text = (UNITS / "syncbot.service").read_text("utf-8")
    expected = (
        "Type=notify",
        "ExecStart=/usr/local/bin/syncbot run",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=ldap-password:",
    )
    for line in expected:
        assert line in text
    assert "Password=" not in text and "Secret=" not in text  # secrets only as credentials
