"""One self-contained HTML page: inline CSS and SVG, no script, no fonts or files to fetch."""

from __future__ import annotations

from collections import Counter
from html import escape

from syncbot.report.charts import render_svg
from syncbot.report.document import Report
from syncbot.report.table import Cell, Table

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans",
       "DejaVu Sans", Arial, sans-serif; color: #1a1a1a; margin: 24px; font-size: 14px; }
h1 { font-size: 24px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #1565c0; padding-bottom: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { font-weight: 600; color: #444; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.warning { background: #fdecea; border: 2px solid #c62828; color: #8e1111; font-weight: 700;
           font-size: 16px; padding: 12px 16px; margin: 0 0 16px; }
.note { background: #eef4fb; border-left: 4px solid #1565c0; padding: 8px 12px; margin: 16px 0; }
.charts { margin-top: 20px; display: flex; flex-wrap: wrap; gap: 16px 32px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
table { border-collapse: collapse; }
table.wide { width: 100%; }
table.summary td.num, table.summary th + th { min-width: 7em; }
th, td { border: 1px solid #c8c8c8; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #e8eef6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #fff3f3; }
tr.group th { background: #f3f6fa; font-size: 15px; padding-top: 8px; }
@media print { .charts { break-inside: avoid; } h2 { break-after: avoid; } }
"""


def render_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(report.lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>",
    ]
    if report.warning:
        parts.append(f'<div class="warning" role="alert">⚠ {escape(report.warning)}</div>')
    parts.append(f"<h1>{escape(report.title)}</h1>")
    parts.append('<dl class="facts">')
    parts.extend(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in report.facts)
    parts.append("</dl>")
    if report.note:
        parts.append(f'<p class="note">{escape(report.note)}</p>')
    if report.charts:
        parts.append('<div class="charts">')
        parts.extend(
            f"<figure><figcaption>{escape(c.title)}</figcaption>{render_svg(c)}</figure>"
            for c in report.charts
        )
        parts.append("</div>")
    # The changes table needs the page's width; the summaries read better compact.
    parts.extend(_table(table, wide=n == 0) for n, table in enumerate(report.tables))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(table: Table, *, wide: bool) -> str:
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in table.columns)
    rows = []
    group_sizes = _group_sizes(table)
    previous: Cell | None = None
    for index, row in enumerate(table.rows):
        if table.group_column is not None and (index == 0 or row[table.group_column] != previous):
            previous = row[table.group_column]
            rows.append(_group_heading(table, previous, group_sizes[previous]))
        cells = "".join(_cell(cell) for cell in row)
        flagged = index in table.flagged
        rows.append(f'<tr class="failed">{cells}</tr>' if flagged else f"<tr>{cells}</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(table.columns)}">—</td></tr>')
    return (
        f'<section><h2>{escape(table.title)}</h2><table class="{"wide" if wide else "summary"}">'
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _group_sizes(table: Table) -> Counter[Cell]:
    if table.group_column is None:
        return Counter()
    return Counter(row[table.group_column] for row in table.rows)


def _group_heading(table: Table, value: Cell, size: int) -> str:
    """The unit's name above its accounts, as the appendices print it, with how many."""
    return (
        f'<tr class="group"><th scope="rowgroup" colspan="{len(table.columns)}">'
        f"{escape(str(value))} ({size})</th></tr>"
    )


def _cell(cell: Cell) -> str:
    if isinstance(cell, int):
        return f'<td class="num">{cell}</td>'
    return f"<td>{escape(cell)}</td>"
