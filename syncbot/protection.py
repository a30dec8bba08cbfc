"""Accounts syncbot must never touch: administrators, service and break-glass accounts."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import translate

from syncbot.match_keys import fold
from syncbot.model import Account

#: Tells whether a folded name matches any protection pattern (a compiled regex's `match`).
Matcher = Callable[[str], re.Match[str] | None]

#: `fold` without its cache: every account has its own username and key, so over a whole
#: directory the cache only evicts and never hits.
_fold: Callable[[str], str] = getattr(fold, "__wrapped__", fold)


@functools.lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]) -> Matcher | None:
    """Every pattern as one regex, compiled once: the same test as `fnmatchcase` per
    pattern (translate() anchors each one by itself), without a call per pattern."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns)).match


@dataclass(frozen=True, slots=True)
class Protection:
    """Names, shell-style patterns and group memberships that put an account out of reach.

    Filtering happens before planning, so a protected account cannot appear in a plan,
    not even as an orphan: there is no code path from it to a change.
    """

    usernames: frozenset[str] = frozenset()  # folded
    patterns: tuple[str, ...] = ()  # folded fnmatch patterns over username and key
    groups: frozenset[str] = frozenset()  # entitlement/group keys, already normalised

    @classmethod
    def build(cls, usernames: list[str], patterns: list[str], groups: frozenset[str]) -> Protection:
        return cls(
            usernames=frozenset(fold(u) for u in usernames),
            patterns=tuple(fold(p) for p in patterns),
            groups=groups,
        )

    def covers(self, account: Account) -> bool:
        return self._covers(account, _matcher(self.patterns))

    def partition(self, accounts: Iterable[Account]) -> tuple[list[Account], list[Account]]:
        """The accounts syncbot may touch and the protected ones, each in the given order."""
        if not (self.usernames or self.patterns or self.groups):
            return list(accounts), []
        matcher = _matcher(self.patterns)
        free: list[Account] = []
        protected: list[Account] = []
        for account in accounts:
            (protected if self._covers(account, matcher) else free).append(account)
        return free, protected

    def _covers(self, account: Account, matcher: Matcher | None) -> bool:
        if self.groups and not self.groups.isdisjoint(account.groups):
            return True
        if not self.usernames and matcher is None:
            return False  # nothing to compare a name with: skip folding it
        username = _fold(account.username)
        if username in self.usernames:
            return True
        return matcher is not None and (
            matcher(username) is not None or matcher(_fold(account.key)) is not None
        )
