"""Making text safe for spreadsheets, which run a cell starting with "=" as a formula."""

from __future__ import annotations

from syncbot.report.table import Cell

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: Cell) -> Cell:
    """Text that a spreadsheet shows as written: account names and errors come from outside.

    A leading apostrophe is the spreadsheet's own "this is text" mark (OWASP's advice
    for CSV injection); numbers are left alone.
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell
