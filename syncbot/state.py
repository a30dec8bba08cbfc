"""What syncbot remembers between runs, under the state folder.

- `lock`: one run at a time (the worker and an administrator's CLI must not interleave).
- `ledger.jsonl`: accounts syncbot itself locked and the groups it took from them. It is
  written *before* the change it describes, so a run killed between the two leaves the
  ledger saying a little more than happened — never less. Re-enabling is only allowed
  for accounts found here, and a rehire can get back exactly what was taken.
- `last-run.json`: the roster size and audit anchor of the last successful run, for the
  shrink threshold and for detecting a truncated audit log.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncbot.errors import LockedError
from syncbot.model import LedgerEntry

Key = tuple[str, str]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_line(path: Path, record: dict[str, Any]) -> None:
    line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace a small JSON file so a crash leaves the old or the new version, never half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8")
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


class Ledger:
    """Journal of what syncbot locked and removed; folded into a dict on load."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[Key, LedgerEntry] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break  # torn by a crash mid-write: the change it announced never started
                record = json.loads(line)
                key = (record["target"], record["account"])
                if record["op"] == "clear":
                    self.entries.pop(key, None)
                else:
                    self.entries[key] = LedgerEntry(
                        target=record["target"],
                        account=record["account"],
                        employee_id=record.get("employee_id"),
                        disabled_by_syncbot=record["disabled_by_syncbot"],
                        disabled_on=record.get("disabled_on"),
                        run_id=record["run_id"],
                        removed=tuple(record.get("removed", ())),
                    )

    def _write(self, op: str, entry: LedgerEntry) -> None:
        _append_line(self.path, {"op": op, **asdict(entry), "removed": list(entry.removed)})
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
        self._write(
            "set",
            LedgerEntry(
                target,
                account,
                employee_id,
                old.disabled_by_syncbot if old else False,
                old.disabled_on if old else None,
                old.run_id if old else run_id,
                removed,
            ),
        )

    def enabled(self, target: str, account: str) -> None:
        entry = self.entries.get((target, account))
        if entry is not None:
            self._write("clear", entry)

    def compact(self) -> None:
        """Rewrite the journal as its current entries, so it does not grow without bound."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for entry in self.entries.values():
                record = {"op": "set", **asdict(entry), "removed": list(entry.removed)}
                handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
        _fsync_dir(self.path.parent)


class StateDir:
    """The state folder: lock, ledger and the record of the last successful run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def prepare(self) -> None:
        self.path.mkdir(mode=0o750, parents=True, exist_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.prepare()
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o640)
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

    def last_run(self) -> dict[str, Any]:
        path = self.path / "last-run.json"
        if not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return data

    def save_last_run(self, data: dict[str, Any]) -> None:
        self.prepare()
        write_json_atomic(self.path / "last-run.json", data)
