"""What every source hands to validation: raw cell values by field, with their row numbers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple


class Record(NamedTuple):
    """One non-blank row as read, before any value is checked.

    `values` holds cell values as the source produced them (text, numbers, dates, None);
    `columns` names each field's column as the file spells it, for problem reports.
    A named tuple rather than a frozen dataclass: it is built once per row, and a
    frozen dataclass costs a `object.__setattr__` call per field.
    """

    row: int
    values: Mapping[str, object]
    columns: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    """A source read whole; `missing` fields were already reported once for the file."""

    records: tuple[Record, ...]
    missing: frozenset[str]


def is_blank(value: object) -> bool:
    """Excel and CSV writers leave cells of only spaces; they hold nothing."""
    return value is None or (isinstance(value, str) and not value.strip())


def all_blank(values: Iterable[object]) -> bool:
    return all(is_blank(v) for v in values)
