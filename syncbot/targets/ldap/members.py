"""Putting accounts into groups and taking them out, whatever a group lists them by.

Groups list a member by DN, username or address depending on the product, and some
classes refuse to be empty: the last member out leaves a placeholder, which the next
member in takes out again. Which groups hold one starts as the snapshot saw it and is
kept up to date for one batch of steps, never beyond it.
"""

from __future__ import annotations

import ldap3
import structlog

from syncbot.targets.ldap.flavours import MemberKind, values
from syncbot.targets.ldap.layout import Layout
from syncbot.targets.ldap.link import OperationFailed
from syncbot.targets.ldap.locator import LdapLocator
from syncbot.targets.ldap.operations import (
    ATTRIBUTE_OR_VALUE_EXISTS,
    NO_SUCH_ATTRIBUTE,
    OBJECT_CLASS_VIOLATION,
    is_member,
    modify,
    read_entry,
)

log = structlog.get_logger("syncbot.ldap")


class Membership:
    """One batch's group changes in one directory, from the snapshot's `LdapLocator`."""

    def __init__(self, layout: Layout, locator: LdapLocator) -> None:
        self.layout = layout
        self.locator = locator
        self.with_placeholder = set(locator.groups_with_placeholder)

    def values(self, conn: ldap3.Connection, account: str) -> tuple[str, ...]:
        """What the flavour's groups may store for this account: DN, username or mails.

        The first value is the one added; removal takes out every one of them.
        """
        layout, locator = self.layout, self.locator
        kind = layout.flavour.member_kind
        if kind is MemberKind.DN:
            return (locator.account_dn(account),)
        known = locator.accounts.get(account)
        if known is not None:
            found = (
                locator.aliases.get(account) or (known.email or "",)
                if kind is MemberKind.MAIL
                else (known.username,)
            )
        else:
            attribute = (
                layout.settings.email_attribute
                if kind is MemberKind.MAIL
                else layout.username_attribute
            )
            found = tuple(values(read_entry(conn, account, [attribute]), attribute))
        found = tuple(v for v in found if v)
        if not found:
            raise OperationFailed(f"{account} has no {kind.value} to list as a group member")
        return found

    def add(self, conn: ldap3.Connection, group: str, account: str) -> None:
        flavour, placeholder = self.layout.flavour, self.layout.placeholder
        group_dn = self.locator.group_dn(group)
        value = self.values(conn, account)[0]
        code = modify(
            conn,
            self.layout.name,
            group_dn,
            flavour.add_member_changes(value),
            tolerated={ATTRIBUTE_OR_VALUE_EXISTS},
            confirm=flavour.member_exists_codes,
        )
        if code in flavour.member_exists_codes and not self._has(conn, group_dn, value):
            raise OperationFailed(f"add {value} to {group_dn}: refused ({code})")
        if placeholder and group in self.with_placeholder:
            modify(
                conn,
                self.layout.name,
                group_dn,
                flavour.remove_member_changes(placeholder),
                tolerated={NO_SUCH_ATTRIBUTE},
            )
            self.with_placeholder.discard(group)

    def remove(self, conn: ldap3.Connection, group: str, account: str) -> None:
        group_dn = self.locator.group_dn(group)
        for value in self.values(conn, account):
            self._remove_value(conn, group, group_dn, value)

    def _remove_value(self, conn: ldap3.Connection, group: str, group_dn: str, value: str) -> None:
        flavour, placeholder = self.layout.flavour, self.layout.placeholder
        tolerated = {NO_SUCH_ATTRIBUTE}
        if placeholder:
            tolerated.add(OBJECT_CLASS_VIOLATION)
        code = modify(
            conn,
            self.layout.name,
            group_dn,
            flavour.remove_member_changes(value),
            tolerated=tolerated,
            confirm=flavour.member_absent_codes,
        )
        if code in flavour.member_absent_codes and self._has(conn, group_dn, value):
            raise OperationFailed(f"remove {value} from {group_dn}: refused ({code})")
        if code == OBJECT_CLASS_VIOLATION and placeholder:
            # The group's class requires a member and this was the last one.
            modify(
                conn,
                self.layout.name,
                group_dn,
                flavour.remove_last_member_changes(value, placeholder),
                tolerated={NO_SUCH_ATTRIBUTE},
            )
            self.with_placeholder.add(group)
            log.info("ldap.group.placeholder_added", target=self.layout.name, group=group_dn)

    def _has(self, conn: ldap3.Connection, group_dn: str, value: str) -> bool:
        return is_member(conn, self.layout.flavour.member_attribute, group_dn, value)
