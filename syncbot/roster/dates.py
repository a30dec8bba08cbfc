"""Effective dates as Vietnamese HR writes them: day first, never month first."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta, timezone

from syncbot.wording import roster as words

#: Vietnam has one fixed offset and no daylight saving; an instant with an offset is read
#: as the calendar day it falls on there (JSON writers often turn local midnight into UTC).
VIETNAM = timezone(timedelta(hours=7), "ICT")

#: Outside this range a year is a typo (0206, 20266), never a real effective date.
_FIRST_YEAR, _LAST_YEAR = 1900, 2100

# Exports of date cells may carry a time of day ("05/01/2026 0:00:00"); it is checked, then
# dropped: an effective date is a calendar day.
_DAY_FIRST = re.compile(
    r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
)
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


class DateProblem(ValueError):
    """Why a value is not a date, in both languages of the problem report."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en


def parse_date(value: object) -> date:
    """Read a non-blank cell as a calendar date, or raise `DateProblem`."""
    if isinstance(value, datetime):
        return _in_range(value.date(), str(value))
    if isinstance(value, date):
        return _in_range(value, str(value))
    if isinstance(value, str):
        return _parse_text(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Excel stores dates as day numbers; one shown as a number lost its date format,
        # and guessing the epoch would silently shift dates.
        raise DateProblem(*words.number_not_date(value))
    raise DateProblem(*words.not_a_date(value))


@functools.lru_cache(maxsize=4096)  # rosters repeat a few dates; errors are not cached
def _parse_text(text: str) -> date:
    match = _DAY_FIRST.fullmatch(text)
    if match:
        day, _, month, year, hour, minute, second = match.groups()
        if hour is not None and not _is_time_of_day(int(hour), int(minute), int(second or 0)):
            raise _unrecognised(text)
        return _in_range(_calendar_date(int(year), int(month), int(day), text), text)
    if _ISO.fullmatch(text):
        year, month, day = int(text[:4]), int(text[5:7]), int(text[8:10])
        parsed = _calendar_date(year, month, day, text)
        if len(text) > len("yyyy-mm-dd"):
            parsed = _iso_instant_day(text)
        return _in_range(parsed, text)
    raise _unrecognised(text)


def _is_time_of_day(hour: int, minute: int, second: int) -> bool:
    return hour < 24 and minute < 60 and second < 60


def _unrecognised(text: str) -> DateProblem:
    return DateProblem(*words.unrecognised_date(text))


def _calendar_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateProblem(*words.no_such_date(text, day, month, year)) from None


def _iso_instant_day(text: str) -> date:
    """The day of an ISO date-time; one with an offset is the day it falls on in Vietnam."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise _unrecognised(text) from None
    if instant.tzinfo is not None:
        instant = instant.astimezone(VIETNAM)
    return instant.date()


def _in_range(parsed: date, text: str) -> date:
    if not _FIRST_YEAR <= parsed.year <= _LAST_YEAR:
        raise DateProblem(*words.implausible_year(text))
    return parsed
