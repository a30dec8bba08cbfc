"""Prometheus metrics of the worker: runs, actions, failures, and how fast departures lock out.

Written by hand in text exposition format 0.0.4 rather than with prometheus_client:
six metrics do not justify a dependency on servers that install from a vetted mirror.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog

from syncbot.model import ActionKind
from syncbot.worker.serving import (
    REQUEST_TIMEOUT_SECONDS,
    BackgroundServer,
    GuardedHandler,
    GuardedServer,
)
from syncbot.worker.settings import MetricsSettings

log = structlog.get_logger("syncbot.worker.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUN_DURATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
#: Seconds from an HR file landing to the account being locked: the figure auditors ask for.
LOCKOUT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class Histogram:
    """Cumulative buckets, sum and count of observations; the caller holds the lock."""

    def __init__(self, buckets: Sequence[float]) -> None:
        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("histogram buckets must be distinct and increasing")
        self.bounds = tuple(float(b) for b in buckets)
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += 1
        self.sum += value
        self.count += 1

    def samples(self, name: str) -> Iterable[str]:
        for bound, count in zip(self.bounds, self.counts, strict=True):
            yield _sample(f"{name}_bucket", {"le": _number(bound)}, count)
        yield _sample(f"{name}_bucket", {"le": "+Inf"}, self.count)
        yield _sample(f"{name}_sum", {}, self.sum)
        yield _sample(f"{name}_count", {}, self.count)


class Metrics:
    """Counters the worker updates after each run; safe to update and render from any thread."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, str], int] = {}
        # Every kind starts at zero so rate() works before the first action of a kind.
        self._actions: dict[str, int] = {kind.value: 0 for kind in ActionKind}
        self._failed_steps = 0
        self._last_success = 0.0
        self._run_seconds = Histogram(RUN_DURATION_BUCKETS)
        self._lockout_seconds = Histogram(LOCKOUT_BUCKETS)

    def run_finished(
        self, *, trigger: str, ok: bool, actions: Mapping[str, int], failed: int, seconds: float
    ) -> None:
        if failed < 0 or any(count < 0 for count in actions.values()):
            raise ValueError("counts of actions and failed steps cannot be negative")
        result = "success" if ok else "failure"
        with self._lock:
            key = (trigger, result)
            self._runs[key] = self._runs.get(key, 0) + 1
            for kind, count in actions.items():
                self._actions[kind] = self._actions.get(kind, 0) + count
            self._failed_steps += failed
            if ok:
                self._last_success = self._clock()
            self._run_seconds.observe(_duration(seconds))

    def lockout_latency(self, seconds: float) -> None:
        """HR file landing → account locked; clamped at 0, as file times come from other clocks."""
        with self._lock:
            self._lockout_seconds.observe(_duration(seconds))

    def render(self) -> str:
        with self._lock:
            lines = [
                *_family(
                    "syncbot_runs_total",
                    "counter",
                    "Reconcile runs by trigger and result.",
                    (
                        _sample("syncbot_runs_total", {"trigger": t, "result": r}, n)
                        for (t, r), n in sorted(self._runs.items())
                    ),
                ),
                *_family(
                    "syncbot_actions_total",
                    "counter",
                    "Steps applied to accounts, by kind of action.",
                    (
                        _sample("syncbot_actions_total", {"kind": kind}, n)
                        for kind, n in sorted(self._actions.items())
                    ),
                ),
                *_family(
                    "syncbot_failed_steps_total",
                    "counter",
                    "Steps that failed and were left for the next run.",
                    [_sample("syncbot_failed_steps_total", {}, self._failed_steps)],
                ),
                *_family(
                    "syncbot_last_success_timestamp_seconds",
                    "gauge",
                    "Unix time of the last successful run; 0 until the first one.",
                    [_sample("syncbot_last_success_timestamp_seconds", {}, self._last_success)],
                ),
                *_family(
                    "syncbot_run_duration_seconds",
                    "histogram",
                    "Wall time of one reconcile run.",
                    self._run_seconds.samples("syncbot_run_duration_seconds"),
                ),
                *_family(
                    "syncbot_hr_to_lockout_seconds",
                    "histogram",
                    "Seconds from an HR file landing to the departed account being locked.",
                    self._lockout_seconds.samples("syncbot_hr_to_lockout_seconds"),
                ),
            ]
        return "\n".join(lines) + "\n"


def _duration(seconds: float) -> float:
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} {kind}", *samples]


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {_number(value)}"
    inner = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels.items())
    return f"{name}{{{inner}}} {_number(value)}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class MetricsServer:
    """`GET /metrics` on a background thread, for Prometheus to scrape.

    Capped and timed like the push endpoint (serving.py): a scrape must still get through
    while slow clients crowd the port.
    """

    def __init__(
        self,
        settings: MetricsSettings,
        metrics: Metrics,
        *,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._timeout = request_timeout
        self._serving = BackgroundServer("metrics")

    @property
    def port(self) -> int:
        return self._serving.port

    def start(self) -> None:
        self._serving.check_not_started()
        server = _Server(
            self._settings.host,
            self._settings.port,
            _Handler,
            what="metrics",
            limits=self._settings.limits,
            request_timeout=self._timeout,
        )
        server.metrics = self._metrics
        self._serving.serve(server, poll_interval=0.1)
        log.info("metrics_listening", host=self._settings.host, port=self.port)

    def stop(self) -> None:
        self._serving.stop()


class _Server(GuardedServer):
    metrics: Metrics


class _Handler(GuardedHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds would flood the log

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._not_found()
            return
        body = self.server.metrics.render().encode()
        self._send(HTTPStatus.OK, CONTENT_TYPE, body)

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_found

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
