"""Turning the entries of a directory's two searches into `Account`s, at 100,000 entries.

Groups are read first, so that each user entry becomes its whole `Account` the moment it
arrives, with no intermediate object per person. A directory holds few distinct sets of
groups (everyone in a unit shares one), so each set, and its managed part, is one shared
frozenset rather than two new ones per account; the account's DN key is the very string
the group index holds. Together these halve what an account costs in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncbot.duty_settings import Observe
from syncbot.model import Account
from syncbot.roster_strings import NO_ROSTER_STRINGS, RosterStrings
from syncbot.targets.ldap.dn import first_rdn_value, normalise_server_dn
from syncbot.targets.ldap.flavours import (
    Attributes,
    Flavour,
    FlavourError,
    LoweredAttributes,
    MemberKind,
    text_value,
    values,
)
from syncbot.targets.ldap.member_keys import member_keys
from syncbot.targets.ldap.observed import (
    NOTHING_OBSERVED,
    AccountDuties,
    Observed,
    TimeFormatError,
    account_duties,
)

_NO_GROUPS: frozenset[str] = frozenset()


class UnreadableEntry(Exception):
    """A user entry holds a value its flavour cannot read (a malformed lock or time)."""


@dataclass(slots=True)
class GroupIndex:
    """Every group read, and who is in which, before any user entry is read.

    `of_member` maps member keys to their groups. Where members are DNs, the user pass
    takes each account's entry out of it: the account keeps the DN string of its own
    entry, and the index's equal string goes, so a large directory holds each DN once.
    """

    dns: dict[str, str] = field(default_factory=dict)  # group key -> DN as the server spells it
    with_placeholder: set[str] = field(default_factory=set)
    of_member: dict[str, frozenset[str]] = field(default_factory=dict)  # member key -> groups


def index_groups(
    entries: Iterable[dict[str, Any]],
    member_attribute: str,
    member_kind: MemberKind,
    placeholder_key: str | None,
) -> GroupIndex:
    """Which groups each member key is in, one shared frozenset per distinct set.

    One loop over every member value of every group (200,000 of them for 100,000 people
    in a role and a unit each): what it calls per value is kept to dictionary look-ups.
    """
    index = GroupIndex()
    lists: dict[str, list[str]] = {}
    # A person is in several groups: each spelling of a member DN is parsed once.
    spellings: dict[str, str] = {}
    dn_members = member_kind is MemberKind.DN
    dn_key = member_keys()
    for entry in entries:
        group_key = normalise_server_dn(entry["dn"])
        index.dns[group_key] = entry["dn"]
        for raw in _member_values(entry["attributes"], member_attribute):
            if type(raw) is not str:
                raw = text_value(raw)
            if dn_members:
                key = spellings.get(raw)
                if key is None:
                    key = spellings[raw] = dn_key(raw)
            else:
                key = raw.strip().lower()
            found = lists.get(key)
            if found is not None:
                found.append(group_key)
            elif key == placeholder_key:
                index.with_placeholder.add(group_key)
            else:
                lists[key] = [group_key]
    shared: dict[tuple[str, ...], frozenset[str]] = {}
    of_member = index.of_member
    for key, groups in lists.items():
        as_tuple = tuple(groups)
        one = shared.get(as_tuple)
        if one is None:
            one = shared[as_tuple] = frozenset(as_tuple)
        of_member[key] = one
    return index


def _member_values(attributes: Attributes, name: str) -> Sequence[object]:
    """The values of `name` as the library handed them over (a list, mostly)."""
    if type(attributes) is LoweredAttributes:
        found = attributes.get(name.lower())
        if type(found) is list:
            return found
    return values(attributes, name)


@dataclass(slots=True)
class AccountReader:
    """Builds one `Account` per user entry; also keeps what apply needs to know later.

    Apply needs an account's DN as the server spells it, and for mail-listed groups every
    address: both are kept only where they add something (a DN spelt otherwise than its
    key, a second address), which in most directories is nowhere.
    """

    target: str
    flavour: Flavour
    username_attribute: str
    match_attribute: str
    email_attribute: str
    observe: Observe
    now: datetime
    groups: GroupIndex
    managed_keys: frozenset[str]
    known: RosterStrings = NO_ROSTER_STRINGS
    dns: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _managed_of: dict[frozenset[str], frozenset[str]] = field(default_factory=dict)

    def read_all(self, entries: Iterable[dict[str, Any]]) -> list[Account]:
        """One `Account` per user entry, in the entries' order.

        This loop runs once per account of the directory: what it needs from `self` is
        bound to locals first, and an entry's DN is looked up in the group index as is.
        """
        username_name = self.username_attribute.lower()
        match_name = self.match_attribute.lower()
        email_name = self.email_attribute.lower()
        read_duties = _duties_reader(account_duties(self.flavour.name), self.observe, self.now)
        is_disabled = self.flavour.is_disabled
        dn_members = self.flavour.member_kind is MemberKind.DN
        take_groups = self.groups.of_member.pop
        shared = self.known.shared
        managed = self._managed
        emails_of = self._emails
        spelt = self.dns
        target = self.target
        accounts: list[Account] = []
        add = accounts.append
        for entry in entries:
            dn: str = entry["dn"]
            attributes = entry["attributes"]
            if type(attributes) is not LoweredAttributes:
                # ldap3's case-insensitive dict costs more per lookup than the rest here.
                attributes = LoweredAttributes((k.lower(), v) for k, v in attributes.items())
            groups: frozenset[str] | None
            if dn_members:
                # The server mostly spells a DN alike in both places: the entry's DN is
                # then its key, found unparsed. The index's copy goes (see GroupIndex).
                key = dn
                groups = take_groups(dn, None)
                if groups is None:
                    key = normalise_server_dn(dn)
                    groups = take_groups(key, _NO_GROUPS)
            else:
                key, groups = normalise_server_dn(dn), None
            try:
                enabled = not is_disabled(attributes)
                observed = read_duties(attributes, key)
            except (FlavourError, TimeFormatError) as error:
                raise UnreadableEntry(f"account {dn}: {error}") from None
            if dn is not key and dn != key:
                spelt[key] = dn
            username = _first(attributes, username_name) or first_rdn_value(dn)
            emails = emails_of(key, attributes, email_name)
            if groups is None:
                groups = self._named_groups(username, emails)
            employee_id, email, display_name = shared(
                _employee_id(_first(attributes, match_name)),
                emails[0] if emails else None,
                _first(attributes, "displayname") or _first(attributes, "cn"),
            )
            # Positionally, by keyword it cost a twentieth of this loop: the order of
            # Account's fields is pinned by test_ldap_accounts.py.
            add(
                Account(
                    target,
                    key,
                    username,
                    employee_id,
                    email,
                    enabled,
                    managed(groups),
                    display_name,
                    groups,
                    False,  # federated: only Keycloak imports accounts from another directory
                    observed.created,
                    observed.password_changed,
                    observed.must_change_password,
                    observed.last_sign_in,
                    observed.failed_sign_ins,
                )
            )
        return accounts

    def _emails(self, key: str, attributes: Attributes, name: str) -> Sequence[str]:
        """Lower-cased addresses, the reported one first; a second one kept for apply."""
        found = attributes.get(name)
        if not found:
            return ()
        if type(found) is not list and isinstance(found, str | bytes):
            found = [found]
        if len(found) == 1:
            address = _cleaned_address(found[0])
            return (address,) if address else ()
        emails = tuple(filter(None, map(_cleaned_address, found)))
        if len(emails) > 1:
            self.aliases[key] = emails
        return emails

    def _named_groups(self, username: str, emails: Sequence[str]) -> frozenset[str]:
        """Groups that list members by username or address, not by DN."""
        of_member = self.groups.of_member
        if self.flavour.member_kind is MemberKind.UID:
            return of_member.get(username.strip().lower(), _NO_GROUPS)
        # Zimbra lists may hold an alias rather than the primary address.
        found = [of_member[e] for e in emails if e in of_member]
        if len(found) < 2:
            return found[0] if found else _NO_GROUPS
        return frozenset().union(*found)

    def _managed(self, groups: frozenset[str]) -> frozenset[str]:
        managed = self._managed_of.get(groups)
        if managed is None:
            part = groups & self.managed_keys
            # Different sets of groups often share their managed part: one object for it.
            # (Keyed in the same dict: a set that is its own managed part maps to itself.)
            managed = self._managed_of[groups] = self._managed_of.setdefault(part, part)
        return managed


def _duties_reader(
    duties: AccountDuties, observe: Observe, now: datetime
) -> Callable[[Attributes, str], Observed]:
    """What to call per entry for the duty fields: `duties.reader`, and when no duty
    watches accounts (the reader then reads the creation time alone), its last answer
    again for an entry whose creation time is the last one's.

    Entries created by one import share their creation time, often most of a directory:
    the reader's call, and an `Observed` per entry, came to a tenth of reading an account.
    """
    read = duties.reader(observe, now)
    if observe.watches_accounts:
        return read
    name = duties.created[0].lower()
    last: list[Any] = [None, NOTHING_OBSERVED]  # the creation time's values, what they gave

    def read_creation(attributes: Attributes, key: str) -> Observed:
        found = attributes.get(name)
        if found is None or found != last[0]:
            last[1] = read(attributes, key)
            last[0] = found
        observed: Observed = last[1]
        return observed

    return read_creation


def _first(attributes: Attributes, lowered: str) -> str | None:
    """The first value of a lower-case attribute name in a `LoweredAttributes`."""
    found = attributes.get(lowered)
    if not found:
        return None
    if type(found) is list:  # as both libraries hand values over, without a schema
        value = found[0]
    else:
        value = found if isinstance(found, str | bytes) else found[0]
    return value if type(value) is str else text_value(value)


def _employee_id(value: str | None) -> str | None:
    return (value.strip() or None) if value else None


def _cleaned_address(value: object) -> str:
    text = (value if type(value) is str else text_value(value)).strip()
    # Most addresses are stored lower-case already: no second copy of the string then.
    return text if text.islower() or not text else text.lower()
