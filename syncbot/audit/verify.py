"""Proof that the audit log is exactly what syncbot wrote: `syncbot audit verify`.

The chain is checked here; what else a line must agree with (an anchor from the state
folder, the seals with the inspector's key, the heads the journal witnessed) is a
`LineCheck`, which sees each intact record in turn and says at the end what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from syncbot.audit.reader import RawLine, iter_raw_lines
from syncbot.audit.record import (
    GENESIS_PREV,
    MAX_LINE_BYTES,
    DamagedRecord,
    line_digest,
    parse_line,
)


@dataclass(frozen=True)
class VerifyResult:
    """What a verification found; `last_seq`/`last_hash` belong to the last intact record."""

    ok: bool
    records: int  # lines checked
    first_bad_line: int | None  # 1-based line number
    problem: str | None  # e.g. "line 7: hash does not match its content (edited?)"
    last_seq: int | None
    last_hash: str | None
    # Bytes after the last "\n": a write the kernel cut short when its process was killed
    # (SIGKILL can land between pages of one write). Not a record, and nothing is lost:
    # the change it described is re-checked by recovery, and the next writer moves the
    # bytes aside and records that it did.
    interrupted_bytes: int = 0
    notes: tuple[str, ...] = ()  # what the checks add when all is well (seals, heads)


@dataclass(frozen=True, slots=True)
class Finding:
    """The first line a check cannot vouch for, and why."""

    line: int
    problem: str


class LineCheck(Protocol):
    """Something besides the chain that every intact record must agree with."""

    def see(self, number: int, record: Mapping[str, Any]) -> Finding | None:
        """Called for each intact record, in order; a Finding ends the verification."""

    def finish(self, records: int) -> Finding | None:
        """Called after the last record (`records` lines): what should have been there."""

    def notes(self) -> list[str]:
        """What to tell the reader when nothing was found."""


class Anchor:
    """A (seq, hash) syncbot recorded writing: that line must still be there, unchanged."""

    def __init__(self, seq: int, expected: str, source: str = "a run") -> None:
        self.seq = seq
        self.expected = expected
        self.source = source
        self.seen = False

    def see(self, number: int, record: Mapping[str, Any]) -> Finding | None:
        if record["seq"] != self.seq:
            return None
        self.seen = True
        if record["hash"] == self.expected:
            return None
        return Finding(
            number,
            f"line {number}: hash differs from the one recorded when it was written "
            f"({self.expected}, {self.source}): the file was rewritten",
        )

    def finish(self, records: int) -> Finding | None:
        if self.seen:
            return None
        missing = records + 1
        return Finding(
            missing,
            f"line {missing}: missing, the file ends after line {records} but {self.source} "
            f"recorded writing line {self.seq} with hash {self.expected} (tail cut off?)",
        )

    def notes(self) -> list[str]:
        return []


@dataclass(slots=True)
class _Progress:
    records: int = 0
    prev: str = GENESIS_PREV
    last_seq: int | None = None
    last_hash: str | None = None

    def fail(self, line: int, problem: str) -> VerifyResult:
        return VerifyResult(False, self.records, line, problem, self.last_seq, self.last_hash)


def verify_chain(
    path: Path,
    *,
    anchor: tuple[int, str] | None = None,
    checks: Iterable[LineCheck] = (),
) -> VerifyResult:
    """Check every line of the log in one streaming pass and name the first broken line.

    `anchor` is the (seq, hash) of the last record a previous run knows it wrote; it
    must still be there with that hash, which catches lines cut off the end of the file.
    `checks` add what else each record must agree with (`Anchor`, seals, heads).
    An unfinished last line is reported in `interrupted_bytes`, not as a break: a kill
    during a write leaves one, and saying BROKEN after every kill -9 would teach
    inspectors to ignore the word.
    """
    every = [*([Anchor(*anchor)] if anchor is not None else []), *checks]
    state = _Progress()
    interrupted = 0
    try:
        for line in iter_raw_lines(path):
            if not line.complete and not line.too_long:
                interrupted = len(line.data)
                break
            state.records = line.number
            problem, record = _check_line(line, state)
            if problem is not None:
                return state.fail(line.number, f"line {line.number}: {problem}")
            assert record is not None
            for check in every:
                found = check.see(line.number, record)
                if found is not None:
                    return state.fail(found.line, found.problem)
    except FileNotFoundError:
        return VerifyResult(False, 0, None, f"{path}: no such file", None, None)
    for check in every:
        found = check.finish(state.records)
        if found is not None:
            return state.fail(found.line, found.problem)
    return VerifyResult(
        True,
        state.records,
        None,
        None,
        state.last_seq,
        state.last_hash,
        interrupted,
        tuple(note for check in every for note in check.notes()),
    )


def _check_line(line: RawLine, state: _Progress) -> tuple[str | None, dict[str, Any] | None]:
    """The first thing wrong with this line in its place in the chain, or its record."""
    if line.too_long:
        return f"longer than {MAX_LINE_BYTES} bytes, not a syncbot record", None
    try:
        record = parse_line(line.data)
    except DamagedRecord as exc:
        return str(exc), None
    if record["prev"] != state.prev:
        return (
            f"does not follow line {line.number - 1}: its prev hash differs "
            "(a line was removed, inserted or reordered?)"
            if line.number > 1
            else "prev is not the start-of-chain value (lines removed from the start?)"
        ), None
    if record["seq"] != line.number:
        return f"seq is {record['seq']}, expected {line.number}", None
    state.prev = line_digest(line.data)
    state.last_seq = record["seq"]
    state.last_hash = record["hash"]
    return None, record
