"""Rows an HR system pushes, laid over the last export until the next export arrives."""

from __future__ import annotations

import hashlib

from syncbot.model import Roster


def overlay(base: Roster, pushed: Roster) -> Roster:
    """`base` with each pushed row replacing the row of the same employee id, or added.

    The result names both sources and hashes both, so evidence in the audit log still
    points at exactly what was read.
    """
    replaced = {row.employee_id.casefold(): row for row in pushed.rows}
    rows = [replaced.pop(row.employee_id.casefold(), row) for row in base.rows]
    rows.extend(replaced.values())
    digest = hashlib.sha256(f"{base.sha256}+{pushed.sha256}".encode()).hexdigest()
    return Roster(path=f"{base.path} + {pushed.path}", sha256=digest, rows=tuple(rows))
