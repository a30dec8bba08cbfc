"""Finding the end of a possibly huge log without reading it, and moving a torn write aside."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from syncbot.audit.files import create_new, fsync_dir
from syncbot.audit.record import MAX_LINE_BYTES, DamagedRecord

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


def read_tail(fd: int, size: int) -> Tail:
    """Read only the end of the file: a few blocks, whatever its length."""
    newline = _rfind_newline(fd, size, limit=None)
    if newline < 0:
        return Tail(size, 0, None)
    start = _rfind_newline(fd, newline, limit=MAX_LINE_BYTES) + 1
    return Tail(size, newline + 1, os.pread(fd, newline - start, start))


def save_torn(path: Path, fd: int, tail: Tail, now: datetime) -> dict[str, Any]:
    """Copy the torn bytes to `<path>.torn-<UTC time>` durably; the caller then truncates.

    Kept rather than deleted: they are evidence of what was being written when the
    machine went down, and an inspector may ask for them.
    """
    saved_to = path.with_name(f"{path.name}.torn-{now:%Y%m%dT%H%M%S.%fZ}")
    digest = hashlib.sha256()
    out = create_new(saved_to)
    try:
        offset = tail.complete_end
        while offset < tail.size:
            chunk = os.pread(fd, min(_BLOCK, tail.size - offset), offset)
            if not chunk:
                break  # shrank under us; keep what was there
            digest.update(chunk)
            _write_all(out, chunk)
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


def _rfind_newline(fd: int, end: int, *, limit: int | None) -> int:
    """Offset of the last "\\n" before `end`, or -1; scans backwards block by block.

    With `limit`, gives up (DamagedRecord) once that many bytes were scanned in vain:
    a record is never that long, so the file is damaged there.
    """
    position = end
    while position > 0:
        if limit is not None and end - position > limit:
            raise DamagedRecord(f"last line is longer than {limit} bytes")
        start = max(0, position - _BLOCK)
        found = os.pread(fd, position - start, start).rfind(b"\n")
        if found >= 0:
            return start + found
        position = start
    return -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
