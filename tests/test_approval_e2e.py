"""Saved plans and their approval end to end, against a real slapd.

A plan refused by a threshold is saved; approving it applies exactly its steps, skipping
(and reporting) those whose account changed by hand; a stale plan, a rejected one and the
requester's own approval under the four-eyes rule are refused; `plan --out` and
`apply FILE` round trip; the worker applies an approval made while it runs; and an
approved plan's apply killed anywhere converges on the next attempt.

Approvers other than root are real OS users (nobody, daemon). The test's Python lives
under /root, which they cannot read, so `syncbot approve` runs in a child forked from
this process (every module it needs already loaded) that then drops to the user, as
`subprocess.run(..., user=...)` would.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest
from target_steps import apply_one
from test_cli_e2e import (  # noqa: F401
    _big_departure,
    _mass_departure,
    audit_line_count,
    audit_lines,
    can_bind,
    plan_json,
    run,
    sample,
    sample_department,
)
from worker_process import WorkerProcess, start, workers  # noqa: F401

# Loaded before a child drops to another user, who cannot read this Python's files.
from localdev.slapd import SlapdServer
from syncbot.approval.decisions_config import load_decisions_config
from syncbot.approval.saved import SavedPlan
from syncbot.approval.store import PlanStore
from syncbot.cli import main
from syncbot.config import load_config
from syncbot.model import ActionKind
from syncbot.reconcile import prepare

pytestmark = pytest.mark.slapd


def records(config: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit_lines(config)]


def saved_plans(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert run(config, "plans", "list", "--json") == 0
    listed: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return listed


def store_of(config: Path) -> PlanStore:
    loaded = load_config(config)
    return PlanStore(loaded.state_dir, loaded.approval)


def refused(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """30 % of the sample department leave: `apply` refuses and saves the plan."""
    _mass_departure(config, 0.30)
    capsys.readouterr()
    assert run(config, "apply", "--yes") == 4
    err = capsys.readouterr().err
    (plan,) = saved_plans(config, capsys)
    assert f"syncbot approve {plan['short_id']}" in err
    assert plan["status"] == "pending" and plan["steps"]["disable"] >= 20
    assert any("max_disable_share" in t for t in plan["thresholds"])
    return plan


def verify(config: Path) -> None:
    assert run(config, "audit", "verify") == 0


def test_an_approved_plan_applies_exactly_its_steps_and_skips_those_changed_by_hand(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = refused(sample, capsys)
    plan_id = listed["id"]
    saved = store_of(sample).load(plan_id)
    refusal = [r for r in records(sample) if r["event"] == "plan_refused"]
    assert [r["details"]["plan_id"] for r in refusal] == [plan_id]
    # Meanwhile: one more person leaves on the roster (never reviewed, so never applied),
    # one of the planned accounts is locked by hand and another deleted.
    roster = sample.parent / "nhan-su.csv"
    rows = list(csv.reader(io.StringIO(roster.read_text("utf-8-sig"))))
    late = next(r for r in reversed(rows) if r[2] and r[5] == "Đang công tác")
    late[5], late[6] = "Nghỉ việc", "01/01/2026"
    late_uid = late[2].split("@")[0]
    could_bind = can_bind(slapd_server, late_uid)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    roster.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    disables = [a for a in saved.plan.actions if a.kind is ActionKind.DISABLE]
    by_hand, gone = disables[0], disables[1]
    config = load_config(sample)
    with prepare(config, saved.plan.today) as prepared:
        apply_one(prepared.targets["ldap"], by_hand, prepared.snapshots["ldap"])
    with ldap3.Connection(
        ldap3.Server(slapd_server.url.rstrip("/")),
        slapd_server.admin_dn,
        slapd_server.admin_password,
        auto_bind=True,
    ) as admin:
        assert admin.delete(gone.account), admin.result
    capsys.readouterr()
    assert run(sample, "plans", "show", listed["short_id"]) == 0
    shown = capsys.readouterr().out
    assert "max_disable_share" in shown and f"{gone.account}: đang mở / enabled" in shown

    assert run(sample, "approve", listed["short_id"], "--yes", "--note", "đã xem") == 0

    out = capsys.readouterr().out
    assert f"{by_hand.username} disable: đã có hiệu lực / already in effect" in out
    assert f"account {gone.account} is gone" in out
    mine = [r for r in records(sample) if r.get("plan_id") == plan_id]
    changes = [r for r in mine if r["event"] == "change"]
    skipped = [r["details"] for r in mine if r["event"] == "step_skipped"]
    gone_steps = [a for a in saved.plan.actions if a.account == gone.account]
    assert {(s["step"]["account"], s["step"]["action"]) for s in skipped} == {
        (by_hand.account, "disable"),
        *((a.account, a.kind.value) for a in gone_steps),
    }
    expected = [a for a in saved.plan.actions if a != by_hand and a.account != gone.account]
    assert sorted((c["account"], c["action"], c["result"]) for c in changes) == sorted(
        (a.account, a.kind.value, "ok") for a in expected
    )
    (approved,) = [r["details"] for r in mine if r["event"] == "plan_approved"]
    assert (approved["user"], approved["note"]) == ("root", "đã xem")
    assert approved["thresholds"] == listed["thresholds"]
    # Not in the reviewed plan: untouched, though the roster now says they left.
    assert can_bind(slapd_server, late_uid) == could_bind
    assert late_uid not in {r.get("username") for r in records(sample)}
    assert saved_plans(sample, capsys)[0]["status"] == "applied"
    assert run(sample, "approve", listed["short_id"]) == 17
    capsys.readouterr()
    assert run(sample, "audit", "show", "--runs") == 0
    shown = capsys.readouterr().out
    assert "plan_approved" in shown and "step_skipped" in shown
    verify(sample)


def test_a_stale_plan_cannot_be_approved(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = refused(sample, capsys)
    store = store_of(sample)
    saved = store.load(listed["id"])
    old = store.save(replace(saved, created=datetime.now(UTC) - timedelta(hours=25)))
    capsys.readouterr()

    assert run(sample, "approve", old[:12], "--yes") == 16

    assert "plan_max_age_hours = 24" in capsys.readouterr().err
    assert {p["id"]: p["status"] for p in saved_plans(sample, capsys)}[old] == "expired"
    assert can_bind(slapd_server, "hattt")  # nothing applied
    assert not [r for r in records(sample) if r["event"] == "change"]


def test_a_rejected_plan_is_never_applied(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = refused(sample, capsys)

    assert run(sample, "reject", listed["short_id"], "--note", "sai tệp / wrong file") == 0

    assert saved_plans(sample, capsys)[0]["status"] == "rejected"
    assert run(sample, "approve", listed["short_id"], "--yes") == 17
    assert can_bind(slapd_server, "hattt")
    (rejection,) = [r for r in records(sample) if r["event"] == "plan_rejected"]
    assert rejection["details"]["user"] == "root"
    assert rejection["details"]["note"] == "sai tệp / wrong file"
    assert rejection["plan_id"] == listed["id"]
    verify(sample)


# -- four eyes: approvers are other OS users -------------------------------------------------


@pytest.fixture
def shared(slapd_server: SlapdServer) -> Iterator[Path]:
    """The sample department in a folder other users can reach (pytest's is root's only),
    with `approvals_required = 2`; yields the config."""
    folder = Path(tempfile.mkdtemp(prefix="syncbot-approval-"))
    folder.chmod(0o755)
    try:
        yield sample_department(slapd_server, folder, "[approval]\napprovals_required = 2\n")
    finally:
        shutil.rmtree(folder)


def open_to_approvers(config: Path) -> None:
    """What the README's group setup gives the approvers (here: every user), plus what
    the approver who applies needs as well (the secret, the state folder, the audit log)."""
    for path in [config.parent, *config.parent.rglob("*")]:
        if path.is_dir():
            path.chmod(0o1777 if path.name == "approvals" else 0o777)
        elif path.name in ("syncbot.toml", "ldap-password"):
            path.chmod(0o644)  # a config or secret writable by others is refused
        else:
            path.chmod(0o666)


def as_user(user: str, config: Path, *argv: str) -> tuple[int, str]:
    """`syncbot --config CONFIG ARGV…` as `user`; (exit code, stdout and stderr)."""
    account = pwd.getpwnam(user)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.close(read)
            out = io.TextIOWrapper(os.fdopen(write, "wb"), encoding="utf-8", line_buffering=True)
            sys.stdout = sys.stderr = out
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            code = main(["--config", str(config), *argv])
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read().decode("utf-8", errors="replace")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


def test_four_eyes_two_other_users_approve_and_each_counts_once(
    shared: Path,
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = refused(shared, capsys)
    short = listed["short_id"]
    assert run(shared, "plan") == 0  # loads what applying needs before a child forks
    open_to_approvers(shared)
    capsys.readouterr()

    assert run(shared, "approve", short, "--yes") == 17  # root requested it
    assert "four-eyes" in capsys.readouterr().err
    code, out = as_user("nobody", shared, "approve", short, "--yes", "--note", "ok")
    assert code == 0, out
    assert "1 more approval(s) needed" in out
    assert can_bind(slapd_server, "hattt")  # one of two: nothing applied
    code, out = as_user("nobody", shared, "approve", short, "--yes")
    assert code == 0 and "You approved this plan already" in out, out
    assert "1 more approval(s) needed" in out  # the same user twice counts once
    assert can_bind(slapd_server, "hattt")

    code, out = as_user("daemon", shared, "approve", short, "--yes")

    assert code == 0, out
    assert not can_bind(slapd_server, "hattt")
    (plan,) = saved_plans(shared, capsys)
    assert plan["status"] == "applied" and plan["approvals"] == ["nobody", "daemon"]
    approvals = [r["details"] for r in records(shared) if r["event"] == "plan_approved"]
    assert [(a["user"], a["note"]) for a in approvals] == [("nobody", "ok"), ("daemon", "")]
    changes = [r for r in records(shared) if r["event"] == "change"]
    assert changes and all(r["plan_id"] == listed["id"] for r in changes)
    verify(shared)


def test_a_decision_file_is_trusted_by_its_owner_not_its_content(
    shared: Path,
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = refused(shared, capsys)
    open_to_approvers(shared)
    approvals = shared.parent / "state" / "plans" / "approvals"
    daemon = pwd.getpwnam("daemon").pw_uid
    # nobody writes a file that claims to be daemon's approval.
    body = json.dumps({"plan_id": listed["id"], "decision": "approve", "user": "daemon"})
    forged = approvals / f"{listed['id']}.approve.{daemon}.json"
    script = f"cat > {forged}"
    done = subprocess.run(["sh", "-c", script], input=body, text=True, user="nobody", check=False)
    assert done.returncode == 0 and forged.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    code, out = as_user("nobody", shared, "approve", listed["short_id"], "--yes")

    assert code == 0 and "1 more approval(s) needed" in out, out
    assert can_bind(slapd_server, "hattt")


# -- plan files ------------------------------------------------------------------------------


def test_plan_out_then_apply_file_applies_that_plan(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    planned = sample.parent / "ke-hoach.json"
    capsys.readouterr()
    assert run(sample, "plan", "--out", str(planned)) == 0
    data = planned.read_bytes()
    plan_id = hashlib.sha256(data).hexdigest()
    saved = SavedPlan.parse(data, plan_id)
    assert plan_id[:12] in capsys.readouterr().err and saved.plan.actions

    assert run(sample, "apply", str(planned), "--yes") == 0

    assert plan_json(sample, capsys)["actions"] == []
    changes = [r for r in records(sample) if r["event"] == "change"]
    assert sorted((c["account"], c["action"]) for c in changes) == sorted(
        (a.account, a.kind.value) for a in saved.plan.actions
    )
    assert {c["plan_id"] for c in changes} == {plan_id}
    # The same file again: every step is in effect, so skipped, and nothing is changed.
    capsys.readouterr()
    assert run(sample, "apply", str(planned), "--yes") == 0
    assert "already in effect" in capsys.readouterr().out
    assert len([r for r in records(sample) if r["event"] == "change"]) == len(changes)
    verify(sample)


def test_apply_file_past_a_threshold_needs_force_or_approval(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _mass_departure(sample, 0.30)
    planned = sample.parent / "ke-hoach.json"
    assert run(sample, "plan", "--out", str(planned)) == 0
    plan_id = hashlib.sha256(planned.read_bytes()).hexdigest()
    capsys.readouterr()

    assert run(sample, "apply", str(planned), "--yes") == 4

    assert f"syncbot approve {plan_id[:12]}" in capsys.readouterr().err
    assert [p["id"] for p in saved_plans(sample, capsys)] == [plan_id]
    assert can_bind(slapd_server, "hattt")
    assert run(sample, "apply", str(planned), "--yes", "--force") == 0
    assert not can_bind(slapd_server, "hattt")


# -- the worker ------------------------------------------------------------------------------


def test_the_worker_applies_an_approval_made_while_it_runs(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    workers: list[WorkerProcess],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    with sample.open("a", encoding="utf-8") as config:
        config.write("\n[worker]\ninterval_minutes = 0\ndebounce_seconds = 0.3\n")
    _mass_departure(sample, 0.30)
    worker = start(workers, sample)
    assert worker.wait_runs(1)[0]["event"] == "run_refused", worker.log()
    (plan,) = saved_plans(sample, capsys)
    assert plan["trigger"].startswith("syncbot run")

    assert run(sample, "approve", plan["short_id"]) == 0

    assert "the worker applies the plan on its next tick" in capsys.readouterr().out
    second = worker.wait_runs(2)[1]
    assert second["event"] == "run_finished" and second["trigger"] == "approval", second
    assert not can_bind(slapd_server, "hattt")
    assert saved_plans(sample, capsys)[0]["status"] == "applied"
    changes = [r for r in records(sample) if r["event"] == "change"]
    assert changes and {r["plan_id"] for r in changes} == {plan["id"]}
    assert "syncbot run" in changes[0]["actor"]
    assert worker.stop() == 0
    verify(sample)


def test_an_approver_without_the_secrets_approves_and_the_running_worker_applies(
    shared: Path,
    slapd_server: SlapdServer,
    workers: list[WorkerProcess],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = shared.read_text("utf-8").replace("approvals_required = 2", "approvals_required = 1")
    shared.write_text(text + "\n[worker]\ninterval_minutes = 0\n", encoding="utf-8")
    _mass_departure(shared, 0.30)
    worker = start(workers, shared)
    assert worker.wait_runs(1)[0]["event"] == "run_refused", worker.log()
    (plan,) = saved_plans(shared, capsys)
    # As the README sets it up: approvers are in the service's group (here nobody's own),
    # which reads the state folder's plans and the worker's lock and writes decisions;
    # the secret and the audit log stay the service's alone.
    group = pwd.getpwnam("nobody").pw_gid
    state = shared.parent / "state"
    for path in [state, *state.rglob("*")]:
        os.chown(path, 0, group)
        if path.is_dir():
            path.chmod(0o1770 if path.name == "approvals" else 0o750)
        else:
            path.chmod(0o640 if path.name in ("worker.lock", plan["id"] + ".json") else 0o600)
    assert (shared.parent / "ldap-password").stat().st_mode & 0o077 == 0

    code, out = as_user("nobody", shared, "approve", plan["short_id"], "--note", "đồng ý")

    assert code == 0, out
    assert "the worker applies the plan on its next tick" in out
    second = worker.wait_runs(2)[1]
    assert second["event"] == "run_finished" and second["trigger"] == "approval", worker.log()
    assert not can_bind(slapd_server, "hattt")
    (approved,) = [r for r in records(shared) if r["event"] == "plan_approved"]
    assert (approved["details"]["user"], approved["details"]["note"]) == ("nobody", "đồng ý")
    assert "via syncbot run" in approved["actor"]  # audited by the worker, not the approver
    assert worker.stop() == 0
    verify(shared)


# -- kill -9 ---------------------------------------------------------------------------------


def test_an_approved_plan_killed_anywhere_converges_and_audits_each_change_once(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _big_departure(slapd_server, sample.parent)
    capsys.readouterr()
    assert run(sample, "apply", "--yes") == 4  # 400 departures: refused, saved
    (plan,) = saved_plans(sample, capsys)
    saved = store_of(sample).load(plan["id"])
    assert len(saved.plan.actions) >= 400
    cmd = [sys.executable, "-m", "syncbot", "--config", str(sample), "approve",
           plan["short_id"], "--yes"]  # fmt: skip
    chance = random.Random(23)  # noqa: S311 - kill timing, nothing secret
    killed = 0
    for _ in range(5):
        wanted = audit_line_count(sample) + chance.randint(1, 120)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while audit_line_count(sample) < wanted and proc.poll() is None:
            assert time.monotonic() < deadline, "the apply never reached the kill point"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        verify(sample)
    assert killed >= 3
    assert saved_plans(sample, capsys)[0]["status"] == "approved"  # not finished yet

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert saved_plans(sample, capsys)[0]["status"] == "applied"
    assert plan_json(sample, capsys)["actions"] == []
    ok = Counter(
        (r["account"], r["action"], json.dumps(r["before"]), json.dumps(r["after"]))
        for r in records(sample)
        if r["event"] == "change" and r["result"] == "ok"
    )
    assert set(ok.values()) == {1}, [k for k, n in ok.items() if n > 1]
    # Every record of the runs that applied it names the plan, those written on recovery
    # (for the run a kill cut short) too.
    applying = [r for r in records(sample) if r["event"] in ("change", "run_finished")]
    assert {r.get("plan_id") for r in applying} == {plan["id"]}
    assert [r for r in applying if "recovered_by" in r.get("details", {})]
    assert set(ok) == {
        (a.account, a.kind.value, json.dumps(a.before()), json.dumps(a.after()))
        for a in saved.plan.actions
    }
    verify(sample)


def test_the_approvals_config_reader_agrees_with_the_whole_one(sample: Path) -> None:  # noqa: F811
    whole = load_config(sample)
    light = load_decisions_config(sample)
    assert (light.state_dir, light.audit_path, light.approval) == (
        whole.state_dir,
        whole.audit_path,
        whole.approval,
    )
