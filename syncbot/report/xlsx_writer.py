"""XLSX: one sheet per table, each with the report title, bold header and frozen panes."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from syncbot.report.cells import inert
from syncbot.report.document import Report
from syncbot.report.table import Table

_TITLE = Font(bold=True, size=14)
_WARNING = Font(bold=True, color="B71C1C")
_HEADER = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="E8EEF6")
_FAILED_FILL = PatternFill("solid", fgColor="FDECEA")
_SHEET_NAME_CHARS = 31
_FORBIDDEN_IN_SHEET_NAMES = str.maketrans({c: " " for c in "[]:*?/\\"})


def render_xlsx(report: Report) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for table in report.tables:
        _sheet(book, report, table)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet(book: Workbook, report: Report, table: Table) -> None:
    sheet = book.create_sheet(_sheet_name(table.title))
    sheet.append([report.title])
    sheet["A1"].font = _TITLE
    lines = [report.warning] if report.warning else []
    lines += [f"{label}: {value}" for label, value in report.facts]
    if report.note:
        lines.append(report.note)
    for text in lines:
        sheet.append([_text(inert(text))])
    if report.warning:
        sheet["A2"].font = _WARNING
    sheet.append([])
    sheet.append([_text(table.title)])
    sheet.cell(sheet.max_row, 1).font = _HEADER
    sheet.append(list(table.columns))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = _HEADER
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, row in enumerate(table.rows):
        sheet.append([_text(inert(cell)) if isinstance(cell, str) else cell for cell in row])
        if index in table.flagged:
            for cell in sheet[sheet.max_row]:
                cell.fill = _FAILED_FILL
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)
    if table.rows:
        # Lists of accounts are read by unit or by system: a filter on every heading.
        last = get_column_letter(len(table.columns))
        sheet.auto_filter.ref = f"A{header_row}:{last}{sheet.max_row}"
    widths = table.widths or tuple(max(12, len(c) + 2) for c in table.columns)
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width


def _text(value: object) -> str:
    """A str cell; openpyxl would otherwise read a leading "=" as a formula."""
    return str(value)


def _sheet_name(title: str) -> str:
    return title.translate(_FORBIDDEN_IN_SHEET_NAMES).strip()[:_SHEET_NAME_CHARS] or "Sheet"
