"""CSV for Excel: UTF-8 with a BOM (so Vietnamese opens right), comma-separated, one file.

The tables follow one another, each under its title line and separated by an empty row,
after the report's title, warning and header facts.
"""

from __future__ import annotations

import csv
import io

from syncbot.report.cells import inert
from syncbot.report.document import Report

BOM = "\ufeff"


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow([report.title])
    if report.warning:
        out.writerow([inert(report.warning)])
    out.writerows([label, inert(value)] for label, value in report.facts)
    if report.note:
        out.writerow([report.note])
    for table in report.tables:
        out.writerow([])
        out.writerow([table.title])
        out.writerow(table.columns)
        out.writerows([inert(cell) for cell in row] for row in table.rows)
    return BOM + buffer.getvalue()
