"""Forward-secure seals: a MAC key that only moves forward, so today's key cannot seal yesterday.

The hash chain proves the file unedited only to someone who trusts its last hash; whoever
holds the service account can re-chain the whole file and rewrite every local anchor. A
seal is a chained record whose MAC binds the chain head to a key the service can no longer
produce once the key has evolved. It is the scheme of systemd's `journalctl --setup-keys`,
with hashlib and hmac only:

- key 0 is 32 random bytes; key n+1 = sha256("evolve" ‖ key n). The inspector keeps key 0
  and the epoch parameters (the *verification key*) and derives any key; the service keeps
  only its current key and overwrites the older one, which nobody can compute back.
- Time is cut into epochs of a fixed length from `start`; epoch e owns the key indexes
  e·steps … e·steps + steps − 1, so a run's end can evolve the key without leaving its
  epoch. A key index therefore says when the key existed: a record written in epoch a
  sealed by a key of epoch e > a was sealed by a key that did not exist yet when the record
  was written — something only a rewrite does.
- A seal's MAC is HMAC-SHA256(key n, canonical {epoch, step, seq, hash, prev_mac}): the
  chain head it covers and the previous seal's MAC, so seals form a chain of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from syncbot.audit.record import canonical_json

ZERO_MAC = "0" * 64
KEY_BYTES = 32
#: Key steps an epoch owns: each run's end within the epoch takes one. More runs in one
#: epoch share its last key, which then protects them only once the epoch ends.
STEPS_PER_EPOCH = 64
DEFAULT_EPOCH_MINUTES = 15
_VERIFY_KEY_FORMAT = "syncbot-audit-verification-key/1"


def evolve(key: bytes, steps: int = 1) -> bytes:
    """The key `steps` evolutions after `key`; the earlier one cannot be computed back."""
    for _ in range(steps):
        key = hashlib.sha256(b"evolve" + key).digest()
    return key


def seal_mac(key: bytes, *, epoch: int, step: int, seq: int, head: str, prev_mac: str) -> str:
    """The MAC a seal carries over the head it covers and the seal before it."""
    body = {"epoch": epoch, "step": step, "seq": seq, "hash": head, "prev_mac": prev_mac}
    return hmac.new(key, canonical_json(body).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Epochs:
    """Which epoch a moment falls in, and which key indexes each epoch owns."""

    start: datetime
    seconds: int
    steps: int = STEPS_PER_EPOCH

    def epoch_at(self, moment: datetime) -> int:
        """Negative before `start`: records older than the keys."""
        return int((moment - self.start) // timedelta(seconds=self.seconds))

    def ends(self, epoch: int) -> datetime:
        return self.start + timedelta(seconds=self.seconds * (epoch + 1))

    def first_index(self, epoch: int) -> int:
        return epoch * self.steps

    def epoch_of(self, index: int) -> int:
        return index // self.steps

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "epoch_seconds": self.seconds,
            "steps_per_epoch": self.steps,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Epochs:
        start = datetime.fromisoformat(data["start"])
        if start.tzinfo is None:
            raise ValueError("start has no time zone")
        seconds, steps = data["epoch_seconds"], data["steps_per_epoch"]
        if not (isinstance(seconds, int) and isinstance(steps, int) and seconds > 0 and steps > 0):
            raise ValueError("epoch_seconds and steps_per_epoch must be positive integers")
        return cls(start.astimezone(UTC), seconds, steps)


@dataclass(frozen=True, slots=True)
class SealFields:
    """What a seal record's `details` hold; the MAC covers all but `mac` and `setup`."""

    epoch: int
    step: int
    covers_seq: int
    covers_hash: str
    prev_mac: str
    mac: str

    def index_in(self, epochs: Epochs) -> int:
        return epochs.first_index(self.epoch) + self.step

    def expected_mac(self, key: bytes) -> str:
        return seal_mac(
            key,
            epoch=self.epoch,
            step=self.step,
            seq=self.covers_seq,
            head=self.covers_hash,
            prev_mac=self.prev_mac,
        )

    def as_details(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "covers_seq": self.covers_seq,
            "covers_hash": self.covers_hash,
            "prev_mac": self.prev_mac,
            "mac": self.mac,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SealFields:
        """The seal in a record, or ValueError naming what is missing."""
        details = record.get("details")
        if not isinstance(details, Mapping):
            raise ValueError("a seal record without details")
        values: dict[str, Any] = {}
        for name, kind in (
            ("epoch", int),
            ("step", int),
            ("covers_seq", int),
            ("covers_hash", str),
            ("prev_mac", str),
            ("mac", str),
        ):
            value = details.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"a seal record without a valid {name}")
            values[name] = value
        return cls(**values)


def make_seal(
    key: bytes, index: int, epochs: Epochs, *, seq: int, head: str, prev: str
) -> SealFields:
    epoch, step = divmod(index, epochs.steps)
    mac = seal_mac(key, epoch=epoch, step=step, seq=seq, head=head, prev_mac=prev)
    return SealFields(epoch, step, seq, head, prev, mac)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """What the inspector keeps offline: key 0, the epochs, and where sealing began.

    `setup_seq`/`setup_hash` name the seal written when the keys were made, so a log cut
    back to before it, or emptied, cannot pass for one that never had seals.
    """

    key: bytes
    epochs: Epochs
    setup_seq: int
    setup_hash: str

    def to_text(self) -> str:
        """One line of JSON, to print once and to keep in a file."""
        return json.dumps(
            {
                "format": _VERIFY_KEY_FORMAT,
                "key": self.key.hex(),
                **self.epochs.as_dict(),
                "setup_seq": self.setup_seq,
                "setup_hash": self.setup_hash,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, text: str) -> VerificationKey:
        """Read a verification key; ValueError (never showing the key) when it is not one."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("not a syncbot verification key (not JSON)") from None
        if not isinstance(data, dict) or data.get("format") != _VERIFY_KEY_FORMAT:
            raise ValueError(f"not a syncbot verification key (format is not {_VERIFY_KEY_FORMAT})")
        try:
            key = bytes.fromhex(data["key"])
            epochs = Epochs.from_dict(data)
            setup_seq, setup_hash = data["setup_seq"], data["setup_hash"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a damaged verification key ({type(exc).__name__})") from None
        if len(key) != KEY_BYTES or not isinstance(setup_seq, int) or setup_seq < 1:
            raise ValueError("a damaged verification key (key length or setup_seq)")
        if not isinstance(setup_hash, str):
            raise ValueError("a damaged verification key (setup_hash)")
        return cls(key, epochs, setup_seq, setup_hash)


class KeyWalk:
    """Keys derived forward from key 0, one step at a time, never back."""

    def __init__(self, key0: bytes) -> None:
        self.index = 0
        self.key = key0

    def at(self, index: int) -> bytes:
        if index < self.index:
            raise ValueError(f"key {index} is before key {self.index}")
        self.key = evolve(self.key, index - self.index)
        self.index = index
        return self.key
