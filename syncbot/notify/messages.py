"""A notice made into the message every channel sends: subject, text and the facts behind it.

Made once, when the notice is raised, in the language configured then: a message waiting in
the outbox is delivered as it was written, whatever a reload changes afterwards.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syncbot.notify.incidents import Notice
from syncbot.wording import notify as words


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    event: str
    kind: str
    state: str  # open | cleared | notice
    subject: str
    text: str
    details: Mapping[str, Any]
    created: str

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


def compose(notice: Notice, lang: str, *, host: str | None = None) -> Message:
    host = host or socket.gethostname()
    details = dict(notice.details)
    return Message(
        event=notice.event,
        kind=notice.kind,
        state=notice.state,
        subject=words.subject(notice.kind, notice.state, details, lang, host),
        text=words.body(notice.kind, notice.state, details, lang, host),
        details=details,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
