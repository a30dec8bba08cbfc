"""Targeted runs end to end: a real slapd, the worker as a real process, kill -9.

A file drop is applied for the people whose rows changed, read by lookup; a full plan
afterwards finds nothing left. A targeted apply killed at random points converges on the
next run with every change audited once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from test_cli_e2e import _big_departure, audit_line_count, plan_json, run, sample  # noqa: F401
from test_push_safety import departed_rows, locked, office, push  # noqa: F401
from worker_process import (
    WorkerProcess,
    departed,
    replace_atomically,
    start,
    syncbot,
)

from localdev.sample import roster_csv
from localdev.slapd import SlapdServer

pytestmark = pytest.mark.slapd


def computed(worker: WorkerProcess) -> list[dict[str, object]]:
    return worker.events("plan_computed")


def test_a_file_drop_is_applied_for_the_changed_people_only(
    office: tuple[Path, int],  # noqa: F811
    slapd_server: SlapdServer,
    workers: list[WorkerProcess],
) -> None:
    config, _ = office
    worker = start(workers, config)
    assert worker.wait_runs(1)[0]["result"] == "ok", worker.log()
    assert computed(worker)[0]["scope"] == "full"
    roster = config.parent / "nhan-su.csv"
    text = roster_csv(date.today())
    for person in ("CB1010", "CB1011"):
        text = departed(text, person, date.today())
    replace_atomically(roster, text)

    second = worker.wait_runs(2)[1]

    assert second["result"] == "ok", worker.log()
    plan = computed(worker)[1]
    assert plan["scope"] == "export" and plan["people"] == 2, plan
    assert plan["accounts_read"] == 2  # two accounts read, not the department's 70
    assert locked(slapd_server, ["CB1010", "CB1011", "CB1012"]) == ["CB1010", "CB1011"]
    full = syncbot(config, "plan", "--json")
    assert full.returncode == 0 and json.loads(full.stdout)["actions"] == [], full.stdout
    assert syncbot(config, "audit", "verify").returncode == 0
    assert worker.stop() == 0


def test_a_push_reads_only_the_person_it_names(
    office: tuple[Path, int],  # noqa: F811
    slapd_server: SlapdServer,
    workers: list[WorkerProcess],
) -> None:
    config, port = office
    worker = start(workers, config)
    assert worker.wait_runs(1)[0]["result"] == "ok", worker.log()

    assert push(port, {"rows": departed_rows(["CB1012"])})[0] == 202
    second = worker.wait_runs(2)[1]

    assert second["result"] == "ok", worker.log()
    plan = computed(worker)[1]
    assert (plan["scope"], plan["people"], plan["accounts_read"]) == ("push", 1, 1), plan
    assert locked(slapd_server, ["CB1011", "CB1012"]) == ["CB1012"]
    # The same export dropped again: the pushed person is judged with it once (their row
    # differs from the roster last applied whole), and the pushed row still holds...
    replace_atomically(config.parent / "nhan-su.csv", roster_csv(date.today()))
    assert worker.wait_runs(3)[2]["result"] == "ok", worker.log()
    assert (computed(worker)[2]["people"], computed(worker)[2]["actions"]) == (1, 0)
    assert locked(slapd_server, ["CB1012"]) == ["CB1012"]
    # ...then nobody differs any more.
    replace_atomically(config.parent / "nhan-su.csv", roster_csv(date.today()))
    assert worker.wait_runs(4)[3]["result"] == "ok", worker.log()
    assert (computed(worker)[3]["people"], computed(worker)[3]["accounts_read"]) == (0, 0)
    assert worker.stop() == 0


def test_a_targeted_apply_killed_anywhere_converges_and_audits_each_change_once(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _big_departure(slapd_server, sample.parent)
    roster = sample.parent / "nhan-su.csv"
    leaving = roster.read_bytes()
    staying = leaving.replace("Nghỉ việc,01/11/2026\r\n".encode(), "Đang công tác,\r\n".encode())
    assert staying.count("Đang công tác".encode()) >= 400
    roster.write_bytes(staying)
    assert run(sample, "apply", "--yes", "--force") == 0  # everyone in step, prints kept
    roster.write_bytes(leaving)  # 400 of them leave
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "info"}
    cmd = [sys.executable, "-m", "syncbot", "--config", str(sample), "apply", "--yes",
           "--force", "--changed"]  # fmt: skip
    chance = random.Random(16)  # noqa: S311 - kill timing, nothing secret
    scopes: list[str] = []
    killed = 0
    for _ in range(3):
        wanted = audit_line_count(sample) + chance.randint(3, 200)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while audit_line_count(sample) < wanted and proc.poll() is None:
            assert time.monotonic() < deadline, "the apply never reached the kill point"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        assert proc.stderr is not None
        events = [json.loads(line) for line in proc.stderr.read().decode().splitlines()
                  if line.startswith("{")]  # fmt: skip
        scopes += [e["scope"] for e in events if e.get("event") == "plan_computed"]
        capsys.readouterr()
        assert run(sample, "audit", "verify") == 0
    # The first run was narrowed to the 400; those after a kill read everyone, so the
    # killed run's last steps are judged by the whole directory.
    assert killed >= 2
    assert scopes[0] == "export" and set(scopes[1:]) <= {"full"}, scopes
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert plan_json(sample, capsys)["actions"] == []
    assert run(sample, "audit", "verify") == 0
    changes = [json.loads(x) for x in (sample.parent / "audit" / "audit.jsonl").read_text(
        "utf-8").splitlines()]  # fmt: skip
    ok = [(r["account"], r["action"], json.dumps(r["before"])) for r in changes
          if r.get("result") == "ok"]  # fmt: skip
    assert len(ok) == len(set(ok))  # no change recorded twice
    assert len({a for a, kind, _ in ok if kind == "disable" and "uid=tam" in a}) == 400
