"""`syncbot demo` needs the dev servers of a source checkout, which pip does not install."""

from __future__ import annotations

from pathlib import Path

import pytest

import syncbot
from syncbot.cli import main
from syncbot.cli.demo import checkout_localdev
from syncbot.exit_codes import ExitCode


def test_the_checkout_the_tests_run_from_is_found() -> None:
    assert checkout_localdev() == Path(__file__).resolve().parents[1] / "localdev"


def test_an_installed_copy_says_in_one_line_to_run_the_demo_from_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Where a wheel puts the package: nothing of the checkout beside it.
    installed = tmp_path / "site-packages" / "syncbot" / "__init__.py"
    installed.parent.mkdir(parents=True)
    installed.touch()
    monkeypatch.setattr(syncbot, "__file__", str(installed))

    code = main(["demo", "--no-keycloak", "--workdir", str(tmp_path / "demo")])

    assert code == ExitCode.LOCAL_RESOURCE == 14
    assert capsys.readouterr().err.splitlines() == [
        "syncbot: the demo's servers are not installed with syncbot: "
        "run the demo from a source checkout"
    ]
    assert not (tmp_path / "demo").exists()
