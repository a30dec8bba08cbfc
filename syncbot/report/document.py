"""A whole report before it is written: header facts, warning, tables and charts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncbot.report.table import Table


class ChartShape(StrEnum):
    BARS = "bars"  # horizontal bars, for long category labels
    COLUMNS = "columns"  # vertical columns along a time axis


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    colour: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    shape: ChartShape
    bars: tuple[Bar, ...]


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
