"""Excel workbooks (.xlsx), read as the values Excel last showed, with real sheet row numbers."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

from syncbot.errors import RosterError
from syncbot.match_keys import fold
from syncbot.roster.fields import HeaderNames, Layout, Row, locate_header, resolve_header
from syncbot.roster.limits import DEFAULT_LIMITS, RosterLimits, check_workbook
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import Record, Table, all_blank, blocks_of
from syncbot.wording import roster as words


def read_xlsx(
    data: bytes,
    names: HeaderNames,
    problems: ProblemList,
    *,
    sheet: str | None = None,
    limits: RosterLimits = DEFAULT_LIMITS,
) -> Table:
    """One sheet, its rows read as validation consumes them.

    The header is the sheet's first row naming fields, below any titles. The workbook stays
    open until the last row is read, and closes then (or as soon as the header fails).
    What the zip says it unpacks to is checked against `limits` before openpyxl sees it.
    """
    check_workbook(data, problems, limits)
    workbook = _open(data, problems)
    with contextlib.ExitStack() as on_failure:
        on_failure.callback(workbook.close)
        with _damage_reported(problems):
            worksheet = _select_sheet(workbook, sheet, problems)
            # Dimensions written by some exporters are wrong; trusting them would cut rows off.
            worksheet.reset_dimensions()
            header = locate_header(_numbered_rows(worksheet), names)
            if header is None:
                raise _empty(worksheet, problems)
            (header_row, header_cells), rows = header
            layout = resolve_header(header_cells, header_row, names, problems)
        on_failure.pop_all()  # from here on the records close it
    records = _records(rows, layout, workbook, problems)
    return Table(blocks_of(records), layout.fields, layout.missing)


@contextlib.contextmanager
def _damage_reported(problems: ProblemList) -> Iterator[None]:
    """A damaged sheet fails in many ways inside openpyxl, at the top or further down."""
    try:
        yield
    except RosterError:
        raise
    except Exception as error:
        raise _corrupt(problems, error) from None


def _open(data: bytes, problems: ProblemList) -> Any:
    # Imported here, not at the top: the roster package is also loaded by commands that
    # never read a workbook (`syncbot status` reads the pushed rows), and openpyxl is slow
    # to import.
    import openpyxl

    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it does not read (validation, styles): noise here.
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # not a zip, not a workbook, damaged XML: all one answer
        raise _corrupt(problems, error) from None


def _corrupt(problems: ProblemList, error: Exception) -> RosterError:
    return problems.fail(
        None,
        None,
        say(*words.corrupt_xlsx(type(error).__name__)),
    )


def _select_sheet(workbook: Any, sheet: str | None, problems: ProblemList) -> Any:
    worksheets = list(workbook.worksheets)
    found = _find_sheet(worksheets, sheet)
    if found is not None:
        return found
    raise problems.fail(
        None,
        None,
        say(*words.no_sheet(sheet), [ws.title for ws in worksheets] if sheet else None),
    )


def _find_sheet(worksheets: list[Any], sheet: str | None) -> Any:
    """The named sheet, matched exactly first, then ignoring case and spacing."""
    if sheet is None:
        return worksheets[0] if worksheets else None
    for worksheet in worksheets:
        if worksheet.title == sheet:
            return worksheet
    wanted = fold(sheet)
    return next((ws for ws in worksheets if fold(ws.title) == wanted), None)


def _empty(worksheet: Any, problems: ProblemList) -> RosterError:
    return problems.fail(
        None,
        None,
        say(*words.empty_sheet(worksheet.title)),
    )


def _records(
    rows: Iterator[Row], layout: Layout, workbook: Any, problems: ProblemList
) -> Iterator[Record]:
    columns, values_of = layout.columns, layout.values_of
    with contextlib.closing(workbook), _damage_reported(problems):
        for row, cells in rows:
            yield row, values_of(cells), columns


def _numbered_rows(worksheet: Any) -> Iterator[Row]:
    """Non-blank rows with their sheet row numbers (openpyxl fills in rows the file skips)."""
    cells_by_row = worksheet.iter_rows(min_row=1, min_col=1, values_only=True)
    for row, cells in enumerate(cells_by_row, start=1):
        if not all_blank(cells):
            yield row, cells
