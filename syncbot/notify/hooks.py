"""What the worker loop calls to have operators told, and the silence it uses without it.

The loop (`syncbot.worker.loop`) knows this interface only: the notifier behind it is built
from the config by `syncbot.configured_worker`, so the loop needs no `[notify]` settings and
a loop built without them (the tests, a config with no channel) tells nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from syncbot.model import Plan


class RunResult(Protocol):
    """The loop's `RunOutcome`, as far as notifications read it."""

    @property
    def result(self) -> str: ...
    @property
    def actions(self) -> Mapping[str, int]: ...
    @property
    def failed(self) -> int: ...
    @property
    def error(self) -> str | None: ...
    @property
    def plan_id(self) -> str | None: ...
    @property
    def unreachable(self) -> bool: ...


class Alerts(Protocol):
    """Every method returns at once and never raises: a notification must not hold up a run."""

    def worker_started(self) -> None: ...
    def worker_stopped(self) -> None:
        """Only after a clean stop: a worker that dies without it is reported at next start."""

    def run_finished(self, run_id: str, trigger: str, outcome: RunResult) -> None: ...
    def plan_seen(self, plan: Plan, *, whole: bool) -> None: ...


class Silent:
    """Tells nobody."""

    def worker_started(self) -> None:
        pass

    def worker_stopped(self) -> None:
        pass

    def run_finished(self, run_id: str, trigger: str, outcome: RunResult) -> None:
        pass

    def plan_seen(self, plan: Plan, *, whole: bool) -> None:
        pass


SILENT: Alerts = Silent()
