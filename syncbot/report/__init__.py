"""Reports an inspector can attach, built from the audit log: `syncbot report changes`.

`changes_report` turns the log into a `Report` (header facts, tables, charts); the
writers render it as HTML, CSV or XLSX, and `write_report` puts it on disk atomically.
"""

from __future__ import annotations

from syncbot.report.changes import changes_report
from syncbot.report.document import Bar, Chart, ChartShape, Report
from syncbot.report.output import FORMATS, format_for, render, write_report
from syncbot.report.period import DISPLAY_ZONE, Period
from syncbot.report.table import Table

__all__ = [
    "DISPLAY_ZONE",
    "FORMATS",
    "Bar",
    "Chart",
    "ChartShape",
    "Period",
    "Report",
    "Table",
    "changes_report",
    "format_for",
    "render",
    "write_report",
]
