"""Per-person prints of a roster: which people a new export changed, without reading twice.

A file drop at a province's size must not mean a full read of every directory. What HR
changed is the difference between the roster now and the last one syncbot applied whole:
a short print per person (`fingerprint`) of that roster is kept in the state folder, so
the changed people come out of one pass over the new rows. The roster is the export with
the pushed rows in force laid over it, so a pushed row a refusal left unapplied is still
a difference. The same print tells when an export has caught up with a pushed row
(`syncbot.roster.overlay`).

The prints file is a cache: missing, unreadable or of another version, it costs one full
reconcile, never a wrong plan. The worker keeps what it last read or wrote of it in memory
while the file is unchanged (same inode, size and modification time): reading 100,000
prints back costs a tenth of a second of every file drop.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from syncbot.durable import replace_file
from syncbot.model import ROW_CONTENT, RosterRow

log = structlog.get_logger("syncbot.roster")

#: The fingerprint of "the export has no row for this person".
ABSENT = "absent"
_HEADER = b"# syncbot export prints v1 "


def fingerprint(row: RosterRow | None) -> str:
    """What HR says of a person, hashed short: equal rows give equal prints, wherever they sit."""
    if row is None:
        return ABSENT
    fields = (
        row.employee_id, row.full_name, row.email or "", row.unit, row.position,
        row.status_word, row.effective_date.isoformat() if row.effective_date else "",
        row.username or "", row.role or "",
    )  # fmt: skip
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:20]


def prints_of(rows: Sequence[RosterRow]) -> Mapping[str, str]:
    """Each person's print, by their employee id as HR wrote it (a lookup of someone the
    export no longer lists searches the directory by that very value).

    A run asks twice for the same rows, to compare and then to keep them: the second
    answer is the first one. A new version of the export shares most rows with the last
    (`syncbot.roster.reread`), and a row saying what the last one said for the same
    person keeps its print: a file drop hashes the rows that changed, not 100,000.
    """
    last = _last[0] if _last else None
    if last is not None and last.rows is rows:
        return last.prints
    known = last.by_id if last is not None else {}
    known_prints = last.prints if last is not None else {}
    prints: dict[str, str] = {}
    for row in rows:
        key = row.employee_id
        before = known.get(key)
        if before is row or (before is not None and ROW_CONTENT(before) == ROW_CONTENT(row)):
            prints[key] = known_prints[key]
        else:
            prints[key] = fingerprint(row)
    _last[:] = [_Printed(rows, prints, {row.employee_id: row for row in rows})]
    return prints


@dataclass(frozen=True, slots=True)
class _Printed:
    """The rows `prints_of` last answered for, their prints, and the rows by id."""

    rows: Sequence[RosterRow]
    prints: Mapping[str, str]
    by_id: Mapping[str, RosterRow]


_last: list[_Printed] = []


def changed_people(before: Mapping[str, str], now: Mapping[str, str]) -> frozenset[str]:
    """The employee ids whose rows differ: changed, new, and no longer listed. An id
    whose spelling changed is both new and no longer listed: both spellings are named."""
    changed = {key for key, value in now.items() if before.get(key) != value}
    changed.update(key for key in before if key not in now)
    return frozenset(changed)


@dataclass(frozen=True, slots=True)
class AppliedExport:
    """The last roster a run applied whole: its sha256 and every person's print."""

    sha256: str
    prints: Mapping[str, str]


class ExportPrints:
    """The prints file in the state folder: one line per person, `print<TAB>employee id`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> AppliedExport | None:
        """The last applied export, or None when there is none to compare with."""
        try:
            with self.path.open("rb") as file:
                identity = self._identity(os.fstat(file.fileno()))
                if _kept and _kept[0][0] == identity:
                    return _kept[0][1]
                data = file.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("export_prints_unreadable", path=str(self.path), error=str(error))
            return None
        export = self._parse(data)
        _kept[:] = [(identity, export)] if export is not None else []
        return export

    def _identity(self, stat: os.stat_result) -> tuple[object, ...]:
        return (str(self.path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _parse(self, data: bytes) -> AppliedExport | None:
        head, _, body = data.partition(b"\n")
        if not head.startswith(_HEADER) or (body and not body.endswith(b"\n")):
            log.warning("export_prints_unreadable", path=str(self.path), error="not whole")
            return None
        try:
            text = body.decode("utf-8")
            prints = dict(line.split("\t", 1)[::-1] for line in text.split("\n")[:-1])
        except (UnicodeDecodeError, ValueError) as error:
            log.warning("export_prints_unreadable", path=str(self.path), error=str(error))
            return None
        return AppliedExport(head[len(_HEADER) :].decode("ascii", "replace"), prints)

    def made_from(self, sha256: str) -> bool:
        """Whether the file holds the prints of the roster with this sha256: its first
        line says so and it ends whole (the lines between are not read)."""
        try:
            with self.path.open("rb") as file:
                head = file.readline()
                file.seek(-1, os.SEEK_END)
                last = file.read(1)
        except OSError:
            return False
        return head == _HEADER + sha256.encode("ascii") + b"\n" and last == b"\n"

    def save(self, export: AppliedExport) -> None:
        """Replace the file whole: a crash leaves the old prints or the new ones."""
        lines = "".join(f"{value}\t{key}\n" for key, value in export.prints.items())
        if lines.count("\n") != len(export.prints):
            # An id holding a line break would be read back as two: keep no prints at all.
            log.warning("export_prints_not_kept", reason="an employee id holds a line break")
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(
            self.path, _HEADER + export.sha256.encode("ascii") + b"\n" + lines.encode(), 0o600
        )
        try:
            _kept[:] = [(self._identity(self.path.stat()), export)]
        except OSError:
            _kept.clear()


#: The prints file last read or written, by what identifies its version on disk.
_kept: list[tuple[tuple[object, ...], AppliedExport]] = []
