"""End to end: the `syncbot` command against a real slapd seeded with the sample department."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import ldap3
import pytest
from target_steps import apply_one

from localdev import probes
from localdev.demo import REPO_MAPPINGS, write_config
from localdev.sample import directory_ldif, people, roster_csv
from localdev.slapd import SlapdServer
from syncbot.cli import main

pytestmark = pytest.mark.slapd
TODAY = date.today()


def sample_department(server: SlapdServer, folder: Path, extra: str = "") -> Path:
    """The sample directory in a running slapd and its roster in `folder`; the config."""
    if not server.running:
        server.start()
    server.reset()
    server.add_ldif(directory_ldif(TODAY, server.people_base, server.groups_base))
    (folder / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    return write_config(folder, server, REPO_MAPPINGS, extra)


@pytest.fixture
def sample(slapd_server: SlapdServer, tmp_path: Path) -> Iterator[Path]:
    """A seeded sample directory, its roster and a config; yields the config path."""
    yield sample_department(slapd_server, tmp_path)


def run(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(config, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def summary(plan: dict) -> set[tuple[str, str, str]]:
    return {
        (a["action"], a["username"], ",".join(x.split(",")[0] for x in a["add"] + a["remove"]))
        for a in plan["actions"]
    }


def can_bind(server: SlapdServer, uid: str) -> bool:
    return probes.can_bind(server.url, f"uid={uid},{server.people_base}", "Doi-mat-khau-ngay-2026")


def members(server: SlapdServer, group: str) -> set[str]:
    conn = ldap3.Connection(
        ldap3.Server(server.url.rstrip("/")), server.admin_dn, server.admin_password, auto_bind=True
    )
    conn.search(f"cn={group},{server.groups_base}", "(objectClass=*)", attributes=["member"])
    values = conn.entries[0].entry_attributes_as_dict.get("member", [])
    conn.unbind()
    return {v.split(",")[0].removeprefix("uid=") for v in values}


def audit_lines(config: Path) -> list[str]:
    return (config.parent / "audit" / "audit.jsonl").read_text("utf-8").splitlines()


def audit_line_count(config: Path) -> int:
    """Complete lines so far, safe to call while a run is writing (a batch of records may
    be half on disk, cut inside a multi-byte character)."""
    path = config.parent / "audit" / "audit.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


EXPECTED = {
    ("disable", "hattt", ""),
    ("revoke", "hattt", "cn=chuyen-vien"),
    ("revoke", "hattt", "cn=don-vi-phong-ke-hoach-tai-chinh"),
    ("disable", "hunglv", ""),
    ("revoke", "hunglv", "cn=lanh-dao"),
    ("revoke", "hunglv", "cn=don-vi-thanh-tra"),
    ("disable", "tuanpm", ""),
    ("revoke", "tuanpm", "cn=quan-tri"),
    ("revoke", "tuanpm", "cn=don-vi-phong-cong-nghe-thong-tin"),
    ("change_unit", "trangdt", "cn=don-vi-thanh-tra,cn=don-vi-van-phong"),
    ("revoke", "sonbq", "cn=lanh-dao"),
    ("revoke", "phonght", "cn=chuyen-vien"),
    ("grant", "phonght", "cn=lanh-dao"),
    ("change_unit", "yennk", "cn=don-vi-van-phong"),
    ("grant", "yennk", "cn=van-thu"),
}


def test_sample_plan_apply_converges_and_audit_verifies(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_json(sample, capsys)
    assert summary(plan) == EXPECTED
    findings = {f["finding"] for f in plan["findings"]}
    assert findings == {
        "orphan_account", "no_account", "future_departure", "ambiguous_match",
        "unknown_position", "locked_by_others",
    }  # fmt: skip
    everyone = json.dumps(plan, ensure_ascii=False)
    for protected in ("admin-sys", "svc-qoffice", "breakglass"):
        assert protected not in everyone
    disable = next(a for a in plan["actions"] if a["username"] == "hattt")
    assert disable["reason"]["vi"].startswith("Cán bộ đã nghỉ việc từ ngày")
    assert disable["evidence"]["row"] == 62 and disable["evidence"]["status"] == "Nghỉ việc"
    assert len(disable["evidence"]["roster_sha256"]) == 64

    assert can_bind(slapd_server, "hattt")
    assert run(sample, "apply", "--yes") == 0
    assert not can_bind(slapd_server, "hattt")
    assert not can_bind(slapd_server, "tuanpm")
    assert can_bind(slapd_server, "sonbq")
    assert "phonght" in members(slapd_server, "lanh-dao")
    assert "sonbq" not in members(slapd_server, "lanh-dao")
    assert "trangdt" in members(slapd_server, "don-vi-thanh-tra")
    assert "trangdt" not in members(slapd_server, "don-vi-van-phong")
    # Protected accounts kept their groups although nobody in HR justifies them.
    assert {"admin-sys", "breakglass"} <= members(slapd_server, "quan-tri")

    records = [json.loads(line) for line in audit_lines(sample)]
    changes = [r for r in records if r["event"] == "change"]
    assert {(r["action"], r["account"].split(",")[0].removeprefix("uid=")) for r in changes} == {
        (a, u) for a, u, _ in EXPECTED
    }
    assert len(changes) == len(EXPECTED)
    assert all(r["result"] == "ok" for r in changes)
    assert [r["event"] for r in (records[0], records[-1])] == ["run_started", "run_finished"]

    assert plan_json(sample, capsys)["actions"] == []
    assert run(sample, "apply", "--yes") == 0
    assert len(audit_lines(sample)) == len(records)  # an empty run writes nothing

    capsys.readouterr()
    assert run(sample, "audit", "verify") == 0
    assert "OK" in capsys.readouterr().out


def test_one_changed_byte_breaks_verify_at_that_line(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(sample, "apply", "--yes") == 0
    path = sample.parent / "audit" / "audit.jsonl"
    original = path.read_bytes()
    lines = original.split(b"\n")
    target_line = 7
    offset = sum(len(line) + 1 for line in lines[: target_line - 1]) + lines[6].index(b'"ok"') + 1
    tampered = bytearray(original)
    tampered[offset] = ord("x")  # "ok" -> "xk"
    path.write_bytes(bytes(tampered))
    capsys.readouterr()
    assert run(sample, "audit", "verify") == 9
    assert f"line {target_line}" in capsys.readouterr().err


def test_bad_row_changes_nothing_and_names_file_row_column(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = sample.parent / "nhan-su.csv"
    rows = list(csv.reader(io.StringIO(roster.read_text("utf-8-sig"))))
    rows[40][6] = "31/02/2026"  # row 41 in the spreadsheet, column "Ngày hiệu lực"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    roster.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    capsys.readouterr()
    assert run(sample, "apply", "--yes") == 3
    err = capsys.readouterr().err
    assert str(roster) in err and "row 41" in err and "Ngày hiệu lực" in err
    assert can_bind(slapd_server, "hattt")  # nothing applied, not even the valid rows
    assert not (sample.parent / "audit" / "audit.jsonl").exists()


def _mass_departure(config: Path, share: float) -> int:
    roster = config.parent / "nhan-su.csv"
    rows = list(csv.reader(io.StringIO(roster.read_text("utf-8-sig"))))
    count = int((len(rows) - 1) * share)
    for row in rows[1 : count + 1]:
        row[5], row[6] = "Nghỉ việc", "01/01/2026"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    roster.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    return count


def test_thirty_percent_departures_are_refused_without_force(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _mass_departure(sample, 0.30)
    capsys.readouterr()
    assert run(sample, "apply", "--yes") == 4
    err = capsys.readouterr().err
    assert "safety.max_disable_share = 10.0 %" in err
    assert "matched people" in err
    assert can_bind(slapd_server, "hattt")
    # Only the refusal is audited, naming the plan it saved for approval.
    assert [json.loads(line)["event"] for line in audit_lines(sample)] == ["plan_refused"]

    assert run(sample, "apply", "--yes", "--force") == 0
    first = json.loads(audit_lines(sample)[1])
    assert first["event"] == "run_started"
    assert "max_disable_share" in first["details"]["forced_past"][0]
    assert plan_json(sample, capsys)["actions"] == []


def test_roster_that_shrank_is_refused(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(sample, "apply", "--yes") == 0
    roster = sample.parent / "nhan-su.csv"
    lines = roster.read_text("utf-8").splitlines(keepends=True)
    roster.write_text("".join(lines[:40]), encoding="utf-8")  # an export cut short
    capsys.readouterr()
    assert run(sample, "apply", "--yes") == 4
    assert "safety.max_shrink_share" in capsys.readouterr().err


def test_rehire_restores_what_syncbot_took(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(sample, "apply", "--yes") == 0
    assert not can_bind(slapd_server, "hunglv")
    roster = sample.parent / "nhan-su.csv"
    text = roster.read_text("utf-8").replace(
        "Chánh Thanh tra,Nghỉ hưu", "Chánh Thanh tra,Đang công tác"
    )
    roster.write_text(text, encoding="utf-8")
    plan = plan_json(sample, capsys)
    assert {a for a in summary(plan) if a[1] == "hunglv"} == {
        ("enable", "hunglv", ""),
        ("grant", "hunglv", "cn=lanh-dao"),
        ("change_unit", "hunglv", "cn=don-vi-thanh-tra"),
    }
    assert run(sample, "apply", "--yes") == 0
    assert can_bind(slapd_server, "hunglv")
    assert "hunglv" in members(slapd_server, "lanh-dao")
    # Locked by someone else stays locked whatever HR says.
    assert not can_bind(slapd_server, "maiht")
    assert plan_json(sample, capsys)["actions"] == []


def test_check_config_reports_what_it_found(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(sample, "check-config") == 0
    out = capsys.readouterr().out
    assert "72 rows" in out
    assert "9 of 9 mapped groups or roles exist" in out
    assert "accounts" in out


def test_wrong_password_is_a_target_error_without_the_secret(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sample.parent / "ldap-password").write_text("not-the-password-xyz\n", encoding="utf-8")
    capsys.readouterr()
    assert run(sample, "plan") == 5
    captured = capsys.readouterr()
    assert "not-the-password-xyz" not in captured.out + captured.err
    assert "ldap" in captured.err


def test_second_run_waits_for_the_lock(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import fcntl

    state = sample.parent / "state"
    state.mkdir()
    with (state / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert run(sample, "apply", "--yes") == 8
    assert run(sample, "apply", "--yes") == 0


def test_audit_show_filters(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sample, "apply", "--yes") == 0
    capsys.readouterr()
    assert run(sample, "audit", "show", "--employee", "CB2001", "--json") == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["action"] for r in shown} == {"disable", "revoke"}
    assert all(r["employee_id"] == "CB2001" for r in shown)
    assert run(sample, "audit", "show", "--action", "grant") == 0
    text = capsys.readouterr().out
    assert "Cấp vai trò Lãnh đạo" in text and "Văn thư" in text
    assert run(sample, "audit", "show", "--since", "2000-01-01", "--until", "2000-12-31") == 0
    assert capsys.readouterr().out.strip() == ""


def _big_departure(server: SlapdServer, tmp: Path) -> Path:
    """Enough departures that a kill lands in the middle of applying them."""
    config = tmp / "syncbot.toml"
    rows = [p for p in people(TODAY) if p.in_roster]
    text = roster_csv(TODAY)
    extra = []
    ldif = []
    for i in range(400):
        uid = f"tam{i:03d}"
        ldif.append(
            f"dn: uid={uid},{server.people_base}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: Tạm {i}\nsn: T\nmail: {uid}@tinhmau.gov.vn\nemployeeNumber: TM{i:03d}\n"
            "userPassword: x"
        )
        extra.append(f"TM{i:03d},Tạm {i},{uid}@tinhmau.gov.vn,Văn phòng,Chuyên viên,Nghỉ việc,"
                     "01/11/2026\r\n")  # fmt: skip
    server.add_ldif("\n\n".join(ldif) + "\n")
    (tmp / "nhan-su.csv").write_text(text + "".join(extra), encoding="utf-8")
    assert len(rows) == 72
    return config


def test_killed_apply_converges_and_audit_stays_whole(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _big_departure(slapd_server, sample.parent)
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "error"}
    cmd = [sys.executable, "-m", "syncbot", "--config", str(sample), "apply", "--yes", "--force"]
    killed_mid_run = 0
    # Kill once the run is visibly applying, then a little later each time: fixed delays
    # from process start measure the machine's load (imports), not the apply.
    for delay in (0.0, 0.05, 0.2):
        seen = audit_line_count(sample)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while audit_line_count(sample) < seen + 3 and proc.poll() is None:
            assert time.monotonic() < deadline, "apply never started writing its audit log"
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_run += proc.returncode == -signal.SIGKILL
        capsys.readouterr()
        assert run(sample, "audit", "verify") == 0, f"chain broken after a kill (+{delay}s)"
    assert killed_mid_run >= 1
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert plan_json(sample, capsys)["actions"] == []
    assert run(sample, "audit", "verify") == 0
    records = [json.loads(x) for x in audit_lines(sample)]
    disabled = [
        r["account"] for r in records if r.get("action") == "disable" and r["result"] == "ok"
    ]
    # Every lock recorded exactly once as done, even the one a kill cut off mid-step:
    # 400 temporary staff and the three departures of the sample.
    assert len(disabled) == len(set(disabled)) == 403
    started = {r["run_id"] for r in records if r["event"] == "run_started"}
    finished = {r["run_id"] for r in records if r["event"] == "run_finished"}
    assert started == finished  # killed runs are closed by the run that recovered them


def test_step_cut_off_by_a_kill_is_audited_on_recovery(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kill between a directory change and its audit record: the next run records it."""
    from syncbot.config import load_config
    from syncbot.model import Action
    from syncbot.reconcile import prepare
    from syncbot.state import NamedStep, StateDir

    prepared = prepare(load_config(sample), TODAY)

    def step(username: str, kind: str) -> tuple[NamedStep, Action]:
        action = next(
            a for a in prepared.plan.actions if a.username == username and a.kind.value == kind
        )
        return NamedStep.of(action), action

    done_step, done_action = step("hattt", "disable")
    lost_step, _ = step("yennk", "grant")
    journal = StateDir(sample.parent / "state").journal()
    journal.start({"run_id": "killed-run", "actor": "root@host via syncbot apply"})
    journal.begin(0, done_step)
    # the change happened, then the kill came
    apply_one(prepared.targets["ldap"], done_action, prepared.snapshots["ldap"])
    journal.begin(1, lost_step)  # ...or came before this one changed anything
    for target in prepared.targets.values():
        target.close()

    assert run(sample, "apply", "--yes") == 0
    records = [json.loads(line) for line in audit_lines(sample)]
    killed = [r for r in records if r["run_id"] == "killed-run"]
    assert [(r["event"], r.get("action"), r.get("result")) for r in killed] == [
        ("change", "disable", "ok"),
        ("change", "grant", "failed"),
        ("run_finished", None, None),
    ]
    assert "recorded on recovery" in killed[0]["actor"]
    assert "interrupted" in killed[1]["error"]
    assert killed[2]["details"]["interrupted"] is True
    later = [r for r in records if r["run_id"] != "killed-run" and r["event"] == "change"]
    assert ("disable", "uid=hattt") not in {(r["action"], r["account"][:9]) for r in later}
    assert ("grant", "uid=yennk") in {(r["action"], r["account"][:9]) for r in later}
    assert not (sample.parent / "state" / "steps.jsonl").exists()
    capsys.readouterr()
    assert run(sample, "audit", "verify") == 0


def test_failed_step_is_audited_and_the_others_go_on(
    sample: Path, slapd_server: SlapdServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from syncbot.config import load_config
    from syncbot.reconcile import apply_prepared, close_targets, prepare

    prepared = prepare(load_config(sample), TODAY)
    conn = ldap3.Connection(
        ldap3.Server(slapd_server.url.rstrip("/")),
        slapd_server.admin_dn,
        slapd_server.admin_password,
        auto_bind=True,
    )
    assert conn.delete(f"cn=don-vi-thanh-tra,{slapd_server.groups_base}")  # gone mid-run
    conn.unbind()
    report = apply_prepared(prepared, run_id="r1", actor_name="test", forced=[])
    close_targets(prepared.targets)
    failed = {(f.action.username, f.action.kind.value) for f in report.failed}
    assert failed == {("hunglv", "revoke"), ("trangdt", "change_unit")}
    assert report.succeeded == len(EXPECTED) - 2
    assert not can_bind(slapd_server, "hunglv")  # its lock went through all the same
    records = [json.loads(line) for line in audit_lines(sample)]
    bad = [r for r in records if r.get("result") == "failed"]
    assert len(bad) == 2 and all(r["error"] for r in bad)
    assert records[-1]["details"] == {"failed": 2, "interrupted": False, "succeeded": 13}
    # A run with failures is not a "last successful run" for the shrink threshold.
    assert not (sample.parent / "state" / "last-run.json").exists()


def test_step_recorded_just_before_a_kill_is_not_recorded_twice(
    sample: Path, slapd_server: SlapdServer
) -> None:
    from syncbot.audit import AuditLog
    from syncbot.config import load_config
    from syncbot.reconcile import close_targets, prepare
    from syncbot.state import NamedStep, StateDir

    prepared = prepare(load_config(sample), TODAY)
    action = next(a for a in prepared.plan.actions if a.username == "hattt")
    step = NamedStep.of(action)
    journal = StateDir(sample.parent / "state").journal()
    journal.start({"run_id": "killed-run", "actor": "root@host via syncbot apply"})
    journal.begin(0, step)
    apply_one(prepared.targets["ldap"], action, prepared.snapshots["ldap"])
    with AuditLog(sample.parent / "audit" / "audit.jsonl", run_id="killed-run", actor="x") as log:
        log.changes([step.change.answered(None)])
    # ...and the process died before writing the journal's `done` line.
    close_targets(prepared.targets)
    assert run(sample, "apply", "--yes") == 0
    records = [json.loads(line) for line in audit_lines(sample)]
    hattt = [r for r in records if r.get("action") == "disable" and "hattt" in r["account"]]
    assert len(hattt) == 1
    assert records[1]["event"] == "run_finished" and records[1]["run_id"] == "killed-run"


def test_report_changes_from_the_command_line(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(sample, "apply", "--yes") == 0
    out = sample.parent / "bao-cao.csv"
    # Report days are Vietnam days (UTC+7): yesterday..tomorrow covers "now" on any clock.
    since, until = (TODAY - timedelta(days=1)).isoformat(), (TODAY + timedelta(days=1)).isoformat()
    assert (
        run(sample, "report", "changes", "--since", since, "--until", until, "--out", str(out)) == 0
    )
    text = out.read_text("utf-8-sig")
    assert "Khóa tài khoản" in text and "hattt" in text and "CB2001" in text
