"""What HR pushed, kept in the state folder: a 202 answer promises the rows will be acted on.

A queue in memory could not keep that promise: a run merging a file trigger with a push, a
restart or a crash would drop the rows. So the listener writes each push here before it
answers, and every run reads it. The file holds:

- the pushed rows still in force (`roster/overlay.py` says when one ends), each with its
  push: the body's sha256, when it arrived, from which peer, and with which credential;
- the people push runs locked or stripped of roles since the last successful full
  reconcile, so the disable threshold counts a mass departure split into pushes as it
  counts the same export (without this, each push of a few people passed on its own).

The listener's thread and the runs both write it; one flock orders them, and every write
replaces the file whole, so a crash leaves the old or the new version.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from syncbot.durable import STATE_DIR_MODE, make_dirs
from syncbot.match_keys import id_key
from syncbot.model import Roster, RosterRow, RowSource, Status
from syncbot.roster.overlay import PushedRow
from syncbot.state import read_json_file, unreadable, write_json_atomic

FILE_NAME = "pushes.json"


@dataclass(frozen=True, slots=True)
class PushedState:
    """The store's content as a run uses it."""

    rows: Mapping[str, PushedRow]  # by id_key
    taken: frozenset[str]  # people push runs took access from since the last full reconcile
    pushes: Mapping[str, Mapping[str, str]]  # sha256 -> received, peer, credential, file


class PushStore:
    """The state folder's `pushes.json`, read and changed under its own lock."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._lock_path = state_dir / "pushes.lock"

    def read(self) -> PushedState:
        if not self.path.exists():
            return PushedState({}, frozenset(), {})  # no push ever came: touch nothing
        with self._locked():
            return _state(self.path, self._document())

    def add(self, rows: Roster, *, peer: str, credential: str) -> None:
        """Keep a push's rows, durably, before the listener answers 202."""
        received = datetime.now(UTC).isoformat(timespec="seconds")
        with self._changing() as document:
            document["pushes"][rows.sha256] = {
                "received": received,
                "peer": peer,
                "credential": credential,
                "file": rows.path,
            }
            for row in rows.rows:
                # A later push about the same person replaces the earlier one, whole.
                document["rows"][id_key(row.employee_id)] = {
                    "push": rows.sha256,
                    "baseline": None,
                    "row": _row_json(row),
                }
            _forget_unused_pushes(document)

    def learnt(self, baselines: Mapping[str, str], superseded: Iterable[str]) -> None:
        """A run read the export: note first prints, and drop rows the export overtook."""
        superseded = set(superseded)
        if not baselines and not superseded:
            return
        with self._changing() as document:
            rows = document["rows"]
            for key, print_now in baselines.items():
                if key in rows and rows[key]["baseline"] is None:
                    rows[key]["baseline"] = print_now
            for key in superseded:
                rows.pop(key, None)
            _forget_unused_pushes(document)

    def took(self, people: Iterable[str]) -> None:
        """People a push run locked or stripped of roles: counted until a full reconcile."""
        people = set(people)
        if people:
            with self._changing() as document:
                document["taken"] = sorted(set(document["taken"]) | people)

    def full_reconcile_done(self) -> None:
        """A full reconcile succeeded: its thresholds judged everyone, so the count restarts."""
        if self.path.exists():
            with self._changing() as document:
                document["taken"] = []

    # -- the file --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        make_dirs(self.path.parent, STATE_DIR_MODE)
        # Never through a link: opening one would create the file it names.
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        with self._locked():
            document = self._document()
            yield document
            write_json_atomic(self.path, document)

    def _document(self) -> dict[str, Any]:
        document = read_json_file(self.path) or {}
        document.setdefault("rows", {})
        document.setdefault("pushes", {})
        document.setdefault("taken", [])
        return document


def _state(path: Path, document: Mapping[str, Any]) -> PushedState:
    try:
        pushes = document["pushes"]
        rows = {
            key: PushedRow(
                row=_row(entry["row"]),
                source=RowSource(pushes[entry["push"]]["file"], entry["push"]),
                baseline=entry["baseline"],
            )
            for key, entry in document["rows"].items()
        }
        return PushedState(rows, frozenset(document["taken"]), pushes)
    except (KeyError, TypeError, ValueError) as error:
        raise unreadable(path, None, error) from None


def _forget_unused_pushes(document: dict[str, Any]) -> None:
    used = {entry["push"] for entry in document["rows"].values()}
    document["pushes"] = {k: v for k, v in document["pushes"].items() if k in used}


def _row_json(row: RosterRow) -> dict[str, Any]:
    return {
        "row": row.row,
        "employee_id": row.employee_id,
        "full_name": row.full_name,
        "email": row.email,
        "unit": row.unit,
        "position": row.position,
        "status": row.status.value,
        "status_word": row.status_word,
        "effective_date": row.effective_date.isoformat() if row.effective_date else None,
        "username": row.username,
        "role": row.role,
    }


def _row(data: Mapping[str, Any]) -> RosterRow:
    effective = data["effective_date"]
    return RosterRow(
        row=int(data["row"]),
        employee_id=data["employee_id"],
        full_name=data["full_name"],
        email=data["email"],
        unit=data["unit"],
        position=data["position"],
        status=Status(data["status"]),
        status_word=data["status_word"],
        effective_date=date.fromisoformat(effective) if effective else None,
        username=data["username"],
        role=data["role"],
    )
