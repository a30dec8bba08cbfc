"""Checking one record cell by cell, reporting every problem with its row and column.

This is the path of any row `validate_block` does not vouch for: cells that are numbers or dates,
empty required cells, unknown words, bad dates, untrimmed or decomposed text. It is written
to explain, not to be fast.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from typing import NamedTuple

from syncbot.model import RosterRow, Status
from syncbot.roster.dates import DateProblem, parse_date
from syncbot.roster.lookups import Lookups
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import Record
from syncbot.roster.values import EXCEL_ERRORS, ValueProblem, cell_text, identifier_text, is_email
from syncbot.wording import roster as words

#: Values that must not be empty; `position` and `email` may be, `effective_date` depends.
REQUIRED_VALUES = ("employee_id", "full_name", "unit", "status")
# Longer than any real name, unit or id: such a cell is a broken export or an attack, and
# directory servers and Keycloak would refuse or truncate it halfway through a run.
MAX_LENGTH = {"employee_id": 64, "email": 254, "username": 128}
DEFAULT_MAX_LENGTH = 256
# A row whose cells are all this short needs no length check field by field.
_SHORTEST_LIMIT = min(*MAX_LENGTH.values(), DEFAULT_MAX_LENGTH)
# Line breaks and tabs occur in real cells (Alt+Enter in Excel) and fold away as spaces.
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F)) - {"\t", "\n", "\r"}

#: A departure or transfer without a date cannot be scheduled, only guessed.
DATED_STATUSES = frozenset({Status.DEPARTED, Status.TRANSFERRED})

_normalize = unicodedata.normalize


class _Cells(NamedTuple):
    """A record as this path reads it: cells by field name."""

    row: int
    values: Mapping[str, object]
    columns: Mapping[str, str]


class RowChecker:
    """Checks one record, adding a problem for each bad field."""

    __slots__ = ("_fields", "_lookups", "_missing", "_problems")

    def __init__(
        self,
        lookups: Lookups,
        fields: Sequence[str],
        missing: frozenset[str],
        problems: ProblemList,
    ) -> None:
        self._lookups = lookups
        self._fields = fields  # the field of each value of a record
        # Columns reported missing once for the file are not reported again on every row.
        self._missing = missing
        self._problems = problems

    def check(self, record: Record) -> tuple[str, RosterRow | None]:
        """The record's employee id (for duplicate checks) and its row, None if invalid."""
        row, values, columns = record
        return self._check(_Cells(row, dict(zip(self._fields, values, strict=True)), columns))

    def _check(self, record: _Cells) -> tuple[str, RosterRow | None]:
        before = len(self._problems.items)
        texts = self._texts(record)
        if not EXCEL_ERRORS.isdisjoint(texts.values()):
            self._report_excel_errors(record, texts)
        self._report_unsafe(record, texts)
        for name in REQUIRED_VALUES:
            if not texts.get(name, ""):
                self._report_empty(record, name, texts)
        employee_id = texts.get("employee_id") or ""
        email = self._email(record, texts.get("email") or "")
        status_word = texts.get("status") or ""
        status = self._status(record, status_word)
        effective_date = (
            self._effective_date(record, status)
            if texts.get("effective_date", "") is not None
            else None
        )
        role = self._role(record, texts.get("role") or "")
        if len(self._problems.items) > before or status is None:
            return employee_id, None
        share = self._lookups.share
        return employee_id, RosterRow(
            row=record.row,
            employee_id=employee_id,
            full_name=texts.get("full_name") or "",
            email=email or None,
            unit=share(texts.get("unit") or ""),
            position=share(texts.get("position") or ""),
            status=status,
            status_word=share(status_word),
            effective_date=effective_date,
            username=texts.get("username") or None,
            role=role,
        )

    def _texts(self, record: _Cells) -> dict[str, str | None]:
        """NFC, trimmed text of the cells; None marks a bad cell, already reported.

        A date cell that is not text is left out: it is the date parser's to read.
        """
        values = record.values
        try:
            # Every cell of a CSV row is a string: one comprehension does the whole row.
            # `syncbot.match_keys.nfc` is inlined because this runs for every cell of the roster.
            return {
                name: _normalize("NFC", value).strip()  # type: ignore[arg-type]
                for name, value in values.items()
            }
        except TypeError:
            pass  # a number, a date or an empty cell: check cell by cell
        texts: dict[str, str | None] = {}
        for name, value in values.items():
            if type(value) is str:
                texts[name] = _normalize("NFC", value).strip()
            elif name != "effective_date":
                texts[name] = self._convert(record, name, value)
        return texts

    def _report_excel_errors(self, record: _Cells, texts: dict[str, str | None]) -> None:
        for name, text in texts.items():
            if text in EXCEL_ERRORS:
                self._add(
                    record,
                    name,
                    *words.excel_error(text),
                )
                texts[name] = None  # reported: not "empty" or "unknown" as well

    def _convert(self, record: _Cells, name: str, value: object) -> str | None:
        read = identifier_text if name == "employee_id" else cell_text
        try:
            return read(value)
        except ValueProblem as problem:
            self._add(record, name, problem.vi, problem.en)
            return None

    def _add(
        self, record: _Cells, name: str, vi: str, en: str, options: list[str] | None = None
    ) -> None:
        column = record.columns.get(name, name)
        self._problems.add(record.row, column, say(vi, en, options))

    def _report_unsafe(self, record: _Cells, texts: dict[str, str | None]) -> None:
        """Control characters and absurd lengths: never valid in a name, an id or a unit."""
        present = list(filter(None, texts.values()))
        # The usual row, checked in two C calls: a printable string has no control
        # character, and no cell is longer than the smallest limit.
        if "".join(present).isprintable() and max(map(len, present), default=0) <= _SHORTEST_LIMIT:
            return
        for name, text in texts.items():
            if not text:
                continue
            if not _CONTROL.isdisjoint(text):
                self._add(
                    record,
                    name,
                    *words.CONTROL_CHARACTER,
                )
            limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
            if len(text) > limit:
                self._add(
                    record,
                    name,
                    *words.too_long(len(text), limit),
                )

    def _report_empty(self, record: _Cells, name: str, texts: dict[str, str | None]) -> None:
        if name in self._missing or (name in texts and texts[name] is None):
            return  # the column or the cell is already reported
        column = record.columns.get(name, name)
        self._add(record, name, *words.empty_cell(column))

    def _email(self, record: _Cells, written: str) -> str:
        if written and not is_email(written):
            self._add(
                record,
                "email",
                *words.bad_email(written),
            )
        return written.lower()

    def _status(self, record: _Cells, word: str) -> Status | None:
        if not word:
            return None
        status = self._lookups.statuses(word)
        if status is None:
            self._add(
                record,
                "status",
                *words.unknown_status(word),
                sorted(self._lookups.vocabulary.statuses),
            )
        return status

    def _effective_date(self, record: _Cells, status: Status | None) -> date | None:
        value = record.values.get("effective_date")
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if status in DATED_STATUSES and "effective_date" not in self._missing:
                column = record.columns.get("effective_date", "effective_date")
                self._add(
                    record,
                    "effective_date",
                    *words.date_required(column),
                )
            return None
        try:
            return parse_date(value)
        except DateProblem as problem:
            self._add(record, "effective_date", problem.vi, problem.en)
            return None

    def _role(self, record: _Cells, word: str) -> str | None:
        if not word:
            return None
        role = self._lookups.roles(word)
        if role is None:
            self._add(
                record,
                "role",
                *words.unknown_role(word),
                sorted(set(self._lookups.vocabulary.roles.values())),
            )
        return role
