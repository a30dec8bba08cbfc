"""The ledger: what syncbot locked and took away survives restarts, and dates restart clocks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from syncbot.state import Ledger

KEY = ("ldap", "uid=an,ou=people,dc=x")


def test_a_rehire_keeps_the_reopening_day_and_forgets_what_was_owed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.will_disable(*KEY, "CB1", "run-1")
    ledger.will_remove(*KEY, "CB1", "run-1", ("cn=chuyen-vien",))
    ledger.enabled(*KEY)
    entry = Ledger(tmp_path / "ledger.jsonl").entries[KEY]  # as the next run reads it
    assert entry.reopened_on == datetime.now(UTC).date().isoformat()
    assert not entry.disabled_by_syncbot
    assert entry.removed == ()


def test_a_departure_after_a_dormancy_lock_keeps_the_lock_date(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.will_lock_dormant(*KEY, "CB1", "run-1")
    ledger.will_remove(*KEY, "CB1", "run-2", ("cn=van-thu",))
    entry = Ledger(tmp_path / "ledger.jsonl").entries[KEY]
    assert entry.dormant_locked_on == datetime.now(UTC).date().isoformat()
    assert entry.removed == ("cn=van-thu",)
    assert not entry.disabled_by_syncbot
