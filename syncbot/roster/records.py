"""What every source hands to validation: raw cell values by field, with their row numbers."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

#: One non-blank row as read, before any value is checked: its row number, the raw cells
#: in `Table.fields` order (text, numbers, dates, None for an absent cell), and each field's
#: column as the file spells it, for problem reports. A plain tuple, not a named one: a
#: source builds one per row of a 100k-row roster, and a named tuple's constructor is a
#: Python call.
Record = tuple[int, tuple[object, ...], Mapping[str, str]]

#: Records a source hands over at a time: enough that validation's cost per block vanishes,
#: few enough that a block validation must take apart costs little.
BLOCK_ROWS = 256


@dataclass(frozen=True, slots=True)
class Table:
    """A source as validation reads it; `missing` fields were already reported for the file.

    `blocks` may be a one-pass iterator that reads the file as it is consumed, so only the
    rows that pass validation stay in memory; a problem found while reading is added as
    its block is read, and an unreadable rest of the file raises from it.
    """

    blocks: Iterable[Sequence[Record]]  # the records, in file order, a block at a time
    fields: tuple[str, ...]  # the field of each value of a record, in order
    missing: frozenset[str]


def blocks_of(records: Iterable[Record]) -> Iterator[list[Record]]:
    """`records` in blocks of `BLOCK_ROWS`, read as each block is wanted."""
    remaining = iter(records)
    while block := list(itertools.islice(remaining, BLOCK_ROWS)):
        yield block


def is_blank(value: object) -> bool:
    """Excel and CSV writers leave cells of only spaces; they hold nothing."""
    return value is None or (isinstance(value, str) and not value.strip())


def all_blank(values: Iterable[object]) -> bool:
    return all(is_blank(v) for v in values)
