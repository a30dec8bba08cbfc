"""Which run outcomes open an incident and which clear it, so an operator is told once.

The worker retries a failed run with back-off and re-runs a refused one on every trigger;
telling the operator each time would bury the one message that matters. An incident is
opened (and told) by the first outcome of its kind and cleared (and told) by the first run
that gets past the point where it stopped: a run is read in stages, roster and targets
first, then the safety check, then the steps, so a refusal is cleared by a run that applied,
and an unreachable target by any run that read every target. A run that failed in a way
that names no stage (a bug, the audit log unwritable) is cleared only by a successful run.

An unreachable target is told only once it has lasted `target_down_minutes`: a directory
restarted at night should not page anyone. A refusal whose thresholds or numbers change is
told again, since the operator approves a particular plan.

Pure: the caller passes the clock and keeps `IncidentBook.as_json()` in the state folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

#: Where in a run each kind of incident stopped it (see the module docstring).
STAGES = {"invalid": 1, "target_down": 1, "refused": 2, "steps_failed": 3}
#: The event each incident kind is told under (what `[notify] events` filters on).
EVENT_OF = {
    "refused": "run_refused",
    "target_down": "run_failed",
    "invalid": "run_failed",
    "run_failed": "run_failed",
    "steps_failed": "steps_failed",
    "audit_broken": "audit_broken",
}


@dataclasses.dataclass(frozen=True, slots=True)
class RunFacts:
    """One run's outcome as the notifications see it; JSON-able values only."""

    run_id: str
    trigger: str
    result: str  # ok | failed | refused | invalid | interrupted
    error: str | None = None
    failed: int = 0
    actions: Mapping[str, int] = dataclasses.field(default_factory=dict)
    plan_id: str | None = None
    unreachable: bool = False

    @property
    def kind(self) -> str | None:
        """The incident this outcome is, None for a success or an interrupted run."""
        if self.result == "refused":
            return "refused"
        if self.result == "invalid":
            return "invalid"
        if self.result == "failed":
            if self.unreachable:
                return "target_down"
            return "steps_failed" if self.failed else "run_failed"
        return None

    def details(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "trigger": self.trigger,
            "result": self.result,
            "error": self.error,
            "failed": self.failed,
            "actions": dict(self.actions),
            "plan_id": self.plan_id,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell: an incident opened (or changed), or cleared, or a one-off notice."""

    event: str
    kind: str
    state: str  # open | cleared | notice
    details: Mapping[str, Any]


class IncidentBook:
    """The open incidents: kind -> {since, told, fingerprint, details}."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = data or {}
        self.open: dict[str, dict[str, Any]] = {
            kind: dict(entry)
            for kind, entry in dict(data.get("open", {})).items()
            if kind in EVENT_OF and isinstance(entry, dict)
        }
        self.last_digest: str | None = data.get("last_digest")

    def as_json(self) -> dict[str, Any]:
        return {"version": 1, "open": self.open, "last_digest": self.last_digest}

    def run_finished(self, run: RunFacts, now: datetime, target_down: timedelta) -> list[Notice]:
        """What to tell about this outcome: clearings first, then the incident it opens."""
        if run.result == "interrupted":
            return []  # a stop on SIGTERM says nothing about the targets or the roster
        kind = run.kind
        notices = [
            self._clear(old, now, run.details())
            for old in list(self.open)
            if old != kind and old != "audit_broken" and _passed(old, kind)
        ]
        if kind is not None:
            notices.extend(self._raise(kind, _fingerprint(run), now, run.details(), target_down))
        return [n for n in notices if n is not None]

    def audit_checked(self, problem: str | None, now: datetime) -> list[Notice]:
        if problem is None:
            cleared = self._clear("audit_broken", now, {}) if "audit_broken" in self.open else None
            return [cleared] if cleared is not None else []
        return self._raise("audit_broken", "", now, {"problem": problem}, timedelta(0))

    def _raise(
        self,
        kind: str,
        fingerprint: str,
        now: datetime,
        details: dict[str, Any],
        delay: timedelta,
    ) -> list[Notice]:
        entry = self.open.get(kind)
        if entry is None:
            entry = self.open[kind] = {
                "since": now.isoformat(timespec="seconds"),
                "told": False,
                "fingerprint": fingerprint,
            }
        changed = entry["told"] and entry["fingerprint"] != fingerprint
        entry["fingerprint"] = fingerprint
        entry["details"] = details
        if entry["told"] and not changed:
            return []
        since = datetime.fromisoformat(entry["since"])
        if kind == "target_down" and now - since < delay:
            return []
        entry["told"] = True
        told = {**details, "since": entry["since"]}
        if kind == "target_down":
            told["minutes"] = int((now - since).total_seconds() // 60)
        return [Notice(EVENT_OF[kind], kind, "open", told)]

    def _clear(self, kind: str, now: datetime, details: dict[str, Any]) -> Notice | None:
        entry = self.open.pop(kind)
        if not entry.get("told"):
            return None  # never told (a target back within the grace time): nothing to clear
        return Notice(
            EVENT_OF[kind],
            kind,
            "cleared",
            {**details, "since": entry["since"], "cleared": now.isoformat(timespec="seconds")},
        )


def _passed(old: str, new: str | None) -> bool:
    """Whether a run that ended as `new` (None: success) got past where `old` stopped runs."""
    if new is None:
        return True
    if old not in STAGES or new not in STAGES:
        return False
    return STAGES[old] < STAGES[new]


def _fingerprint(run: RunFacts) -> str:
    # Only a refusal is told again when it changes: its numbers and plan are what a person
    # approves. Other failures vary their text from retry to retry (a timeout's duration).
    return run.error or "" if run.kind == "refused" else ""
