"""Pairing roster rows with accounts of one target, and refusing to guess when it is unclear."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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


def _index(accounts: Iterable[Account], attr: str) -> dict[str, list[Account]]:
    index: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        key = _key(getattr(account, attr))
        if key:
            index[key].append(account)
    return index


def match(
    rows: Sequence[RosterRow], accounts: Sequence[Account], fallback: Fallback
) -> MatchResult:
    """Pair every row with at most one account, by employee id first, then by the fallback.

    The fallback only considers accounts with no employee id at all: an account that
    names a different employee id belongs to someone else, whatever its e-mail says.
    """
    # `_key` inlined in the loops below: they run once per account and once per row.
    by_id: dict[str, list[Account]] = defaultdict(list)
    without_id: list[Account] = []
    for each in accounts:
        id_key = (each.employee_id or "").strip().casefold()
        if id_key:
            by_id[id_key].append(each)
        else:
            without_id.append(each)
    by_fallback: dict[str, list[Account]] = {}
    if fallback is Fallback.EMAIL:
        by_fallback = _index(without_id, "email")
    elif fallback is Fallback.USERNAME:
        by_fallback = _index(without_id, "username")

    # The first row claiming each account; every claimant only for the few accounts
    # claimed twice or more (a list per account costs more than the rest of the loop).
    first_claim: dict[str, RosterRow] = {}
    claims: dict[str, list[RosterRow]] = {}
    candidates: dict[int, Account] = {}
    ambiguous: list[Ambiguity] = []
    unmatched: list[RosterRow] = []
    touched: set[str] = set()
    nothing: list[Account] = []
    for row in rows:
        # An empty key finds nothing: only non-empty keys were indexed.
        found = by_id.get((row.employee_id or "").strip().casefold(), nothing)
        if not found and by_fallback:
            value = row.email if fallback is Fallback.EMAIL else row.username
            found = by_fallback.get(_key(value) or "", [])
        if len(found) > 1:
            ambiguous.append(Ambiguity(rows=(row,), accounts=tuple(found)))
            touched.update(a.key for a in found)
        elif found:
            claimed = found[0]
            candidates[row.row] = claimed
            first = first_claim.get(claimed.key)
            if first is None:
                first_claim[claimed.key] = row
            else:
                claims.setdefault(claimed.key, [first]).append(row)
        else:
            unmatched.append(row)

    pairs: list[tuple[RosterRow, Account]] = []
    for row in rows:
        account = candidates.get(row.row)
        if account is None:
            continue
        claimants = claims.get(account.key)
        if claimants is not None:
            if claimants[0] is row:
                ambiguous.append(Ambiguity(rows=tuple(claimants), accounts=(account,)))
        elif account.key not in touched:
            pairs.append((row, account))
        touched.add(account.key)

    orphans = tuple(a for a in accounts if a.key not in touched)
    return MatchResult(tuple(pairs), tuple(ambiguous), tuple(unmatched), orphans)
