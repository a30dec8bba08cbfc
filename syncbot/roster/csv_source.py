"""CSV and tab-separated text as Excel and HR systems write them in Vietnam."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import operator
from collections.abc import Iterator

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
from syncbot.roster.records import Record, Table

DELIMITERS = (",", ";", "\t")

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# A workbook saved with a .csv name is a common slip; its magic bytes say what it is.
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_csv(
    data: bytes,
    names: HeaderNames,
    problems: ProblemList,
    *,
    delimiter: str = "auto",
    encoding: str = "auto",
) -> Table:
    """Read the whole file; raise `RosterError` if it cannot be parsed at all."""
    text = decode(data, encoding, problems)
    if delimiter == "auto":
        delimiter = sniff_delimiter(text)
    header = locate_header(_numbered_rows(text, delimiter, problems), names)
    if header is None:
        raise problems.fail(
            None, None, say("tệp không có dòng tiêu đề", "the file has no header row")
        )
    (header_row, header_cells), rows = header
    layout = resolve_header(header_cells, header_row, names, problems)
    return Table(tuple(_records(rows, layout, problems)), layout.missing)


def decode(data: bytes, encoding: str, problems: ProblemList) -> str:
    """Text of the file: UTF-8 (BOM or not) or BOM-marked UTF-16 unless told otherwise."""
    _reject_workbook(data, problems)
    codec = encoding if encoding != "auto" else _detect_encoding(data)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        raise _undecodable(problems, codec, error) from None
    if "\x00" in text:
        raise problems.fail(
            None,
            None,
            say(
                "tệp chứa ký tự NUL (có thể là UTF-16 không có BOM); "
                "hãy lưu lại dạng 'CSV UTF-8 (Comma delimited)'",
                "the file contains NUL characters (UTF-16 without a BOM?); "
                "save it again as 'CSV UTF-8 (Comma delimited)'",
            ),
        )
    # An explicit utf-8 or utf-16-le leaves the BOM in; it is never part of a header.
    return text.removeprefix("\ufeff")


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
        say(
            f"tệp không đọc được bằng bảng mã {codec} ({where}); trong Excel hãy chọn "
            "Lưu thành (Save As) → 'CSV UTF-8 (Comma delimited) (*.csv)'",
            f"the file is not valid {codec} (at {where}); in Excel use "
            "Save As → 'CSV UTF-8 (Comma delimited) (*.csv)'",
        ),
    )


def _reject_workbook(data: bytes, problems: ProblemList) -> None:
    if data.startswith(_XLSX_MAGIC):
        raise problems.fail(
            None,
            None,
            say(
                "đây là tệp Excel (.xlsx), không phải CSV; hãy đổi đuôi tệp thành .xlsx",
                "this is an Excel workbook (.xlsx), not CSV; name it .xlsx",
            ),
        )
    if data.startswith(_XLS_MAGIC):
        raise problems.fail(
            None,
            None,
            say(
                "đây là tệp Excel 97-2003 (.xls); hãy lưu lại dạng .xlsx hoặc CSV UTF-8",
                "this is an Excel 97-2003 workbook (.xls); save it as .xlsx or CSV UTF-8",
            ),
        )


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header: the one used most in a single leading line, outside quotes.

    Excel writes ';' where the system list separator is ';' and tabs for "Unicode Text".
    Title lines above the header may hold no delimiter at all, so the first lines are
    looked at, not only the first; a plain count is reliable where csv.Sniffer guesses.
    """
    best, best_count = ",", 0
    for line in itertools.islice(_non_blank_lines(text), HEADER_SEARCH_ROWS):
        counts = _unquoted_counts(line)
        for delimiter in DELIMITERS:
            if counts[delimiter] > best_count:
                best, best_count = delimiter, counts[delimiter]
    return best


def _non_blank_lines(text: str) -> Iterator[str]:
    return (line for line in io.StringIO(text) if line.strip())


def _unquoted_counts(line: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts


def _numbered_rows(text: str, delimiter: str, problems: ProblemList) -> Iterator[Row]:
    """Non-blank rows with the row number a spreadsheet shows (a quoted newline is one row)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 0
    try:
        for row, cells in enumerate(reader, start=1):
            if "".join(cells).strip():  # one C call instead of a test per cell
                yield row, cells
    except csv.Error as error:
        raise problems.fail(
            row + 1,
            None,
            say(
                f"lỗi cấu trúc CSV ({error}); kiểm tra dấu ngoặc kép chưa đóng",
                f"malformed CSV ({error}); look for an unclosed double quote",
            ),
        ) from None


def _records(rows: Iterator[Row], layout: Layout, problems: ProblemList) -> Iterator[Record]:
    values_of, columns, width = layout.values_of, layout.columns, layout.width
    fields, reach = layout.fields, layout.reach
    # `Layout.values_of` for a row holding every found field, with the cells picked in C;
    # itemgetter of one index returns the cell itself, not a tuple, so that case is left out.
    pick = operator.itemgetter(*layout.indices) if len(layout.indices) > 1 else None
    for row, cells in rows:
        if len(cells) > width:
            _report_extra_cells(row, len(cells), width, problems)
        elif pick is not None and len(cells) >= reach:
            yield Record(row, dict(zip(fields, pick(cells), strict=True)), columns)
        else:
            yield Record(row, values_of(cells), columns)


def _report_extra_cells(row: int, count: int, width: int, problems: ProblemList) -> None:
    """A row wider than its header: an unquoted delimiter has shifted its cells."""
    problems.add(
        row,
        None,
        say(
            f"dòng có {count} ô nhưng tiêu đề chỉ có {width} cột; "
            "ô chứa dấu phân cách phải được đặt trong ngoặc kép",
            f"the row has {count} cells but the header has {width}; "
            "a cell containing the delimiter must be quoted",
        ),
    )
