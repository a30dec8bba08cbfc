"""The worker's pure parts: trigger coalescing, debounce, due dates, back-off, notify, status."""

from __future__ import annotations

import os
import socket
from datetime import date, datetime, time
from pathlib import Path

import pytest

from syncbot.config import Config, load_config
from syncbot.errors import ConfigError
from syncbot.model import Finding, FindingKind, Reason
from syncbot.worker.notify import Notifier, socket_address, status_line
from syncbot.worker.status import exit_code, render_status
from syncbot.worker.timing import backoff_seconds, due_dates, next_due_run, parse_clock
from syncbot.worker.triggers import Pending, Trigger, TriggerQueue
from syncbot.worker.watch import Debouncer, is_export_name, newest_export, signature

# -- trigger queue -------------------------------------------------------------------------


def test_an_empty_queue_times_out_with_none() -> None:
    assert TriggerQueue().take(0.01) is None


def test_triggers_during_a_run_coalesce_into_exactly_one_more() -> None:
    queue = TriggerQueue()
    for kind in ("file", "schedule", "file"):
        queue.put(Trigger(kind))
    pending = queue.take(0)
    assert pending is not None and pending.full and pending.trigger == "file+schedule"
    assert queue.take(0) is None


def test_pushes_union_their_ids() -> None:
    """Only ids are queued: the rows a push carries wait in the state folder (push_store)."""
    queue = TriggerQueue()
    queue.put(Trigger("push", frozenset({"CB1"})))
    queue.put(Trigger("push", frozenset({"CB2"})))
    queue.put(Trigger("push", frozenset({"cb1"})))
    pending = queue.take(0)
    assert pending is not None and not pending.full
    assert pending.employee_ids == {"CB1", "CB2", "cb1"}


@pytest.mark.parametrize("order", [("push", "file"), ("file", "push")])
def test_a_full_trigger_supersedes_a_limited_one(order: tuple[str, str]) -> None:
    queue = TriggerQueue()
    for kind in order:
        queue.put(Trigger(kind, frozenset({"CB1"}) if kind == "push" else None))
    pending = queue.take(0)
    assert pending is not None and pending.full
    assert pending.employee_ids is None
    assert pending.trigger == "+".join(order)


def test_the_earliest_file_time_is_kept_for_latency() -> None:
    merged = Pending.of(Trigger("file", file_mtime=20.0)).merge(Trigger("file", file_mtime=10.0))
    assert merged.file_mtime == 10.0
    assert Pending.of(Trigger("startup")).merge(Trigger("file", file_mtime=5.0)).file_mtime == 5.0


# -- debounce ------------------------------------------------------------------------------

A = frozenset({("nhan-su.csv", 100, 1, 7)})
A_GROWN = frozenset({("nhan-su.csv", 200, 2, 7)})
B = frozenset({("nhan-su.csv", 200, 3, 8)})


def test_nothing_fires_while_the_file_keeps_changing_then_once_when_quiet() -> None:
    d = Debouncer(2.0, A)
    assert not d.observe(A, 0.0)
    assert not d.observe(A_GROWN, 1.0)  # still growing
    assert not d.observe(B, 2.5)  # replaced before it settled
    assert not d.observe(B, 4.0)
    assert d.observe(B, 4.5)
    assert not d.observe(B, 10.0)  # fired once per change


def test_a_change_back_to_what_ran_does_not_fire() -> None:
    d = Debouncer(1.0, A)
    assert not d.observe(B, 0.0)
    assert not d.observe(A, 0.5)
    assert not d.observe(A, 2.0)


def test_a_vanished_file_waits_for_the_next_one() -> None:
    d = Debouncer(1.0, A)
    assert not d.observe(frozenset(), 0.0)
    assert not d.observe(frozenset(), 5.0)
    assert not d.observe(B, 6.0)
    assert d.observe(B, 7.0)


def test_folder_signature_ignores_partial_names_and_newest_is_the_roster(tmp_path: Path) -> None:
    (tmp_path / "nhan-su-1.csv").write_text("a", encoding="utf-8")
    os.utime(tmp_path / "nhan-su-1.csv", (1000, 1000))
    (tmp_path / "nhan-su-2.csv").write_text("bb", encoding="utf-8")
    os.utime(tmp_path / "nhan-su-2.csv", (2000, 2000))
    (tmp_path / "nhan-su-3.csv.part").write_text("ccc", encoding="utf-8")
    (tmp_path / ".~lock.nhan-su.csv#").write_text("", encoding="utf-8")
    assert {s[0] for s in signature(tmp_path)} == {"nhan-su-1.csv", "nhan-su-2.csv"}
    assert newest_export(tmp_path) == tmp_path / "nhan-su-2.csv"
    assert not is_export_name("x.xlsx.tmp") and is_export_name("x.xlsx")


# -- due dates and back-off ----------------------------------------------------------------


def finding(kind: FindingKind, due: date | None) -> Finding:
    return Finding(kind, Reason("x", "x"), due=due)


def test_due_dates_come_from_future_departures_and_changes_only() -> None:
    today = date(2026, 11, 23)
    findings = [
        finding(FindingKind.FUTURE_DEPARTURE, date(2026, 12, 23)),
        finding(FindingKind.FUTURE_CHANGE, date(2026, 12, 1)),
        finding(FindingKind.FUTURE_DEPARTURE, date(2026, 12, 1)),
        finding(FindingKind.FUTURE_DEPARTURE, today),  # already due: this run handled it
        finding(FindingKind.ORPHAN, date(2026, 11, 30)),
        finding(FindingKind.FUTURE_CHANGE, None),
    ]
    assert due_dates(findings, today) == [date(2026, 12, 1), date(2026, 12, 23)]


def test_the_next_due_run_is_just_after_local_midnight() -> None:
    dates = [date(2026, 12, 1), date(2026, 12, 23)]
    now = datetime(2026, 11, 23, 16, 0)
    assert next_due_run(dates, now) == datetime(2026, 12, 1, 0, 0, 5)
    assert next_due_run(dates, datetime(2026, 12, 1, 0, 0, 6)) == datetime(2026, 12, 23, 0, 0, 5)
    assert next_due_run([], now) is None


def test_backoff_doubles_from_5_seconds_up_to_5_minutes() -> None:
    assert [backoff_seconds(n) for n in range(0, 9)] == [0, 5, 10, 20, 40, 80, 160, 300, 300]
    assert backoff_seconds(10_000) == 300


def test_parse_clock() -> None:
    assert parse_clock("06:30") == time(6, 30)
    for bad in ("6:30", "25:00", "06-30", "0630"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_clock(bad)


# -- systemd notify ------------------------------------------------------------------------


def test_abstract_socket_names_get_a_nul_byte() -> None:
    assert socket_address("@/org/freedesktop/systemd1/notify") == (
        b"\0/org/freedesktop/systemd1/notify"
    )
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"


def test_notify_messages_reach_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"})
        assert notifier.watchdog_seconds == 0.2
        notifier.ready()
        assert server.recv(1024) == b"READY=1"
        notifier.status(status_line(None, datetime(2026, 11, 24, 6, 30), [date(2026, 12, 1)]))
        assert server.recv(1024).decode() == (
            "STATUS=no run yet; next run 2026-11-24 06:30; pending due dates: 2026-12-01"
        )
        notifier.start_watchdog()
        try:
            assert server.recv(1024) == b"WATCHDOG=1"
        finally:
            notifier.stop_watchdog()


def test_abstract_notify_socket() -> None:
    name = f"@syncbot-test-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(socket_address(name))
        server.settimeout(2)
        Notifier({"NOTIFY_SOCKET": name}).send("READY=1")
        assert server.recv(1024) == b"READY=1"


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.ready()
    notifier.start_watchdog()
    notifier.stop_watchdog()


def test_watchdog_for_another_pid_is_ignored() -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert notifier.watchdog_seconds is None


def test_status_line_shortens_many_due_dates() -> None:
    last = {"result": "failed", "finished": "2026-11-23T16:00:03+00:00"}
    dates = [date(2026, 12, d) for d in (1, 2, 3, 4)]
    line = status_line(last, None, dates)
    assert line.startswith("last run failed at 2026-11-23T16:00:03+00:00; no run scheduled")
    assert line.endswith("2026-12-01, 2026-12-02, 2026-12-03 …")


# -- status --------------------------------------------------------------------------------


def test_status_exit_codes() -> None:
    assert exit_code(None) == 12
    assert exit_code({"last_run": None}) == 11
    assert exit_code({"last_run": {"result": "refused"}}) == 11
    assert exit_code({"last_run": {"result": "ok"}}) == 0


def test_status_is_rendered_for_a_person() -> None:
    lines = list(
        render_status(
            {
                "pid": 42,
                "started": "2026-11-23T08:00:00+00:00",
                "last_run": {
                    "id": "ab12cd34-20261123T160003Z",
                    "trigger": "file",
                    "result": "refused",
                    "actions": {"disable": 40},
                    "failed": 0,
                    "error": "the plan would lock 40 of 60 people",
                },
                "next_run": None,
                "pending_due_dates": ["2026-12-01"],
                "queued": "push",
            }
        )
    )
    text = "\n".join(lines)
    assert "pid 42" in text and "ab12cd34-20261123T160003Z (file)" in text
    assert "vượt ngưỡng an toàn" in text and "disable 40" in text
    assert "40 of 60" in text and "2026-12-01" in text and "queued: push" in text


# -- [worker] config -----------------------------------------------------------------------

BASE = """
[roster]
path = "nhan-su.csv"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_env = "SYNCBOT_TEST_PW"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
"""


def load(tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SYNCBOT_TEST_PW", "pw")
    path = tmp_path / "syncbot.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return load_config(path)


def test_worker_defaults_keep_old_configs_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = load(tmp_path, "", monkeypatch).worker
    assert worker.interval_minutes == 15 and worker.debounce_seconds == 2.0
    assert worker.watch is None and worker.push is None and worker.metrics is None


def test_worker_section_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "s3cret-token-for-worker-tests-0a7c"  # config refuses one under 32 bytes
    (tmp_path / "push-token").write_text(token + "\n", encoding="utf-8")
    config = load(
        tmp_path,
        """
[worker]
interval_minutes = 5
daily_at = ["06:30", "13:00"]
watch = "drop"
debounce_seconds = 3
[worker.push]
listen = "127.0.0.1:8765"
token_file = "push-token"
[worker.metrics]
listen = "[::1]:9464"
""",
        monkeypatch,
    )
    worker = config.worker
    assert worker.daily_at == (time(6, 30), time(13, 0))
    assert worker.watch == (tmp_path / "drop").resolve() and worker.debounce_seconds == 3.0
    assert worker.push is not None and worker.push.port == 8765
    assert worker.push.token == token and worker.push.hmac_secret is None
    assert "s3cret" not in repr(worker)
    assert worker.metrics is not None and worker.metrics.host == "::1"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[worker]\ndaily_at = ["6h30"]\n', "worker.daily_at"),
        ("[worker]\ninterval_minutes = -1\n", "worker.interval_minutes"),
        ("[worker]\nwatchh = 'x'\n", "worker.watchh"),
        ('[worker.push]\nlisten = "8765"\ntoken_file = "t"\n', "worker.push.listen"),
        ('[worker.push]\nlisten = "127.0.0.1:8765"\n', "worker.push.token_file"),
        ('[worker.push]\nlisten = "127.0.0.1:1"\ntoken = "inline"\n', "worker.push.token"),
    ],
)
def test_worker_mistakes_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra, monkeypatch)
    assert caught.value.key == key
