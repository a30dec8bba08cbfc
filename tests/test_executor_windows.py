"""The executor's windows: what is durable when, and what a kill inside a window leaves.

The unit tests drive `apply_plan` and `recover_interrupted` with an in-memory target (pure
bookkeeping, no directory); the last ones run `syncbot apply` against the real slapd.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import ldap3
import pytest
from conftest import group_dn, user_dn
from test_cli_e2e import _big_departure, audit_lines, members, plan_json, run, sample  # noqa: F401

from localdev.slapd import SlapdServer
from syncbot.audit import AuditLog
from syncbot.audit.change import Change
from syncbot.audit.verify import verify_chain
from syncbot.executor import apply_plan, recover_interrupted
from syncbot.model import Account, Action, ActionKind, Plan, Reason, RowEvidence, Snapshot
from syncbot.state import Ledger, NamedStep, StepJournal
from syncbot.targets.base import ApplyError, ReadRequest
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.ldap.target import LdapTarget

TODAY = date.today()
REASON = Reason("Cán bộ đã nghỉ việc", "Left the organisation")


def departure(number: int) -> list[Action]:
    """A lock and two group removals, in the planner's order."""
    account = f"uid=u{number:04d},ou=people,dc=example"
    evidence = RowEvidence("nhan-su.csv", "0" * 64, number + 2, "Nghỉ việc", TODAY, "CV", "VP")

    def step(kind: ActionKind, remove: tuple[str, ...] = ()) -> Action:
        return Action("ldap", kind, account, f"u{number:04d}", f"E{number:04d}", REASON,
                      evidence, remove=remove, offboarding=True)  # fmt: skip

    return [
        step(ActionKind.DISABLE),
        step(ActionKind.REVOKE, ("cn=chuyen-vien,ou=groups,dc=example",)),
        step(ActionKind.REVOKE, ("cn=don-vi-van-phong,ou=groups,dc=example",)),
    ]


#: The snapshot the unit tests' plans come from: the in-memory targets need nothing of it.
NOTHING_READ = Snapshot("ldap", (), frozenset())


def alone(target: OneAtATime) -> tuple[dict[str, Any], dict[str, Snapshot]]:
    """The targets and snapshots of a run on `target` alone."""
    return {"ldap": target}, {"ldap": NOTHING_READ}


def plan_of(actions: Sequence[Action]) -> Plan:
    return Plan(TODAY, "nhan-su.csv", "0" * 64, 10, tuple(actions), ())


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


class OneAtATime:
    """Checks, whenever steps are sent, that everything before them is already on disk.

    Sends a batch one step at a time, as the Keycloak target does.
    """

    name = "ldap"

    def __init__(self, audit: Path, journal: StepJournal, fail: frozenset[str] = frozenset()):
        self.audit, self.journal, self.fail = audit, journal, fail
        self.windows: list[list[Action]] = []
        self.sent: list[Action] = []
        self.problems: list[str] = []  # the executor turns an exception into a failed step

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        assert snapshot is NOTHING_READ, "the executor must pass the plan's own snapshot"
        return [self._answer(self._check([step])[0]) for step in steps]

    @staticmethod
    def _answer(error: str | None) -> ApplyError | None:
        return None if error is None else ApplyError(error)

    def _check(self, actions: list[Action]) -> list[str | None]:
        try:
            self._check_durable(actions)
        except AssertionError as problem:
            self.problems.append(str(problem))
            raise
        self.sent += actions
        return [f"refused {a.account}" if a.username in self.fail else None for a in actions]

    def _check_durable(self, actions: list[Action]) -> None:
        self.windows.append(actions)
        people = [a.employee_id for a in actions]
        assert len(people) == len(set(people)), "two steps of one person in one window"
        done = {(r["account"], json.dumps(r["before"])) for r in records(self.audit)
                if r["event"] == "change"}  # fmt: skip
        named = self.journal.pending().open
        for action in actions:
            for earlier in self.sent:
                if earlier.account == action.account:
                    assert (earlier.account, json.dumps(earlier.before())) in done
            assert any(
                s.change.account == action.account and s.remove == action.remove for s in named
            ), "a step was sent before the journal named it"


class WatchingTarget(OneAtATime):
    """The same, sending a window's steps at once as the LDAP target does."""

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        assert snapshot is NOTHING_READ, "the executor must pass the plan's own snapshot"
        return [self._answer(error) for error in self._check(list(steps))]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Ledger, StepJournal]:
    journal = StepJournal(tmp_path / "steps.jsonl")
    journal.start({"run_id": "r1", "actor": "test"})
    return tmp_path / "audit.jsonl", Ledger(tmp_path / "ledger.jsonl"), journal


def test_a_persons_next_step_waits_for_the_previous_record_on_disk(
    files: tuple[Path, Ledger, StepJournal], monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_path, ledger, journal = files
    target = WatchingTarget(audit_path, journal, fail=frozenset({"u0007"}))
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    actions = [a for n in range(150) for a in departure(n)]
    with AuditLog(audit_path, run_id="r1", actor="test") as audit:
        report = apply_plan(plan_of(actions), *alone(target), audit, ledger, "r1",
                            journal=journal, window=64)  # fmt: skip
    assert not target.problems
    assert len(report.results) == 450
    assert {r.action.username for r in report.failed} == {"u0007"}
    assert [len(w) for w in target.windows] == [64] * 6 + [22] * 3
    # ledger, journal, audit: once a window; creating the audit log syncs its folder once
    assert len(fsyncs) <= 3 * len(target.windows) + 1
    written = records(audit_path)
    assert len(written) == 450 and verify_chain(audit_path).ok
    for number in (0, 149):  # each person's records in plan order
        mine = [r["before"] for r in written if r["account"].startswith(f"uid=u{number:04d}")]
        assert mine == [a.before() for a in departure(number)]
    assert all(
        ledger.entries[("ldap", a.account)].disabled_by_syncbot for a in actions[::3]
    )  # the ledger was written ahead of every lock


def test_a_target_sending_one_step_at_a_time_gets_the_same_guarantees(
    files: tuple[Path, Ledger, StepJournal],
) -> None:
    audit_path, ledger, journal = files
    target = OneAtATime(audit_path, journal)
    actions = [a for n in range(5) for a in departure(n)]
    with AuditLog(audit_path, run_id="r1", actor="test") as audit:
        report = apply_plan(plan_of(actions), *alone(target), audit, ledger, "r1",
                            journal=journal, window=64)  # fmt: skip
    assert not target.problems
    assert report.succeeded == 15 and len(target.windows) == 15


def test_a_stop_finishes_the_people_started_and_takes_no_one_new(
    files: tuple[Path, Ledger, StepJournal],
) -> None:
    audit_path, ledger, journal = files
    target = WatchingTarget(audit_path, journal)
    actions = [a for n in range(100) for a in departure(n)]
    with AuditLog(audit_path, run_id="r1", actor="test") as audit:
        report = apply_plan(plan_of(actions), *alone(target), audit, ledger, "r1",
                            journal=journal, window=10,
                            should_stop=lambda: len(target.windows) >= 1)  # fmt: skip
    assert not target.problems and report.interrupted
    assert [r.action for r in report.results] == [a for window in target.windows for a in window]
    assert sorted(a.username for a in target.sent) == sorted(
        a.username for n in range(10) for a in departure(n)
    )  # the first ten people, every step of each


class MeetingTarget(WatchingTarget):
    """Answers only once every other target of the window has its steps too: a window
    sent one target after the other would wait here until the barrier gives up."""

    def __init__(self, name: str, meeting: threading.Barrier, *files: Any) -> None:
        super().__init__(*files)
        self.name = name
        self.meeting = meeting

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        self.meeting.wait()
        return [self._answer(error) for error in self._check(list(steps))]


def test_a_windows_targets_are_sent_their_steps_together(
    files: tuple[Path, Ledger, StepJournal],
) -> None:
    audit_path, ledger, journal = files
    meeting = threading.Barrier(2, timeout=10)
    targets = {name: MeetingTarget(name, meeting, audit_path, journal) for name in ("a", "b")}
    # half the people have accounts in one target, half in the other
    actions = [
        dataclasses.replace(step, target="ab"[n % 2]) for n in range(6) for step in departure(n)
    ]
    snapshots = dict.fromkeys(targets, NOTHING_READ)
    with AuditLog(audit_path, run_id="r1", actor="test") as audit:
        report = apply_plan(plan_of(actions), targets, snapshots, audit, ledger, "r1",
                            journal=journal, window=64)  # fmt: skip
    assert not meeting.broken
    assert [len(t.windows) for t in targets.values()] == [3, 3]  # each person's three steps
    assert report.succeeded == 18 and not report.failed
    written = [(r["account"], r["before"]) for r in records(audit_path) if r["event"] == "change"]
    # window by window, each in the plan's order, whichever target answered first
    by_window = [actions[n * 3 + k] for k in range(3) for n in range(6)]
    assert written == [(a.account, a.before()) for a in by_window]
    assert verify_chain(audit_path).ok


class SecretEvidence:
    """Evidence whose record the log would refuse: it has a secret-looking key."""

    def as_dict(self) -> dict[str, str]:
        return {"bind_password": "hunter2-value"}


def test_a_step_whose_record_would_be_refused_is_never_sent(
    files: tuple[Path, Ledger, StepJournal],
) -> None:
    """The record is built and checked before the change goes out, not after it was made."""
    audit_path, ledger, journal = files
    target = WatchingTarget(audit_path, journal)
    refused = dataclasses.replace(departure(1)[0], evidence=SecretEvidence())
    actions = [*departure(0)[:1], refused]
    refusal = pytest.raises(ValueError, match=r"secret-looking keys evidence\.bind_password")
    with AuditLog(audit_path, run_id="r1", actor="test") as audit, refusal:
        apply_plan(
            plan_of(actions),
            {"ldap": target},
            {"ldap": NOTHING_READ},
            audit,
            ledger,
            "r1",
            journal=journal,
        )
    assert target.sent == [] and not journal.pending().open
    assert records(audit_path) == [] and not ledger.entries


def _recovery_case(
    tmp_path: Path, recorded: int, torn: bool, applied: int
) -> tuple[list[dict], list[Action]]:
    """A window of three locks named in the journal; `recorded` of their records written
    (the next one torn mid-line if `torn`), `applied` of them visible in the directory."""
    actions = [departure(n)[0] for n in range(3)]
    journal = StepJournal(tmp_path / "steps.jsonl")
    journal.start({"run_id": "killed", "actor": "root via syncbot apply"})
    steps = [NamedStep.of(action) for action in actions]
    journal.begin_many(list(enumerate(steps)))
    audit_path = tmp_path / "audit.jsonl"
    with AuditLog(audit_path, run_id="killed", actor="root via syncbot apply") as audit:
        audit.run_started({"actions": 3})
        audit.changes([s.change.answered(None) for s in steps[:recorded]])
    if torn:
        with AuditLog(tmp_path / "whole.jsonl", run_id="killed", actor="x") as whole:
            whole.changes([s.change.answered(None) for s in steps])
        line = (tmp_path / "whole.jsonl").read_bytes().splitlines()[recorded]
        with audit_path.open("ab") as handle:
            handle.write(line[: len(line) // 2])  # the kill came in the middle of the write
    snapshot = Snapshot("ldap", tuple(
        Account("ldap", a.account, a.username, a.employee_id, None, enabled=i >= applied)
        for i, a in enumerate(actions)
    ), frozenset())  # fmt: skip
    recover_interrupted(journal, audit_path, {"ldap": snapshot}, "next-run")
    assert not journal.path.exists()
    assert verify_chain(audit_path).ok
    return records(audit_path), actions


def test_kill_after_a_windows_records_before_its_done_lines_records_nothing_twice(
    tmp_path: Path,
) -> None:
    written, actions = _recovery_case(tmp_path, recorded=3, torn=False, applied=3)
    changes = [r for r in written if r["event"] == "change"]
    assert [r["account"] for r in changes] == [a.account for a in actions]
    assert written[-1]["event"] == "run_finished" and written[-1]["run_id"] == "killed"


def test_kill_between_a_windows_journal_and_its_records_audits_each_step_once(
    tmp_path: Path,
) -> None:
    """Two of the three changes reached the directory before the kill, the third did not."""
    written, actions = _recovery_case(tmp_path, recorded=0, torn=False, applied=2)
    changes = [r for r in written if r["event"] == "change"]
    assert [(r["account"], r["result"]) for r in changes] == [
        (actions[0].account, "ok"), (actions[1].account, "ok"), (actions[2].account, "failed"),
    ]  # fmt: skip
    assert "recorded on recovery" in changes[0]["actor"]
    assert "interrupted" in changes[2]["error"]


def test_kill_in_the_middle_of_a_windows_records_keeps_the_whole_ones(tmp_path: Path) -> None:
    written, actions = _recovery_case(tmp_path, recorded=1, torn=True, applied=3)
    changes = [r for r in written if r["event"] == "change"]
    assert sorted(r["account"] for r in changes) == [a.account for a in actions]
    assert "recorded on recovery" not in changes[0]["actor"]
    assert all("recorded on recovery" in r["actor"] for r in changes[1:])
    assert any(r["event"] == "audit_recovered" for r in written)  # the torn bytes moved aside
    assert list(tmp_path.glob("audit.jsonl.torn-*"))


def test_a_journal_written_before_changes_were_typed_is_still_recovered(tmp_path: Path) -> None:
    """Journal lines as earlier versions wrote them (no username yet): the next run after an
    upgrade still audits the killed step, with the journal's fields as they were."""
    action = departure(4)[0]
    step = {
        "target": "ldap", "account": action.account, "employee_id": action.employee_id,
        "action": "disable", "before": {"enabled": True}, "after": {"enabled": False},
        "reason": REASON.as_dict(), "evidence": None, "add": [], "remove": [],
    }  # fmt: skip
    journal = StepJournal(tmp_path / "steps.jsonl")
    journal.path.write_text(
        json.dumps({"run_started": {"run_id": "old", "actor": "root via syncbot apply"}})
        + "\n"
        + json.dumps({"begin": 0, "step": step})
        + "\n",
        "utf-8",
    )
    audit_path = tmp_path / "audit.jsonl"
    snapshot = Snapshot(
        "ldap",
        (
            Account(
                "ldap", action.account, action.username, action.employee_id, None, enabled=False
            ),
        ),
        frozenset(),
    )
    assert recover_interrupted(journal, audit_path, {"ldap": snapshot}, "next-run") == 2
    change, finished = records(audit_path)
    assert {k: change[k] for k in step if k not in ("add", "remove")} == {
        k: v for k, v in step.items() if k not in ("add", "remove")
    }
    assert (change["username"], change["result"], change["error"]) == (None, "ok", None)
    assert finished["event"] == "run_finished" and finished["run_id"] == "old"
    assert verify_chain(audit_path).ok


def test_audit_changes_is_one_durable_write_that_chains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    action = departure(1)[0]
    fields = {
        "target": "ldap", "account": action.account, "username": None, "employee_id": "E1",
        "action": "disable", "before": {"enabled": True}, "after": {"enabled": False},
        "reason": REASON.as_dict(), "evidence": None,
    }  # fmt: skip
    change = Change(**fields)
    with AuditLog(path, run_id="r", actor="t") as audit:
        audit.change(change, result="ok", error=None)
        audit.changes([change.answered(None)] * 5)
        with pytest.raises(ValueError, match="secret-looking"):
            audit.changes(
                [
                    change.answered(None),
                    Change(**{**fields, "before": {"password": "x"}}).answered(None),
                ]
            )
        audit.change(change, result="ok", error=None)
    # the folder once at creation, then one per call; nothing for the refused batch
    assert len(fsyncs) == 4
    assert [r["seq"] for r in records(path)] == list(range(1, 8))
    assert verify_chain(path).ok


# -- against the real slapd -------------------------------------------------------------------


def test_merged_group_changes_tolerate_what_is_already_so(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings
) -> None:
    """One modify per group; a value already gone or there falls back to one by one."""
    server = ldap_directory
    target = LdapTarget(ldap_settings)
    managed = frozenset(group_dn(server, g) for g in ("chuyen-vien", "lanh-dao", "van-thu"))
    snapshot = target.read(ReadRequest(managed))
    keys = {a.username: a.key for a in snapshot.accounts}

    def action(user: str, kind: ActionKind, add: str = "", remove: str = "") -> Action:
        return Action("ldap", kind, keys[user], user, None, REASON, None,
                      add=(target.entitlement_key(add),) if add else (),
                      remove=(target.entitlement_key(remove),) if remove else ())  # fmt: skip

    admin = ldap3.Connection(ldap3.Server(server.url.rstrip("/")), server.admin_dn,
                             server.admin_password, auto_bind=True)  # fmt: skip

    def meanwhile(kind: str, user: str, group: str) -> None:
        """Someone else changes a group between the read and the apply."""
        change = ldap3.MODIFY_ADD if kind == "add" else ldap3.MODIFY_DELETE
        assert admin.modify(group_dn(server, group),
                            {"member": [(change, [user_dn(server, user)])]})  # fmt: skip

    meanwhile("add", "levanc", "lanh-dao")
    errors = target.apply([
        action("levanc", ActionKind.GRANT, add="lanh-dao"),  # already there
        action("nguyenvana", ActionKind.GRANT, add="lanh-dao"),
        action("phamthid", ActionKind.GRANT, add="chuyen-vien"),
        action("tranthib", ActionKind.DISABLE),
    ], snapshot)  # fmt: skip
    assert errors == [None] * 4
    assert members(server, "lanh-dao") == {"tranthib", "levanc", "nguyenvana"}
    assert members(server, "chuyen-vien") == {"tranthib", "phamthid"}

    meanwhile("delete", "nguyenvana", "lanh-dao")
    errors = target.apply([
        action("tranthib", ActionKind.REVOKE, remove="lanh-dao"),
        action("nguyenvana", ActionKind.REVOKE, remove="lanh-dao"),  # already gone
    ], snapshot)  # fmt: skip
    assert errors == [None, None]
    assert members(server, "lanh-dao") == {"levanc"}

    # The last members leave: the group keeps the placeholder, as one at a time would.
    errors = target.apply([
        action("tranthib", ActionKind.REVOKE, remove="chuyen-vien"),
        action("phamthid", ActionKind.REVOKE, remove="chuyen-vien"),
    ], snapshot)  # fmt: skip
    assert errors == [None, None]
    assert members(server, "chuyen-vien") == {"cn=syncbot-empty-group-placeholder"}
    admin.unbind()
    target.close()


def test_a_group_deleted_mid_window_fails_only_its_steps(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings
) -> None:
    server = ldap_directory
    target = LdapTarget(ldap_settings)
    snapshot = target.read(ReadRequest(frozenset({group_dn(server, "van-thu")})))
    keys = {a.username: a.key for a in snapshot.accounts}
    admin = ldap3.Connection(ldap3.Server(server.url.rstrip("/")), server.admin_dn,
                             server.admin_password, auto_bind=True)  # fmt: skip
    assert admin.delete(group_dn(server, "van-thu"))
    admin.unbind()
    grant = target.entitlement_key("van-thu")
    errors = target.apply([
        Action("ldap", ActionKind.GRANT, keys["levanc"], "levanc", None, REASON, None,
               add=(grant,)),
        Action("ldap", ActionKind.GRANT, keys["phamthid"], "phamthid", None, REASON, None,
               add=(grant,)),
        Action("ldap", ActionKind.DISABLE, keys["nguyenvana"], "nguyenvana", None, REASON, None),
    ], snapshot)  # fmt: skip
    assert errors[0] and errors[1] and "noSuchObject" in str(errors[0])
    assert errors[2] is None
    target.close()


def test_kills_at_random_points_inside_windows_lose_and_duplicate_nothing(
    sample: Path,  # noqa: F811
    slapd_server: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each kill lands once the audit log has grown past a random point of the apply."""
    _big_departure(slapd_server, sample.parent)
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "error"}
    cmd = [sys.executable, "-m", "syncbot", "--config", str(sample), "apply", "--yes", "--force"]
    audit = sample.parent / "audit" / "audit.jsonl"
    chance = random.Random(7)  # noqa: S311 - kill timing, nothing secret
    killed = 0
    for _ in range(4):
        before = audit.read_bytes().count(b"\n") if audit.exists() else 0
        wanted = before + chance.randint(2, 250)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if audit.exists() and audit.read_bytes().count(b"\n") >= wanted:
                break
            time.sleep(0.002)
        time.sleep(chance.uniform(0, 0.04))  # anywhere in the window that follows
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        capsys.readouterr()
        assert run(sample, "audit", "verify") == 0
    assert killed >= 3
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert plan_json(sample, capsys)["actions"] == []
    assert run(sample, "audit", "verify") == 0
    changes = [json.loads(x) for x in audit_lines(sample)]
    ok = [(r["account"], r["action"], json.dumps(r["before"])) for r in changes
          if r.get("result") == "ok"]  # fmt: skip
    assert len(ok) == len(set(ok))  # no change recorded twice
    assert len({a for a, kind, _ in ok if kind == "disable"}) == 403  # none lost
