"""Faults during a run, against the real slapd: no change lost, none recorded twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ldap3.core.exceptions import LDAPSocketReceiveError
from test_cli_e2e import _big_departure, audit_line_count, audit_lines, sample_department

from localdev.slapd import SlapdServer
from syncbot.cli import main
from syncbot.targets.ldap import write as ldap_write

pytestmark = pytest.mark.slapd
TODAY = date.today()
REPO = Path(__file__).resolve().parent.parent


def test_slapd_dying_mid_apply_is_audited_and_the_next_run_converges(
    slapd_server: SlapdServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = sample_department(slapd_server, tmp_path)
    _big_departure(slapd_server, tmp_path)
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "error"}
    cmd = [sys.executable, "-m", "syncbot", "--config", str(config), "apply", "--yes", "--force"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while audit_line_count(config) <= 60:
        assert time.monotonic() < deadline and proc.poll() is None, "apply did not get going"
        time.sleep(0.02)
    slapd_server.stop()  # the directory dies mid-run...
    time.sleep(1.0)
    slapd_server.start()  # ...and comes back
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 6, err  # finished, with failed steps
    records = [json.loads(line) for line in audit_lines(config)]
    failed = [r for r in records if r.get("result") == "failed"]
    assert failed and all(r["error"] for r in failed)
    assert records[-1]["event"] == "run_finished" and records[-1]["details"]["failed"] == len(
        failed
    )

    assert main(["--config", str(config), "apply", "--yes", "--force"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "plan", "--detailed-exitcode"]) == 0  # converged
    assert main(["--config", str(config), "audit", "verify"]) == 0
    records = [json.loads(line) for line in audit_lines(config)]
    done = [(r["account"], r["action"], tuple(r["before"].get("member_of", [])))
            for r in records if r.get("result") == "ok"]  # fmt: skip
    assert len(done) == len(set(done))  # every successful change recorded exactly once
    locked = {account for account, action, _ in done if action == "disable"}
    assert len(locked) == 403


def test_a_lock_made_whose_answer_was_lost_is_recorded_by_the_next_run(
    slapd_server: SlapdServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The worst moment to lose the directory: after it made a change, before it answered.

    The first lock is really made; then the server stops and the answer never arrives, so
    the run can only record the step as failed. The next run sees the lock in the
    directory and records it as done: one `ok` record for every change that was made.
    """
    config = sample_department(slapd_server, tmp_path)
    real_modify = ldap_write.modify
    lost: list[str] = []

    def modify_then_lose_the_answer(conn: Any, target: str, dn: str, changes: Any,
                                    **options: Any) -> int:  # fmt: skip
        code = real_modify(conn, target, dn, changes, **options)
        if not lost and "pwdAccountLockedTime" in changes:
            lost.append(dn)
            slapd_server.stop()
            raise LDAPSocketReceiveError("connection closed by the server")
        return code

    monkeypatch.setattr(ldap_write, "modify", modify_then_lose_the_answer)
    assert main(["--config", str(config), "apply", "--yes", "--force"]) == 6
    monkeypatch.undo()
    slapd_server.start()
    first = [json.loads(line) for line in audit_lines(config)]
    (answerless,) = [r for r in first if r.get("account") == lost[0] and r["action"] == "disable"]
    assert answerless["result"] == "failed" and "closed by the server" in answerless["error"]

    assert main(["--config", str(config), "apply", "--yes", "--force"]) == 0
    assert main(["--config", str(config), "plan", "--detailed-exitcode"]) == 0  # converged
    assert main(["--config", str(config), "audit", "verify"]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in audit_lines(config)]
    late = [r for r in records[len(first) :] if r.get("account") == lost[0]]
    locks = [(r["result"], r["run_id"]) for r in late if r["action"] == "disable"]
    assert locks == [("ok", answerless["run_id"])]  # under the run that made it, once
    assert "recorded on recovery by run" in late[0]["actor"]
    # The person's group removals, refused while the server was down, are done again.
    assert {r["action"] for r in late[1:]} == {"revoke"}
    assert all(r["result"] == "ok" for r in late)
    done = [(r["account"], r["action"], json.dumps(r["before"])) for r in records
            if r.get("result") == "ok"]  # fmt: skip
    assert len(done) == len(set(done))  # no change recorded twice
