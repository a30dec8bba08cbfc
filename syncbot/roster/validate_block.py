"""The usual roster rows, checked a block at a time with a few C calls per column.

A 100k-row export is almost all clean rows: every cell text already in NFC, no control
character, every word and date known. For a block of such rows each rule of `validate_row` can
be tested on whole columns at once and the rows built by one `map`, with no Python code
run per row. When a block has anything `validate_row` might report, or anything this module is
not sure of, it is refused whole (None), and `validate` hands its rows to `validate_row` in
smaller blocks, so every problem is still found and worded by `validate_row`.
"""

from __future__ import annotations

import itertools
import operator
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date

from syncbot.model import RosterRow, Status
from syncbot.roster.fields import CANONICAL_FIELDS
from syncbot.roster.lookups import Lookups
from syncbot.roster.records import Record
from syncbot.roster.validate_row import DATED_STATUSES, DEFAULT_MAX_LENGTH, MAX_LENGTH
from syncbot.roster.values import EXCEL_ERRORS, all_emails

_strip = str.strip
_lower = str.lower
# dict.get(text, text): None for "", the text itself otherwise, as `text or None` in C.
_none_if_empty = {"": None}.get
_LINE_BREAKS = str.maketrans("", "", "\t\n\r")
_LIMITS = tuple(MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH) for name in CANONICAL_FIELDS)

Column = tuple[str, ...]


class Batch:
    """Builds the rows of a block of records, or refuses the block."""

    __slots__ = ("_canonical", "_lookups")

    def __init__(self, lookups: Lookups, fields: Sequence[str]) -> None:
        self._lookups = lookups
        # A block's columns in canonical order; a field the source lacks reads as the
        # column of "" appended after its own.
        absent = len(fields)
        self._canonical = operator.itemgetter(
            *(fields.index(name) if name in fields else absent for name in CANONICAL_FIELDS)
        )

    def rows(self, records: Sequence[Record]) -> list[RosterRow] | None:
        """The rows of `records`, or None if `validate_row` may have something to say of one."""
        numbers, values, _ = zip(*records, strict=True)
        columns = self._columns(values)
        if columns is None:
            return None
        ids, names, emails, units, _, words, days, _, roles = columns
        if not (all(ids) and all(names) and all(units) and all(words) and all_emails(emails)):
            return None
        statuses = self._lookups.statuses.each(words)
        dates = self._lookups.dates.each(days)
        canonical_roles = self._lookups.roles.each(roles)
        if statuses is None or dates is None or canonical_roles is None:
            return None
        if _undated_departure(statuses, days):
            return None
        return self._build(numbers, columns, statuses, dates, canonical_roles)

    def _columns(self, values: Sequence[tuple[object, ...]]) -> tuple[Column, ...] | None:
        """Trimmed cell texts by canonical field, or None for a cell `validate_row` must read."""
        try:
            joined = "".join(itertools.chain.from_iterable(values))  # type: ignore[arg-type]
        except TypeError:
            return None  # a number, a date or an empty cell
        # NFC text is the same normalized (and a part of NFC text is NFC too), so the cells
        # need only trimming.
        if not (_printable(joined) and unicodedata.is_normalized("NFC", joined)):
            return None
        trimmed = [tuple(map(_strip, column)) for column in zip(*values, strict=True)]
        trimmed.append(("",) * len(values))
        columns: tuple[Column, ...] = self._canonical(trimmed)
        # Every Excel error starts with "#", which a roster otherwise hardly has.
        if "#" in joined and not EXCEL_ERRORS.isdisjoint(itertools.chain.from_iterable(columns)):
            return None
        if any(max(map(len, c)) > limit for c, limit in zip(columns, _LIMITS, strict=True)):
            return None
        return columns

    def _build(
        self,
        numbers: Iterable[int],
        columns: tuple[Column, ...],
        statuses: Iterable[Status | None],
        dates: Iterable[date | None],
        roles: Iterable[str | None],
    ) -> list[RosterRow]:
        ids, names, emails, units, positions, words, _, usernames, _ = columns
        lowered = tuple(map(_lower, emails))
        share = self._lookups.shared.setdefault
        # Positional, in the order of `RosterRow`'s fields: one C loop builds the rows.
        # tests/test_roster_blocks.py compares every field with the row `validate_row` builds.
        return list(
            map(
                RosterRow,
                numbers,
                ids,
                names,
                map(_none_if_empty, lowered, lowered),
                map(share, units, units),
                map(share, positions, positions),
                statuses,
                map(share, words, words),
                dates,
                map(_none_if_empty, usernames, usernames),
                roles,
            )
        )


def _printable(text: str) -> bool:
    """No control character but line breaks and tabs (Alt+Enter in Excel): none of the
    characters `validate_row` reports, nor other invisible ones it is left to look at."""
    return text.isprintable() or text.translate(_LINE_BREAKS).isprintable()


def _undated_departure(statuses: Sequence[Status | None], days: Column) -> bool:
    """A departure or transfer with no date: `validate_row` explains the date is required."""
    if all(days):
        return False
    undated = itertools.compress(statuses, map(operator.not_, days))
    return not DATED_STATUSES.isdisjoint(undated)
