"""The worker's notifier: run outcomes and checks in, messages to the outbox, a thread out.

One `Alerting` lives as long as the worker process; each config load (start, SIGHUP) gives
the worker a `ConfiguredAlerts` view of it with that load's `[notify]` settings, so a reload
changes channels and wording without losing open incidents or waiting messages. Nothing is
kept, and no thread started, while no channel is configured.

Files in the state folder (0600, replaced whole so a crash leaves the old or the new):

- `notify-incidents.json`: the open incidents, so a restart neither repeats nor forgets one;
- `notify-outbox.json`: messages not yet delivered (`syncbot.notify.outbox`);
- `worker.running`: written when the worker starts, removed when it stops cleanly. Found at
  start, it means the last worker died without stopping (kill -9, out of memory, a power
  cut, a bug): that is `worker_recovered`. A marker rather than the status file, because
  the status file is rewritten around every run, so its content cannot say whether the
  process that wrote it is gone, and the lock file (`worker.lock`) is released by the
  kernel on any exit, clean or not. The marker is fsynced, so it survives the power cut it
  is there to detect.

The thread checks the audit chain (`syncbot.audit.verify`, against the last run's anchor as
`syncbot audit verify` does) when the worker starts and every day, sends the departures
digest at `digest_at`, and delivers the outbox.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time as clock
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from syncbot.audit import verify_chain
from syncbot.durable import fsync_dir
from syncbot.errors import StateError, SyncbotError
from syncbot.model import FindingKind, Plan
from syncbot.notify.channels import Channel
from syncbot.notify.hooks import RunResult
from syncbot.notify.incidents import IncidentBook, Notice, RunFacts
from syncbot.notify.messages import compose
from syncbot.notify.outbox import OUTBOX_FILE, Outbox
from syncbot.notify.settings import NotifySettings
from syncbot.state import StateDir, read_json_file, write_json_atomic

if TYPE_CHECKING:
    from syncbot.config import Config

log = structlog.get_logger("syncbot.notify")

INCIDENTS_FILE = "notify-incidents.json"
MARKER_FILE = "worker.running"
AUDIT_CHECK_SECONDS = 24 * 3600.0
#: The digest lists departures and transfers due within this many days.
DIGEST_DAYS = 7
IDLE_SECONDS = 30.0
STOP_WAIT_SECONDS = 5.0
_DUE_KINDS = (FindingKind.FUTURE_DEPARTURE, FindingKind.FUTURE_CHANGE)


@dataclasses.dataclass(frozen=True, slots=True)
class AlertsConfig:
    """What one config load gives the notifier."""

    settings: NotifySettings
    audit_path: Path
    status_path: Path


class Alerting:
    """Shared by every config load of one worker process; `state_dir` cannot change."""

    def __init__(
        self,
        state_dir: Path,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.state_dir = state_dir
        self.now = now
        self.config: AlertsConfig | None = None
        self.lock = threading.RLock()
        self.book = IncidentBook()
        self.outbox: Outbox | None = None
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stopping = False
        self.due: list[dict[str, Any]] | None = None  # the last whole plan's due dates

    def configured(self, config: AlertsConfig) -> ConfiguredAlerts:
        return ConfiguredAlerts(self, config)

    def for_config(self, config: Config) -> ConfiguredAlerts:
        """The view a worker set up from `config` holds."""
        status_path = config.worker.status_path(config.state_dir)
        return self.configured(AlertsConfig(config.notify, config.audit_path, status_path))

    @property
    def settings(self) -> NotifySettings:
        return self.config.settings if self.config is not None else NotifySettings()

    # -- the worker's calls ------------------------------------------------------------

    def worker_started(self) -> None:
        if self.settings.enabled:
            self._activate()

    def worker_stopped(self) -> None:
        self.stopping = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join(STOP_WAIT_SECONDS)  # a message still sending stays in the outbox
        # Also when [notify] was emptied meanwhile: a marker left now would be reported as
        # a crash the day a channel is configured again.
        marker = self.state_dir / MARKER_FILE
        if marker.exists():
            marker.unlink(missing_ok=True)
            fsync_dir(self.state_dir)

    def run_finished(self, run_id: str, trigger: str, outcome: RunResult) -> None:
        if not self._active_or_enabled():
            return
        facts = RunFacts(
            run_id=run_id,
            trigger=trigger,
            result=outcome.result,
            error=outcome.error,
            failed=outcome.failed,
            actions=dict(outcome.actions),
            plan_id=outcome.plan_id,
            unreachable=outcome.unreachable,
        )
        grace = timedelta(minutes=self.settings.target_down_minutes)
        with self.lock:
            before = json.dumps(self.book.as_json(), sort_keys=True)
            notices = self.book.run_finished(facts, self.now(), grace)
            # Most runs change nothing: no write for them.
            if json.dumps(self.book.as_json(), sort_keys=True) != before:
                self._save_book()
        self.tell(notices)

    def plan_seen(self, plan: Plan, *, whole: bool) -> None:
        """Keep the due dates of a whole plan for the digest (a narrowed plan knows a few)."""
        if not whole or not self.settings.departures_due_digest:
            return
        people: dict[tuple[str, str], dict[str, Any]] = {}
        for finding in plan.findings:
            if finding.kind not in _DUE_KINDS or finding.due is None:
                continue
            who = finding.employee_id or finding.account or "?"
            people[(who, finding.due.isoformat())] = {
                "employee_id": finding.employee_id,
                "account": finding.account,
                "due": finding.due.isoformat(),
                "kind": finding.kind.value,
                "reason_vi": finding.reason.vi,
                "reason_en": finding.reason.en,
            }
        with self.lock:
            self.due = sorted(people.values(), key=lambda p: (p["due"], p["employee_id"] or ""))

    # -- telling -------------------------------------------------------------------------

    def tell(self, notices: list[Notice]) -> None:
        """Queue a message per notice for every channel that takes its event."""
        settings = self.settings
        for notice in notices:
            if notice.event not in settings.events or self.outbox is None:
                log.info("notify_not_sent", notify_event=notice.event, state=notice.state)
                continue
            keys = [c.key for c in settings.channels if notice.event in settings.channel_events(c)]
            if not keys:
                continue
            self.outbox.put(compose(notice, settings.language), keys)
            log.info(
                "notify_queued",
                notify_event=notice.event,
                incident=notice.kind,
                state=notice.state,
                channels=len(keys),
            )
        self.wake.set()

    # -- the thread ------------------------------------------------------------------------

    def _active_or_enabled(self) -> bool:
        if self.outbox is None and self.settings.enabled:
            self._activate()
        return self.outbox is not None

    def _activate(self) -> None:
        with self.lock:
            if self.outbox is not None:
                return
            StateDir(self.state_dir).prepare()
            self.book = IncidentBook(self._read(self.state_dir / INCIDENTS_FILE))
            self.outbox = Outbox(self.state_dir / OUTBOX_FILE, self._channels)
            crashed = self._read_marker()
            try:
                write_json_atomic(
                    self.state_dir / MARKER_FILE,
                    {"pid": os.getpid(), "started": self.now().isoformat(timespec="seconds")},
                )
            except OSError as exc:  # a full disk: still tell, only a crash goes unnoticed
                log.error("notify_state_write_failed", error=str(exc))
        if crashed is not None:
            log.warning("worker_recovered", previous_pid=crashed.get("pid"))
            self.tell([Notice("worker_recovered", "worker_recovered", "notice", crashed)])
        self.thread = threading.Thread(target=self._serve, name="syncbot-notify", daemon=True)
        self.thread.start()

    def _channels(self) -> Mapping[str, Channel]:
        return {c.key: c for c in self.settings.channels}

    def _serve(self) -> None:
        next_audit = 0.0
        while not self.stopping:
            wait: float | None = IDLE_SECONDS
            try:
                if clock.monotonic() >= next_audit:
                    next_audit = clock.monotonic() + AUDIT_CHECK_SECONDS
                    self.check_audit()
                self.digest_if_due()
                assert self.outbox is not None
                wait = self.outbox.deliver_due()
            except Exception:  # the thread must outlive a bug, or nobody is told again
                log.exception("notify_thread_error")
            self.wake.wait(min(wait if wait is not None else IDLE_SECONDS, IDLE_SECONDS))
            self.wake.clear()

    def check_audit(self) -> None:
        config = self.config
        if config is None:
            return
        try:
            checks = StateDir(self.state_dir).audit_checks()
        except SyncbotError as exc:  # a state file unreadable: the chain is still checked
            checks = []
            log.error("audit_check_anchor_unreadable", error=str(exc))
        result = verify_chain(config.audit_path, checks=checks)
        problem = result.problem
        if not result.ok and not checks and not config.audit_path.exists():
            problem = None  # no run has written the log yet
        if problem is None:
            log.info("audit_checked", ok=True, records=result.records)
        else:
            log.error("audit_checked", ok=False, alert=True, problem=problem)
        with self.lock:
            notices = self.book.audit_checked(problem, self.now())
            self._save_book()
        self.tell(notices)

    def digest_if_due(self) -> None:
        settings = self.settings
        if not settings.departures_due_digest or "departures_due" not in settings.events:
            return
        local = self.now().astimezone()
        today = local.date()
        with self.lock:
            if (
                local.time() < settings.digest_at
                or self.book.last_digest == today.isoformat()
                or self.due is None  # no whole plan yet since the start
            ):
                return
            last = today + timedelta(days=DIGEST_DAYS)
            people = [p for p in self.due if today <= date.fromisoformat(p["due"]) <= last]
            self.book.last_digest = today.isoformat()
            self._save_book()
        if people:
            details = {"people": people, "days": DIGEST_DAYS}
            self.tell([Notice("departures_due", "departures_due", "notice", details)])

    # -- files -----------------------------------------------------------------------------

    def _read_marker(self) -> dict[str, Any] | None:
        """The details of a worker that died without stopping, None after a clean stop."""
        path = self.state_dir / MARKER_FILE
        if not path.exists():
            return None
        marker = self._read(path) or {}
        details: dict[str, Any] = {"pid": marker.get("pid"), "started": marker.get("started")}
        status_path = self.config.status_path if self.config is not None else None
        if status_path is not None:
            status = self._read(status_path) or {}
            details["last_run"] = status.get("last_run")
        return details

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            return read_json_file(path)
        except StateError as exc:  # notifications must not stop the worker from starting
            log.error("notify_state_unreadable", path=str(path), error=str(exc))
            return None

    def _save_book(self) -> None:
        try:
            write_json_atomic(self.state_dir / INCIDENTS_FILE, self.book.as_json())
        except OSError as exc:
            log.error("notify_state_write_failed", error=str(exc))


class ConfiguredAlerts:
    """The notifier as one config load sets it up; what `WorkerSetup.alerts` holds.

    Every call first makes this load's settings current, then never raises: a notification
    problem is logged and the run goes on.
    """

    def __init__(self, alerting: Alerting, config: AlertsConfig) -> None:
        self.alerting = alerting
        self.config = config

    def worker_started(self) -> None:
        self._call(self.alerting.worker_started)

    def worker_stopped(self) -> None:
        self._call(self.alerting.worker_stopped)

    def run_finished(self, run_id: str, trigger: str, outcome: RunResult) -> None:
        self._call(lambda: self.alerting.run_finished(run_id, trigger, outcome))

    def plan_seen(self, plan: Plan, *, whole: bool) -> None:
        self._call(lambda: self.alerting.plan_seen(plan, whole=whole))

    def _call(self, action: Callable[[], None]) -> None:
        self.alerting.config = self.config
        try:
            action()
        except Exception:
            log.exception("notify_error")
