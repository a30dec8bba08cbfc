"""Rows an HR system pushes, laid over the export until an export that changed those people.

A push is HR saying "this person left" before the next export is written. Were the pushed
row to lapse at the next run, a full reconcile on the export HR has not yet rewritten would
undo it: unlock the departed and give their roles back. So a pushed row stays in force over
the export until the export's own row for that person changes — HR's export has caught up
with (or overtaken) what was pushed — and the export is then the truth again.

"Changed" is judged per person, by a fingerprint of the export's row taken by the first run
that read the export after the push. A touched or re-sorted export changes nobody; a new
export changes only the people whose rows differ.

A pushed row for someone the export does not list (a new hire HR pushes before the export
has them) is added to the roster, and stays until an export lists that person. A person the
export listed when the push came and a later export drops has changed: the pushed row ends,
and the account is then one with no HR record, like any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from syncbot.match_keys import id_key
from syncbot.model import Roster, RosterRow, RowSource
from syncbot.roster.prints import fingerprint


@dataclass(frozen=True, slots=True)
class PushedRow:
    """One pushed row still waiting for the export to catch up with it.

    `baseline` is the fingerprint of the export's row for the person when a run first read
    the export after the push; None until then.
    """

    row: RosterRow
    source: RowSource
    baseline: str | None = None


@dataclass(frozen=True, slots=True)
class Overlaid:
    """The roster a run plans with, and what it learnt about the pushed rows."""

    roster: Roster
    export_rows: int  # the export alone: the shrink rule compares exports only
    baselines: Mapping[str, str]  # id_key -> the export's print, for rows read the first time
    superseded: frozenset[str]  # id_keys whose export row changed since the push


def lay_over(export: Roster, pushed: Mapping[str, PushedRow]) -> Overlaid:
    """`export` with every pushed row still in force in place of (or beside) the export's.

    `pushed` is keyed by `id_key`. Only the pushed people are looked at: the export's other
    rows are passed through as they are.
    """
    if not pushed:
        return Overlaid(export, len(export.rows), {}, frozenset())
    current = {key: None for key in pushed} | {
        key: row for row in export.rows if (key := id_key(row.employee_id)) in pushed
    }
    baselines: dict[str, str] = {}
    in_force: dict[str, PushedRow] = {}
    superseded: set[str] = set()
    for key, entry in pushed.items():
        print_now = fingerprint(current[key])
        if entry.baseline is None:
            baselines[key] = print_now
            in_force[key] = entry
        elif entry.baseline == print_now:
            in_force[key] = entry
        else:
            superseded.add(key)
    if not in_force:
        return Overlaid(export, len(export.rows), baselines, frozenset(superseded))
    replaced = dict(in_force)
    rows = [
        replaced.pop(key).row if (key := id_key(row.employee_id)) in replaced else row
        for row in export.rows
    ]
    rows.extend(entry.row for entry in replaced.values())
    sources = {key: entry.source for key, entry in in_force.items()}
    pushes = ",".join(sorted({entry.source.sha256 for entry in in_force.values()}))
    digest = hashlib.sha256(f"{export.sha256}+{pushes}".encode()).hexdigest()
    roster = Roster(
        path=f"{export.path} + {len(in_force)} pushed rows",
        sha256=digest,
        rows=tuple(rows),
        sources=sources,
    )
    return Overlaid(roster, len(export.rows), baselines, frozenset(superseded))
