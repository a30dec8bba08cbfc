"""A neutral table, so one report feeds every output format the same figures."""

from __future__ import annotations

from dataclasses import dataclass

Cell = str | int


@dataclass(frozen=True, slots=True)
class Table:
    """A titled grid; `widths` are suggested column widths in characters (for XLSX).

    `flagged` holds indexes of rows a reader must not miss (failed changes).
    `group_column`: the rows are sorted by this column, and HTML shows a heading row for
    each of its values (accounts by unit, as the provinces' appendices list them); CSV and
    XLSX keep the column, so the rows still sort and filter.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[int, ...] = ()
    flagged: frozenset[int] = frozenset()
    group_column: int | None = None

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.title!r}: a row has {len(row)} cells, not {len(self.columns)}"
                )
        if self.widths and len(self.widths) != len(self.columns):
            raise ValueError(f"table {self.title!r}: widths do not match the columns")
        if self.group_column is not None and not 0 <= self.group_column < len(self.columns):
            raise ValueError(f"table {self.title!r}: no column {self.group_column} to group by")
