"""Pairing roster rows with accounts of one target, and refusing to guess when it is unclear."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from syncbot.match_keys import contact_key, id_key
from syncbot.model import Account, RosterRow


class Fallback(StrEnum):
    """What to match on when an account carries no employee id."""

    NONE = "none"
    EMAIL = "email"
    USERNAME = "username"


def fallback_value(item: RosterRow | Account, fallback: Fallback) -> str | None:
    """What the fallback compares, on a row or an account alike: its e-mail or username."""
    return item.email if fallback is Fallback.EMAIL else item.username


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """A pairing syncbot will not act on: one person, several accounts, or the reverse."""

    rows: tuple[RosterRow, ...]
    accounts: tuple[Account, ...]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Who is whom in one target. A pair is `paired_rows[i]` with `paired_accounts[i]`:
    two tuples rather than a tuple per pair, which at 100k people is 5 MB less."""

    paired_rows: tuple[RosterRow, ...]
    paired_accounts: tuple[Account, ...]
    ambiguous: tuple[Ambiguity, ...]
    unmatched_rows: tuple[RosterRow, ...]
    orphans: tuple[Account, ...]

    @property
    def pairs(self) -> Iterator[tuple[RosterRow, Account]]:
        """Each row with its account, in row order."""
        return zip(self.paired_rows, self.paired_accounts, strict=True)


@dataclass(frozen=True, slots=True)
class _Index:
    """Accounts by key: one account for each key, and all of them only for the few keys
    several accounts share (a list for every key costs more than matching)."""

    one: dict[str, Account]
    shared: dict[str, list[Account]]

    def find(self, key: str) -> list[Account]:
        account = self.one.get(key)
        if account is None:
            return []
        return self.shared.get(key, [account]) if self.shared else [account]


def _index(accounts: Sequence[Account], key_of: Callable[[Account], str]) -> _Index:
    """The accounts by `key_of`; an account whose key is empty is not indexed."""
    one = dict(zip(map(key_of, accounts), accounts, strict=True))
    if len(one) == len(accounts) and "" not in one:
        return _Index(one, {})  # every account has a key of its own: the usual directory
    one.pop("", None)
    counts = Counter(map(key_of, accounts))
    shared: dict[str, list[Account]] = {}
    for account in accounts:
        key = key_of(account)
        if key and counts[key] > 1:
            shared.setdefault(key, []).append(account)
    # `one` kept the last account of a shared key; `find` lists them in directory order.
    return _Index(one, shared)


def _account_id(account: Account) -> str:
    return id_key(account.employee_id)


def _fallback_index(
    accounts: Sequence[Account], by_id: _Index, fallback: Fallback
) -> _Index | None:
    """The accounts with no employee id, by e-mail or username; None when none can match."""
    if fallback is Fallback.NONE or (len(by_id.one) == len(accounts) and not by_id.shared):
        return None  # every account has an id of its own
    without_id = [a for a in accounts if not _account_id(a)]
    if not without_id:
        return None
    attr = operator.attrgetter("email" if fallback is Fallback.EMAIL else "username")
    index = _index(without_id, lambda account: contact_key(attr(account)))
    return index if index.one else None


def match(
    rows: Sequence[RosterRow], accounts: Sequence[Account], fallback: Fallback
) -> MatchResult:
    """Pair every row with at most one account, by employee id first, then by the fallback.

    The fallback only considers accounts with no employee id at all: an account that
    names a different employee id belongs to someone else, whatever its e-mail says.
    """
    by_id = _index(accounts, _account_id)
    by_fallback = _fallback_index(accounts, by_id, fallback)
    claims = _claims(rows, by_id, by_fallback, fallback)
    del by_id, by_fallback  # at 100k people the indexes are worth freeing before the sets
    touched = _unshared(claims)
    # `touched` holds only keys of these accounts: as many keys as accounts means every
    # account was found by some row, and the pass below would find no orphan.
    everyone = len(touched) == len(accounts)
    orphans = () if everyone else tuple([a for a in accounts if a.key not in touched])
    return MatchResult(
        tuple(claims.rows),
        tuple(claims.accounts),
        tuple(claims.ambiguous),
        tuple(claims.unmatched),
        orphans,
    )


@dataclass(slots=True)
class _Claims:
    """Each row's claim on one account (`rows[i]` on `accounts[i]`), in row order; rows
    that find no account; rows that find several, and the keys of the accounts those find."""

    rows: list[RosterRow]
    accounts: list[Account]
    unmatched: list[RosterRow]
    ambiguous: list[Ambiguity] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


_EMPLOYEE_ID = operator.attrgetter("employee_id")


def _claims(
    rows: Sequence[RosterRow], by_id: _Index, by_fallback: _Index | None, fallback: Fallback
) -> _Claims:
    if not by_id.shared and by_fallback is None:
        # Every id names at most one account and nothing else is looked at: no row can
        # find several, so the rows are split without a step per row.
        hits = list(map(by_id.one.get, map(id_key, map(_EMPLOYEE_ID, rows))))
        return _Claims(
            [row for row, account in zip(rows, hits, strict=True) if account is not None],
            [account for account in hits if account is not None],
            [row for row, account in zip(rows, hits, strict=True) if account is None],
        )
    claims = _Claims([], [], [])
    for row in rows:
        found = by_id.find(id_key(row.employee_id))
        if not found and by_fallback is not None:
            found = by_fallback.find(contact_key(fallback_value(row, fallback)))
        if len(found) > 1:
            claims.ambiguous.append(Ambiguity(rows=(row,), accounts=tuple(found)))
            claims.touched.update(a.key for a in found)
        elif found:
            claims.rows.append(row)
            claims.accounts.append(found[0])
        else:
            claims.unmatched.append(row)
    return claims


def _unshared(claims: _Claims) -> set[str]:
    """Keeps the claims on accounts no other row claims, and returns the keys of every
    account some row found (not orphans). An account claimed by several rows is one
    ambiguity, listed where its first claimant is."""
    claimed = {account.key for account in claims.accounts}
    if len(claimed) == len(claims.accounts) and not claims.touched:
        return claimed  # each account claimed once, none of them ambiguous
    touched = claims.touched
    counts = Counter(account.key for account in claims.accounts)
    claimants: dict[str, list[RosterRow]] = {}
    for row, account in zip(claims.rows, claims.accounts, strict=True):
        if counts[account.key] > 1:
            claimants.setdefault(account.key, []).append(row)
    kept_rows: list[RosterRow] = []
    kept_accounts: list[Account] = []
    for row, account in zip(claims.rows, claims.accounts, strict=True):
        several = claimants.get(account.key)
        if several is not None:
            if several[0] is row:
                claims.ambiguous.append(Ambiguity(rows=tuple(several), accounts=(account,)))
        elif account.key not in touched:
            kept_rows.append(row)
            kept_accounts.append(account)
        touched.add(account.key)
    claims.rows, claims.accounts = kept_rows, kept_accounts
    return touched
