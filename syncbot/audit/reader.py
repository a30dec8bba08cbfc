"""Streaming reads of the log that never see half of a record being appended."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syncbot.audit.record import MAX_LINE_BYTES


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line as stored: `data` without its "\\n"; `complete` is False for a torn tail."""

    number: int
    data: bytes
    complete: bool
    too_long: bool = False


def settled_size(fd: int) -> int:
    """The file's size at a record boundary.

    Writers append under an exclusive lock, so taking the shared lock for a moment
    means no append is half done when the size is read; reading up to that size then
    needs no lock, and a long verify never holds up the worker.
    """
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        return os.fstat(fd).st_size
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def iter_raw_lines(path: Path) -> Iterator[RawLine]:
    """Yield the file's lines in order, reading at most one line at a time.

    Stops after a line longer than `MAX_LINE_BYTES` (flagged `too_long`): such a line
    is damage, and buffering it whole could exhaust memory.
    """
    with path.open("rb") as stream:
        remaining = settled_size(stream.fileno())
        number = 0
        while remaining > 0:
            number += 1
            chunk = stream.readline(min(remaining, MAX_LINE_BYTES + 1))
            remaining -= len(chunk)
            if chunk.endswith(b"\n"):
                yield RawLine(number, chunk[:-1], complete=True)
            elif len(chunk) > MAX_LINE_BYTES:
                yield RawLine(number, chunk, complete=False, too_long=True)
                return
            else:
                yield RawLine(number, chunk, complete=False)
                return
