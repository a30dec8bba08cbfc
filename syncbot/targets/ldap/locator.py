"""What an LDAP snapshot carries for writing back: the directory's own spellings.

Keys are normalised for comparing; the server must be sent a DN as it spells it, and
groups listing names or addresses need each account's. The read finds all of it, so
the write takes it from the snapshot its steps were planned from instead of asking again
or keeping it on the target between the two. A targeted read's locator knows the
spellings of the accounts it read and every group (a step may add someone to a group
they are not in yet), and which groups hold the placeholder, as a full read's does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from syncbot.model import Account


@dataclass(frozen=True, slots=True)
class LdapLocator:
    """`Snapshot.locator` of an LDAP target; its mappings are the read's, not copied."""

    # account key -> DN as the server spells it, where the two differ
    dns: Mapping[str, str] = field(default_factory=dict)
    # account key -> every address, for accounts with more than one
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # group key -> DN as the server spells it
    group_dns: Mapping[str, str] = field(default_factory=dict)
    # groups holding the placeholder member (it goes when a real member comes)
    groups_with_placeholder: frozenset[str] = frozenset()
    # account key -> account, only where groups list names or addresses rather than DNs
    accounts: Mapping[str, Account] = field(default_factory=dict)

    def account_dn(self, account: str) -> str:
        return self.dns.get(account, account)

    def group_dn(self, group: str) -> str:
        return self.group_dns.get(group, group)
