"""A whole report before it is written: header facts, warning, tables and charts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncbot.report.table import Table


class ChartShape(StrEnum):
    BARS = "bars"  # horizontal bars, for long category labels
    COLUMNS = "columns"  # vertical columns along a time axis
    STACKED = "stacked"  # horizontal bars split into the chart's series (compliant vs not)


@dataclass(frozen=True, slots=True)
class Series:
    """One colour of a stacked chart, named in its legend."""

    name: str
    colour: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    colour: str
    parts: tuple[int, ...] = ()  # STACKED only: one value per series of the chart


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    shape: ChartShape
    bars: tuple[Bar, ...]
    series: tuple[Series, ...] = ()  # STACKED only


@dataclass(frozen=True, slots=True)
class Report:
    """What every writer renders; `intact` is False when the audit chain is broken."""

    lang: str
    title: str
    facts: tuple[tuple[str, str], ...]  # (label, value) lines of the header
    tables: tuple[Table, ...]
    charts: tuple[Chart, ...] = ()
    warning: str | None = None
    note: str | None = None  # e.g. "no changes in this period"
    intact: bool = True
