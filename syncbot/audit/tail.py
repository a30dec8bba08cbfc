"""The end of the log: read backwards a block at a time, however long the file is.

The writer needs the last complete line to chain the next record to, and moves a torn
write aside; recovery after a kill needs the killed run's last records. Both read the
file from its end here, so neither depends on the file's length.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from syncbot.audit.change import Change, step_key
from syncbot.audit.files import FILE_MODE
from syncbot.audit.reader import settled_size
from syncbot.audit.record import CHANGE, MAX_LINE_BYTES, RUN_STARTED, DamagedRecord
from syncbot.durable import create_exclusive, fsync_dir, write_all

_BLOCK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Tail:
    """Where the last complete line ends, what it holds, and what follows it (torn bytes)."""

    size: int
    complete_end: int  # offset just after the last "\n"; 0 when there is none
    last_line: bytes | None  # the last complete line without "\n"

    @property
    def torn(self) -> bool:
        return self.complete_end < self.size


def lines_from_end(fd: int, end: int) -> Iterator[tuple[int, bytes]]:
    """Each complete line before `end`, last first: (offset of its "\\n", its bytes).

    The bytes after the last "\\n" are a torn write, not a line, and are skipped. A line
    longer than MAX_LINE_BYTES raises DamagedRecord: a record is never that long, and
    gathering it could exhaust memory.
    """
    position = end
    newline = -1  # where the line being gathered ends; -1 while still in the torn bytes
    pieces: list[bytes] = []  # that line's pieces, the last piece first
    gathered = 0
    while position > 0:
        start = max(0, position - _BLOCK)
        block = os.pread(fd, position - start, start)
        cut = len(block)
        found = block.rfind(b"\n", 0, cut)
        while found >= 0:
            if newline >= 0:
                pieces.append(block[found + 1 : cut])
                yield newline, b"".join(reversed(pieces))
            newline, pieces, gathered = start + found, [], 0
            cut = found
            found = block.rfind(b"\n", 0, cut)
        if newline >= 0:
            pieces.append(block[:cut])
            gathered += cut
            if gathered > MAX_LINE_BYTES:
                raise DamagedRecord(f"a line is longer than {MAX_LINE_BYTES} bytes")
        position = start
    if newline >= 0:
        yield newline, b"".join(reversed(pieces))


def read_tail(fd: int, size: int) -> Tail:
    """Read only the end of the file: a few blocks, whatever its length."""
    last = next(lines_from_end(fd, size), None)
    if last is None:
        return Tail(size, 0, None)
    newline, line = last
    return Tail(size, newline + 1, line)


def save_torn(path: Path, fd: int, tail: Tail, now: datetime) -> dict[str, Any]:
    """Copy the torn bytes to `<path>.torn-<UTC time>` durably; the caller then truncates.

    Kept rather than deleted: they are evidence of what was being written when the
    machine went down, and an inspector may ask for them.
    """
    saved_to = path.with_name(f"{path.name}.torn-{now:%Y%m%dT%H%M%S.%fZ}")
    digest = hashlib.sha256()
    out = create_exclusive(saved_to, FILE_MODE)
    try:
        offset = tail.complete_end
        while offset < tail.size:
            chunk = os.pread(fd, min(_BLOCK, tail.size - offset), offset)
            if not chunk:
                break  # shrank under us; keep what was there
            digest.update(chunk)
            write_all(out, chunk)
            offset += len(chunk)
        os.fsync(out)
    finally:
        os.close(out)
    fsync_dir(saved_to.parent)
    return {
        "torn_bytes": offset - tail.complete_end,
        "torn_sha256": digest.hexdigest(),
        "saved_to": str(saved_to),
    }


def recorded_at_end(path: Path, run_id: str, changes: Sequence[Change]) -> set[int]:
    """Which of `changes` (by index) the run `run_id` already recorded at the log's end.

    For a killed run's steps that the journal never marked done: a window's records are
    appended together, so a kill after that write and before the `done` lines leaves up
    to a window of them, the last records of the run. Reads back from the end until each
    is found, or another run's change or start, or this run's start, is reached. Other
    runs' records of what changed nothing (a refusal, a failed run's end, a seal, an
    approval) may follow the kill before recovery does, and are read past.
    """
    wanted = {change.key: index for index, change in enumerate(changes)}
    found: set[int] = set()
    if not wanted:
        return found
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return found
    try:
        for record in _records_from_end(fd):
            event = record.get("event")
            if event == RUN_STARTED or (record.get("run_id") != run_id and event == CHANGE):
                break
            if record.get("run_id") != run_id:
                continue
            if record.get("event") == CHANGE:
                index = wanted.get(step_key(record))
                if index is not None:
                    found.add(index)
                    if len(found) == len(wanted):
                        break
    finally:
        os.close(fd)
    return found


def _records_from_end(fd: int) -> Iterator[dict[str, Any]]:
    """JSON objects of the complete lines, last first, until one is no object at all."""
    try:
        for _, line in lines_from_end(fd, settled_size(fd)):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a damaged line: the writer refuses it and `audit verify` names it
            if not isinstance(record, dict):
                return
            yield record
    except DamagedRecord:
        return  # a line too long to be a record: nothing before it is looked at
