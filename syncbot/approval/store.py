"""Saved plans in the state folder, the decisions people make on them, and what follows.

Files (named by `StateDir.plans` / `StateDir.approvals`):

- `plans/<sha256>.json`: the saved plan, its canonical bytes (`saved.SavedPlan`), 0640.
- `plans/<sha256>.state.json`: what became of it, written by the process that audits its
  decisions or applies it (the decisions audited, the run that applied it), 0644.
- `plans/approvals/<sha256>.<approve|reject>.<uid>.json`: one decision, created by the
  person who made it with `syncbot approve|reject`, 0644.

Who approved is the decision file's owner (`st_uid`), never what the file says: the
kernel sets the owner to whoever created the file and only root can change it, so an
approver needs no secret and cannot approve as someone else. The folder is meant to be
group-writable for the approvers' group and sticky (mode 1770), so nobody removes or
replaces another's file; a file whose name, content or type does not match its owner
and plan (a link, a copy, a rename) is ignored and logged. Root can forge anything on
the machine, this included.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from syncbot.approval.errors import UnknownPlanError
from syncbot.approval.saved import SavedPlan, os_user, short_id
from syncbot.approval.settings import ApprovalSettings
from syncbot.audit.record import canonical_json
from syncbot.durable import create_exclusive, fsync_dir, make_dirs, replace_file, write_all
from syncbot.errors import StateError
from syncbot.state import StateDir

log = structlog.get_logger("syncbot.approval")

PLAN_MODE = 0o640
#: What became of a plan names no one: readable by whoever approves it next.
PROGRESS_MODE = 0o644
PLANS_DIR_MODE = 0o750
#: Group-writable for the approvers, sticky so none removes another's decision.
APPROVALS_DIR_MODE = 0o1770
DECISION_MODE = 0o644
#: A decision is a few hundred bytes; anything larger is not one.
MAX_DECISION_BYTES = 64 * 1024

#: The owner a user namespace shows for files of users it does not map (systemd's
#: `PrivateUsers=yes`): decisions cannot be told apart there.
_OVERFLOW_UID = 65534

APPROVE = "approve"
REJECT = "reject"

_PLAN_NAME = re.compile(r"^([0-9a-f]{64})\.json$")
_DECISION_NAME = re.compile(r"^([0-9a-f]{64})\.(approve|reject)\.(\d+)\.json$")


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Decision:
    """One approval or rejection; `uid` is the file owner's, `made` its change time."""

    plan_id: str
    decision: str  # APPROVE or REJECT
    uid: int
    user: str
    note: str
    made: datetime  # st_ctime: no user can set it back in time
    name: str  # the file's name in the approvals folder

    def as_record(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "decision": self.decision,
            "user": self.user,
            "uid": self.uid,
            "note": self.note,
            "time": self.made.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True, slots=True)
class PlanView:
    """A saved plan as it stands now: its decisions, its progress and so its status."""

    id: str
    saved: SavedPlan
    decisions: tuple[Decision, ...]
    progress: dict[str, Any]
    settings: ApprovalSettings
    now: datetime

    @property
    def short(self) -> str:
        return short_id(self.id)

    @property
    def expires(self) -> datetime:
        return self.saved.created + self.settings.max_age

    @property
    def approvals(self) -> list[Decision]:
        """The approvals that count: one per user, in time, and under the four-eyes rule
        not the requester's."""
        counted: dict[int, Decision] = {}
        for decision in sorted(self.decisions, key=lambda d: d.made):
            if decision.decision != APPROVE or decision.made > self.expires:
                continue
            if self.settings.approvals_required > 1 and decision.uid == self.saved.requester.uid:
                continue
            counted.setdefault(decision.uid, decision)
        return list(counted.values())

    @property
    def rejections(self) -> list[Decision]:
        return [d for d in self.decisions if d.decision == REJECT]

    @property
    def needed(self) -> int:
        """Approvals still wanted before the plan is applied."""
        return max(self.settings.approvals_required - len(self.approvals), 0)

    @property
    def applied(self) -> dict[str, Any] | None:
        outcome = self.progress.get("applied")
        return outcome if isinstance(outcome, dict) else None

    @property
    def status(self) -> Status:
        if self.applied is not None:
            return Status.APPLIED
        if self.rejections:
            return Status.REJECTED
        if self.needed == 0:
            return Status.APPROVED
        if self.now > self.expires:
            return Status.EXPIRED
        return Status.PENDING


@dataclass(slots=True)
class _Listing:
    plans: set[str] = field(default_factory=set)
    decisions: dict[str, list[str]] = field(default_factory=dict)


class PlanStore:
    """The saved plans of one state folder."""

    def __init__(self, state_dir: Path, settings: ApprovalSettings) -> None:
        state = StateDir(state_dir)
        self.plans_dir = state.plans()
        self.approvals_dir = state.approvals()
        self.settings = settings
        # Plans whose decisions (by file name) the audit log was found to hold: decisions
        # and their audit are only ever added, so such a plan is not read again each tick.
        self._settled: dict[str, frozenset[str]] = {}

    # -- plans -------------------------------------------------------------------------

    def save(self, saved: SavedPlan) -> str:
        """Keep `saved` durably under its id; the same plan saved twice is one file."""
        data = saved.canonical()
        plan_id = saved.id
        self._prepare()
        path = self._plan_path(plan_id)
        if not path.exists():
            replace_file(path, data, PLAN_MODE)
        log.info("plan_saved", plan_id=plan_id, steps=len(saved.plan.actions))
        return plan_id

    def _prepare(self) -> None:
        make_dirs(self.plans_dir, PLANS_DIR_MODE)
        make_dirs(self.approvals_dir, APPROVALS_DIR_MODE)

    def _plan_path(self, plan_id: str) -> Path:
        return self.plans_dir / f"{plan_id}.json"

    def _progress_path(self, plan_id: str) -> Path:
        return self.plans_dir / f"{plan_id}.state.json"

    def _listing(self) -> _Listing:
        listing = _Listing()
        with contextlib.suppress(FileNotFoundError):
            for name in (entry.name for entry in self.plans_dir.iterdir()):
                match = _PLAN_NAME.match(name)
                if match:
                    listing.plans.add(match.group(1))
        with contextlib.suppress(FileNotFoundError):
            for name in (entry.name for entry in self.approvals_dir.iterdir()):
                match = _DECISION_NAME.match(name)
                if match:
                    listing.decisions.setdefault(match.group(1), []).append(name)
        return listing

    def ids(self) -> list[str]:
        return sorted(self._listing().plans)

    def resolve(self, text: str) -> str:
        """The full id a person typed the start of (at least 6 hex digits)."""
        wanted = text.strip().casefold()
        if not re.fullmatch(r"[0-9a-f]{6,64}", wanted):
            raise UnknownPlanError(
                f"{text!r} is not a plan id (6 to 64 hex digits; `syncbot plans list`)"
            )
        found = [plan_id for plan_id in self.ids() if plan_id.startswith(wanted)]
        if not found:
            raise UnknownPlanError(f"no saved plan {text} in {self.plans_dir}")
        if len(found) > 1:
            raise UnknownPlanError(
                f"{text} names {len(found)} plans ({', '.join(map(short_id, found))}): "
                "type more of its id"
            )
        return found[0]

    def load(self, plan_id: str) -> SavedPlan:
        path = self._plan_path(plan_id)
        try:
            return SavedPlan.parse(path.read_bytes(), plan_id)
        except FileNotFoundError:
            where = f"no saved plan {short_id(plan_id)} in {self.plans_dir}"
            raise UnknownPlanError(where) from None
        except (OSError, ValueError) as error:
            raise StateError(f"{path}: unreadable ({error}); reject it and plan again") from None

    def view(self, plan_id: str, now: datetime | None = None) -> PlanView:
        return PlanView(
            plan_id,
            self.load(plan_id),
            tuple(self.decisions(plan_id)),
            self.progress(plan_id),
            self.settings,
            now or datetime.now(UTC),
        )

    def views(self) -> list[PlanView]:
        """Every saved plan, newest first."""
        found = [self.view(plan_id) for plan_id in self.ids()]
        return sorted(found, key=lambda view: view.saved.created, reverse=True)

    # -- progress ----------------------------------------------------------------------

    def progress(self, plan_id: str) -> dict[str, Any]:
        path = self._progress_path(plan_id)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StateError(f"{path}: unreadable ({error}); restore it from a backup") from None
        return data if isinstance(data, dict) else {}

    def save_progress(self, plan_id: str, data: dict[str, Any]) -> None:
        self._prepare()
        body = canonical_json(data).encode("utf-8") + b"\n"
        replace_file(self._progress_path(plan_id), body, PROGRESS_MODE)

    # -- decisions ---------------------------------------------------------------------

    def decide(self, plan_id: str, decision: str, note: str) -> Decision | None:
        """Record this OS user's decision; None when they had made it already (it counts once)."""
        uid = os.geteuid()
        name = f"{plan_id}.{decision}.{uid}.json"
        path = self.approvals_dir / name
        body = {
            "plan_id": plan_id,
            "decision": decision,
            "note": note,
            "user": os_user(uid),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            fd = create_exclusive(path, DECISION_MODE)
        except FileExistsError:
            return None
        except PermissionError as error:
            raise StateError(
                f"cannot write your decision in {self.approvals_dir} ({error.strerror}): "
                "approvers need write access to that folder (README: approving a refused plan)"
            ) from None
        try:
            write_all(fd, json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.approvals_dir)
        return self._read_decision(name)

    def decisions(self, plan_id: str) -> list[Decision]:
        names = self._listing().decisions.get(plan_id, [])
        found = (self._read_decision(name) for name in sorted(names))
        return [decision for decision in found if decision is not None]

    def _read_decision(self, name: str) -> Decision | None:
        """The decision in `name`, or None (logged) when the file is not one to trust."""
        match = _DECISION_NAME.match(name)
        if match is None:
            return None
        plan_id, decision, uid_text = match.groups()
        path = self.approvals_dir / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            log.warning("decision_ignored", file=str(path), why=error.strerror)
            return None
        try:
            info = os.fstat(fd)
            raw = os.read(fd, MAX_DECISION_BYTES + 1)
        finally:
            os.close(fd)
        why = None
        body: Any = None
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            why = "not a plain file of its own (a link?)"
        elif info.st_uid != int(uid_text):
            why = f"owned by uid {info.st_uid}, named for uid {uid_text}"
            if info.st_uid == _OVERFLOW_UID:
                why += " (PrivateUsers=yes hides who owns it: see the README)"
        elif len(raw) > MAX_DECISION_BYTES:
            why = "too large"
        else:
            with contextlib.suppress(ValueError):
                body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict) or (body.get("plan_id"), body.get("decision")) != (
                plan_id,
                decision,
            ):
                why = "its content does not match its name"
        if why is not None:
            log.warning("decision_ignored", file=str(path), why=why)
            return None
        note = body.get("note")
        return Decision(
            plan_id=plan_id,
            decision=decision,
            uid=info.st_uid,
            user=os_user(info.st_uid),
            note=note if isinstance(note, str) else "",
            made=datetime.fromtimestamp(info.st_ctime, UTC),
            name=name,
        )

    def decision_names(self, plan_id: str) -> list[str]:
        """The names of every decision file on `plan_id`, trusted or not."""
        return sorted(self._listing().decisions.get(plan_id, []))

    def with_decisions(self) -> list[str]:
        """Ids of the saved plans someone decided on: the only ones the worker looks at."""
        listing = self._listing()
        return sorted(plan_id for plan_id in listing.decisions if plan_id in listing.plans)

    def unaudited(self) -> Iterator[str]:
        """Ids of saved plans with a decision the audit log does not hold yet: what the
        worker's next tick looks for. Reads the folder, and a small file per plan whose
        decisions changed since this store last found them all audited."""
        listing = self._listing()
        for plan_id, names in listing.decisions.items():
            decided = frozenset(names)
            if plan_id not in listing.plans or self._settled.get(plan_id) == decided:
                continue
            if decided <= set(self.progress(plan_id).get("audited", ())):
                self._settled[plan_id] = decided
            else:
                yield plan_id
