"""CSV and tab-separated text as Excel and HR systems write them in Vietnam."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from syncbot.errors import RosterError
from syncbot.roster.fields import (
    HEADER_SEARCH_ROWS,
    HeaderNames,
    Layout,
    Row,
    locate_header,
    resolve_header,
)
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import BLOCK_ROWS, Record, Table
from syncbot.wording import roster as words

DELIMITERS = (",", ";", "\t")

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# A workbook saved with a .csv name is a common slip; its magic bytes say what it is.
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_strip = str.strip


@dataclass(frozen=True, slots=True)
class CsvShape:
    """How a CSV file was read: what reading a line of its next version the same way takes."""

    codec: str
    delimiter: str
    header_row: int  # the header's row number, title lines above it included
    layout: Layout


def read_csv(
    data: bytes,
    names: HeaderNames,
    problems: ProblemList,
    *,
    delimiter: str = "auto",
    encoding: str = "auto",
) -> tuple[Table, CsvShape]:
    """The file's rows, parsed as validation consumes them, and how they were read;
    `RosterError` if it has no rows.

    The bytes are decoded whole once, so a file in the wrong encoding is one problem before
    any row is looked at. That text is then dropped and the rows are decoded again as they
    are read: the text of a 100k-row roster takes more memory than the rows kept from it.
    """
    codec = encoding if encoding != "auto" else _detect_encoding(data)
    check_text(data, codec, problems)
    if delimiter == "auto":
        delimiter = sniff_delimiter(decoded_lines(data, codec))
    reader = _Reader(decoded_lines(data, codec), delimiter, problems)
    non_blank = filter(_has_text, reader.numbered)
    with reader.errors_reported():
        header = locate_header(non_blank, names)
    if header is None:
        raise problems.fail(None, None, say(*words.NO_HEADER))
    (header_row, header_cells), rows = header
    layout = resolve_header(header_cells, header_row, names, problems)
    if rows is non_blank:
        # The filter holds no row back: read on from the reader itself, a block at a time;
        # `_Blocks` skips blank rows in blocks that have any.
        rows = reader.numbered
    table = Table(_Blocks(layout, problems).read(rows, reader), layout.fields, layout.missing)
    return table, CsvShape(codec, delimiter, header_row, layout)


def records_of(layout: Layout, rows: list[Row], problems: ProblemList) -> list[Record]:
    """The records of parsed rows read with `layout`; a row too wide for it is a problem."""
    return _Blocks(layout, problems).records(rows)


def check_text(data: bytes, codec: str, problems: ProblemList) -> None:
    """Raise unless the file is text in `codec`, explaining a workbook, bad bytes, NULs."""
    _reject_workbook(data, problems)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        raise _undecodable(problems, codec, error) from None
    if _looks_like_utf16(text):
        raise problems.fail(
            None,
            None,
            say(*words.NUL_FILLED),
        )
    # A few NULs in otherwise valid text are stray characters in cells: the row checks
    # name their row and column like any other control character.


def _looks_like_utf16(text: str) -> bool:
    """UTF-16 read as UTF-8 has a NUL beside nearly every Latin letter: a quarter or more."""
    nuls = text.count("\x00")
    return nuls > 0 and nuls * 4 >= len(text)


def decoded_lines(data: bytes, codec: str) -> Iterator[str]:
    """The lines `check_text` read, decoded again as they are wanted (it checked them)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline="")
    # An explicit utf-8 or utf-16-le leaves the BOM in; it is never part of a header.
    first = stream.readline().removeprefix("\ufeff")
    return itertools.chain((first,) if first else (), stream)


def _detect_encoding(data: bytes) -> str:
    if data.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if data.startswith(_UTF16_BOMS):
        return "utf-16"  # reads the BOM for byte order and drops it
    return "utf-8"


def _undecodable(problems: ProblemList, codec: str, error: UnicodeDecodeError) -> RosterError:
    where = f"byte {error.start}"
    return problems.fail(
        None,
        None,
        say(*words.bad_encoding(codec, where)),
    )


def _reject_workbook(data: bytes, problems: ProblemList) -> None:
    if data.startswith(_XLSX_MAGIC):
        raise problems.fail(
            None,
            None,
            say(*words.XLSX_AS_CSV),
        )
    if data.startswith(_XLS_MAGIC):
        raise problems.fail(
            None,
            None,
            say(*words.XLS_AS_CSV),
        )


def sniff_delimiter(lines: Iterable[str]) -> str:
    """The delimiter of the header: the one used most in a single leading line, outside quotes.

    Excel writes ';' where the system list separator is ';' and tabs for "Unicode Text".
    Title lines above the header may hold no delimiter at all, so the first lines are
    looked at, not only the first; a plain count is reliable where csv.Sniffer guesses.
    """
    best, best_count = ",", 0
    for line in itertools.islice(filter(str.strip, lines), HEADER_SEARCH_ROWS):
        counts = _unquoted_counts(line)
        for delimiter in DELIMITERS:
            if counts[delimiter] > best_count:
                best, best_count = delimiter, counts[delimiter]
    return best


def _unquoted_counts(line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts


class _Reader:
    """The file's rows with the row number a spreadsheet shows (a quoted newline is one row)."""

    __slots__ = ("_count", "_problems", "numbered")

    def __init__(self, lines: Iterator[str], delimiter: str, problems: ProblemList) -> None:
        self._count = itertools.count(1)
        # zip takes the number before it reads the row, so after a failed read `_count`
        # is one past the number of the row that failed.
        rows = csv.reader(lines, delimiter=delimiter, strict=True)
        self.numbered: Iterator[Row] = zip(self._count, rows, strict=False)  # count is endless
        self._problems = problems

    @contextlib.contextmanager
    def errors_reported(self) -> Iterator[None]:
        """Reading the rows; a malformed row ends the file, as a problem on its row."""
        try:
            yield
        except csv.Error as error:
            raise self._problems.fail(
                next(self._count) - 1,
                None,
                say(*words.malformed_csv(error)),
            ) from None


def _has_text(row: Row) -> bool:
    _, cells = row
    return bool("".join(cells).strip())  # type: ignore[arg-type]  # csv cells are str


class _Blocks:
    """A layout's records, a block of rows at a time."""

    __slots__ = ("_first", "_layout", "_pick", "_problems")

    def __init__(self, layout: Layout, problems: ProblemList) -> None:
        self._layout = layout
        self._problems = problems
        # itemgetter of one index returns the cell itself, not a tuple: that layout and
        # one with no field at all go row by row.
        found = len(layout.indices) > 1
        self._pick = operator.itemgetter(*layout.indices) if found else None
        self._first = operator.itemgetter(layout.indices[0]) if found else None

    def read(self, rows: Iterator[Row], reader: _Reader) -> Iterator[list[Record]]:
        while True:
            with reader.errors_reported():
                block = list(itertools.islice(rows, BLOCK_ROWS))
            if not block:
                return
            yield self.records(block)

    def records(self, block: list[Row]) -> list[Record]:
        return self._plain(block) or self._one_by_one(block)

    def _plain(self, block: list[Row]) -> list[Record] | None:
        """The records of a block of plain rows, picked in C; None if a row is not plain.

        A plain row has a cell for every found field, no more cells than the header, and
        text in its first field (so it is not blank).
        """
        if self._pick is None or self._first is None:
            return None
        numbers, cells = zip(*block, strict=True)
        lengths = set(map(len, cells))
        if min(lengths) < self._layout.reach or max(lengths) > self._layout.width:
            return None
        if not all(map(_strip, map(self._first, cells))):
            return None
        return list(zip(numbers, map(self._pick, cells), itertools.repeat(self._layout.columns)))

    def _one_by_one(self, block: list[Row]) -> list[Record]:
        layout = self._layout
        records: list[Record] = []
        for row, cells in filter(_has_text, block):
            if len(cells) > layout.width:
                _report_extra_cells(row, len(cells), layout.width, self._problems)
            else:
                records.append((row, layout.values_of(cells), layout.columns))
        return records


def _report_extra_cells(row: int, count: int, width: int, problems: ProblemList) -> None:
    """A row wider than its header: an unquoted delimiter has shifted its cells."""
    problems.add(
        row,
        None,
        say(*words.extra_cells(count, width)),
    )
