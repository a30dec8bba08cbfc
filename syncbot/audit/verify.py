"""Proof that the audit log is exactly what syncbot wrote: `syncbot audit verify`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass(slots=True)
class _Progress:
    records: int = 0
    prev: str = GENESIS_PREV
    last_seq: int | None = None
    last_hash: str | None = None
    anchor_seen: bool = False

    def fail(self, line: int, problem: str) -> VerifyResult:
        return VerifyResult(False, self.records, line, problem, self.last_seq, self.last_hash)


def verify_chain(path: Path, *, anchor: tuple[int, str] | None = None) -> VerifyResult:
    """Check every line of the log in one streaming pass and name the first broken line.

    `anchor` is the (seq, hash) of the last record a previous run knows it wrote; it
    must still be there with that hash, which catches lines cut off the end of the file.
    An unfinished last line is reported in `interrupted_bytes`, not as a break: a kill
    during a write leaves one, and saying BROKEN after every kill -9 would teach
    inspectors to ignore the word.
    """
    state = _Progress()
    interrupted = 0
    try:
        for line in iter_raw_lines(path):
            if not line.complete and not line.too_long:
                interrupted = len(line.data)
                break
            state.records = line.number
            problem = _check_line(line, state, anchor)
            if problem is not None:
                return state.fail(line.number, f"line {line.number}: {problem}")
    except FileNotFoundError:
        return VerifyResult(False, 0, None, f"{path}: no such file", None, None)
    if anchor is not None and not state.anchor_seen:
        seq, expected = anchor
        first_missing = state.records + 1
        return state.fail(
            first_missing,
            f"line {first_missing}: missing, the file ends after line {state.records} but a "
            f"run recorded writing line {seq} with hash {expected} (tail cut off?)",
        )
    return VerifyResult(
        True, state.records, None, None, state.last_seq, state.last_hash, interrupted
    )


def _check_line(line: RawLine, state: _Progress, anchor: tuple[int, str] | None) -> str | None:
    """The first thing wrong with this line in its place in the chain, or None."""
    if line.too_long:
        return f"longer than {MAX_LINE_BYTES} bytes, not a syncbot record"
    try:
        record = parse_line(line.data)
    except DamagedRecord as exc:
        return str(exc)
    if record["prev"] != state.prev:
        return (
            f"does not follow line {line.number - 1}: its prev hash differs "
            "(a line was removed, inserted or reordered?)"
            if line.number > 1
            else "prev is not the start-of-chain value (lines removed from the start?)"
        )
    if record["seq"] != line.number:
        return f"seq is {record['seq']}, expected {line.number}"
    if anchor is not None and record["seq"] == anchor[0]:
        if record["hash"] != anchor[1]:
            return (
                f"hash differs from the one recorded when it was written ({anchor[1]}): "
                "the file was rewritten"
            )
        state.anchor_seen = True
    state.prev = line_digest(line.data)
    state.last_seq = record["seq"]
    state.last_hash = record["hash"]
    return None
