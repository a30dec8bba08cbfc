"""A new version of a CSV export, read from the lines that differ from the last one.

HR's tools write the whole export for every change: the file saying ten people left is
100,000 lines of which ten differ from the last version. Parsing and checking every line
is most of a file drop's latency at a province's size, yet a line with the same bytes,
under the same header, options and vocabulary, makes the same row, only perhaps at
another row number when lines were added or removed above it.

Only files where a line is a row qualify: UTF-8, no NUL, no carriage return but before a
line feed (`_plain`), and no quoted cell holding a line break (`_a_row_a_line`). A line
that parses alone into one record does so wherever it sits, so a line of the last version
needs no second look, and a changed line is parsed with the other changed lines: one
left inside quotes takes the next one with it, or ends the data, and the count of
records tells. Anything this module is not sure of in a new version — a problem in a
changed line, a repeated id, another header, more changed lines than unchanged ones —
is left to the full read, which reports every problem as it always does.
"""

from __future__ import annotations

import codecs
import csv
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from syncbot.model import ROW_CONTENT, RosterRow, Vocabulary
from syncbot.roster.csv_source import CsvShape, decoded_lines, records_of, sniff_delimiter
from syncbot.roster.fields import Row
from syncbot.roster.limits import RosterLimits
from syncbot.roster.problems import ProblemList
from syncbot.roster.records import Table
from syncbot.roster.validate import validate

_UTF8 = frozenset({"utf-8", "utf-8-sig"})

_id_key = operator.attrgetter("employee_id")


@dataclass(frozen=True, slots=True)
class PlainLines:
    """The rows of a CSV export with a row a line, by the bytes of their line, and how the
    file was read."""

    head: bytes  # the file's bytes through the header line's line feed
    shape: CsvShape
    rows: Mapping[bytes, RosterRow]

    @classmethod
    def of(cls, data: bytes, shape: CsvShape, rows: Sequence[RosterRow]) -> PlainLines | None:
        """The lines of a file validated whole into `rows`; None unless each is a row."""
        if not _plain(data, shape.codec):
            return None
        lines = data.split(b"\n")
        head = b"\n".join(lines[: shape.header_row]) + b"\n"
        if not data.startswith(head):
            return None  # the header is the last line and has no line feed
        if not _a_row_a_line(lines, shape.delimiter):
            return None
        return cls(head, shape, {lines[row.row - 1]: row for row in rows})

    def reread(
        self, data: bytes, vocabulary: Vocabulary, limits: RosterLimits, *, sniff: bool
    ) -> tuple[tuple[RosterRow, ...], PlainLines] | None:
        """The rows of `data`, a new version of the file, and its lines for the next one;
        None when only a full read can say.

        `vocabulary` and `limits` are those the last version was read with; `sniff` says
        the delimiter was found by looking, so it is looked for again.
        """
        shape = self.shape
        if not data.startswith(self.head) or not _plain(data, shape.codec):
            return None
        lines = data[len(self.head) :].split(b"\n")
        known = list(map(self.rows.get, lines))
        changed = [index for index, row in enumerate(known) if row is None]
        if len(changed) * 2 > len(lines):
            return None  # mostly new: the full read is as quick
        fresh = self._read_changed(lines, changed, vocabulary)
        if fresh is None:
            return None
        # Only now is every line known to decode: the changed ones just did.
        if sniff and sniff_delimiter(decoded_lines(data, shape.codec)) != shape.delimiter:
            return None  # a changed line near the top now outnumbers the header's delimiter
        first = shape.header_row + 1
        rows: list[RosterRow] = []
        kept: list[bytes] = []
        for index, (line, row) in enumerate(zip(lines, known, strict=True)):
            if row is None:
                row = fresh.get(first + index)
                if row is None:
                    continue  # a blank line
            elif row.row != first + index:
                row = RosterRow(first + index, *ROW_CONTENT(row))
            rows.append(row)
            kept.append(line)
        if len(rows) > limits.max_rows or not _unique_ids(rows):
            return None
        return tuple(rows), PlainLines(self.head, shape, dict(zip(kept, rows, strict=True)))

    def _read_changed(
        self, lines: Sequence[bytes], changed: Sequence[int], vocabulary: Vocabulary
    ) -> dict[int, RosterRow] | None:
        """The valid rows of the changed lines by row number; None if any has a problem."""
        first = self.shape.header_row + 1
        try:
            texts = [lines[index].decode("utf-8") for index in changed]
            parsed: list[Row] = [
                (first + index, cells)
                for index, cells in zip(
                    changed,
                    csv.reader(texts, delimiter=self.shape.delimiter, strict=True),
                    strict=True,
                )
            ]
        except (csv.Error, ValueError):  # undecodable, malformed, or not a row a line
            return None
        layout = self.shape.layout
        problems = ProblemList("")
        records = records_of(layout, parsed, problems)
        rows = validate(Table((records,), layout.fields, layout.missing), vocabulary, problems)
        if problems.items:
            return None
        return {row.row: row for row in rows}


def _plain(data: bytes, codec: str) -> bool:
    """Whether each line of `data` decodes alone and ends where the csv reader ends one."""
    return (
        codecs.lookup(codec).name in _UTF8
        and b"\x00" not in data
        and data.count(b"\r") == data.count(b"\r\n")
    )


def _a_row_a_line(lines: Sequence[bytes], delimiter: str) -> bool:
    """Whether no quoted cell runs past the end of its line: read one after the other,
    the lines holding a quote character are as many records as lines."""
    quoted = [line for line in lines if b'"' in line]
    if not quoted:
        return True
    try:
        reader = csv.reader(map(bytes.decode, quoted), delimiter=delimiter, strict=True)
        records = sum(1 for _ in reader)
    except (csv.Error, UnicodeDecodeError):
        return False
    return records == reader.line_num == len(quoted)


def _unique_ids(rows: Sequence[RosterRow]) -> bool:
    """No employee id twice, as validation compares them (casefolded)."""
    return len(set(map(str.casefold, map(_id_key, rows)))) == len(rows)
