"""Accounts syncbot must never touch: administrators, service and break-glass accounts."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from syncbot.model import Account
from syncbot.text import fold


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
        username = fold(account.username)
        if username in self.usernames:
            return True
        key = fold(account.key)
        if any(fnmatchcase(username, p) or fnmatchcase(key, p) for p in self.patterns):
            return True
        return bool(self.groups & account.groups)
