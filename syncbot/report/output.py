"""Rendering a report in a format and writing it whole, or not at all."""

from __future__ import annotations

from pathlib import Path

from syncbot.durable import replace_file
from syncbot.report.csv_writer import render_csv
from syncbot.report.document import Report
from syncbot.report.html_writer import render_html
from syncbot.report.xlsx_writer import render_xlsx

FORMATS = ("html", "csv", "xlsx")
_SUFFIXES = {".html": "html", ".htm": "html", ".csv": "csv", ".xlsx": "xlsx"}


def format_for(out: Path | None, requested: str | None) -> str:
    """The asked-for format, else the one the output's extension names, else HTML."""
    if requested is not None:
        if requested not in FORMATS:
            raise ValueError(f"unknown format {requested!r}; use one of {', '.join(FORMATS)}")
        return requested
    if out is not None:
        return _SUFFIXES.get(out.suffix.lower(), "html")
    return "html"


def render(report: Report, fmt: str) -> bytes:
    if fmt == "html":
        return render_html(report).encode("utf-8")
    if fmt == "csv":
        return render_csv(report).encode("utf-8")
    if fmt == "xlsx":
        return render_xlsx(report)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


#: A report names staff and accounts: not for every local user, but for the inspectors'
#: group, who read it as they read the audit log.
REPORT_MODE = 0o640


def write_report(report: Report, fmt: str, out: Path) -> None:
    """Write through a temporary file and rename, so a reader never sees half a report."""
    data = render(report, fmt)
    # `--out reports/2026/x.html` as typed: the folders are the person's, with their umask.
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_file(out, data, REPORT_MODE)
