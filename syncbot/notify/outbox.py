"""Messages not yet delivered: kept in the state folder, sent by a background thread, retried.

A run only adds to the outbox (a small file written durably); the sending, which may wait
on a slow mail server for seconds, happens on another thread, so a notification never delays
or fails a run. A channel that does not take a message is retried with exponential back-off
(5 s, doubling, at most 10 minutes apart) for a day, then the message is dropped with a log
line: a day-old "run refused" is better read in the status and the log than delivered late.
The file survives a restart, so a message the mail server was down for is still sent.
Delivery is at least once: a crash between sending and removing it sends it again.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from syncbot.errors import StateError
from syncbot.notify.channels import Channel, DeliveryError, deliver
from syncbot.notify.messages import Message
from syncbot.state import read_json_file, write_json_atomic

log = structlog.get_logger("syncbot.notify")

OUTBOX_FILE = "notify-outbox.json"
BACKOFF_FIRST = 5.0
BACKOFF_CAP = 600.0
GIVE_UP_SECONDS = 24 * 3600.0
#: A mail server down for a week must not grow the file without end.
MAX_ENTRIES = 500


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones (1-based)."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * float(2 ** min(max(attempts, 1) - 1, 16)))


@dataclasses.dataclass(slots=True)
class Entry:
    """One message for one channel."""

    id: str
    channel: str  # the channel's key (`email`, `webhook:<hash of its URL>`)
    message: Message
    queued: float  # Unix time
    attempts: int = 0
    next_at: float = 0.0  # Unix time of the next try

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "message": self.message.as_json(),
            "queued": self.queued,
            "attempts": self.attempts,
            "next_at": self.next_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        return cls(
            id=str(data["id"]),
            channel=str(data["channel"]),
            message=Message.from_json(data["message"]),
            queued=float(data["queued"]),
            attempts=int(data["attempts"]),
            next_at=float(data["next_at"]),
        )


class Outbox:
    """`path` None keeps the messages in memory only."""

    def __init__(
        self,
        path: Path | None,
        channels: Callable[[], Mapping[str, Channel]],
        *,
        send: Callable[[Channel, Message], None] = deliver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.channels = channels
        self.send = send
        self.clock = clock
        self.lock = threading.RLock()
        self.entries: list[Entry] = self._load()

    def put(self, message: Message, channels: list[str]) -> None:
        now = self.clock()
        with self.lock:
            for channel in channels:
                self.entries.append(Entry(os.urandom(8).hex(), channel, message, now, 0, now))
            overflow = len(self.entries) - MAX_ENTRIES
            if overflow > 0:
                for old in self.entries[:overflow]:
                    log.error("notify_dropped", channel=old.channel, reason="outbox full")
                del self.entries[:overflow]
            self._save()

    def pending(self) -> int:
        with self.lock:
            return len(self.entries)

    def deliver_due(self) -> float | None:
        """Try each channel's messages in the order they were queued, from the first one
        whose time has come, stopping at the first the channel does not take: a "cleared"
        must not arrive before the incident it clears. Seconds until the next try, or None
        when nothing waits."""
        now = self.clock()
        channels = self.channels()
        with self.lock:
            keys = list(dict.fromkeys(e.channel for e in self.entries))
        for key in keys:
            channel = channels.get(key)
            while (head := self._head(key)) is not None and head.next_at <= now:
                error = self._try(channel, head.message)
                self._settle(head, channel, error)
                if error is not None and channel is not None:
                    break  # the rest wait for the head's next try
        with self.lock:
            heads = [h for h in (self._head(k) for k in {e.channel for e in self.entries}) if h]
            return max(0.0, min(h.next_at for h in heads) - self.clock()) if heads else None

    def _head(self, key: str) -> Entry | None:
        with self.lock:
            return next((e for e in self.entries if e.channel == key), None)

    def _try(self, channel: Channel | None, message: Message) -> str | None:
        """None when delivered, else why not."""
        if channel is None:
            return "channel no longer configured"
        try:
            self.send(channel, message)
        except DeliveryError as exc:
            return str(exc)
        except Exception as exc:  # a bug in one channel must not stop the others
            return f"{type(exc).__name__}: {exc}"
        return None

    def _settle(self, entry: Entry, channel: Channel | None, error: str | None) -> None:
        label = channel.label if channel is not None else entry.channel
        fields = {
            "channel": label,
            "notify_event": entry.message.event,
            "state": entry.message.state,
        }
        now = self.clock()
        with self.lock:
            if error is None or channel is None or now - entry.queued >= GIVE_UP_SECONDS:
                if error is None:
                    log.info("notify_sent", attempts=entry.attempts + 1, **fields)
                else:
                    log.error("notify_dropped", error=error, attempts=entry.attempts + 1, **fields)
                self.entries = [e for e in self.entries if e.id != entry.id]
            else:
                entry.attempts += 1
                delay = retry_delay(entry.attempts)
                entry.next_at = now + delay
                log.error(
                    "notify_failed",
                    error=error,
                    attempts=entry.attempts,
                    retry_in_seconds=delay,
                    **fields,
                )
            self._save()

    def _load(self) -> list[Entry]:
        if self.path is None:
            return []
        try:
            data = read_json_file(self.path) or {}
            return [Entry.from_json(e) for e in data.get("entries", [])]
        except (StateError, KeyError, TypeError, ValueError) as exc:
            # Undelivered messages are a convenience, not a record: start afresh, say so.
            log.error("notify_outbox_unreadable", path=str(self.path), error=str(exc))
            return []

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            write_json_atomic(
                self.path,
                {
                    "version": 1,
                    "saved": datetime.now(UTC).isoformat(timespec="seconds"),
                    "entries": [e.as_json() for e in self.entries],
                },
            )
        except OSError as exc:  # a full disk: the messages stay in memory and are still sent
            log.error("notify_outbox_write_failed", path=str(self.path), error=str(exc))
