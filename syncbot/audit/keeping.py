"""What the writer keeps beside the log, in the state folder: the anchor and the sealing state.

The anchor is the (seq, hash) of the log's last record when syncbot last closed it; a log
cut back past it is caught by `audit verify`. `Keeping.move_anchor` is the one function
that moves it, and the writer calls it whenever it closes after writing (every run, also
refused, failed and invalid ones), under the log's lock, so the anchor cannot go backwards.

The sealing state (written by `syncbot audit setup-keys`) holds the current seal key and
its index, the previous seal's MAC and where that seal is. It is overwritten in place each
time the key evolves, so the older key is not left in a renamed-over file. `StateDir`
names both files; this module only reads and writes them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncbot.audit.errors import AuditError
from syncbot.audit.seal import Epochs, SealFields, evolve
from syncbot.durable import (
    STATE_DIR_MODE,
    STATE_MODE,
    create_exclusive,
    fsync_dir,
    make_dirs,
    overwrite_in_place,
    replace_file,
    write_all,
)

#: The sealing state is always written at this length, so each overwrite covers every
#: byte of the one before it.
_SEALING_BYTES = 1024


@dataclass(frozen=True, slots=True)
class SealingState:
    """The service's half of the seals: only the current key, never an older one."""

    key: bytes
    index: int
    epochs: Epochs
    last_mac: str  # the last seal's MAC, which the next seal chains to
    sealed_seq: int  # the last seal record's seq and hash
    sealed_hash: str
    setup_seq: int

    @property
    def epoch(self) -> int:
        return self.epochs.epoch_of(self.index)

    def evolved_to(self, index: int) -> SealingState:
        return replace(self, key=evolve(self.key, index - self.index), index=index)

    def stepped(self) -> SealingState:
        """One evolution at a run's end, unless that would take the key into the next epoch."""
        if self.epochs.epoch_of(self.index + 1) != self.epoch:
            return self
        return self.evolved_to(self.index + 1)

    def sealed(self, seal: SealFields, seq: int, record_hash: str) -> SealingState:
        return replace(self, last_mac=seal.mac, sealed_seq=seq, sealed_hash=record_hash)

    def to_bytes(self) -> bytes:
        body = {
            "key": self.key.hex(),
            "index": self.index,
            **self.epochs.as_dict(),
            "last_mac": self.last_mac,
            "sealed_seq": self.sealed_seq,
            "sealed_hash": self.sealed_hash,
            "setup_seq": self.setup_seq,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        check = hashlib.sha256(text.encode("ascii")).hexdigest()
        data = json.dumps({"state": body, "check": check}, sort_keys=True).encode("ascii")
        if len(data) + 1 > _SEALING_BYTES:
            raise ValueError("sealing state longer than its fixed size")
        return data.ljust(_SEALING_BYTES - 1) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> SealingState:
        """The state as written, or ValueError: a torn or edited file is not guessed at."""
        outer = json.loads(data)
        body = outer["state"]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        if hashlib.sha256(text.encode("ascii")).hexdigest() != outer["check"]:
            raise ValueError("its check sum does not match (torn or edited)")
        key = bytes.fromhex(body["key"])
        if len(key) != 32:
            raise ValueError("the key is not 32 bytes")
        return cls(
            key=key,
            index=int(body["index"]),
            epochs=Epochs.from_dict(body),
            last_mac=str(body["last_mac"]),
            sealed_seq=int(body["sealed_seq"]),
            sealed_hash=str(body["sealed_hash"]),
            setup_seq=int(body["setup_seq"]),
        )


@dataclass(frozen=True, slots=True)
class Keeping:
    """The anchor file and the sealing state file of one state folder."""

    anchor_path: Path
    sealing_path: Path

    def anchor(self) -> tuple[int, str] | None:
        """(seq, hash) of the log's last record when syncbot last closed it; None if never."""
        data = _read_json(self.anchor_path)
        if data is None:
            return None
        seq, record_hash = data.get("audit_seq"), data.get("audit_hash")
        if not isinstance(seq, int) or not isinstance(record_hash, str):
            raise AuditError(f"{self.anchor_path}: unreadable (no audit_seq/audit_hash)")
        return seq, record_hash

    def move_anchor(self, seq: int, record_hash: str) -> None:
        """Make the anchor the log's last record. Called with the log's lock held."""
        make_dirs(self.anchor_path.parent, STATE_DIR_MODE)
        data = {
            "audit_seq": seq,
            "audit_hash": record_hash,
            "moved": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        replace_file(self.anchor_path, text.encode("utf-8"), STATE_MODE)

    def sealing(self) -> SealingState | None:
        """The sealing state, None before `setup-keys`; AuditError when it is damaged."""
        try:
            fd = os.open(self.sealing_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditError(f"cannot read the sealing state {self.sealing_path}: {exc}") from exc
        try:
            data = os.read(fd, _SEALING_BYTES * 2)
        finally:
            os.close(fd)
        try:
            return SealingState.from_bytes(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(
                f"the sealing state {self.sealing_path} is unreadable ({exc}); syncbot writes no "
                "audit record until it is restored from a backup, or `syncbot audit setup-keys` "
                "is run again after deleting it (the inspector then needs the new key)"
            ) from None

    def save_sealing(self, state: SealingState) -> None:
        """Overwrite the state with the evolved key: the older key is gone once this returns."""
        overwrite_in_place(self.sealing_path, state.to_bytes())

    def create_sealing(self, state: SealingState) -> None:
        """The first sealing state; refuses to replace one (a new key needs the inspector)."""
        make_dirs(self.sealing_path.parent, STATE_DIR_MODE)
        fd = create_exclusive(self.sealing_path, STATE_MODE)
        try:
            write_all(fd, state.to_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.sealing_path.parent)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:
        raise AuditError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise AuditError(f"{path}: unreadable (not a JSON object)")
    return data
