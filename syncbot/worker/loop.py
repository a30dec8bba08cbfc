"""`syncbot run`: one process that reconciles on every trigger, one run at a time.

Each run is a whole reconcile (level-triggered), so a missed trigger costs latency,
never correctness. The main thread runs; watcher, push server, metrics and the systemd
watchdog are background threads that only put triggers in the queue.

The loop is given its settings and a run function (`WorkerSetup`), never the whole
config: `syncbot.configured_worker` builds them from the Config, so the config, which
reads `[worker]` through `worker.settings`, and the worker do not import each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import signal
import time as clock
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import schedule
import structlog

from syncbot.audit import AuditLog
from syncbot.errors import (
    ConfigError,
    LocalResourceError,
    LockedError,
    RosterError,
    SafetyError,
    SyncbotError,
    TargetError,
)
from syncbot.executor import ApplyReport
from syncbot.exit_codes import ExitCode
from syncbot.model import ActionKind, Plan, Vocabulary
from syncbot.notify.hooks import SILENT, Alerts
from syncbot.push_store import PushStore
from syncbot.state import StateDir
from syncbot.wording.worker import already_running
from syncbot.worker.notify import Notifier, status_line
from syncbot.worker.settings import PushSettings, WorkerSettings
from syncbot.worker.status import write_status
from syncbot.worker.timing import backoff_seconds, due_at, due_dates, next_due_run
from syncbot.worker.triggers import Pending, Trigger, TriggerQueue
from syncbot.worker.watch import FileWatcher

log = structlog.get_logger("syncbot.worker")
LOCK_RETRY_SECONDS = 1.0
IDLE_WAKE_SECONDS = 0.5  # how often the loop looks at signals and the clock when idle


Lock = Callable[[], contextlib.AbstractContextManager[None]]


class RunFunction(Protocol):
    """One run: plan for everyone (`people` None), or for the people a push named and,
    with `export_changed`, those a new export changed; and apply. Raises `SafetyError`
    when a threshold refuses the plan (nothing changed), and whatever else stopped it,
    for the loop to sort out."""

    def __call__(
        self,
        run_id: str,
        people: frozenset[str] | None,
        *,
        export_changed: bool,
        on_plan: Callable[[Plan], None],
        should_stop: Callable[[], bool],
        lock: Lock,
    ) -> ApplyReport: ...


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What the loop takes from outside; a SIGHUP replaces it whole, or not at all."""

    settings: WorkerSettings
    state_dir: Path
    audit_path: Path
    watch: Path  # the roster file, or the folder HR drops exports in
    source: str  # the config file, named in logs and in the status file
    actor: str  # who the worker's own audit records say acted
    run: RunFunction
    vocabulary: Callable[[], Vocabulary]  # what pushed rows are checked against
    # Whether a decision on a saved plan awaits the next run (`syncbot approve`).
    decisions_waiting: Callable[[], bool] = lambda: False
    alerts: Alerts = SILENT  # who is told of refusals, failures and recoveries ([notify])

    @property
    def status_path(self) -> Path:
        return self.settings.status_path(self.state_dir)


#: The lock a running worker holds in the state folder (`worker_lock`).
WORKER_LOCK = "worker.lock"


@contextlib.contextmanager
def worker_lock(state_dir: Path) -> Iterator[None]:
    """Held for the process lifetime; the kernel drops a flock when the process dies,
    so a crashed worker never leaves it stuck."""
    StateDir(state_dir).prepare()
    path = state_dir / WORKER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise LockedError(already_running(holder, str(path))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclasses.dataclass
class RunOutcome:
    result: str  # ok | failed | refused | invalid | interrupted
    actions: dict[str, int] = dataclasses.field(default_factory=dict)
    failed: int = 0
    error: str | None = None
    disabled: int = 0
    plan_id: str | None = None  # the refused plan, saved for `syncbot approve`
    unreachable: bool = False  # a target could not be reached or read

    @property
    def retry(self) -> bool:
        """Failures the same inputs may get past next time: unreachable targets, failed steps."""
        return self.result == "failed"


class Worker:
    """`reload` builds the setup afresh (raising ConfigError or RosterError when it cannot);
    `new_run_id` names each run, as every run of syncbot is named."""

    def __init__(
        self,
        setup: WorkerSetup,
        *,
        reload: Callable[[], WorkerSetup],
        new_run_id: Callable[[], str],
    ) -> None:
        self.setup = setup
        self.reload = reload
        self.new_run_id = new_run_id
        self.queue = TriggerQueue()
        self.notifier = Notifier()
        self.stop_requested = False
        self.reload_requested = False
        self.scheduler = schedule.Scheduler()
        self.watcher: FileWatcher | None = None
        self.failures = 0
        self.retry_at: float | None = None  # monotonic
        self.retry_wall: str | None = None
        self.due: list[date] = []
        self.last_run: dict[str, Any] | None = None
        self.started = _now()
        self.servers: list[Any] = []
        self.metrics: Any = None

    # -- lifecycle ---------------------------------------------------------------------

    def serve(self) -> int:
        with worker_lock(self.setup.state_dir):
            previous = {
                sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)
            }
            try:
                self._start_services()
                self.setup.alerts.worker_started()
                log.info("worker_started", pid=os.getpid(), config=self.setup.source)
                self.queue.put(Trigger("startup"))
                self._loop()
                self.setup.alerts.worker_stopped()  # not on a crash: the next start tells
            finally:
                self.notifier.stopping()
                self._stop_services()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                log.info("worker_stopped")
        return ExitCode.OK

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only flags: the loop acts on them between runs, or apply stops after its step.
        if signum == signal.SIGHUP:
            self.reload_requested = True
        else:
            self.stop_requested = True

    def _start_services(self) -> None:
        self._schedule()
        self._start_watcher()
        self._start_network()
        self.notifier.start_watchdog()

    def _stop_services(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        self.notifier.stop_watchdog()

    def _schedule(self) -> None:
        settings = self.setup.settings
        self.scheduler.clear()
        if settings.interval_minutes > 0:
            self.scheduler.every(max(1, round(settings.interval_minutes * 60))).seconds.do(
                self.queue.put, Trigger("schedule")
            )
        for at in settings.daily_at:
            self.scheduler.every().day.at(at.strftime("%H:%M")).do(self.queue.put, Trigger("daily"))
        # Due dates are re-read from each full run; this daily run is the safety net
        # for a due date that only a run after midnight can see.
        self.scheduler.every().day.at("00:00:05").do(self.queue.put, Trigger("due"))

    def _start_watcher(self) -> None:
        self.watcher = FileWatcher(
            self.setup.watch, self.setup.settings.debounce_seconds, self._file_changed
        )
        self.watcher.start()

    def _file_changed(self, mtime: float | None) -> None:
        log.info("trigger_received", trigger="file", path=str(self.setup.watch))
        self.queue.put(Trigger.export(mtime))

    def _start_network(self) -> None:
        settings = self.setup.settings
        if settings.metrics is not None or settings.push is not None:
            from syncbot.worker.metrics import Metrics, MetricsServer

            self.metrics = Metrics()
            if settings.metrics is not None:
                server = MetricsServer(settings.metrics, self.metrics)
                _listen(server, "[worker.metrics] listen", settings.metrics)
                self.servers.append(server)
        if settings.push is not None:
            from syncbot.worker.push import PushRequest, PushServer

            store = PushStore(self.setup.state_dir)

            credential = _credential_name(settings.push)

            def submit(request: PushRequest) -> None:
                # Kept on disk before the 202 answer: runs take pushed rows from there, so
                # no merge of triggers, restart or crash can lose them.
                if request.rows is not None:
                    store.add(request.rows, peer=request.peer, credential=credential)
                log.info(
                    "trigger_received",
                    trigger="push",
                    peer=request.peer,
                    people=len(request.employee_ids),
                    rows=len(request.rows.rows) if request.rows is not None else 0,
                )
                self.queue.put(Trigger("push", request.employee_ids))

            push = PushServer(settings.push, submit, lambda: self.setup.vocabulary())
            _listen(push, "[worker.push] listen", settings.push)
            self.servers.append(push)

    # -- the loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        first = True
        while not self.stop_requested:
            if self.reload_requested:
                self.reload_requested = False
                self._reload()
            self.scheduler.run_pending()
            self._due_and_retry()
            pending = self.queue.take(IDLE_WAKE_SECONDS)
            if pending is None:
                continue
            self._write_status()
            self._execute(pending)
            if first:
                first = False
                self.notifier.ready()
            self.notifier.status(status_line(self.last_run, self._next_run_local(), self.due))
            self._write_status()

    def _due_and_retry(self) -> None:
        now = datetime.now()
        passed = [d for d in self.due if due_at(d) <= now]
        if passed:
            # Forgotten here; the run re-reads the roster and lists what is still ahead.
            self.due = [d for d in self.due if d not in passed]
            log.info("trigger_received", trigger="due", due=passed[0].isoformat())
            self.queue.put(Trigger("due"))
        if self.retry_at is not None and clock.monotonic() >= self.retry_at:
            self.retry_at = None
            self.retry_wall = None
            log.info("trigger_received", trigger="retry", failures=self.failures)
            self.queue.put(Trigger("retry"))
        # After a failure the retry's run takes the decisions too: no run each tick meanwhile.
        if self.retry_at is None and self.setup.decisions_waiting():
            log.info("trigger_received", trigger="approval")
            self.queue.put(Trigger.approval())

    def _next_run_local(self) -> datetime | None:
        scheduled = self.scheduler.next_run if self.scheduler.jobs else None
        due = next_due_run(self.due, datetime.now())
        return min((m for m in (scheduled, due) if m is not None), default=None)

    # -- one run -----------------------------------------------------------------------

    def _execute(self, pending: Pending) -> None:
        run_id = self.new_run_id()
        started, t0 = _now(), clock.monotonic()
        log.info(
            "run_started",
            run_id=run_id,
            trigger=pending.trigger,
            people=None if pending.full else len(pending.employee_ids or ()),
            export_changed=pending.export_changed,
        )
        try:
            outcome = self._run(run_id, pending)
        except (RosterError, ConfigError) as exc:
            outcome = RunOutcome("invalid", error=str(exc))
        except TargetError as exc:
            outcome = RunOutcome("failed", error=str(exc), unreachable=True)
        except SyncbotError as exc:
            outcome = RunOutcome("failed", error=str(exc))
        except Exception as exc:  # a bug must not end the safety net; it is logged in full
            log.exception("run_crashed", run_id=run_id)
            outcome = RunOutcome("failed", error=f"{type(exc).__name__}: {exc}")
        seconds = round(clock.monotonic() - t0, 3)
        self.last_run = {
            "id": run_id,
            "trigger": pending.trigger,
            "result": outcome.result,
            "started": started,
            "finished": _now(),
            "actions": outcome.actions,
            "failed": outcome.failed,
            "error": outcome.error,
        }
        self._log_outcome(run_id, pending, outcome, seconds)
        if outcome.result in ("failed", "refused", "invalid"):
            self._audit_outcome(run_id, pending, outcome)
        self._backoff(outcome)
        self.setup.alerts.run_finished(run_id, pending.trigger, outcome)
        if self.metrics is not None:
            self.metrics.run_finished(
                trigger=pending.trigger,
                ok=outcome.result == "ok",
                actions=outcome.actions,
                failed=outcome.failed,
                seconds=seconds,
            )
            if outcome.disabled and pending.file_mtime is not None:
                self.metrics.lockout_latency(max(0.0, clock.time() - pending.file_mtime))

    def _audit_outcome(self, run_id: str, pending: Pending, outcome: RunOutcome) -> None:
        """Runs that changed nothing because they could not, or must not, are evidence too."""
        details = {
            "result": outcome.result,
            "trigger": pending.trigger,
            "error": outcome.error,
            "failed_steps": outcome.failed,
        }
        # Closing seals the record and moves the audit anchor past it, as after any run.
        keeping = StateDir(self.setup.state_dir).audit_keeping()
        try:
            with AuditLog(
                self.setup.audit_path, run_id=run_id, actor=self.setup.actor, keeping=keeping
            ) as a:
                a.run_finished(details)
        except Exception:  # the log line above already raised the alert
            log.exception("audit_write_failed", run_id=run_id)

    def _log_outcome(self, run_id: str, pending: Pending, outcome: RunOutcome, s: float) -> None:
        fields = {"run_id": run_id, "trigger": pending.trigger, "seconds": s}
        if outcome.result == "refused":
            log.error("run_refused", alert=True, problems=outcome.error, **fields)
        elif outcome.result in ("failed", "invalid"):
            log.error(
                "run_failed",
                alert=True,
                result=outcome.result,
                error=outcome.error,
                failed=outcome.failed,
                **fields,
            )
        else:
            log.info(
                "run_finished",
                result=outcome.result,
                actions=outcome.actions,
                failed=outcome.failed,
                **fields,
            )

    def _backoff(self, outcome: RunOutcome) -> None:
        if not outcome.retry:
            self.failures, self.retry_at, self.retry_wall = 0, None, None
            return
        self.failures += 1
        delay = backoff_seconds(self.failures)
        self.retry_at = clock.monotonic() + delay
        self.retry_wall = datetime.fromtimestamp(clock.time() + delay, UTC).isoformat(
            timespec="seconds"
        )
        log.info("retry_scheduled", in_seconds=delay, failures=self.failures)

    def _run(self, run_id: str, pending: Pending) -> RunOutcome:
        people = None if pending.full else frozenset(pending.employee_ids or ())

        def on_plan(plan: Plan) -> None:
            due = due_dates(plan.findings, plan.today)
            # A narrowed plan knows only its people's dates: the others' stay.
            self.due = due if pending.full else sorted(set(self.due) | set(due))
            self.setup.alerts.plan_seen(plan, whole=pending.full)

        try:
            report = self.setup.run(
                run_id,
                people,
                export_changed=pending.export_changed,
                on_plan=on_plan,
                should_stop=lambda: self.stop_requested,
                lock=self._state_lock,
            )
        except SafetyError as refused:
            planned = refused.plan.actions if refused.plan is not None else ()
            kinds = Counter(a.kind.value for a in planned)
            return RunOutcome(
                "refused",
                dict(kinds),
                error="; ".join(refused.problems),
                plan_id=refused.plan_id,
            )
        except _StoppedBeforeRun:
            return RunOutcome("interrupted", error="stopped before the run began")
        return _outcome(report)

    @contextlib.contextmanager
    def _state_lock(self) -> Iterator[None]:
        """The per-run lock an administrator's `syncbot apply` also takes: wait for it."""
        state = StateDir(self.setup.state_dir)
        waited = False
        while True:
            held = contextlib.ExitStack()
            try:
                held.enter_context(state.lock())
                break
            except LockedError:
                if self.stop_requested:
                    raise
                if not waited:
                    log.info("run_waiting_for_lock", lock=str(self.setup.state_dir / "lock"))
                    waited = True
                clock.sleep(LOCK_RETRY_SECONDS)
        with held:
            if self.stop_requested:
                raise _StoppedBeforeRun
            yield

    # -- reload and status ---------------------------------------------------------------

    def _reload(self) -> None:
        """SIGHUP: new config and mappings, or none at all if either is invalid.

        The push and metrics listeners keep their sockets; changing `[worker.push]` or
        `[worker.metrics]` needs a restart.
        """
        try:
            setup = self.reload()
        except (ConfigError, RosterError) as exc:
            log.error("reload_rejected", alert=True, error=str(exc))
            return
        if setup.state_dir != self.setup.state_dir:
            log.error(
                "reload_rejected",
                alert=True,
                error="state.dir cannot change while the worker runs; restart it",
            )
            return
        self.setup = setup
        if self.watcher is not None:
            self.watcher.stop()
        self._start_watcher()
        self._schedule()
        log.info("reload_done", config=setup.source)
        self.queue.put(Trigger("reload"))

    def _write_status(self) -> None:
        queued = self.queue.peek()
        next_run = self._next_run_local()
        try:
            write_status(
                self.setup.status_path,
                {
                    "pid": os.getpid(),
                    "started": self.started,
                    "updated": _now(),
                    "config": self.setup.source,
                    "last_run": self.last_run,
                    "next_run": next_run.astimezone().isoformat(timespec="seconds")
                    if next_run
                    else None,
                    "pending_due_dates": [d.isoformat() for d in self.due],
                    "queued": queued.trigger if queued else None,
                    "retry_at": self.retry_wall,
                    "consecutive_failures": self.failures,
                },
            )
        except OSError as exc:  # a full disk must not stop lock-outs
            log.error("status_write_failed", error=str(exc))


def _outcome(report: ApplyReport) -> RunOutcome:
    actions = Counter(r.action.kind.value for r in report.results if r.ok)
    disabled = actions.get(ActionKind.DISABLE.value, 0)
    failed = len(report.failed)
    if report.interrupted:
        return RunOutcome("interrupted", dict(actions), failed, "stopped on SIGTERM", disabled)
    if failed:
        first = report.failed[0]
        error = f"{failed} steps failed, first: {first.action.target} {first.action.username}: "
        return RunOutcome("failed", dict(actions), failed, error + str(first.error), disabled)
    return RunOutcome("ok", dict(actions), 0, None, disabled)


def _credential_name(settings: PushSettings) -> str:
    """Which credential a push came with, for the record: each method the listener demands,
    with the first hex digits of its secret's SHA-256 so a rotation shows, never the secret."""

    def short_print(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]

    methods = []
    if settings.token:
        methods.append(f"bearer token sha256:{short_print(settings.token)}")
    if settings.hmac_secret:
        methods.append(f"HMAC secret sha256:{short_print(settings.hmac_secret)}")
    return " + ".join(methods)


class _StoppedBeforeRun(Exception):
    """SIGTERM came while the run waited for the lock: nothing was read or changed."""


def _listen(server: Any, key: str, settings: Any) -> None:
    """Start a listener; a port in use or an address not on this machine is one clear line."""
    try:
        server.start()
    except OSError as error:
        raise LocalResourceError(
            f"cannot listen on {settings.host}:{settings.port} ({key}): "
            f"{error.strerror or error}; "
            "choose a free port or stop what holds it"
        ) from None
