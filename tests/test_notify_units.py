"""Operator notifications, the pure parts: `[notify]` parsing, wording, incidents, signing,
and the outbox's retries with a stand-in channel and clock."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncbot.config import load_config
from syncbot.errors import ConfigError
from syncbot.model import Finding, FindingKind, Plan, Reason
from syncbot.notify.alerts import Alerting, AlertsConfig
from syncbot.notify.channels import DeliveryError, webhook_body
from syncbot.notify.incidents import IncidentBook, Notice, RunFacts
from syncbot.notify.messages import Message, compose
from syncbot.notify.outbox import Outbox, retry_delay
from syncbot.notify.settings import EVENTS, EmailSettings, NotifySettings, WebhookSettings
from syncbot.signing import signature, signed_headers

BASE = """
[roster]
path = "nhan-su.csv"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_file = "pw"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
"""
EMAIL = """
[notify.email]
host = "mail.example.vn"
from = "syncbot@example.vn"
to = ["it@example.vn"]
"""
T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
GRACE = timedelta(minutes=30)
PROBLEM = (
    "the plan would lock or strip roles from 14 of 70 matched people (20.0 %), "
    "above safety.max_disable_share = 10.0 %"
)


def load(tmp_path: Path, extra: str) -> Any:
    (tmp_path / "pw").write_text("ldap-secret\n", encoding="utf-8")
    (tmp_path / "smtp-pw").write_text("smtp-secret\n", encoding="utf-8")
    (tmp_path / "hook-secret").write_text("hook-secret-value\n", encoding="utf-8")
    path = tmp_path / "syncbot.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return load_config(path)


# --- config ---------------------------------------------------------------------------------


def test_no_notify_table_means_no_channel(tmp_path: Path) -> None:
    notify = load(tmp_path, "").notify
    assert not notify.enabled and notify.language == "vi" and notify.events == EVENTS


def test_a_full_notify_table(tmp_path: Path) -> None:
    notify = load(
        tmp_path,
        """
[notify]
events = ["run_refused", "run_failed", "departures_due"]
language = "en"
target_down_minutes = 10
departures_due_digest = true
digest_at = "06:45"
[notify.email]
host = "mail.example.vn"
security = "tls"
username = "syncbot"
password_file = "smtp-pw"
from = "syncbot@example.vn"
to = ["it@example.vn", "hr@example.vn"]
[[notify.webhook]]
url = "https://chat.example.vn/hooks/abc123"
format = "text"
[[notify.webhook]]
url = "http://127.0.0.1:9000/syncbot"
secret_file = "hook-secret"
events = ["run_refused"]
""",
    ).notify
    assert notify.language == "en" and notify.target_down_minutes == 10.0
    assert notify.digest_at.strftime("%H:%M") == "06:45"
    email = notify.email
    assert email is not None and email.port == 465 and email.password == "smtp-secret"
    assert email.to == ("it@example.vn", "hr@example.vn")
    text_hook, signed_hook = notify.webhooks
    assert text_hook.format == "text" and text_hook.secret is None
    assert signed_hook.secret == "hook-secret-value"
    assert notify.channel_events(signed_hook) == {"run_refused"}
    assert notify.channel_events(email) == {"run_refused", "run_failed", "departures_due"}
    # Secrets and the webhook URL (its path is a token) stay out of reprs and labels.
    shown = repr(notify) + text_hook.label + email.label
    assert "smtp-secret" not in shown and "hook-secret-value" not in shown
    assert "abc123" not in shown and text_hook.label == "webhook[0] https://chat.example.vn"


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('[notify]\nlanguage = "fr"\n', "notify.language", "must be one of vi, en"),
        ('[notify]\nevents = ["run_exploded"]\n', "notify.events", "unknown event"),
        ("[notify]\ntarget_down_minutes = -1\n", "notify.target_down_minutes", "negative"),
        ('[notify]\ndigest_at = "7h30"\n', "notify.digest_at", "HH:MM"),
        ("[notify]\nlanguage_code = 1\n", "notify.language_code", "unknown setting"),
        (EMAIL + 'port = "25"\n', "notify.email.port", "must be a int"),
        (EMAIL + 'security = "ssl"\n', "notify.email.security", "none, starttls, tls"),
        (EMAIL + 'reply_to = "x@example.vn"\n', "notify.email.reply_to", "unknown setting"),
        (EMAIL + 'password = "inline"\n', "notify.email.password", "not accepted inline"),
        (EMAIL + 'username = "syncbot"\n', "notify.email.password_file", "needs a password"),
        (
            EMAIL + 'security = "none"\nusername = "u"\npassword_file = "smtp-pw"\n',
            "notify.email.security",
            "in clear",
        ),
        ('[notify.webhook]\nurl = "https://x/y"\n', "notify.webhook", "[[notify.webhook]]"),
        (
            '[notify.email]\nhost = "m"\nfrom = "syncbot@example.vn"\nto = []\n',
            "notify.email.to",
            "at least one",
        ),
        (
            '[notify.email]\nhost = "m"\nfrom = "syncbot"\nto = ["it@example.vn"]\n',
            "notify.email.from",
            "not an e-mail address",
        ),
        ('[[notify.webhook]]\nurl = "ftp://x/y"\n', "notify.webhook[0].url", "http:// or https://"),
        (
            '[[notify.webhook]]\nurl = "https://x/y"\nformat = "xml"\n',
            "notify.webhook[0].format",
            "json, text",
        ),
        (
            '[[notify.webhook]]\nurl = "https://x/y"\n[[notify.webhook]]\nurl = "https://x/z"\n'
            'secret = "inline"\n',
            "notify.webhook[1].secret",
            "not accepted inline",
        ),
        (
            '[[notify.webhook]]\nurl = "https://x/y"\nevents = ["nope"]\n',
            "notify.webhook[0].events",
            "unknown event",
        ),
        (
            '[[notify.webhook]]\nurl = "https://x/y"\nheaders = {}\n',
            "notify.webhook[0].headers",
            "unknown setting",
        ),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert caught.value.key == key, str(caught.value)
    assert words in str(caught.value)


def test_a_webhook_url_is_not_repeated_in_its_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, '[[notify.webhook]]\nurl = "gopher://secret-token-in-path"\n')
    assert "secret-token-in-path" not in str(caught.value)


# --- incidents ------------------------------------------------------------------------------


def run(result: str, n: int = 1, **fields: Any) -> RunFacts:
    return RunFacts(run_id=f"run-{n}", trigger="file", result=result, **fields)


def refused(n: int = 1, problem: str = PROBLEM, plan_id: str | None = "a" * 64) -> RunFacts:
    return run("refused", n, error=problem, actions={"disable": 14}, plan_id=plan_id)


def states(notices: list[Notice]) -> list[tuple[str, str, str]]:
    return [(n.event, n.kind, n.state) for n in notices]


def test_a_refusal_is_told_once_and_cleared_once() -> None:
    book = IncidentBook()
    first = book.run_finished(refused(1), T0, GRACE)
    assert states(first) == [("run_refused", "refused", "open")]
    assert first[0].details["plan_id"] == "a" * 64
    assert book.run_finished(refused(2), T0 + timedelta(minutes=5), GRACE) == []
    assert book.run_finished(run("interrupted", 3), T0, GRACE) == []
    cleared = book.run_finished(run("ok", 4), T0 + timedelta(hours=1), GRACE)
    assert states(cleared) == [("run_refused", "refused", "cleared")]
    assert cleared[0].details["since"] == T0.isoformat(timespec="seconds")
    assert cleared[0].details["run_id"] == "run-4"
    assert book.run_finished(run("ok", 5), T0, GRACE) == []


def test_a_refusal_with_other_numbers_is_told_again() -> None:
    book = IncidentBook()
    book.run_finished(refused(1), T0, GRACE)
    again = book.run_finished(refused(2, PROBLEM.replace("14 of", "20 of")), T0, GRACE)
    assert states(again) == [("run_refused", "refused", "open")]


def test_an_unreachable_target_is_told_only_after_the_grace_time() -> None:
    book = IncidentBook()
    down = run("failed", error="ldap: connection refused", unreachable=True)
    assert book.run_finished(down, T0, GRACE) == []
    assert book.run_finished(down, T0 + timedelta(minutes=29), GRACE) == []
    told = book.run_finished(down, T0 + timedelta(minutes=31), GRACE)
    assert states(told) == [("run_failed", "target_down", "open")]
    assert told[0].details["minutes"] == 31
    assert book.run_finished(down, T0 + timedelta(minutes=40), GRACE) == []
    assert states(book.run_finished(run("ok"), T0, GRACE)) == [
        ("run_failed", "target_down", "cleared")
    ]


def test_a_target_back_within_the_grace_time_is_never_mentioned() -> None:
    book = IncidentBook()
    book.run_finished(run("failed", unreachable=True), T0, GRACE)
    assert book.run_finished(run("ok"), T0 + timedelta(minutes=5), GRACE) == []
    assert book.open == {}


def test_a_later_stage_clears_an_earlier_one_but_a_stageless_failure_does_not() -> None:
    book = IncidentBook()
    book.run_finished(run("invalid", error="row 3: bad date"), T0, GRACE)
    # A refusal means the roster was read and planned: the invalid roster is fixed.
    notices = book.run_finished(refused(), T0, GRACE)
    assert states(notices) == [
        ("run_failed", "invalid", "cleared"),
        ("run_refused", "refused", "open"),
    ]
    # A bug says nothing about the refusal: it stays open, and the bug is told.
    crash = book.run_finished(run("failed", error="KeyError: 'x'"), T0, GRACE)
    assert states(crash) == [("run_failed", "run_failed", "open")]
    steps = book.run_finished(run("failed", failed=2, error="2 steps failed"), T0, GRACE)
    assert states(steps) == [
        ("run_refused", "refused", "cleared"),
        ("steps_failed", "steps_failed", "open"),
    ]
    assert set(book.open) == {"run_failed", "steps_failed"}


def test_incidents_survive_a_restart_through_their_json() -> None:
    book = IncidentBook()
    book.run_finished(refused(), T0, GRACE)
    book.audit_checked("line 7: hash does not match its content (edited?)", T0)
    restarted = IncidentBook(json.loads(json.dumps(book.as_json())))
    assert restarted.run_finished(refused(2), T0, GRACE) == []
    assert restarted.audit_checked("line 7: hash does not match", T0) == []
    assert states(restarted.audit_checked(None, T0)) == [
        ("audit_broken", "audit_broken", "cleared")
    ]


# --- wording --------------------------------------------------------------------------------


def test_a_refusal_reads_in_vietnamese_by_default_and_in_english() -> None:
    notice = IncidentBook().run_finished(refused(), T0, GRACE)[0]
    vi = compose(notice, "vi", host="may-chu-1")
    assert vi.subject == (
        "[syncbot may-chu-1] Lần chạy bị từ chối do vượt ngưỡng an toàn, cần người duyệt"
    )
    assert PROBLEM in vi.text and "Khóa tài khoản: 14" in vi.text
    assert "Lần chạy run-1 (kích hoạt bởi tệp xuất nhân sự mới)." in vi.text
    assert "Mã kế hoạch: " + "a" * 64 in vi.text
    assert "syncbot approve aaaaaaaaaaaa\n" in vi.text
    en = compose(notice, "en", host="may-chu-1")
    assert en.subject == "[syncbot may-chu-1] Run refused by a safety threshold, approval needed"
    assert "After review, approve it with: syncbot approve aaaaaaaaaaaa" in en.text
    assert "Disable account: 14" in en.text and "Khóa" not in en.text
    assert "Run run-1 (triggered by a new HR export)." in en.text


def test_a_refusal_without_a_saved_plan_says_how_to_apply_it() -> None:
    notice = IncidentBook().run_finished(refused(plan_id=None), T0, GRACE)[0]
    text = compose(notice, "vi", host="h").text
    assert "syncbot approve" not in text and "syncbot apply --force" in text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_notice_has_a_subject_and_text(lang: str) -> None:
    book = IncidentBook()
    notices = [
        *book.run_finished(run("failed", failed=3, error="3 steps failed, first: x"), T0, GRACE),
        *book.run_finished(run("ok"), T0, GRACE),
        *book.audit_checked("line 2: prev does not match line 1", T0),
        Notice("worker_recovered", "worker_recovered", "notice", {"pid": 4242, "started": "x"}),
        Notice(
            "departures_due",
            "departures_due",
            "notice",
            {
                "days": 7,
                "people": [
                    {
                        "employee_id": "CB1001",
                        "due": "2026-12-10",
                        "reason_vi": "nghỉ việc từ 10/12/2026",
                        "reason_en": "leaves on 10/12/2026",
                    }
                ],
            },
        ),
        Notice("test", "test", "notice", {}),
    ]
    words = {
        "vi": ["Số bước thất bại: 3", "Đã hết", "hỏng", "4242", "nghỉ việc từ 10/12/2026", "thử"],
        "en": ["Failed steps: 3", "Cleared", "broken", "4242", "leaves on 10/12/2026", "test"],
    }[lang]
    for notice, word in zip(notices, words, strict=True):
        message = compose(notice, lang, host="h")
        assert message.subject.startswith("[syncbot h] ")
        assert word.lower() in (message.subject + message.text).lower(), (notice, message)
    digest = compose(notices[4], lang, host="h")
    assert "10/12/2026  CB1001" in digest.text and digest.subject.endswith(": 1")


# --- signing and webhook bodies -------------------------------------------------------------


def test_the_signature_is_the_push_endpoints_scheme() -> None:
    body = '{"text": "Lần chạy"}'.encode()
    expected = hmac.new(b"s3cret", b"1765000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1765000000", body) == "sha256=" + expected
    assert signed_headers("s3cret", 1765000000, body) == {
        "X-Syncbot-Timestamp": "1765000000",
        "X-Syncbot-Signature": "sha256=" + expected,
    }
    assert signature("other", "1765000000", body) != "sha256=" + expected


def test_webhook_bodies_json_and_text() -> None:
    message = compose(IncidentBook().run_finished(refused(), T0, GRACE)[0], "vi", host="h")
    as_json = json.loads(webhook_body(WebhookSettings(url="https://x/y"), message))
    assert as_json["event"] == "run_refused" and as_json["state"] == "open"
    assert as_json["details"]["plan_id"] == "a" * 64 and as_json["subject"] == message.subject
    as_text = json.loads(webhook_body(WebhookSettings(url="https://x/y", format="text"), message))
    assert list(as_text) == ["text"] and as_text["text"].startswith(message.subject + "\n\n")


# --- outbox ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_outbox_retries_with_back_off_and_survives_a_restart(tmp_path: Path) -> None:
    email = EmailSettings("mail", 25, "none", "s@example.vn", ("it@example.vn",))
    channels = {email.key: email}
    up = False
    sent: list[str] = []

    def send(channel: Any, message: Message) -> None:
        if not up:
            raise DeliveryError("ConnectionRefusedError: [Errno 111] Connection refused")
        sent.append(message.subject)

    clock = Clock()
    path = tmp_path / "notify-outbox.json"
    box = Outbox(path, lambda: channels, send=send, clock=clock)
    message = compose(Notice("test", "test", "notice", {}), "en", host="h")
    box.put(message, [email.key])
    assert box.deliver_due() == retry_delay(1) == 5.0
    clock.now += 5
    assert box.deliver_due() == retry_delay(2) == 10.0
    assert sent == [] and box.pending() == 1

    # A new process reads what is still waiting, with its attempts.
    again = Outbox(path, lambda: channels, send=send, clock=clock)
    assert again.pending() == 1 and again.entries[0].attempts == 2
    up = True
    assert again.deliver_due() == 10.0  # not yet due: nothing tried
    clock.now += 10
    assert again.deliver_due() is None
    assert sent == [message.subject] and again.pending() == 0
    assert json.loads(path.read_text("utf-8"))["entries"] == []


def test_the_outbox_gives_up_after_a_day_and_drops_messages_for_removed_channels(
    tmp_path: Path,
) -> None:
    def send(channel: Any, message: Message) -> None:
        raise DeliveryError("down")

    clock = Clock()
    channels: dict[str, Any] = {"email": EmailSettings("m", 25, "none", "s@x.vn", ("t@x.vn",))}
    box = Outbox(None, lambda: channels, send=send, clock=clock)
    message = compose(Notice("test", "test", "notice", {}), "en", host="h")
    box.put(message, ["email", "webhook:gone"])
    box.deliver_due()
    assert [e.channel for e in box.entries] == ["email"]  # the removed channel's is dropped
    assert retry_delay(30) == 600.0  # capped
    clock.now += 24 * 3600
    box.deliver_due()
    assert box.pending() == 0


def test_a_channel_gets_its_messages_in_the_order_they_were_queued(tmp_path: Path) -> None:
    email = EmailSettings("mail", 25, "none", "s@example.vn", ("it@example.vn",))
    up = False
    sent: list[str] = []

    def send(channel: Any, message: Message) -> None:
        if not up:
            raise DeliveryError("down")
        sent.append(message.state)

    clock = Clock()
    box = Outbox(None, lambda: {email.key: email}, send=send, clock=clock)
    opened = compose(IncidentBook().run_finished(refused(), T0, GRACE)[0], "en", host="h")
    box.put(opened, [email.key])
    assert box.deliver_due() == 5.0
    clock.now += 2
    cleared = dataclasses.replace(opened, state="cleared")
    box.put(cleared, [email.key])
    # The newer message is due, but waits behind the one the channel has not taken.
    assert box.deliver_due() == 3.0 and box.entries[1].attempts == 0
    up = True
    clock.now += 3
    assert box.deliver_due() is None
    assert sent == ["open", "cleared"]


# --- the notifier: digest and crash marker --------------------------------------------------


def alerting_for(tmp_path: Path, when: list[datetime], **notify: Any) -> tuple[Alerting, list[Any]]:
    email = EmailSettings("mail", 25, "none", "s@example.vn", ("it@example.vn",))
    settings = NotifySettings(email=email, **notify)
    alerting = Alerting(tmp_path / "state", now=lambda: when[0])
    alerting.config = AlertsConfig(settings, tmp_path / "audit.jsonl", tmp_path / "worker.json")
    queued: list[Any] = []
    alerting.outbox = Outbox(None, lambda: {email.key: email}, send=lambda c, m: None)
    alerting.outbox.put = lambda message, keys: queued.append(message)  # type: ignore[method-assign]
    return alerting, queued


def due_plan(today: date) -> Plan:
    def leaving(employee_id: str, days: int) -> Finding:
        due = today + timedelta(days=days)
        return Finding(
            FindingKind.FUTURE_DEPARTURE,
            Reason(f"nghỉ việc từ {due:%d/%m/%Y}", f"leaves on {due:%d/%m/%Y}"),
            target="ldap",
            employee_id=employee_id,
            due=due,
        )

    findings = (leaving("CB1002", 3), leaving("CB1001", 1), leaving("CB1009", 30))
    return Plan(today, "nhan-su.csv", "0" * 64, 72, (), findings)


def test_the_digest_lists_who_leaves_within_a_week_once_a_day(tmp_path: Path) -> None:
    morning = datetime(2026, 12, 7, 6, 0).astimezone()
    when = [morning]
    alerting, queued = alerting_for(tmp_path, when, departures_due_digest=True)
    alerting.plan_seen(due_plan(morning.date()), whole=False)
    alerting.digest_if_due()
    assert queued == []  # no whole plan yet, and before 07:30
    alerting.plan_seen(due_plan(morning.date()), whole=True)
    alerting.digest_if_due()
    assert queued == []  # before 07:30
    when[0] = morning.replace(hour=7, minute=31)
    alerting.digest_if_due()
    alerting.digest_if_due()
    (digest,) = queued
    assert [p["employee_id"] for p in digest.details["people"]] == ["CB1001", "CB1002"]
    assert digest.subject.endswith("Người sắp nghỉ việc / chuyển công tác: 2")
    when[0] = morning + timedelta(days=1, hours=2)
    alerting.digest_if_due()
    assert len(queued) == 2  # the next day's


def test_the_digest_is_off_unless_asked_for(tmp_path: Path) -> None:
    when = [datetime(2026, 12, 7, 9, 0).astimezone()]
    alerting, queued = alerting_for(tmp_path, when)
    alerting.plan_seen(due_plan(when[0].date()), whole=True)
    alerting.digest_if_due()
    assert queued == [] and alerting.due is None


def test_a_marker_left_by_a_dead_worker_is_a_recovery(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "worker.running").write_text('{"pid": 4242, "started": "2026-12-06T01:00:00+00:00"}')
    (tmp_path / "worker.json").write_text('{"last_run": {"id": "r-1", "result": "ok"}}')
    alerting, _ = alerting_for(tmp_path, [T0])
    assert alerting._read_marker() == {
        "pid": 4242,
        "started": "2026-12-06T01:00:00+00:00",
        "last_run": {"id": "r-1", "result": "ok"},
    }
    (state / "worker.running").unlink()
    assert alerting._read_marker() is None
