"""Checking the seals with the inspector's verification key: `audit verify --key`.

Every record from the setup seal on must be covered by a seal whose MAC verifies with the
key of its epoch, derived from key 0, and whose epoch is not later than the record's own:
an attacker who took the service's current key can seal rewritten records only with that
key or later ones, which did not exist when those records were written. The first record
no valid seal covers is the line named.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from syncbot.audit.record import AUDIT_SEALED, GENESIS_PREV, parse_time
from syncbot.audit.seal import ZERO_MAC, KeyWalk, SealFields, VerificationKey
from syncbot.audit.verify import Finding


class SealCheck:
    """A `LineCheck`: the seal chain, as the verification key says it must be."""

    def __init__(self, key: VerificationKey, now: datetime) -> None:
        self.key = key
        self.epochs = key.epochs
        self.now = now
        self._walk = KeyWalk(key.key)
        self._head: tuple[int, str] = (0, GENESIS_PREV)  # the record before the current one
        self._prev_mac = ZERO_MAC
        self._last_index = 0
        self._last_epoch = 0
        self._last_seal_line = 0
        self._seals = 0
        self._pending = 0  # records after the last valid seal
        self._first_pending: tuple[int, datetime] | None = None
        # (line, epoch) each time the earliest epoch among pending records drops: the first
        # entry earlier than a seal's epoch is the first record that seal cannot vouch for.
        self._earliest: list[tuple[int, int]] = []

    def see(self, number: int, record: Mapping[str, Any]) -> Finding | None:
        try:
            if number < self.key.setup_seq:
                return None  # before sealing began: the setup seal covers it
            if number == self.key.setup_seq:
                return self._setup_seal(number, record)
            if record.get("event") == AUDIT_SEALED:
                return self._check_seal(number, record, first=False)
            return self._pend(number, record)
        finally:
            self._head = (record["seq"], record["hash"])

    def finish(self, records: int) -> Finding | None:
        if records < self.key.setup_seq:
            missing = records + 1
            return Finding(
                missing,
                f"line {missing}: missing: the verification key says syncbot wrote its first "
                f"seal at line {self.key.setup_seq} (hash {self.key.setup_hash}), but the file "
                f"ends after line {records} (emptied or cut back?)",
            )
        if self._first_pending is None:
            return None
        line, written = self._first_pending
        if self.now - written < timedelta(seconds=self.epochs.seconds):
            return None  # the open epoch: sealed when the run ends or the epoch closes
        return Finding(
            line,
            f"line {line}: no seal covers it, though it was written at {written:%Y-%m-%d %H:%M} "
            f"UTC, more than one epoch ({self.epochs.seconds // 60} min) ago: the seal of its "
            "epoch is missing (removed, or records added without the key?)",
        )

    def notes(self) -> list[str]:
        start = self.epochs.ends(self._last_epoch - 1)
        notes = [
            f"seals: {self._seals} valid, the last at line {self._last_seal_line} "
            f"(epoch {self._last_epoch}, from {start:%Y-%m-%d %H:%M} UTC) / "
            f"niêm phong: {self._seals} hợp lệ, cuối cùng ở dòng {self._last_seal_line}"
        ]
        if self._pending:
            notes.append(
                f"{self._pending} records after line {self._last_seal_line} not yet sealed "
                "(written within the last epoch; sealed when the run ends or the epoch "
                f"closes) / {self._pending} bản ghi chưa được niêm phong (trong kỳ hiện tại)"
            )
        return notes

    # -------------------------------------------------------------------------------

    def _uncovered(self, seal_line: int) -> int:
        """The first line the seal at `seal_line` would have covered."""
        return self._first_pending[0] if self._first_pending is not None else seal_line

    def _setup_seal(self, number: int, record: Mapping[str, Any]) -> Finding | None:
        if record.get("event") != AUDIT_SEALED or record["hash"] != self.key.setup_hash:
            return Finding(
                number,
                f"line {number}: is not the seal written when the verification key was made "
                "(a different key, or the log was rewritten?)",
            )
        return self._check_seal(number, record, first=True)

    def _check_seal(self, number: int, record: Mapping[str, Any], *, first: bool) -> Finding | None:
        uncovered = self._uncovered(number)

        def broken(why: str) -> Finding:
            return Finding(
                uncovered,
                f"line {uncovered}: no valid seal covers it: the seal at line {number} {why}",
            )

        try:
            seal = SealFields.from_record(record)
            sealed_at = parse_time(record["time"])
        except (KeyError, TypeError, ValueError) as exc:
            return broken(f"is malformed ({exc})")
        index = seal.index_in(self.epochs)
        if seal.step >= self.epochs.steps or seal.step < 0 or index < self._last_index:
            return broken(f"names key {index}, before the key of the seal at line "
                          f"{self._last_seal_line} ({self._last_index})")  # fmt: skip
        if first and index != 0:
            return broken("is not sealed with key 0")
        if (seal.covers_seq, seal.covers_hash) != self._head:
            return broken(f"does not cover the record before it (line {number - 1})")
        if seal.prev_mac != self._prev_mac:
            return broken(f"does not follow the seal at line {self._last_seal_line}")
        if not hmac.compare_digest(seal.mac, seal.expected_mac(self._walk.at(index))):
            return broken(
                "does not verify with the verification key (records changed and sealed "
                "again without the key of their epoch?)"
            )
        late = self._sealed_too_late(seal.epoch, number, sealed_at)
        if late is not None:
            return late
        self._prev_mac = seal.mac
        self._last_index = index
        self._last_epoch = seal.epoch
        self._last_seal_line = number
        self._seals += 1
        self._pending = 0
        self._first_pending = None
        self._earliest = []
        return None

    def _sealed_too_late(self, epoch: int, number: int, sealed_at: datetime) -> Finding | None:
        """A record older than its seal's key: sealed after the fact with a later key."""
        for line, written_in in self._earliest:
            if written_in < epoch:
                return Finding(
                    line,
                    f"line {line}: no valid seal covers it: written in epoch {written_in} but "
                    f"sealed at line {number} with the key of epoch {epoch}, which did not exist "
                    "yet (rewritten and sealed again by someone holding a later key?)",
                )
        if self.epochs.epoch_at(sealed_at) < epoch:
            return Finding(
                self._uncovered(number),
                f"line {self._uncovered(number)}: no valid seal covers it: the seal at line "
                f"{number} is dated before its key's epoch {epoch} began",
            )
        return None

    def _pend(self, number: int, record: Mapping[str, Any]) -> Finding | None:
        try:
            written = parse_time(record["time"])
        except (KeyError, TypeError, ValueError):
            return Finding(number, f"line {number}: has no valid time, so no seal can cover it")
        epoch = self.epochs.epoch_at(written)
        if self._first_pending is None:
            self._first_pending = (number, written)
        if not self._earliest or epoch < self._earliest[-1][1]:
            self._earliest.append((number, epoch))
        self._pending += 1
        return None
