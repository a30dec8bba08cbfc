"""Checking raw records against the rules of a roster and turning them into `RosterRow`s."""

from __future__ import annotations

import operator
from collections.abc import Sequence

from syncbot.model import RosterRow, Vocabulary
from syncbot.roster.lookups import Lookups
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import Record, Table
from syncbot.roster.validate_block import Batch
from syncbot.roster.validate_row import RowChecker
from syncbot.wording import roster as words

# A refused block this small is checked row by row rather than split again.
_SPLIT_FLOOR = 4

_employee_id = operator.attrgetter("employee_id")
_row_number = operator.attrgetter("row")


def validate(table: Table, vocabulary: Vocabulary, problems: ProblemList) -> tuple[RosterRow, ...]:
    """Every valid row, in file order; problems of the others go to `problems`.

    Records are checked a block at a time as the source reads them, so only `RosterRow`s
    accumulate. A row with a problem is left out, but the caller raises as soon as there
    is any problem, so no partial roster ever leaves this package.
    """
    lookups = Lookups.of(vocabulary)
    validation = _Validation(
        Batch(lookups, table.fields),
        RowChecker(lookups, table.fields, table.missing, problems),
        problems,
    )
    for block in table.blocks:
        if block:
            validation.check(block)
    rows = validation.rows
    del validation  # its ids by row, as large as the rows list, go before the copy below
    return tuple(rows)


class _Validation:
    """The rows accepted so far and the employee ids they took."""

    __slots__ = ("_batch", "_checker", "_first_row_of", "_problems", "rows")

    def __init__(self, batch: Batch, checker: RowChecker, problems: ProblemList) -> None:
        self._batch = batch
        self._checker = checker
        self._problems = problems
        self._first_row_of: dict[str, int] = {}  # casefolded employee id -> row
        self.rows: list[RosterRow] = []

    def check(self, records: Sequence[Record]) -> None:
        """Check a block whole; a refused block is halved until its rows are checked alone.

        Halves are checked in order, so problems are still reported row after row.
        """
        rows = self._batch.rows(records)
        if rows is not None and self._take_ids(rows):
            self.rows.extend(rows)
        elif len(records) <= _SPLIT_FLOOR:
            for record in records:
                self._check_one(record)
        else:
            middle = len(records) // 2
            self.check(records[:middle])
            self.check(records[middle:])

    def _take_ids(self, rows: Sequence[RosterRow]) -> bool:
        """Record the rows' employee ids, unless one is repeated (then none is recorded)."""
        ids = tuple(map(_employee_id, rows))
        keys = tuple(map(str.casefold, ids))
        if keys == ids:
            keys = ids  # most ids casefold to themselves: keep the rows' strings, not copies
        taken = dict(zip(keys, map(_row_number, rows), strict=True))
        if len(taken) < len(keys) or not self._first_row_of.keys().isdisjoint(taken):
            return False
        self._first_row_of.update(taken)
        return True

    def _check_one(self, record: Record) -> None:
        employee_id, row = self._checker.check(record)
        if employee_id:
            key = employee_id.casefold()
            earlier = self._first_row_of.setdefault(key, record[0])
            if earlier != record[0]:
                _report_duplicate(record, employee_id, earlier, self._problems)
                return
        if row is not None:
            self.rows.append(row)


def _report_duplicate(
    record: Record, employee_id: str, earlier: int, problems: ProblemList
) -> None:
    row, _, columns = record
    problems.add(
        row,
        columns.get("employee_id", "employee_id"),
        say(*words.duplicate_id(employee_id, problems.label(earlier))),
    )
