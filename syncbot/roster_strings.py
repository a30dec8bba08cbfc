"""The roster's own strings for the values a directory holds about the same people."""

from __future__ import annotations

from collections.abc import Iterable

from syncbot.model import RosterRow


class RosterStrings:
    """The roster's people by employee id, handed to a target while it reads its accounts.

    An account's employee id, address and display name are mostly the very values of its
    person's roster row; taking the row's string instead of the one just decoded holds
    each value once. At 100k people that is about 130 bytes per person, a tenth of a
    whole reconcile's memory. Values that differ by as much as a letter's case are kept
    as the target spells them: this changes which object holds a value, never the value.
    """

    __slots__ = ("_by_id",)

    def __init__(self, rows: Iterable[RosterRow] = ()) -> None:
        self._by_id = {row.employee_id: row for row in rows}

    def __len__(self) -> int:
        return len(self._by_id)

    def shared(
        self, employee_id: str | None, email: str | None, display_name: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """The three values, each as the roster's string when the roster holds it equal."""
        row = self._by_id.get(employee_id) if employee_id else None
        if row is None:
            return employee_id, email, display_name
        return (
            row.employee_id,
            row.email if email == row.email else email,
            row.full_name if display_name == row.full_name else display_name,
        )


NO_ROSTER_STRINGS = RosterStrings()
