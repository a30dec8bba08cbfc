"""Charts as inline SVG drawn here: the page must open offline, with no script at all."""

from __future__ import annotations

from html import escape

from syncbot.report.document import Chart, ChartShape

WIDTH = 560
_LABEL_WIDTH = 200
_ROW = 28
_PAD = 12
_COLUMN_AREA = 180
_MAX_X_LABELS = 10
_SEGMENT_LABEL_ROOM = 24  # pixels a segment needs before its count fits inside it
_LEGEND_CHAR = 7  # rough width of one character of the legend, to space the entries
_LABEL_CHARS = 27  # what fits left of the bars at font-size 13; longer labels are shortened


def render_svg(chart: Chart) -> str:
    if chart.shape is ChartShape.BARS:
        return _bars(chart)
    if chart.shape is ChartShape.STACKED:
        return _stacked(chart)
    return _columns(chart)


def _bars(chart: Chart) -> str:
    """Horizontal bars: category labels on the left, read like the summary table."""
    height = _PAD * 2 + _ROW * max(len(chart.bars), 1)
    top = max((bar.value for bar in chart.bars), default=0) or 1
    room = WIDTH - _LABEL_WIDTH - 60
    parts = [_open(chart.title, height)]
    for n, bar in enumerate(chart.bars):
        y = _PAD + n * _ROW
        length = round(room * bar.value / top)
        label = _fit(bar.label)
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end">{label}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 4}" width="{max(length, 1)}" height="{_ROW - 8}" '
            f'fill="{escape(bar.colour)}" rx="2"/>'
            f'<text x="{_LABEL_WIDTH + length + 6}" y="{y + 18}">{bar.value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _stacked(chart: Chart) -> str:
    """Horizontal bars split by series, on one scale, so units of different sizes compare;
    a segment wide enough carries its own count, and the total follows the bar."""
    legend_height = _ROW
    height = legend_height + _PAD * 2 + _ROW * max(len(chart.bars), 1)
    top = max((sum(bar.parts) for bar in chart.bars), default=0) or 1
    room = WIDTH - _LABEL_WIDTH - 60
    parts = [_open(chart.title, height), _legend(chart)]
    for n, bar in enumerate(chart.bars):
        y = legend_height + _PAD + n * _ROW
        label = _fit(bar.label)
        parts.append(f'<text x="{_LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end">{label}</text>')
        x = float(_LABEL_WIDTH)
        for series, value in zip(chart.series, bar.parts, strict=False):
            width = room * value / top
            if value:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{_ROW - 8}" '
                    f'fill="{escape(series.colour)}"><title>{escape(bar.label)} – '
                    f"{escape(series.name)}: {value}</title></rect>"
                )
            if width >= _SEGMENT_LABEL_ROOM:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{y + 18}" text-anchor="middle" '
                    f'fill="#fff" font-size="12">{value}</text>'
                )
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 18}">{sum(bar.parts)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fit(label: str) -> str:
    """A category label that fits left of the bars; the whole one shows on hover."""
    if len(label) <= _LABEL_CHARS:
        return escape(label)
    return f"<tspan><title>{escape(label)}</title>{escape(label[: _LABEL_CHARS - 1])}…</tspan>"


def _legend(chart: Chart) -> str:
    parts = []
    x = float(_LABEL_WIDTH)
    for series in chart.series:
        name = escape(series.name)
        parts.append(
            f'<rect x="{x:.1f}" y="{_PAD - 2}" width="12" height="12" '
            f'fill="{escape(series.colour)}"/><text x="{x + 16:.1f}" y="{_PAD + 9}">{name}</text>'
        )
        x += 16 + _LEGEND_CHAR * len(series.name) + 18
    return "".join(parts)


def _columns(chart: Chart) -> str:
    """Vertical columns along the period, every day shown; labels thinned so they stay legible."""
    count = max(len(chart.bars), 1)
    left, bottom = 36, 40
    height = _PAD + _COLUMN_AREA + bottom
    slot = (WIDTH - left - _PAD) / count
    top = max((bar.value for bar in chart.bars), default=0) or 1
    every = -(-count // _MAX_X_LABELS)  # ceiling: at most _MAX_X_LABELS labels
    base = _PAD + _COLUMN_AREA
    parts = [
        _open(chart.title, height),
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - _PAD}" y2="{base}" stroke="#888"/>',
        f'<text x="{left - 6}" y="{_PAD + 10}" text-anchor="end">{top}</text>',
        f'<text x="{left - 6}" y="{base}" text-anchor="end">0</text>',
    ]
    for n, bar in enumerate(chart.bars):
        x = left + n * slot
        tall = round(_COLUMN_AREA * bar.value / top)
        if bar.value:
            parts.append(
                f'<rect x="{x + slot * 0.15:.1f}" y="{base - tall}" width="{slot * 0.7:.1f}" '
                f'height="{tall}" fill="{escape(bar.colour)}" rx="1">'
                f"<title>{escape(bar.label)}: {bar.value}</title></rect>"
            )
        if n % every == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{base + 16}" text-anchor="middle" '
                f'font-size="11">{escape(_day_month(bar.label))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _day_month(label: str) -> str:
    """'24/10/2026' → '24/10' and '2026-10-24' → '10-24': the year is in the header."""
    if len(label) == 10 and label[2] == "/":
        return label[:5]
    return label[5:] if len(label) == 10 and label[4] == "-" else label


def _open(title: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-size="13"><title>{escape(title)}</title>'
    )
