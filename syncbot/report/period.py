"""The reporting period: whole days in Vietnam's time, since that is the day people live in.

A change made at 23:30 UTC on the 1st happened on the 2nd for the department, so the
range, the per-day counts and every time shown use UTC+7. Vietnam keeps no daylight
saving, so a fixed offset is exact if the system has no time zone database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _display_zone() -> tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=7), "UTC+7")


DISPLAY_ZONE = _display_zone()


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of whole days."""

    since: date
    until: date

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise ValueError(f"the period starts ({self.since}) after it ends ({self.until})")

    def bounds(self) -> tuple[datetime, datetime]:
        """First and last instant of the period, as aware UTC datetimes (both inclusive)."""
        start = datetime.combine(self.since, time.min, DISPLAY_ZONE)
        end = datetime.combine(self.until + timedelta(days=1), time.min, DISPLAY_ZONE)
        return start.astimezone(UTC), (end - timedelta(microseconds=1)).astimezone(UTC)

    def days(self) -> Iterator[date]:
        day = self.since
        while day <= self.until:
            yield day
            day += timedelta(days=1)


def local(moment: datetime) -> datetime:
    return moment.astimezone(DISPLAY_ZONE)


def show_date(day: date, lang: str) -> str:
    return day.strftime("%d/%m/%Y") if lang == "vi" else day.isoformat()


def show_time(moment: datetime, lang: str) -> str:
    """A moment in display time, to the second: dd/mm/yyyy HH:MM:SS or ISO."""
    moment = local(moment)
    return moment.strftime("%d/%m/%Y %H:%M:%S" if lang == "vi" else "%Y-%m-%d %H:%M:%S")
