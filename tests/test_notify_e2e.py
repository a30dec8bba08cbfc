"""Operator notifications end to end: the worker as a real process against a real slapd, a
real SMTP server (aiosmtpd) and a webhook receiver on loopback, and `syncbot notify test`.

The sample department has about 70 matched people and `max_disable_share` 10 %: an export
in which 14 of them left yesterday is refused.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import Envelope, Session
from worker_process import (
    WorkerProcess,
    can_bind,
    departed,
    replace_atomically,
    start,
    syncbot,
    wait_for,
)

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.ports import free_port
from localdev.sample import directory_ldif, roster_csv
from localdev.slapd import SlapdServer
from syncbot.audit import verify_chain
from syncbot.exit_codes import ExitCode

TODAY = date.today()
YESTERDAY = TODAY - timedelta(days=1)
LEAVERS = [f"CB10{n:02d}" for n in range(10, 24)]  # 14 plain specialists and clerks
WEBHOOK_SECRET = "webhook-signing-secret-for-the-tests-0c9d"
REFUSED_VI = "Lần chạy bị từ chối do vượt ngưỡng an toàn, cần người duyệt"
CLEARED_VI = "Đã hết: lần chạy không còn bị ngưỡng an toàn chặn"
RECOVERED_EN = "The worker started again after an unclean stop"
BROKEN_EN = "Audit log chain broken"


# --- the receivers ------------------------------------------------------------------------


class Inbox:
    """An SMTP server on loopback that keeps every message it is given."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def text(self, index: int) -> str:
        content = self.messages[index].get_content()
        assert isinstance(content, str)
        return content


class Receiver:
    """An incoming webhook on loopback: keeps each request's headers and body, answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                requests.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/syncbot-token-in-path"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verified(self) -> list[dict[str, Any]]:
        """Every body received, each checked against its signature as a receiver would."""
        bodies = []
        for headers, body in self.requests:
            stamp = headers["X-Syncbot-Timestamp"]
            expected = hmac.new(
                WEBHOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            assert headers["X-Syncbot-Signature"] == "sha256=" + expected
            assert abs(int(stamp) - time.time()) < 300
            bodies.append(json.loads(body))
        return bodies


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(free_port())
    box.start()
    yield box
    box.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.stop()


def notify_table(smtp_port: int, webhook_url: str | None = None, extra: str = "") -> str:
    table = f"""
[notify]
{extra}
[notify.email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "syncbot@so-noi-vu.example.vn"
to = ["it@so-noi-vu.example.vn"]
"""
    if webhook_url is not None:
        table += f'[[notify.webhook]]\nurl = "{webhook_url}"\nsecret_file = "webhook-secret"\n'
    return table


def office(server: SlapdServer, folder: Path, notify: str) -> Path:
    """The sample department in slapd, its roster, and a worker config with `notify`."""
    if not server.running:
        server.start()
    server.reset()
    server.add_ldif(directory_ldif(TODAY, server.people_base, server.groups_base))
    (folder / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    secret = folder / "webhook-secret"
    secret.write_text(WEBHOOK_SECRET + "\n", encoding="utf-8")
    secret.chmod(0o600)
    worker = "\n[worker]\ninterval_minutes = 0\ndebounce_seconds = 0.3\n"
    return write_config(folder, server, REPO_MAPPINGS, worker + notify)


def mass_departure() -> str:
    text = roster_csv(TODAY)
    for employee_id in LEAVERS:
        text = departed(text, employee_id, YESTERDAY)
    return text


def touch(path: Path) -> None:
    later = time.time() + 1
    os.utime(path, (later, later))


def logged(worker: WorkerProcess, event: str) -> list[dict[str, Any]]:
    return worker.events(event)


# --- the worker ---------------------------------------------------------------------------


@pytest.mark.slapd
def test_a_refusal_is_told_once_by_mail_and_signed_webhook_and_cleared_once(
    slapd_server: SlapdServer,
    tmp_path: Path,
    workers: list[WorkerProcess],
    inbox: Inbox,
    receiver: Receiver,
) -> None:
    config = office(slapd_server, tmp_path, notify_table(inbox.port, receiver.url))
    roster = tmp_path / "nhan-su.csv"
    worker = start(workers, config)
    assert worker.wait_runs(1)[0]["result"] == "ok", worker.log()

    replace_atomically(roster, mass_departure())
    refusal = worker.wait_runs(2)[1]
    assert refusal["event"] == "run_refused", worker.log()
    wait_for("the refusal by mail", lambda: inbox.messages, timeout=30)
    wait_for("the refusal by webhook", lambda: receiver.requests, timeout=30)
    assert inbox.subjects() == [f"[syncbot {os.uname().nodename}] {REFUSED_VI}"]
    text = inbox.text(0)
    assert "lock or strip roles from 14 of" in text and "safety.max_disable_share = 10.0 %" in text
    assert "Khóa tài khoản: 14" in text
    (hook,) = receiver.verified()
    assert hook["event"] == "run_refused" and hook["state"] == "open"
    assert hook["subject"] == inbox.subjects()[0] and hook["text"] == text
    assert "syncbot-token-in-path" not in worker.log()
    plan_id = hook["details"]["plan_id"]
    if plan_id is not None:  # once refused plans are saved for approval
        assert f"syncbot approve {plan_id[:12]}" in text
    else:
        assert "syncbot apply --force" in text

    # The same refusal again: nothing more is told.
    touch(roster)
    again = worker.wait_runs(3)[2]
    assert again["event"] == "run_refused" and "14 of" in again["problems"], worker.log()

    # A restart remembers the open incident: its start-up run, refused again, tells nothing.
    assert worker.stop() == 0
    worker = start(workers, config, name="worker-2")
    assert worker.wait_runs(1)[0]["event"] == "run_refused", worker.log()

    # Fixed: the next run succeeds and clears it, once, on both channels.
    replace_atomically(roster, roster_csv(TODAY))
    assert worker.wait_runs(2)[1]["result"] == "ok", worker.log()
    wait_for("the clearing by mail", lambda: len(inbox.messages) >= 2, timeout=30)
    wait_for("the clearing by webhook", lambda: len(receiver.requests) >= 2, timeout=30)
    assert worker.stop() == 0
    assert inbox.subjects()[1] == f"[syncbot {os.uname().nodename}] {CLEARED_VI}"
    assert len(inbox.messages) == 2
    assert [(b["event"], b["state"]) for b in receiver.verified()] == [
        ("run_refused", "open"),
        ("run_refused", "cleared"),
    ]
    assert len(logged(worker, "notify_queued")) == 1  # the clearing, by the second worker
    assert len(logged(worker, "notify_sent")) == 2
    # A clean stop leaves no crash marker and nothing waiting.
    state = tmp_path / "state"
    assert not (state / "worker.running").exists()
    assert json.loads((state / "notify-outbox.json").read_text("utf-8"))["entries"] == []


@pytest.mark.slapd
def test_a_mail_server_that_is_down_neither_stops_runs_nor_loses_the_messages(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    down = Inbox(free_port())  # not started yet
    config = office(slapd_server, tmp_path, notify_table(down.port))
    roster = tmp_path / "nhan-su.csv"
    worker = start(workers, config)
    try:
        assert worker.wait_runs(1)[0]["result"] == "ok", worker.log()
        replace_atomically(roster, mass_departure())
        assert worker.wait_runs(2)[1]["event"] == "run_refused", worker.log()
        failed = wait_for("notify_failed", lambda: logged(worker, "notify_failed"), timeout=30)
        assert failed[0]["channel"] == f"email smtp://127.0.0.1:{down.port}"
        assert "refused" in failed[0]["error"].lower() and failed[0]["retry_in_seconds"] > 0

        # The mail server is still down; the next run applies as if nothing were wrong.
        assert can_bind(slapd_server, "thaovt")
        replace_atomically(roster, departed(roster_csv(TODAY), "CB1007", YESTERDAY))
        applied = worker.wait_runs(3)[2]
        assert applied["result"] == "ok" and applied["actions"].get("disable") == 1, worker.log()
        assert not can_bind(slapd_server, "thaovt")

        # Up again: the waiting messages go out, in order, on a later try.
        down.start()
        wait_for("both messages", lambda: len(down.messages) >= 2, timeout=120)
        assert [s.split("] ", 1)[1] for s in down.subjects()] == [REFUSED_VI, CLEARED_VI]
        assert worker.stop() == 0
    finally:
        down.stop()


@pytest.mark.slapd
def test_a_killed_worker_and_an_edited_audit_log_are_told_at_the_next_start(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess], inbox: Inbox
) -> None:
    config = office(slapd_server, tmp_path, notify_table(inbox.port, extra='language = "en"'))
    first = start(workers, config)
    assert first.wait_runs(1)[0]["result"] == "ok", first.log()
    first.proc.kill()  # no clean stop: the marker stays
    first.proc.wait(timeout=10)
    assert (tmp_path / "state" / "worker.running").exists()
    audit = tmp_path / "audit" / "audit.jsonl"
    lines = audit.read_text("utf-8").split("\n")
    record = json.loads(lines[0])
    record["actor"] = "someone else"  # an edit: the line no longer hashes to its hash
    lines[0] = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    audit.write_text("\n".join(lines), encoding="utf-8")
    assert not verify_chain(audit).ok

    second = start(workers, config, name="worker-2")
    wanted = {RECOVERED_EN, BROKEN_EN}

    def told() -> list[str]:
        subjects = [s.split("] ", 1)[1] for s in inbox.subjects()]
        return subjects if wanted <= set(subjects) else []

    subjects = wait_for("the recovery and the broken chain", told, timeout=30)
    recovered = inbox.text(subjects.index(RECOVERED_EN))
    assert f"pid {first.proc.pid}" in recovered
    broken = inbox.text(subjects.index(BROKEN_EN))
    assert "line 1" in broken and "syncbot audit verify" in broken
    assert second.stop() == 0
    assert not (tmp_path / "state" / "worker.running").exists()


@pytest.mark.slapd
def test_an_unreachable_directory_is_told_once_and_its_return_once(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess], inbox: Inbox
) -> None:
    notify = notify_table(inbox.port, extra="target_down_minutes = 0")
    config = office(slapd_server, tmp_path, notify)
    slapd_server.stop()
    try:
        worker = start(workers, config)
        first = worker.wait_runs(1)[0]
        assert first["event"] == "run_failed", worker.log()
        wait_for("the outage by mail", lambda: inbox.messages, timeout=30)
        # The retry (after 5 s) fails the same way and says nothing new.
        assert worker.wait_runs(2)[1]["event"] == "run_failed", worker.log()
    finally:
        slapd_server.start()
    wait_for(
        "a successful retry",
        lambda: any(r.get("result") == "ok" for r in worker.events("run_finished")),
        timeout=90,
    )
    wait_for("the return by mail", lambda: len(inbox.messages) >= 2, timeout=30)
    assert worker.stop() == 0
    subjects = [s.split("] ", 1)[1] for s in inbox.subjects()]
    assert subjects == [
        "Không kết nối được hệ thống đích (0 phút)",
        "Đã hết: kết nối lại được hệ thống đích",
    ]
    assert "ldap" in inbox.text(0).lower()


# --- syncbot notify test --------------------------------------------------------------------


def plain_config(folder: Path, notify: str) -> Path:
    (folder / "pw").write_text("unused\n", encoding="utf-8")
    secret = folder / "webhook-secret"
    secret.write_text(WEBHOOK_SECRET + "\n", encoding="utf-8")
    config = folder / "syncbot.toml"
    config.write_text(
        f"""
[roster]
path = "nhan-su.csv"
[targets.ldap]
url = "ldap://127.0.0.1:1"
bind_dn = "cn=syncbot,dc=example"
bind_password_file = "pw"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
{notify}""",
        encoding="utf-8",
    )
    return config


def test_notify_test_sends_through_every_channel_and_names_the_one_that_failed(
    tmp_path: Path, inbox: Inbox, receiver: Receiver
) -> None:
    config = plain_config(tmp_path, notify_table(inbox.port, receiver.url))
    done = syncbot(config, "notify", "test")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"email smtp://127.0.0.1:{inbox.port}: ok",
        "webhook[0] http://127.0.0.1: ok",
    ]
    assert inbox.subjects()[0].endswith("] Thư thử nghiệm thông báo")
    assert "`syncbot notify test`" in inbox.text(0)
    (body,) = receiver.verified()
    assert body["event"] == "test"

    inbox.stop()
    down = syncbot(config, "notify", "test")
    assert down.returncode == ExitCode.NOTIFY_FAILED, down.stdout + down.stderr
    email_line, hook_line = down.stdout.splitlines()
    assert email_line.startswith(f"email smtp://127.0.0.1:{inbox.port}: error: ")
    assert "Connection refused" in email_line
    assert hook_line == "webhook[0] http://127.0.0.1: ok"
    assert len(receiver.requests) == 2


def test_notify_test_without_a_channel_says_what_to_add(tmp_path: Path) -> None:
    done = syncbot(plain_config(tmp_path, ""), "notify", "test")
    assert done.returncode == 3
    assert "notify: no channel to test: add [notify.email] or [[notify.webhook]]" in done.stderr
