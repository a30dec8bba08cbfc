"""When to run next: the schedule, future-dated HR changes, and retry back-off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from syncbot.model import Finding, FindingKind

BACKOFF_FIRST = 5.0
BACKOFF_CAP = 300.0
# A few seconds past midnight, so "today" in the plan is already the due date.
DUE_TIME = time(0, 0, 5)
_DUE_KINDS = (FindingKind.FUTURE_DEPARTURE, FindingKind.FUTURE_CHANGE)


def backoff_seconds(failures: int) -> float:
    """5 s, 10 s, 20 s … capped at 5 minutes, for the `failures`-th failure in a row (1-based)."""
    if failures < 1:
        return 0.0
    return min(BACKOFF_CAP, BACKOFF_FIRST * float(2 ** min(failures - 1, 16)))


def due_dates(findings: Iterable[Finding], today: date) -> list[date]:
    """Future dates on which the roster already says something must change, sorted."""
    return sorted(
        {f.due for f in findings if f.kind in _DUE_KINDS and f.due is not None and f.due > today}
    )


def due_at(day: date) -> datetime:
    """Local wall-clock moment a due date's run fires."""
    return datetime.combine(day, DUE_TIME)


def next_due_run(dates: Iterable[date], now: datetime) -> datetime | None:
    """The earliest due-date run still ahead of `now` (local naive time)."""
    moments = [due_at(d) for d in dates if due_at(d) > now]
    return min(moments, default=None)


def parse_clock(text: str) -> time:
    """`HH:MM` for `daily_at`; raises ValueError with the accepted form."""
    try:
        hours, minutes = text.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"must be a time of day as HH:MM (24-hour), got {text!r}") from None
