"""Collecting every problem of one roster file, so the user fixes them all in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from syncbot.errors import RosterError, RosterProblem
from syncbot.wording.pair import both
from syncbot.wording.roster import ACCEPTED, row_label

#: Accepted values are listed in problems, but a vocabulary of hundreds would drown the message.
_MAX_LISTED = 30


def say(vi: str, en: str, options: Iterable[str] | None = None) -> str:
    """One message for the administrator (Vietnamese) and for logs and support (English)."""
    text = both((vi, en))
    if options is not None:
        text += "; " + both(ACCEPTED) + ": " + listing(options)
    return text


def listing(options: Iterable[str]) -> str:
    """Quote accepted values so trailing spaces or odd characters are visible."""
    values = list(options)
    shown = ", ".join(f"'{v}'" for v in values[:_MAX_LISTED])
    if len(values) > _MAX_LISTED:
        shown += f", … (+{len(values) - _MAX_LISTED})"
    return shown


@dataclass(slots=True)
class ProblemList:
    """Problems of one file; `records` is true for JSON, whose rows are records of an array."""

    file: str
    records: bool = False
    items: list[RosterProblem] = field(default_factory=list)

    def add(self, row: int | None, column: str | None, message: str) -> None:
        if self.records and row is not None:
            message = f"{both(self.label(row))}: {message}"
        self.items.append(RosterProblem(self.file, row, column, message))

    def label(self, row: int) -> tuple[str, str]:
        """How a row is named (Vietnamese, English), so messages can point at other rows."""
        return row_label(row, self.records)

    def raise_if_any(self) -> None:
        if self.items:
            raise RosterError(list(self.items))

    def fail(self, row: int | None, column: str | None, message: str) -> RosterError:
        """A problem after which the file cannot be read further: add it and return the error."""
        self.add(row, column, message)
        return RosterError(list(self.items))
