"""Pairing roster rows with accounts of one target, and refusing to guess when it is unclear."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from syncbot.model import Account, RosterRow


class Fallback(StrEnum):
    """What to match on when an account carries no employee id."""

    NONE = "none"
    EMAIL = "email"
    USERNAME = "username"


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """A pairing syncbot will not act on: one person, several accounts, or the reverse."""

    rows: tuple[RosterRow, ...]
    accounts: tuple[Account, ...]


@dataclass(frozen=True, slots=True)
class MatchResult:
    pairs: tuple[tuple[RosterRow, Account], ...]
    ambiguous: tuple[Ambiguity, ...]
    unmatched_rows: tuple[RosterRow, ...]
    orphans: tuple[Account, ...]


def _key(value: str | None) -> str | None:
    value = (value or "").strip().casefold()
    return value or None


@dataclass(frozen=True, slots=True)
class _Index:
    """Accounts by a folded key: one account for each key, and all of them only for the
    few keys several accounts share (a list for every key costs more than matching)."""

    one: dict[str, Account]
    shared: dict[str, list[Account]]

    def find(self, key: str) -> list[Account]:
        account = self.one.get(key)
        if account is None:
            return []
        return self.shared.get(key, [account]) if self.shared else [account]


def _index(accounts: Sequence[Account], keys: list[str]) -> _Index:
    """`keys[i]` is the folded key of `accounts[i]`; an empty key is not indexed."""
    one = dict(zip(keys, accounts, strict=True))
    one.pop("", None)
    shared: dict[str, list[Account]] = {}
    if len(one) < len(keys) - keys.count(""):
        counts = Counter(keys)
        for key, account in zip(keys, accounts, strict=True):
            if key and counts[key] > 1:
                shared.setdefault(key, []).append(account)
    return _Index(one, shared)


def _fallback_index(
    accounts: Sequence[Account], id_keys: list[str], fallback: Fallback
) -> _Index | None:
    """The accounts with no employee id, by e-mail or username; None when none can match."""
    if fallback is Fallback.NONE or "" not in id_keys:
        return None
    without_id = [a for a, key in zip(accounts, id_keys, strict=True) if not key]
    attr = "email" if fallback is Fallback.EMAIL else "username"
    index = _index(without_id, [_key(getattr(a, attr)) or "" for a in without_id])
    return index if index.one else None


def match(
    rows: Sequence[RosterRow], accounts: Sequence[Account], fallback: Fallback
) -> MatchResult:
    """Pair every row with at most one account, by employee id first, then by the fallback.

    The fallback only considers accounts with no employee id at all: an account that
    names a different employee id belongs to someone else, whatever its e-mail says.
    """
    # `_key` inlined where it runs once per account or once per row.
    id_keys = [(a.employee_id or "").strip().casefold() for a in accounts]
    by_id = _index(accounts, id_keys)
    by_fallback = _fallback_index(accounts, id_keys, fallback)
    candidates, unmatched, ambiguous, touched = _claims(rows, by_id, by_fallback, fallback)
    claimed = {account.key for _, account in candidates}
    pairs = _unshared(candidates, claimed, touched, ambiguous)
    # `touched` holds only keys of these accounts: as many keys as accounts means every
    # account was found by some row, and the pass below would find no orphan.
    everyone = len(touched) == len(accounts)
    orphans = () if everyone else tuple([a for a in accounts if a.key not in touched])
    return MatchResult(tuple(pairs), tuple(ambiguous), tuple(unmatched), orphans)


_Claims = tuple[list[tuple[RosterRow, Account]], list[RosterRow], list[Ambiguity], set[str]]


def _claims(
    rows: Sequence[RosterRow], by_id: _Index, by_fallback: _Index | None, fallback: Fallback
) -> _Claims:
    """Each row's claim on one account, in row order; rows that find no account; rows that
    find several (ambiguous), and the keys of the accounts those found."""
    keys = [(row.employee_id or "").strip().casefold() for row in rows]
    found_by_id = list(map(by_id.one.get, keys))
    if not by_id.shared and by_fallback is None:
        # Every id names at most one account and nothing else is looked at: no row can
        # find several, so the rows are split without a step per row.
        return (
            [
                (row, account)
                for row, account in zip(rows, found_by_id, strict=True)
                if account is not None
            ],
            [row for row, account in zip(rows, found_by_id, strict=True) if account is None],
            [],
            set(),
        )
    candidates: list[tuple[RosterRow, Account]] = []
    unmatched: list[RosterRow] = []
    ambiguous: list[Ambiguity] = []
    touched: set[str] = set()
    for row, key, account in zip(rows, keys, found_by_id, strict=True):
        found = by_id.find(key) if account is not None else []
        if not found and by_fallback is not None:
            value = row.email if fallback is Fallback.EMAIL else row.username
            found = by_fallback.find(_key(value) or "")
        if len(found) > 1:
            ambiguous.append(Ambiguity(rows=(row,), accounts=tuple(found)))
            touched.update(a.key for a in found)
        elif found:
            candidates.append((row, found[0]))
        else:
            unmatched.append(row)
    return candidates, unmatched, ambiguous, touched


def _unshared(
    candidates: list[tuple[RosterRow, Account]],
    claimed: set[str],
    touched: set[str],
    ambiguous: list[Ambiguity],
) -> list[tuple[RosterRow, Account]]:
    """The candidates whose account no other row claims; an account claimed by several
    rows is one ambiguity, listed where its first claimant is. Marks every claimed
    account as touched (not an orphan)."""
    if len(claimed) == len(candidates) and not touched:
        touched.update(claimed)  # each account claimed once, none of them ambiguous
        return candidates
    counts = Counter(account.key for _, account in candidates)
    claims: dict[str, list[RosterRow]] = {}
    for row, account in candidates:
        if counts[account.key] > 1:
            claims.setdefault(account.key, []).append(row)
    pairs: list[tuple[RosterRow, Account]] = []
    for row, account in candidates:
        claimants = claims.get(account.key)
        if claimants is not None:
            if claimants[0] is row:
                ambiguous.append(Ambiguity(rows=tuple(claimants), accounts=(account,)))
        elif account.key not in touched:
            pairs.append((row, account))
        touched.add(account.key)
    return pairs
