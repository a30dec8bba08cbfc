"""`.ci/install-keycloak` leaves a usable distribution whatever happened to the last one.

A start-dev killed during its build once left the shared distribution broken for every later
start, while the install script still said "already installed". Now the build happens at
install, in a scratch folder renamed into place when whole, and the script checks what it
built: these tests kill it mid-build and damage a finished install, as on a real machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from localdev.keycloak import BUILT_MARKER, KeycloakServer, install_problem

pytestmark = pytest.mark.keycloak
REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / ".ci" / "install-keycloak"


def install(home: Path, **popen: object) -> subprocess.Popen[str]:
    environment = {**os.environ, "SYNCBOT_KEYCLOAK_HOME": str(home)}
    return subprocess.Popen(
        ["bash", str(SCRIPT)],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the kill reaches mvn, unzip and the build's JVM too
        **popen,  # type: ignore[arg-type]
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def kill_during_build(home: Path) -> None:
    """Start an install and SIGKILL its whole group once `kc.sh build` is running."""
    process = install(home)
    scratch_parent = home.parent
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        building = list(scratch_parent.glob(".install-*/unpacked/*/lib/quarkus"))
        if building and list(scratch_parent.glob(".install-*/tmp")):
            time.sleep(3)  # well into the build: Quarkus is rewriting lib/quarkus
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    else:
        pytest.fail("the install never reached its build step")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert not home.exists()  # only a finished build is ever renamed into place


def test_an_install_killed_in_its_build_and_a_damaged_install_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "keycloak"
    kill_during_build(home)

    code, out, err = finished(install(home))
    assert code == 0, err
    assert out.strip() == str(home)
    assert install_problem(home) is None
    assert not list(tmp_path.glob(".install-*"))  # the killed run's scratch folder is gone

    # What a killed start-dev used to leave behind.
    (home / "lib" / "quarkus" / "quarkus-application.dat").unlink()
    code, _, err = finished(install(home))
    assert code == 0, err
    assert "replacing the install" in err and "differs from what the build wrote" in err
    assert install_problem(home) is None

    code, _, err = finished(install(home))
    assert code == 0 and "already installed and built" in err

    monkeypatch.delenv("SYNCBOT_KEYCLOAK_URL", raising=False)
    with KeycloakServer(tmp_path / "work", home=home) as server:
        assert server.admin().get_realm("master")["realm"] == "master"
    assert install_problem(home) is None
    assert (home / BUILT_MARKER).read_text("utf-8").startswith("options: --db=dev-file")
