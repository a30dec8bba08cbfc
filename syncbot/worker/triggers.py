"""Why a run starts, and the one-deep queue that coalesces triggers arriving meanwhile.

Runs are level-triggered: each compares the whole desired and actual state of the people
it is about, so ten triggers during a run need one more run, not ten. A push narrows a
run to the people it names, and a new export to the people whose rows it changed (the
difference from the last applied export); anything else asks for a full run, which covers
every push and every export too. The
rows a push carries are not queued here: the listener keeps them in the state folder
(`syncbot.push_store`) and every run, full or narrowed, lays them over the export, so a
merge can never drop them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FULL_KINDS = ("startup", "schedule", "daily", "due", "retry", "reload")


@dataclass(frozen=True, slots=True)
class Trigger:
    """One reason to run: everyone (`employee_ids` None), the people a push names, or
    those a new export changed (`export_changed`, with no ids of its own)."""

    kind: str
    employee_ids: frozenset[str] | None = None
    file_mtime: float | None = None  # when the HR file landed, for lock-out latency
    export_changed: bool = False

    @classmethod
    def export(cls, file_mtime: float | None) -> Trigger:
        """HR's file changed: a run for the people whose rows differ."""
        return cls("file", frozenset(), file_mtime, export_changed=True)

    @classmethod
    def approval(cls) -> Trigger:
        """A saved plan was approved or rejected: a run for no one on the roster, which
        applies (or audits) what the decisions ask for before anything else."""
        return cls("approval", frozenset())

    @property
    def full(self) -> bool:
        return self.employee_ids is None


@dataclass(frozen=True, slots=True)
class Pending:
    """Triggers merged into one run: full if any was full, else the union of pushed ids
    and whether the export changed."""

    kinds: tuple[str, ...]
    employee_ids: frozenset[str] | None
    file_mtime: float | None = None
    export_changed: bool = False

    @property
    def full(self) -> bool:
        return self.employee_ids is None

    @property
    def trigger(self) -> str:
        """The label logged and shown in status: the kinds merged, in arrival order."""
        return "+".join(dict.fromkeys(self.kinds))

    @classmethod
    def of(cls, trigger: Trigger) -> Pending:
        return cls(
            (trigger.kind,), trigger.employee_ids, trigger.file_mtime, trigger.export_changed
        )

    def merge(self, trigger: Trigger) -> Pending:
        kinds = (*self.kinds, trigger.kind)
        mtime = _earliest(self.file_mtime, trigger.file_mtime)
        if self.full or trigger.full:
            return Pending(kinds, None, mtime)  # everyone, the pushed people included
        assert self.employee_ids is not None and trigger.employee_ids is not None
        return Pending(
            kinds,
            self.employee_ids | trigger.employee_ids,
            mtime,
            self.export_changed or trigger.export_changed,
        )


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


@dataclass
class TriggerQueue:
    """Thread-safe: watcher, push server and scheduler put; the worker loop takes."""

    _pending: Pending | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def put(self, trigger: Trigger) -> None:
        with self._cond:
            self._pending = (
                Pending.of(trigger) if self._pending is None else self._pending.merge(trigger)
            )
            self._cond.notify_all()

    def take(self, timeout: float) -> Pending | None:
        """The merged pending run, or None after `timeout` seconds without one."""
        with self._cond:
            if self._pending is None:
                self._cond.wait(timeout)
            pending, self._pending = self._pending, None
            return pending

    def peek(self) -> Pending | None:
        with self._cond:
            return self._pending
