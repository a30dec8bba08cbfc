"""`syncbot run` as a real process against a real slapd seeded with the sample department.

Every wait is bounded; a server or worker that cannot start fails the test.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from test_cli_e2e import sample_department
from worker_process import (
    WorkerProcess,
    audit,
    can_bind,
    departed,
    replace_atomically,
    start,
    syncbot,
    wait_for,
)

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.sample import SAMPLE_PASSWORD, directory_ldif, ldif_line, roster_csv
from localdev.slapd import SlapdServer

pytestmark = pytest.mark.slapd
TODAY = date.today()
REPO = Path(__file__).resolve().parent.parent
WORKER_SETTINGS = "\n[worker]\ninterval_minutes = 0\ndebounce_seconds = {debounce}\n"


@pytest.fixture
def sample(slapd_server: SlapdServer, tmp_path: Path) -> Path:
    return sample_department(slapd_server, tmp_path, WORKER_SETTINGS.format(debounce=1.0))


def test_startup_run_then_a_replaced_roster_locks_the_account_within_seconds(
    sample: Path, slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    assert can_bind(slapd_server, "hattt") and can_bind(slapd_server, "thaovt")
    worker = start(workers, sample)
    first = worker.wait_runs(1)[0]
    assert first["event"] == "run_finished" and first["trigger"] == "startup", worker.log()
    assert not can_bind(slapd_server, "hattt")
    assert any(r.get("action") == "disable" and "hattt" in r["account"] for r in audit(sample))

    roster = sample.parent / "nhan-su.csv"
    landed = time.monotonic()
    replace_atomically(roster, departed(roster_csv(TODAY), "CB1007", TODAY - timedelta(days=1)))
    wait_for("thaovt locked", lambda: not can_bind(slapd_server, "thaovt"), timeout=10)
    latency = time.monotonic() - landed
    print(f"lock-out latency: {latency:.2f} s")
    assert latency < 10
    changes = [r for r in audit(sample) if r["event"] == "change" and "thaovt" in r["account"]]
    assert [r["action"] for r in changes if r["action"] == "disable"] == ["disable"]
    assert all(r["result"] == "ok" for r in changes)

    second = worker.wait_runs(2)[1]
    assert second["trigger"] == "file" and second["result"] == "ok"
    assert second["actions"].get("disable") == 1
    assert worker.stop() == 0


def test_a_half_written_file_gives_one_run_with_the_complete_data(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    roster = tmp_path / "nhan-su.csv"
    roster.write_text(roster_csv(TODAY), encoding="utf-8")
    config = write_config(
        tmp_path, slapd_server, REPO_MAPPINGS, WORKER_SETTINGS.format(debounce=2.0)
    )
    worker = start(workers, config)
    worker.wait_runs(1)

    complete = departed(roster_csv(TODAY), "CB1050", TODAY - timedelta(days=1)).encode("utf-8")
    # The departing row (CB1050) is in the second half, which a run on half a file never sees.
    with roster.open("wb") as handle:
        handle.write(complete[: len(complete) // 2])
        handle.flush()
        time.sleep(1.0)
        assert can_bind(slapd_server, "yenlv")
        handle.write(complete[len(complete) // 2 :])
    wait_for("yenlv locked", lambda: not can_bind(slapd_server, "yenlv"), timeout=15)
    time.sleep(3.0)  # long enough for a second, spurious run to show up
    runs = worker.events("run_started")
    assert [r["trigger"] for r in runs] == ["startup", "file"], worker.log()
    assert not worker.events("run_failed")
    assert worker.stop() == 0


def many_departures(server: SlapdServer, count: int) -> tuple[str, str]:
    """LDIF of `count` extra accounts and roster rows saying they all left last month."""
    entries, rows = [], []
    left = (TODAY - timedelta(days=30)).strftime("%d/%m/%Y")
    for i in range(count):
        uid, number = f"tamthoi{i:03d}", f"CB{5000 + i}"
        entries.append(
            "\n".join(
                [
                    f"dn: uid={uid},{server.people_base}",
                    "objectClass: inetOrgPerson",
                    f"uid: {uid}",
                    ldif_line("cn", f"Nhân viên tạm thời {i}"),
                    "sn: tam",
                    f"userPassword: {SAMPLE_PASSWORD}",
                    f"mail: {uid}@tinhmau.gov.vn",
                    f"employeeNumber: {number}",
                ]
            )
        )
        rows.append(
            f"{number},Nhân viên tạm thời {i},{uid}@tinhmau.gov.vn,Văn phòng,"
            f"Chuyên viên,Nghỉ việc,{left}"
        )
    return "\n\n".join(entries) + "\n", "\r\n".join(rows) + "\r\n"


DEPARTURES = 1500


def test_sigterm_mid_apply_exits_0_audit_verifies_and_a_restart_converges(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    # Enough that even a fast apply (windows of people, merged group changes) is still
    # running when the signal comes.
    ldif, rows = many_departures(slapd_server, DEPARTURES)
    slapd_server.add_ldif(ldif)
    (tmp_path / "nhan-su.csv").write_text(roster_csv(TODAY) + rows, encoding="utf-8")
    config = write_config(
        tmp_path, slapd_server, REPO_MAPPINGS, WORKER_SETTINGS.format(debounce=1.0)
    )
    # Most of the directory leaving at once crosses every threshold: permitted here.
    text = config.read_text("utf-8")
    text = text.replace("max_disable_share = 0.10", "max_disable_share = 1.0")
    config.write_text(text, encoding="utf-8")

    worker = start(workers, config)
    wait_for(
        "the first change audited",
        lambda: any(r["event"] == "change" for r in audit(config)),
        timeout=60,
    )
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=15) == 0
    finished = [r for r in audit(config) if r["event"] == "run_finished"]
    assert finished and finished[-1]["details"]["interrupted"] is True, (
        "SIGTERM came after the apply"
    )
    changes = [r for r in audit(config) if r["event"] == "change"]
    assert 0 < len(changes) < DEPARTURES

    verify = syncbot(config, "audit", "verify")
    assert verify.returncode == 0, verify.stderr

    again = start(workers, config, "worker-2")
    run = again.wait_runs(1, timeout=120)[0]
    assert run["event"] == "run_finished" and run["result"] == "ok", again.log()
    assert again.stop() == 0
    plan = syncbot(config, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["actions"] == []
    assert not can_bind(slapd_server, f"tamthoi{DEPARTURES - 1}")
    assert syncbot(config, "audit", "verify").returncode == 0


def test_a_second_worker_on_the_same_config_exits_8(
    sample: Path, workers: list[WorkerProcess]
) -> None:
    worker = start(workers, sample)
    worker.wait_runs(1)
    began = time.monotonic()
    second = syncbot(sample, "run")
    assert second.returncode == 8
    assert time.monotonic() - began < 10
    assert "another syncbot worker" in second.stderr and str(worker.proc.pid) in second.stderr
    assert worker.proc.poll() is None
    assert worker.stop() == 0


def test_sighup_with_a_broken_config_keeps_the_old_one(
    sample: Path, slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    worker = start(workers, sample)
    worker.wait_runs(1)
    good = sample.read_text("utf-8")
    sample.write_text(good + "\n[worker.bogus]\n", encoding="utf-8")
    worker.proc.send_signal(signal.SIGHUP)
    rejected = wait_for("reload_rejected", lambda: worker.events("reload_rejected"), timeout=10)
    assert "worker.bogus" in rejected[0]["error"]
    assert worker.proc.poll() is None

    roster = sample.parent / "nhan-su.csv"
    replace_atomically(roster, departed(roster_csv(TODAY), "CB1004", TODAY))
    wait_for("binhhd locked", lambda: not can_bind(slapd_server, "binhhd"), timeout=15)
    assert worker.stop() == 0


def test_status_file_and_status_command_after_a_run(
    sample: Path, workers: list[WorkerProcess]
) -> None:
    before = syncbot(sample, "status")
    assert before.returncode == 12, before.stderr
    worker = start(workers, sample)
    worker.wait_runs(1)
    status_file = sample.parent / "state" / "worker.json"
    data = wait_for(
        "status after the run",
        lambda: (s := json.loads(status_file.read_text("utf-8")))["last_run"] and s,
        timeout=10,
    )
    assert data["pid"] == worker.proc.pid
    last = data["last_run"]
    assert last["trigger"] == "startup" and last["result"] == "ok" and last["failed"] == 0
    assert last["actions"]["disable"] == 3
    # The sample's future departure is a due date the worker will run on by itself.
    assert data["pending_due_dates"] and data["pending_due_dates"][0] > TODAY.isoformat()

    shown = syncbot(sample, "status")
    assert shown.returncode == 0, shown.stderr
    assert "thành công / succeeded" in shown.stdout and last["id"] in shown.stdout
    assert data["pending_due_dates"][0] in shown.stdout
    as_json = syncbot(sample, "status", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["last_run"]["id"] == last["id"]
    assert worker.stop() == 0


def test_a_push_runs_for_the_named_people_only_and_metrics_count_it(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    import urllib.request

    from localdev.ports import free_port

    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    roster = tmp_path / "nhan-su.csv"
    roster.write_text(roster_csv(TODAY), encoding="utf-8")
    (tmp_path / "drop").mkdir()  # watched but empty: only the push can start a run
    (tmp_path / "push-token").write_text("push-token-for-tests-8d3f0b6e2a91\n", encoding="utf-8")
    push_port, metrics_port = free_port(), free_port()
    config = write_config(
        tmp_path,
        slapd_server,
        REPO_MAPPINGS,
        f"""
[worker]
interval_minutes = 0
watch = "drop"
[worker.push]
listen = "127.0.0.1:{push_port}"
token_file = "push-token"
[worker.metrics]
listen = "127.0.0.1:{metrics_port}"
""",
    )
    worker = start(workers, config)
    worker.wait_runs(1)
    # Two departures in the file; HR pushes only one of them.
    text = departed(roster_csv(TODAY), "CB1007", TODAY - timedelta(days=1))
    replace_atomically(roster, departed(text, "CB1008", TODAY - timedelta(days=1)))
    request = urllib.request.Request(
        f"http://127.0.0.1:{push_port}/v1/roster-changes",
        data=json.dumps({"employee_ids": ["CB1007"]}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer push-token-for-tests-8d3f0b6e2a91",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        assert response.status == 202
    run = worker.wait_runs(2)[1]
    assert run["trigger"] == "push" and run["result"] == "ok", worker.log()
    assert not can_bind(slapd_server, "thaovt")
    assert can_bind(slapd_server, "cuongvn")  # not named by the push: waits for a full run
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        metrics = page.read().decode()
    assert "syncbot_runs_total" in metrics and 'trigger="push"' in metrics
    assert "push-token-for-tests" not in worker.log_path.read_text("utf-8")
    assert worker.stop() == 0


def test_an_unreachable_target_is_retried_with_backoff_and_status_says_failed(
    sample: Path, slapd_server: SlapdServer, workers: list[WorkerProcess]
) -> None:
    from localdev.ports import free_port

    text = sample.read_text("utf-8").replace(slapd_server.url, f"ldap://127.0.0.1:{free_port()}")
    sample.write_text(text, encoding="utf-8")
    worker = start(workers, sample)
    first, second = worker.wait_runs(2, timeout=20)
    assert first["event"] == second["event"] == "run_failed", worker.log()
    assert first["alert"] is True and second["trigger"] == "retry"
    # The second retry is scheduled just after the second failure is logged: wait for it.
    retries = wait_for("two retries", lambda: worker.events("retry_scheduled")[1:], timeout=10)
    assert [e["in_seconds"] for e in worker.events("retry_scheduled")][:2] == [5.0, 10.0]
    assert retries
    status = syncbot(sample, "status")
    assert status.returncode == 11, status.stdout + status.stderr
    assert "lỗi / failed" in status.stdout
    assert worker.proc.poll() is None  # still serving
    assert worker.stop() == 0
    failures = [r for r in audit(sample) if r["event"] == "run_finished"]
    assert len(failures) >= 2  # each failed run is evidence in the audit log too
    assert {r["details"]["result"] for r in failures} == {"failed"}
    assert all(r["details"]["error"] for r in failures)
    assert syncbot(sample, "audit", "verify").returncode == 0
