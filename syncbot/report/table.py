"""A neutral table, so one report feeds every output format the same figures."""

from __future__ import annotations

from dataclasses import dataclass

Cell = str | int


@dataclass(frozen=True, slots=True)
class Table:
    """A titled grid; `widths` are suggested column widths in characters (for XLSX).

    `flagged` holds indexes of rows a reader must not miss (failed changes).
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[int, ...] = ()
    flagged: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.title!r}: a row has {len(row)} cells, not {len(self.columns)}"
                )
        if self.widths and len(self.widths) != len(self.columns):
            raise ValueError(f"table {self.title!r}: widths do not match the columns")
