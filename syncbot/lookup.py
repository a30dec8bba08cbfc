"""Which accounts a targeted run reads: those some of its people could be paired with.

A push naming one person, or an export that changed for ten, need not read a province's
directory whole. Matching (`syncbot.matching`) pairs by employee id first and, for accounts
that carry no id at all, by e-mail or username; so the accounts that can be paired with a
set of people are exactly those holding one of their ids, and the id-less ones holding
one of their contact values. `Lookup.wants` is that rule, once: a target asks its server
for the same accounts (a search by values, in batches) and keeps those `wants` accepts,
so what it returns equals its full read narrowed by `narrowed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from syncbot.match_keys import contact_key, id_key
from syncbot.matching import Fallback, fallback_value
from syncbot.model import Account, RosterRow, Snapshot


@dataclass(frozen=True, slots=True)
class Lookup:
    """The accounts of some people: by `id_key` of their ids, and (with a fallback) by
    `contact_key` of their e-mail or username for accounts without an id.

    `ids` and `contacts` are keys as matching compares them; `raw_ids` and `raw_contacts`
    are the values as HR wrote them, for a server search, which compares with its own
    matching rule (the target then keeps only what `wants` accepts).
    """

    ids: frozenset[str]
    fallback: Fallback = Fallback.NONE
    contacts: frozenset[str] = frozenset()
    raw_ids: frozenset[str] = frozenset()
    raw_contacts: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, employee_ids: Iterable[str], rows: Iterable[RosterRow], fallback: Fallback
    ) -> Lookup:
        """The lookup for `employee_ids` (people the export may no longer list) and `rows`
        (the roster rows of the people it does list)."""
        raw_ids = {e.strip() for e in employee_ids if e.strip()}
        raw_contacts: set[str] = set()
        for row in rows:
            raw_ids.add(row.employee_id.strip())
            if fallback is not Fallback.NONE:
                value = fallback_value(row, fallback)
                if value and value.strip():
                    raw_contacts.add(value.strip())
        return cls(
            ids=frozenset(map(id_key, raw_ids)),
            fallback=fallback,
            contacts=frozenset(map(contact_key, raw_contacts)),
            raw_ids=frozenset(raw_ids),
            raw_contacts=frozenset(raw_contacts),
        )

    @property
    def contact_attribute(self) -> str | None:
        """ "email" or "username": what id-less accounts are looked up by; None: not at all."""
        return None if self.fallback is Fallback.NONE else self.fallback.value

    def wants(self, account: Account) -> bool:
        """Whether matching could pair this account with one of the people."""
        key = id_key(account.employee_id)
        if key:
            return key in self.ids
        if self.fallback is Fallback.NONE:
            return False
        return contact_key(fallback_value(account, self.fallback)) in self.contacts

    def __len__(self) -> int:
        return len(self.raw_ids) + len(self.raw_contacts)


def narrowed(snapshot: Snapshot, lookup: Lookup) -> Snapshot:
    """A full read cut down to what a targeted read with `lookup` returns.

    Settings are not read by a targeted run: they are no one person's, and the next full
    run compares them.
    """
    return replace(
        snapshot,
        accounts=tuple(a for a in snapshot.accounts if lookup.wants(a)),
        settings=None,
        settings_key="",
    )
