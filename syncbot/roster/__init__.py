"""The HR staff roster: CSV, XLSX or JSON exports read into a validated `Roster`.

A roster is all or nothing: any invalid row stops the run with `RosterError` listing
every problem in the file, because acting on part of a roster would disable or
regrant accounts on the strength of rows nobody has checked.
"""

from __future__ import annotations

from syncbot.roster.fields import CANONICAL_FIELDS, DEFAULT_HEADERS, REQUIRED_FIELDS
from syncbot.roster.load import load_roster

__all__ = ["CANONICAL_FIELDS", "DEFAULT_HEADERS", "REQUIRED_FIELDS", "load_roster"]
