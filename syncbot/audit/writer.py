"""Appending records to the audit chain: one durable line per change attempt.

The records go through a structlog logger of their own (never the global configuration,
which belongs to operational logs): its processors refuse secret-looking keys, stamp
time/seq/prev under the file lock, add the hash and render canonical JSON, and its
"logger" is the append-only file below.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from syncbot.audit.change import Attempt, Change
from syncbot.audit.errors import AuditError
from syncbot.audit.files import open_log
from syncbot.audit.record import (
    AUDIT_RECOVERED,
    CHANGE,
    GENESIS_PREV,
    MAX_LINE_BYTES,
    RUN_FINISHED,
    RUN_STARTED,
    DamagedRecord,
    canonical_json,
    format_time,
    has_secret_key,
    line_digest,
    parse_line,
    plain_json,
    record_hash,
    refused_secret_keys,
)
from syncbot.audit.tail import read_tail, save_torn

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _ChainFile:
    """The log file as structlog's wrapped logger: locked, chained, durable appends.

    Holds what the next record chains to (`seq`, `prev`) and the size it last saw, so
    the tail is re-read only when another writer appended meanwhile.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._fd: int | None = None
        self._locked = False
        self._size = -1  # unknown: read the tail on next lock
        self.seq = 0
        self.prev = GENESIS_PREV
        self.last_hash: str | None = None
        self._held: bytearray | None = None  # a batch's lines, written together at its end

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any] | None]:
        """Hold the exclusive lock with the tail current; yields torn-tail details if any."""
        fd = self._lock_current_file()
        try:
            self._locked = True
            yield self._sync_tail(fd)
        finally:
            self._locked = False
            fcntl.flock(fd, fcntl.LOCK_UN)

    def msg(self, line: str, *, seq: int, record_hash: str) -> None:
        """Append one rendered record with a single write, then fsync before returning.

        Inside `batch()` the line is held and the chain advanced in memory only; the
        batch writes and fsyncs all its lines at its end.
        """
        if not self._locked or self._fd is None:
            raise RuntimeError("audit records are written only under the file lock")
        data = line.encode("utf-8") + b"\n"
        if len(data) > MAX_LINE_BYTES:
            raise ValueError(f"audit record is {len(data)} bytes, over {MAX_LINE_BYTES}")
        if self._held is not None:
            self._held += data
        else:
            self._append(data)
        self.seq = seq
        self.prev = line_digest(data[:-1])
        self.last_hash = record_hash

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the records of the block, then append them with one write and one fsync.

        Used under the lock only. If anything fails before the write, nothing is written
        and the chain point is re-read from the file on the next lock.
        """
        if not self._locked:
            raise RuntimeError("audit records are written only under the file lock")
        self._held = bytearray()
        try:
            yield
            held = bytes(self._held)
        except BaseException:
            self._size = -1  # the chain advanced in memory only: forget it
            raise
        finally:
            self._held = None
        if held:
            self._append(held)

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            self._size = -1
            raise AuditError(f"cannot append to the audit log {self.path}: {exc}") from exc
        if written != len(data):
            self._undo_short_write()
            raise AuditError(f"short write to the audit log {self.path} (disk full?)")
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._size = -1
            raise AuditError(f"cannot flush the audit log {self.path} to disk: {exc}") from exc
        self._size += len(data)

    def now(self) -> datetime:
        return self._clock()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._size = -1

    def _lock_current_file(self) -> int:
        """Lock the file now at `path`, reopening it if it was moved or deleted meanwhile."""
        while True:
            if self._fd is None:
                try:
                    self._fd = open_log(self.path)
                except OSError as exc:
                    raise AuditError(f"cannot open the audit log {self.path}: {exc}") from exc
                self._size = -1
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise AuditError(f"cannot lock the audit log {self.path}: {exc}") from exc
            if self._is_current(self._fd):
                return self._fd
            self.close()  # also drops the lock on the file that is no longer the log

    def _is_current(self, fd: int) -> bool:
        try:
            on_disk = self.path.stat()
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def _sync_tail(self, fd: int) -> dict[str, Any] | None:
        size = os.fstat(fd).st_size
        if size == self._size:
            return None
        try:
            tail = read_tail(fd, size)
            self.seq, self.prev, self.last_hash = _chain_point(tail.last_line)
        except DamagedRecord as exc:
            raise AuditError(
                f"the audit log {self.path} ends with a damaged record ({exc}); nothing was "
                f"appended. Run `syncbot audit verify` and have the file examined before "
                f"syncbot writes to it again."
            ) from None
        if not tail.torn:
            self._size = size
            return None
        try:
            details = save_torn(self.path, fd, tail, self._clock())
            os.ftruncate(fd, tail.complete_end)
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(
                f"the audit log {self.path} ends with an interrupted write that could not "
                f"be moved aside: {exc}"
            ) from exc
        self._size = tail.complete_end
        return details

    def _undo_short_write(self) -> None:
        """Cut a partial line off at once, so the next write does not extend it."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            pass  # the next writer's torn-tail recovery moves it aside instead
        self._size = -1


def _chain_point(line: bytes | None) -> tuple[int, str, str | None]:
    """(seq, prev, hash) the next record chains to, after `line` (None: empty file)."""
    if line is None:
        return 0, GENESIS_PREV, None
    record = parse_line(line)
    return record["seq"], line_digest(line), record["hash"]


def refuse_secret_keys(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The record is permanent: refuse it outright if any key looks like it holds a secret.

    A `Change` was checked when it was built; this covers the run records' details, and
    anything a future record type adds.
    """
    if has_secret_key(event_dict):
        raise refused_secret_keys(event_dict)
    return event_dict


def add_hash(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    try:
        event_dict["hash"] = record_hash(event_dict)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit record is not plain JSON: {exc}") from None
    return event_dict


def render_line(_: WrappedLogger, __: str, event_dict: EventDict) -> Any:
    """Canonical JSON for the file, plus what the file needs to chain the next record."""
    return (canonical_json(event_dict),), {
        "seq": event_dict["seq"],
        "record_hash": event_dict["hash"],
    }


class AuditLog:
    """The append-only, hash-chained audit log of one run.

    Every method returns only after its record is on disk (fsync), because the executor
    takes the next step only once the previous one is recorded. Safe to share the file
    with other processes: appends are serialised by an exclusive `flock`.
    """

    def __init__(self, path: Path, *, run_id: str, actor: str, clock: Clock = utc_now) -> None:
        if not run_id or not actor:
            raise ValueError("an audit log needs a run id and an actor")
        self.path = path
        self.run_id = run_id
        self._file = _ChainFile(path, clock)
        self._mutex = threading.Lock()  # flock does not exclude threads sharing one fd
        self._closed = False
        self._last_written: tuple[int, str] | None = None
        self._logger = structlog.wrap_logger(
            self._file,
            processors=[refuse_secret_keys, self._stamp, add_hash, render_line],
            wrapper_class=structlog.BoundLogger,
            context_class=dict,
        ).bind(run_id=run_id, actor=actor)

    @property
    def last_written(self) -> tuple[int, str] | None:
        """(seq, hash) of the last record this instance wrote: the anchor for verify."""
        return self._last_written

    def run_started(self, details: Mapping[str, Any]) -> None:
        self._emit(RUN_STARTED, details=plain_json(details))

    def change(self, change: Change, *, result: str, error: str | None) -> None:
        """Record one change attempt, successful or not."""
        self.changes([Attempt(change, result, error)])

    def changes(self, attempts: Sequence[Attempt]) -> None:
        """Record several change attempts with one write and one fsync (a group commit).

        All or none are appended: a refused record leaves the file as it was.
        """
        records = [attempt.as_dict() for attempt in attempts]
        if not records:
            return
        with self._mutex:
            if self._closed:
                raise AuditError(f"the audit log {self.path} was already closed")
            with self._file.locked() as torn, self._file.batch():
                if torn is not None:
                    self._logger.msg(AUDIT_RECOVERED, details=torn)
                for fields in records:
                    self._logger.msg(CHANGE, **fields)
            if self._file.last_hash is not None:
                self._last_written = (self._file.seq, self._file.last_hash)

    def run_finished(self, details: Mapping[str, Any]) -> None:
        self._emit(RUN_FINISHED, details=plain_json(details))

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _emit(self, event: str, **fields: Any) -> None:
        with self._mutex:
            if self._closed:
                raise AuditError(f"the audit log {self.path} was already closed")
            with self._file.locked() as torn:
                if torn is not None:
                    self._logger.msg(AUDIT_RECOVERED, details=torn)
                self._logger.msg(event, **fields)
                if self._file.last_hash is not None:
                    self._last_written = (self._file.seq, self._file.last_hash)

    def _stamp(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        """Place the record in the chain; runs under the lock, right before the write."""
        event_dict["time"] = format_time(self._file.now())
        event_dict["seq"] = self._file.seq + 1
        event_dict["prev"] = self._file.prev
        return event_dict
