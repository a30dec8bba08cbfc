"""Appending records to the audit chain: one durable line per change attempt.

The records go through a structlog logger of their own (never the global configuration,
which belongs to operational logs): its processors refuse secret-looking keys, stamp
time/seq/prev under the file lock, add the hash and render canonical JSON, and its
"logger" is the append-only file below.

Given the state folder's `Keeping`, the log also keeps itself checkable: before each write
the seal key catches up with the clock (sealing the ended epoch's records with that
epoch's key first), and on closing it seals what is unsealed, evolves the key and moves
the anchor to the last record — all under the file lock, so two writers never race.
Each seal's head also goes to the operational log as `audit_head`, a witness outside the
state folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
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
from syncbot.audit.keeping import Keeping, SealingState
from syncbot.audit.record import (
    AUDIT_RECOVERED,
    AUDIT_SEALED,
    CHANGE,
    GENESIS_PREV,
    MAX_LINE_BYTES,
    PLAN_EVENTS,
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
from syncbot.audit.seal import (
    ZERO_MAC,
    Epochs,
    SealFields,
    VerificationKey,
    make_seal,
)
from syncbot.audit.tail import read_tail, save_torn
from syncbot.logs import witness_logger

Clock = Callable[[], datetime]

witness = witness_logger("syncbot.audit")


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
        self.last_line: bytes | None = None  # the record `seq` is, as stored
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
        self.last_line = data[:-1]

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
            self.last_line = tail.last_line
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

    def __init__(
        self,
        path: Path,
        *,
        run_id: str,
        actor: str,
        clock: Clock = utc_now,
        keeping: Keeping | None = None,
    ) -> None:
        """`keeping` (from `StateDir.audit_keeping`) makes the log seal itself and move the
        anchor when closed; without it records are only chained."""
        if not run_id or not actor:
            raise ValueError("an audit log needs a run id and an actor")
        self.path = path
        self.run_id = run_id
        self._file = _ChainFile(path, clock)
        self._mutex = threading.Lock()  # flock does not exclude threads sharing one fd
        self._closed = False
        self._keeping = keeping
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
            with self._file.locked() as torn:
                self._catch_up_key()
                with self._file.batch():
                    if torn is not None:
                        self._logger.msg(AUDIT_RECOVERED, details=torn)
                    for fields in records:
                        self._logger.msg(CHANGE, **fields)
            if self._file.last_hash is not None:
                self._last_written = (self._file.seq, self._file.last_hash)

    def run_finished(self, details: Mapping[str, Any]) -> None:
        self._emit(RUN_FINISHED, details=plain_json(details))

    def event(self, event: str, details: Mapping[str, Any]) -> None:
        """A record about a saved plan rather than a change: refused, approved, rejected,
        a step skipped (`syncbot.audit.record.PLAN_EVENTS`)."""
        if event not in PLAN_EVENTS:
            raise ValueError(f"not an audit event: {event!r}")
        self._emit(event, details=plain_json(details))

    def bind(self, **fields: Any) -> None:
        """Every later record of this log carries `fields` too: the approved plan's id."""
        with self._mutex:
            self._logger = self._logger.bind(**plain_json(fields))

    def close(self) -> None:
        """Seal what is unsealed and move the anchor (with `keeping`), then let the file go.

        Done also when this instance wrote nothing but the log exists: records written
        by a writer without `keeping` (a killed run's recovery) get sealed and anchored
        at the next close.
        """
        with self._mutex:
            if self._closed:
                return
            try:
                if self._keeping is not None and (
                    self._last_written is not None or self.path.exists()
                ):
                    self._close_out(self._keeping)
            finally:
                self._closed = True
                self._file.close()

    def start_sealing(self, epoch_minutes: int) -> VerificationKey:
        """`syncbot audit setup-keys`: key 0, the first seal, and the sealing state.

        Returns the verification key for the inspector; the service keeps only the key
        after it. Refuses when sealing was already set up: a new key would make the
        inspector's one useless, which must be a decision, not a rerun.
        """
        keeping = self._keeping
        if keeping is None:
            raise ValueError("sealing needs the state folder's Keeping")
        if epoch_minutes < 1:
            raise ValueError("an epoch is at least one minute")
        with self._mutex, self._file.locked() as torn:
            if self._closed:
                raise AuditError(f"the audit log {self.path} was already closed")
            if torn is not None:
                self._logger.msg(AUDIT_RECOVERED, details=torn)
            if os.path.lexists(keeping.sealing_path):
                raise AuditError(
                    f"sealing is already set up ({keeping.sealing_path}); to start again with "
                    "a new key, delete that file first and give the inspector the new key"
                )
            epochs = Epochs(self._file.now().replace(microsecond=0), epoch_minutes * 60)
            key0 = secrets.token_bytes(32)
            seal = make_seal(
                key0,
                0,
                epochs,
                seq=self._file.seq,
                head=self._file.last_hash or GENESIS_PREV,
                prev=ZERO_MAC,
            )
            self._logger.msg(AUDIT_SEALED, details={**seal.as_details(), "setup": epochs.as_dict()})
            setup_seq, setup_hash = self._file.seq, self._file.last_hash
            assert setup_hash is not None
            state = SealingState(key0, 0, epochs, seal.mac, setup_seq, setup_hash, setup_seq)
            keeping.create_sealing(state.stepped())
            self._witness(seal)
            self._last_written = (setup_seq, setup_hash)
        return VerificationKey(key0, epochs, setup_seq, setup_hash)

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
                self._catch_up_key()
                self._logger.msg(event, **fields)
                if self._file.last_hash is not None:
                    self._last_written = (self._file.seq, self._file.last_hash)

    # -- sealing, under the file lock ---------------------------------------------------

    def _catch_up_key(self) -> None:
        """Before a write: a key from an ended epoch seals that epoch's records, then goes."""
        if self._keeping is None:
            return
        state = self._keeping.sealing()
        if state is None:
            return
        kept = self._catch_up(self._adopt(state))
        if kept != state:
            self._keeping.save_sealing(kept)

    def _close_out(self, keeping: Keeping) -> None:
        with self._file.locked() as torn:
            if torn is not None:
                self._logger.msg(AUDIT_RECOVERED, details=torn)
            if self._file.last_hash is None:
                return  # an empty log: nothing to seal or anchor
            state = keeping.sealing()
            if state is not None:
                kept = self._catch_up(self._adopt(state))
                if self._file.seq > kept.sealed_seq:
                    kept = self._seal(kept).stepped()  # a run's end evolves the key too
                if kept != state:
                    keeping.save_sealing(kept)
            head = (self._file.seq, self._file.last_hash)
            if keeping.anchor() != head:
                keeping.move_anchor(*head)

    def _catch_up(self, state: SealingState) -> SealingState:
        """The key of the clock's epoch; records sealed first by the key they were written under.

        Epochs without records are skipped by deriving forward: the keys in between are
        never stored.
        """
        epoch = state.epochs.epoch_at(self._file.now())
        if epoch <= state.epoch:
            return state
        if self._file.seq > state.sealed_seq:
            state = self._seal(state)
        return state.evolved_to(state.epochs.first_index(epoch))

    def _seal(self, state: SealingState) -> SealingState:
        """Append a seal over the head with the current key; the caller evolves the key."""
        head = self._file.last_hash
        assert head is not None
        seal = make_seal(
            state.key, state.index, state.epochs, seq=self._file.seq, head=head, prev=state.last_mac
        )
        self._logger.msg(AUDIT_SEALED, details=seal.as_details())
        assert self._file.last_hash is not None
        self._last_written = (self._file.seq, self._file.last_hash)
        self._witness(seal)
        return state.sealed(seal, self._file.seq, self._file.last_hash)

    def _adopt(self, state: SealingState) -> SealingState:
        """A seal a crash kept out of the sealing state: take it, or the next seal would
        chain to the one before it and fail verification."""
        line = self._file.last_line
        if self._file.seq <= state.sealed_seq or line is None:
            return state
        record = json.loads(line)  # parsed and checked when the tail was read
        if record.get("event") != AUDIT_SEALED:
            return state
        try:
            seal = SealFields.from_record(record)
        except ValueError:
            return state
        if (
            seal.index_in(state.epochs) != state.index
            or seal.prev_mac != state.last_mac
            or seal.mac != seal.expected_mac(state.key)
        ):
            return state
        return state.sealed(seal, record["seq"], record["hash"]).stepped()

    def _witness(self, seal: SealFields) -> None:
        """The head, outside the state folder: the journal keeps what a rewrite cannot undo."""
        witness.info(
            "audit_head",
            seq=self._file.seq,
            hash=self._file.last_hash,
            epoch=seal.epoch,
            step=seal.step,
            mac=seal.mac,
            log=str(self.path),
        )

    def _stamp(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        """Place the record in the chain; runs under the lock, right before the write."""
        event_dict["time"] = format_time(self._file.now())
        event_dict["seq"] = self._file.seq + 1
        event_dict["prev"] = self._file.prev
        return event_dict
