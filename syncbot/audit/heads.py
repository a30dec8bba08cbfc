"""The journal as a witness: `audit verify --heads FILE`.

Each seal's head is also logged as an `audit_head` event to the operational log, which
systemd's journal keeps outside anything the service account can rewrite. A log that was
re-chained, re-sealed and had its state folder rewritten still disagrees with the heads
the journal saw. Read here: `journalctl -o json` lines (the structlog line in `MESSAGE`,
in the JSON or the console format) and plain JSON lines of syncbot's own log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncbot.audit.verify import Finding

HEAD_EVENT = "audit_head"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PAIR = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|\S+)")
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Head:
    """One `audit_head` event: the log's line `seq` had this hash when it was sealed."""

    seq: int
    hash: str
    source_line: int  # where in the heads file it was found


def read_heads(path: Path) -> list[Head]:
    """Every `audit_head` event in the file; lines that hold none are skipped."""
    heads: list[Head] = []
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            fields = _head_fields(raw.decode("utf-8", errors="replace").strip())
            if fields is None:
                continue
            seq, head_hash = fields.get("seq"), fields.get("hash")
            if isinstance(seq, str) and seq.isdigit():
                seq = int(seq)
            if isinstance(seq, int) and isinstance(head_hash, str) and _HASH.fullmatch(head_hash):
                heads.append(Head(seq, head_hash, number))
    return heads


def _head_fields(line: str) -> Mapping[str, Any] | None:
    """The fields of an `audit_head` event on this line, in whichever form it came."""
    for message in _messages(line):
        try:
            data = json.loads(message)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if data.get("event") == HEAD_EVENT:
                return data
            continue
        plain = _ANSI.sub("", message)
        if re.search(rf"\b{HEAD_EVENT}\b", plain):
            return {key: value.strip("'\"") for key, value in _PAIR.findall(plain)}
    return None


def _messages(line: str) -> Iterator[str]:
    """The structlog line: a journal entry's MESSAGE, or the line itself."""
    try:
        entry = json.loads(line)
    except ValueError:
        yield line
        return
    if not isinstance(entry, dict):
        return
    message = entry.get("MESSAGE")
    if isinstance(message, str):
        yield message
    elif isinstance(message, list) and all(isinstance(b, int) for b in message):
        # journald exports a MESSAGE that is not valid UTF-8 as its bytes
        yield bytes(message).decode("utf-8", errors="replace")
    elif "MESSAGE" not in entry:
        yield line


class HeadsCheck:
    """A `LineCheck`: every head the journal witnessed must still be in the log, unchanged."""

    def __init__(self, heads: list[Head], source: str) -> None:
        self.source = source
        self._by_seq: dict[int, list[Head]] = {}
        for head in heads:
            self._by_seq.setdefault(head.seq, []).append(head)
        self._matched = 0

    def see(self, number: int, record: Mapping[str, Any]) -> Finding | None:
        for head in self._by_seq.get(record["seq"], ()):
            if head.hash != record["hash"]:
                return Finding(
                    number,
                    f"line {number}: hash {record['hash']} differs from the head the journal "
                    f"witnessed ({head.hash}, {self.source} line {head.source_line}): the log "
                    "was rewritten after it was sealed",
                )
            self._matched += 1
        return None

    def finish(self, records: int) -> Finding | None:
        beyond = [seq for seq in self._by_seq if seq > records]
        if not beyond:
            return None
        missing = records + 1
        head = self._by_seq[max(beyond)][0]
        return Finding(
            missing,
            f"line {missing}: missing: the file ends after line {records}, but the journal "
            f"witnessed line {head.seq} with hash {head.hash} ({self.source} line "
            f"{head.source_line}; tail cut off?)",
        )

    def notes(self) -> list[str]:
        return [
            f"heads: {self._matched} witnessed by the journal match the log / "
            f"{self._matched} đầu chuỗi trong journal khớp với nhật ký"
        ]
