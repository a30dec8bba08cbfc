"""What syncbot remembers between runs, under the state folder.

- `lock`: one run at a time (the worker and an administrator's CLI must not interleave).
- `ledger.jsonl`: accounts syncbot itself locked and the groups it took from them. It is
  written *before* the change it describes, so a run killed between the two leaves the
  ledger saying a little more than happened — never less. Re-enabling is only allowed
  for accounts found here, and a rehire can get back exactly what was taken.
- `last-run.json`: the roster size of the last successful run, for the shrink threshold.
- `audit-anchor.json`: the audit log's last record when syncbot last wrote to it (any
  run, refused and failed ones too), for detecting a truncated log; `last_run()` still
  gives it as `audit_seq`/`audit_hash`, where it used to be kept.
- `audit-sealing.json`: the current seal key of the audit log (`syncbot audit
  setup-keys`), overwritten in place each time it evolves (`syncbot.audit.keeping`).
- `steps.jsonl`: the write-ahead journal of the run's steps (`StepJournal`).
- `plans/`: refused plans saved for approval, and `plans/approvals/` the decisions on them
  (`syncbot.approval.store`).

They say who was locked and why, so they are created 0600 whatever the umask, and written
through `syncbot.durable`: whole-file rewrites are atomic and no write follows a link.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncbot.audit.change import Change
from syncbot.audit.keeping import Keeping
from syncbot.audit.verify import Anchor, LineCheck
from syncbot.durable import (
    STATE_DIR_MODE,
    STATE_MODE,
    append_lines,
    make_dirs,
    open_append,
    replace_file,
    write_all,
)
from syncbot.errors import LockedError, StateError
from syncbot.model import Action, LedgerEntry
from syncbot.roster.prints import ExportPrints

Key = tuple[str, str]


#: What an administrator can do about each state file that cannot be read.
_FIXES = {
    "last-run.json": "restore it from a backup, or delete it: the next run then has no "
    "earlier roster size for the shrink threshold and no audit anchor to compare with",
    "ledger.jsonl": "restore it from a backup; do not delete it: it is the record of which "
    "accounts syncbot locked, and only those are re-enabled when a person returns",
    "steps.jsonl": "the run it describes was interrupted: restore it from a backup, or "
    "delete it once `syncbot audit show --runs` and the directory agree on its last changes",
    "worker.json": "delete it: the worker writes it again after its next run",
    "pushes.json": "restore it from a backup; deleting it forgets the rows HR pushed that no "
    "export has caught up with yet: ask HR for a fresh export first",
}


def unreadable(path: Path, line: int | None, error: Exception) -> StateError:
    """The one error for a state file that is not what syncbot wrote: name it and the fix."""
    where = f"{path}, line {line}" if line is not None else str(path)
    detail = f"{type(error).__name__}: {error}" if isinstance(error, KeyError) else str(error)
    fix = _FIXES.get(path.name, "restore it from a backup")
    return StateError(f"{where}: unreadable ({detail}); {fix}")


def read_json_file(path: Path) -> dict[str, Any] | None:
    """A JSON object syncbot wrote whole, or None when the file does not exist."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as error:  # JSONDecodeError and UnicodeDecodeError included
        raise unreadable(path, None, error) from None
    if not isinstance(data, dict):
        raise unreadable(path, None, ValueError("not a JSON object"))
    return data


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Whole lines of a journal, numbered from 1; a last line torn by a crash ends it."""
    with path.open(encoding="utf-8") as handle:
        number = 0
        while True:
            number += 1
            try:
                line = handle.readline()
                if not line.endswith("\n"):
                    return  # the end, or torn by a crash mid-write: it never took effect
                record = json.loads(line)
            except ValueError as error:  # JSONDecodeError and UnicodeDecodeError included
                raise unreadable(path, number, error) from None
            if not isinstance(record, dict):
                raise unreadable(path, number, ValueError("not a JSON object"))
            yield number, record


def _json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _entry_record(op: str, entry: LedgerEntry) -> dict[str, Any]:
    return {"op": op, **asdict(entry), "removed": list(entry.removed)}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace a small JSON state file (STATE_MODE) so a crash leaves the old or the new."""
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    replace_file(path, text.encode("utf-8"), STATE_MODE)


class Ledger:
    """Journal of what syncbot locked and removed; folded into a dict on load."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[Key, LedgerEntry] = {}
        self._held: list[bytes] | None = None  # lines of a batch not yet on disk
        if path.exists():
            self._load()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Write every entry noted in the block with one append and one fsync at its end.

        The executor notes a whole window's intents this way before sending any of its
        changes, so the ledger is still written ahead of every change it describes.
        """
        if self._held is not None:
            yield  # already inside a batch: the outer one writes
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            if held:
                append_lines(self.path, held, STATE_MODE)

    def _load(self) -> None:
        for number, record in _json_records(self.path):
            try:
                self._fold(record)
            except (KeyError, TypeError) as error:
                raise unreadable(self.path, number, error) from None

    def _fold(self, record: dict[str, Any]) -> None:
        key = (record["target"], record["account"])
        if record["op"] == "clear":
            self.entries.pop(key, None)
            return
        self.entries[key] = LedgerEntry(
            target=record["target"],
            account=record["account"],
            employee_id=record.get("employee_id"),
            disabled_by_syncbot=record["disabled_by_syncbot"],
            disabled_on=record.get("disabled_on"),
            run_id=record["run_id"],
            removed=tuple(record.get("removed", ())),
            signed_out=record.get("signed_out", False),
            dormant_locked_on=record.get("dormant_locked_on"),
            reopened_on=record.get("reopened_on"),
        )

    def _write(self, op: str, entry: LedgerEntry) -> None:
        line = _json_line(_entry_record(op, entry))
        if self._held is not None:
            self._held.append(line)
        else:
            append_lines(self.path, [line], STATE_MODE)
        if op == "clear":
            self.entries.pop((entry.target, entry.account), None)
        else:
            self.entries[(entry.target, entry.account)] = entry

    def will_disable(self, target: str, account: str, employee_id: str | None, run_id: str) -> None:
        old = self.entries.get((target, account))
        today = datetime.now(UTC).date().isoformat()
        removed = old.removed if old else ()
        self._write("set", LedgerEntry(target, account, employee_id, True, today, run_id, removed))

    def will_remove(
        self,
        target: str,
        account: str,
        employee_id: str | None,
        run_id: str,
        groups: tuple[str, ...],
    ) -> None:
        old = self.entries.get((target, account))
        removed = tuple(sorted({*(old.removed if old else ()), *groups}))
        if old is not None and old.removed == removed:
            return
        base = old or LedgerEntry(target, account, employee_id, False, None, run_id)
        self._write("set", replace(base, removed=removed))

    def will_lock_dormant(
        self, target: str, account: str, employee_id: str | None, run_id: str
    ) -> None:
        """An unused account is being locked: the dormancy clock restarts today."""
        old = self.entries.get((target, account))
        base = old or LedgerEntry(target, account, employee_id, False, None, run_id)
        today = datetime.now(UTC).date().isoformat()
        self._write("set", replace(base, dormant_locked_on=today))

    def signed_out(self, target: str, account: str, employee_id: str | None, run_id: str) -> None:
        """Sessions ended: written after the fact, so a kill only means signing out again."""
        old = self.entries.get((target, account))
        if old is not None and old.signed_out:
            return
        base = old or LedgerEntry(target, account, employee_id, False, None, run_id)
        self._write("set", replace(base, signed_out=True))

    def enabled(self, target: str, account: str) -> None:
        """A departure's lock undone (a rehire): what was taken is no longer owed back, and
        the day is kept so dormancy counts from the return, not from the old last sign-in."""
        entry = self.entries.get((target, account))
        if entry is not None:
            today = datetime.now(UTC).date().isoformat()
            self._write(
                "set",
                LedgerEntry(
                    target, account, entry.employee_id, False, None, entry.run_id,
                    reopened_on=today,
                ),
            )  # fmt: skip

    def compact(self) -> None:
        """Rewrite the journal as its current entries, so it does not grow without bound."""
        lines = (_json_line(_entry_record("set", entry)) for entry in self.entries.values())
        replace_file(self.path, b"".join(lines), STATE_MODE)


class StateDir:
    """The state folder: lock, ledger and the record of the last successful run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def prepare(self) -> None:
        make_dirs(self.path, STATE_DIR_MODE)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.prepare()
        # Never through a link: opening one would create the file it names.
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o640)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockedError(
                    f"another syncbot run holds {self.path / 'lock'}; try again when it ends"
                ) from None
            yield
        finally:
            os.close(fd)

    def ledger(self) -> Ledger:
        self.prepare()
        return Ledger(self.path / "ledger.jsonl")

    def journal(self) -> StepJournal:
        self.prepare()
        return StepJournal(self.path / "steps.jsonl")

    def export_prints(self) -> ExportPrints:
        return ExportPrints(self.path / "export-prints.tsv")

    def plans(self) -> Path:
        """Saved plans (`<sha256>.json`) and what became of them (`<sha256>.state.json`):
        `syncbot.approval.store`. Group-readable, for the people who approve them."""
        return self.path / "plans"

    def approvals(self) -> Path:
        """One file per approval or rejection, created by the person who made it: its
        owner is who approved. Group-writable, sticky (see the README)."""
        return self.path / "plans" / "approvals"

    def audit_keeping(self) -> Keeping:
        """The audit log's anchor and sealing state, which the writer keeps up to date."""
        return Keeping(self.path / "audit-anchor.json", self.path / "audit-sealing.json")

    def last_run(self) -> dict[str, Any]:
        """`last-run.json`, with the audit anchor (`audit_seq`, `audit_hash`) of the log's
        last record laid over it: the anchor moves after every run, not only successful
        ones, so it has its own file; a file from before that still gives its own."""
        data = read_json_file(self.path / "last-run.json") or {}
        anchor = self.audit_keeping().anchor()
        if anchor is not None:
            data["audit_seq"], data["audit_hash"] = anchor
        return data

    def audit_anchor(self) -> tuple[int, str] | None:
        """(seq, hash) of the audit log's last record when syncbot last wrote to it, which
        a verification compares the log with to catch a cut-off tail; None if never."""
        last = self.last_run()
        return (last["audit_seq"], last["audit_hash"]) if last.get("audit_hash") else None

    def audit_checks(self) -> list[LineCheck]:
        """What the audit log must agree with beyond its own chain, by what this folder
        says was written: the anchor and the last seal, which catch a cut-off tail or an
        emptied log the chain alone cannot show."""
        checks: list[LineCheck] = []
        anchor = self.audit_anchor()
        if anchor is not None:
            checks.append(Anchor(*anchor, "syncbot"))
        sealing = self.audit_keeping().sealing()
        if sealing is not None:
            checks.append(Anchor(sealing.sealed_seq, sealing.sealed_hash, "the last seal"))
        return checks

    def save_last_run(self, data: dict[str, Any]) -> None:
        self.prepare()
        write_json_atomic(self.path / "last-run.json", data)


@dataclass(frozen=True, slots=True)
class NamedStep:
    """A step as the journal names it before it is sent.

    `change` is what its audit record will say; `add` and `remove` are the groups it
    changes, by which recovery sees in a snapshot whether it took effect. On disk the
    three are one object (the change's fields beside "add" and "remove"), as journals
    have always been written, so a journal left by an earlier version is still recovered.
    """

    change: Change
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    @classmethod
    def of(cls, action: Action) -> NamedStep:
        return cls(Change.of(action), action.add, action.remove)

    def as_dict(self) -> dict[str, Any]:
        return {**self.change.as_dict(), "add": list(self.add), "remove": list(self.remove)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NamedStep:
        return cls(Change.from_dict(data), tuple(data["add"]), tuple(data["remove"]))


@dataclass(slots=True)
class JournalLeft:
    """What a journal holds for the next run to audit."""

    started: dict[str, Any] | None = None  # the run's start line
    open: list[NamedStep] = field(default_factory=list)  # begun, never answered: killed
    unsettled: list[NamedStep] = field(default_factory=list)  # recorded failed, answer lost
    finished: bool = False  # the run itself ended (and wrote its run_finished record)


class StepJournal:
    """Write-ahead note of the step being applied, so a killed run's last step gets audited.

    A kill between a directory change and its audit record would otherwise leave a change
    nobody recorded. Before each step its `Change` is appended here (fsynced); after
    its audit record is written a `done` line follows. The next run finds a step without
    `done`, looks at the directory to see whether it took effect, and audits it then.

    The executor applies a window of steps at a time (at most one per person): every step
    of the window is named here, with one fsync, before any of them is sent, and their
    `done` lines follow their audit records. So after a kill, several steps may lack
    `done`; some of them may already have their audit record, which recovery looks for.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._unsettled = False  # this run left steps for the next one to look at

    def pending(self) -> JournalLeft:
        """What the last run left: steps that lack `done`, and steps whose answer was lost."""
        left = JournalLeft()
        if not self.path.exists():
            return left
        open_steps: dict[int, NamedStep] = {}
        for number, record in _json_records(self.path):
            try:
                self._fold(left, open_steps, record)
            except (KeyError, TypeError, ValueError) as error:
                raise unreadable(self.path, number, error) from None
        left.open = list(open_steps.values())
        return left

    @staticmethod
    def _fold(left: JournalLeft, open_steps: dict[int, NamedStep], record: dict[str, Any]) -> None:
        if "run_started" in record:
            left.started = record["run_started"]
        elif "begin" in record:
            open_steps[record["begin"]] = NamedStep.from_dict(record["step"])
        elif "done" in record:
            open_steps.pop(record["done"], None)
        elif "unsettled" in record:
            left.unsettled.append(open_steps.pop(record["unsettled"]))
        elif "run_finished" in record:
            left.finished = True
        elif "plan_id" in record and left.started is not None:
            left.started = {**left.started, "plan_id": record["plan_id"]}

    def start(self, run: dict[str, Any]) -> None:
        self._fd = open_append(self.path, STATE_MODE, truncate=True)
        self._unsettled = False
        self._write([{"run_started": run}], sync=True)

    def approved_plan(self, plan_id: str) -> None:
        """The run applies this approved plan: its recovered steps' records name it too.
        Not fsynced: the first step's `begin` is, right after it."""
        self._write([{"plan_id": plan_id}], sync=False)

    def begin(self, number: int, step: NamedStep) -> None:
        self.begin_many([(number, step)])

    def begin_many(self, steps: list[tuple[int, NamedStep]]) -> None:
        """Name every step about to be sent, durably, in one write and one fsync."""
        self._write(
            [{"begin": number, "step": step.as_dict()} for number, step in steps], sync=True
        )

    def done(self, number: int) -> None:
        self.done_many([number])

    def done_many(self, numbers: list[int]) -> None:
        # Not fsynced: it only saves a duplicate record after a power cut, and a process
        # killed after write() has already handed the line to the kernel.
        self._write([{"done": number} for number in numbers], sync=False)

    def unsettled_many(self, numbers: list[int]) -> None:
        """Steps recorded as failed whose answer was lost: the change may have been made.

        Fsynced, as the next run must look at them: a change made with no record saying so
        is what the journal exists to prevent.
        """
        if numbers:
            self._write([{"unsettled": number} for number in numbers], sync=True)
            self._unsettled = True

    def finish(self) -> None:
        """The run ended normally: nothing is left to recover, unless answers were lost."""
        if self._fd is not None:
            if self._unsettled:
                self._write([{"run_finished": True}], sync=True)
            os.close(self._fd)
            self._fd = None
        if not self._unsettled:
            self.clear()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self, records: list[dict[str, Any]], *, sync: bool) -> None:
        assert self._fd is not None, "StepJournal.start() first"
        write_all(self._fd, b"".join(_json_line(record) for record in records))
        if sync:
            os.fsync(self._fd)
