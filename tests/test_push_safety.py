"""HR pushes against the worker as a real process and a real slapd: never past a threshold,
never undone by the next export, never dropped when runs merge, never the shrink baseline.

Each test replays one finding of the attack review on the sample department (72 roster
rows, about 70 matched people, `max_disable_share` 10 %) and shows the fixed behaviour.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from worker_process import WorkerProcess, audit, can_bind, start, syncbot, wait_for

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.ports import free_port
from localdev.sample import directory_ldif, roster_csv
from localdev.slapd import SlapdServer

pytestmark = pytest.mark.slapd
TODAY = date.today()
YESTERDAY = TODAY - timedelta(days=1)
TOKEN = "push-token-for-safety-tests-5c1e9a0d7b"
FIRST = [f"CB10{n:02d}" for n in range(10, 17)]  # seven plain specialists and clerks
SECOND = [f"CB10{n:02d}" for n in range(17, 24)]  # seven more: 14 of ~70 is 20 %


@pytest.fixture
def office(slapd_server: SlapdServer, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """The sample department and a worker config with a push endpoint; (config, push port).

    The roster file itself is watched (the default), so touching it starts a full run.
    """
    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    (tmp_path / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    (tmp_path / "push-token").write_text(TOKEN + "\n", encoding="utf-8")
    port = free_port()
    config = write_config(
        tmp_path,
        slapd_server,
        REPO_MAPPINGS,
        f"""
[worker]
interval_minutes = 0
debounce_seconds = 0.3
[worker.push]
listen = "127.0.0.1:{port}"
token_file = "push-token"
""",
    )
    yield config, port


def export_rows() -> dict[str, dict[str, str]]:
    """The sample export's rows by employee id, as a JSON push spells them."""
    text = roster_csv(TODAY).lstrip("\ufeff")
    return {row["Mã cán bộ"]: row for row in csv.DictReader(io.StringIO(text))}


def departed_rows(ids: list[str]) -> list[dict[str, str]]:
    rows = export_rows()
    return [
        {**rows[i], "Trạng thái": "Nghỉ việc", "Ngày hiệu lực": YESTERDAY.strftime("%d/%m/%Y")}
        for i in ids
    ]


def push(port: int, body: dict[str, Any]) -> tuple[int, bytes]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/roster-changes",
        data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            assert response.status == 202
            return response.status, data
    except urllib.error.HTTPError as error:
        return error.code, data


def uid(employee_id: str) -> str:
    return export_rows()[employee_id]["Email"].split("@")[0]


def locked(server: SlapdServer, ids: list[str]) -> list[str]:
    return [i for i in ids if not can_bind(server, uid(i))]


def runs(worker: WorkerProcess) -> list[dict[str, Any]]:
    return [
        e
        for e in worker.events()
        if e.get("event") in ("run_finished", "run_failed", "run_refused")
    ]


def touch(path: Path) -> None:
    later = time.time() + 1
    os.utime(path, (later, later))


def plan_actions(config: Path) -> list[dict[str, Any]]:
    done = syncbot(config, "plan", "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["actions"])


def test_a_mass_departure_split_into_pushes_is_refused_like_the_same_export(
    office: tuple[Path, int], slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    config, port = office
    worker = start(workers, config)
    assert worker.wait_runs(1)[0]["result"] == "ok", worker.log()

    assert push(port, {"rows": departed_rows(FIRST)})[0] == 202
    first = worker.wait_runs(2)[1]
    assert first["trigger"] == "push" and first["result"] == "ok", worker.log()
    assert locked(slapd_server, FIRST) == FIRST

    assert push(port, {"rows": departed_rows(SECOND)})[0] == 202
    second = worker.wait_runs(3)[2]
    assert second["event"] == "run_refused", worker.log()
    problems = second["problems"]
    assert "lock or strip roles from 14 of" in problems
    assert (
        "with 7 already locked or stripped by HR pushes since the last full reconcile" in problems
    )
    assert "safety.max_disable_share = 10.0 %" in problems
    assert locked(slapd_server, SECOND) == []  # no more than the allowed share is locked

    # The refusal is remembered: the next full run (the export touched) is refused too.
    touch(config.parent / "nhan-su.csv")
    third = worker.wait_runs(4)[3]
    assert third["event"] == "run_refused" and "14 of" in third["problems"], worker.log()
    assert locked(slapd_server, SECOND) == []
    status = syncbot(config, "status")
    assert all(i in status.stdout for i in FIRST + SECOND), status.stdout  # pending, listed
    assert worker.stop() == 0

    # A person reviews and forces it: one full reconcile applies all, and the count restarts.
    forced = syncbot(config, "apply", "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    assert locked(slapd_server, SECOND) == SECOND
    store = json.loads((config.parent / "state" / "pushes.json").read_text("utf-8"))
    assert store["taken"] == []
    assert syncbot(config, "audit", "verify").returncode == 0


def test_pushes_naming_ids_count_across_pushes_too(
    office: tuple[Path, int], slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    """The same split with ids only: the export says who left; no file trigger is watched."""
    config, port = office
    text = config.read_text("utf-8").replace("[worker]\n", '[worker]\nwatch = "drop"\n')
    config.write_text(text, encoding="utf-8")
    (config.parent / "drop").mkdir()
    worker = start(workers, config)
    worker.wait_runs(1)
    lines = roster_csv(TODAY).split("\r\n")
    stamp = YESTERDAY.strftime("%d/%m/%Y")
    for i, line in enumerate(lines):
        if line.split(",")[0] in FIRST + SECOND:
            fields = line.split(",")
            fields[5], fields[6] = "Nghỉ việc", stamp
            lines[i] = ",".join(fields)
    (config.parent / "nhan-su.csv").write_text("\r\n".join(lines), encoding="utf-8")
    assert push(port, {"employee_ids": FIRST})[0] == 202
    assert worker.wait_runs(2)[1]["result"] == "ok", worker.log()
    assert push(port, {"employee_ids": SECOND})[0] == 202
    refused = worker.wait_runs(3)[2]
    assert refused["event"] == "run_refused" and "14 of" in refused["problems"], worker.log()
    assert locked(slapd_server, FIRST) == FIRST and locked(slapd_server, SECOND) == []
    assert worker.stop() == 0


def test_pushed_departures_hold_through_a_full_run_on_the_older_export(
    office: tuple[Path, int], slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    config, port = office
    worker = start(workers, config)
    worker.wait_runs(1)
    status, body = push(port, {"rows": departed_rows(FIRST)})
    assert status == 202
    assert worker.wait_runs(2)[1]["result"] == "ok", worker.log()
    assert locked(slapd_server, FIRST) == FIRST

    touch(config.parent / "nhan-su.csv")  # the unchanged export "arrives" again
    full = worker.wait_runs(3)[2]
    assert full["trigger"] == "file" and full["result"] == "ok", worker.log()
    assert full["actions"] == {}, full  # no enable, no grant, no change_unit
    assert locked(slapd_server, FIRST) == FIRST
    assert plan_actions(config) == []

    # Every step the push caused names the push as its evidence.
    push_sha = hashlib.sha256(body).hexdigest()
    disables = [r for r in audit(config) if r.get("action") == "disable"]
    pushed = [r for r in disables if r["employee_id"] in FIRST]
    assert len(pushed) == len(FIRST)
    for record in pushed:
        assert record["evidence"]["roster_sha256"] == push_sha
        assert record["evidence"]["roster_file"].startswith("HR push from 127.0.0.1")
    store = json.loads((config.parent / "state" / "pushes.json").read_text("utf-8"))
    assert store["taken"] == []  # the full run judged everyone: the count restarted
    assert sorted(store["rows"]) == sorted(FIRST)  # still in force over the older export

    # A newer export that says so itself replaces the pushed rows; nobody is unlocked.
    lines = roster_csv(TODAY).split("\r\n")
    stamp = YESTERDAY.strftime("%d/%m/%Y")
    for i, line in enumerate(lines):
        if line.split(",")[0] in FIRST:
            fields = line.split(",")
            fields[5], fields[6] = "Nghỉ việc", stamp
            lines[i] = ",".join(fields)
    (config.parent / "nhan-su.csv").write_text("\r\n".join(lines), encoding="utf-8")
    assert worker.wait_runs(4)[3]["result"] == "ok", worker.log()
    store = json.loads((config.parent / "state" / "pushes.json").read_text("utf-8"))
    assert store["rows"] == {}
    assert locked(slapd_server, FIRST) == FIRST
    assert worker.stop() == 0
    assert syncbot(config, "audit", "verify").returncode == 0


def test_a_push_queued_between_file_triggers_is_not_dropped_when_they_merge(
    office: tuple[Path, int], slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    config, port = office
    worker = start(workers, config)
    worker.wait_runs(1)
    lock_path = config.parent / "state" / "lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a run (an administrator's apply) holds the lock
        touch(config.parent / "nhan-su.csv")
        wait_for("the run to wait for the lock", lambda: worker.events("run_waiting_for_lock"))
        assert push(port, {"rows": departed_rows(["CB1030"])})[0] == 202
        wait_for("the push to be queued", lambda: worker.events("trigger_received")[1:])
        later = time.time() + 2
        os.utime(config.parent / "nhan-su.csv", (later, later))
        time.sleep(0.8)  # past the debounce: the second file trigger is queued too
    finally:
        os.close(fd)
    wait_for("CB1030 locked", lambda: locked(slapd_server, ["CB1030"]) == ["CB1030"])
    merged = wait_for("a merged run", lambda: [r for r in runs(worker) if "+" in r["trigger"]])
    assert merged[0]["result"] == "ok", worker.log()
    assert worker.stop() == 0
    assert syncbot(config, "audit", "verify").returncode == 0


def test_pushed_new_hires_do_not_move_the_shrink_baseline(
    office: tuple[Path, int], slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    config, port = office
    worker = start(workers, config)
    worker.wait_runs(1)
    template = export_rows()["CB1010"]
    hires = [
        {**template, "Mã cán bộ": f"CB30{n:02d}", "Họ và tên": f"Người Mới {n}",
         "Email": f"moi{n}@tinhmau.gov.vn"}
        for n in range(20)
    ]  # fmt: skip
    assert push(port, {"rows": hires})[0] == 202
    assert worker.wait_runs(2)[1]["result"] == "ok", worker.log()
    last_run = json.loads((config.parent / "state" / "last-run.json").read_text("utf-8"))
    assert last_run["roster_rows"] == 72  # the export's rows, not 92

    touch(config.parent / "nhan-su.csv")
    full = worker.wait_runs(3)[2]
    assert full["event"] == "run_finished" and full["result"] == "ok", worker.log()
    # The new hires are absent from the export: their pushed rows stay in force.
    status = syncbot(config, "status", "--json")
    pending = json.loads(status.stdout)["pushed_rows"]
    assert sorted(p["employee_id"] for p in pending) == [h["Mã cán bộ"] for h in hires]
    assert all(p["credential"].startswith("bearer token sha256:") for p in pending)
    assert TOKEN not in (config.parent / "state" / "pushes.json").read_text("utf-8")
    assert worker.stop() == 0


def test_a_push_answered_202_survives_a_kill_9_before_its_run(
    office: tuple[Path, int], slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    """The 202 is a promise: the rows are on disk before it, so a crash cannot lose them."""
    config, port = office
    worker = start(workers, config)
    worker.wait_runs(1)
    lock_path = config.parent / "state" / "lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the push run cannot start...
        assert push(port, {"rows": departed_rows(["CB1031"])})[0] == 202
        wait_for("the run to wait for the lock", lambda: worker.events("run_waiting_for_lock"))
        worker.proc.send_signal(signal.SIGKILL)  # ...and the worker dies waiting
        worker.proc.wait(timeout=10)
    finally:
        os.close(fd)
    assert can_bind(slapd_server, uid("CB1031"))
    again = start(workers, config, "worker-again")
    first = again.wait_runs(1)[0]
    assert first["trigger"] == "startup" and first["result"] == "ok", again.log()
    assert locked(slapd_server, ["CB1031"]) == ["CB1031"]
    assert again.stop() == 0
    assert syncbot(config, "audit", "verify").returncode == 0
