"""Reading a whole directory: two paged searches, groups first, then every account.

Kept apart from writing because it is the part that must scale: a handful of bulk
searches whatever the directory's size, never a query per person. What writing needs
later (DNs as the server spells them, aliases, placeholders) comes out as an
`LdapLocator` inside the snapshot, not as state on the target. Reading only some people's
accounts (`ReadRequest.lookup`) is `targeted`'s, built on `paged` and `user_attributes`
here so that both reads ask for the same attributes the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import ldap3
import structlog

from syncbot.duty_settings import OBSERVE_NOTHING, Observe
from syncbot.model import Snapshot
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap.accounts import AccountReader, UnreadableEntry, index_groups
from syncbot.targets.ldap.connection import result_text
from syncbot.targets.ldap.dn import normalise_server_dn
from syncbot.targets.ldap.fast_search import SearchFailed
from syncbot.targets.ldap.flavours import Attributes, MemberKind
from syncbot.targets.ldap.layout import Layout
from syncbot.targets.ldap.link import Link, OperationFailed
from syncbot.targets.ldap.locator import LdapLocator
from syncbot.targets.ldap.observed import account_duties
from syncbot.targets.ldap.operations import (
    NO_SUCH_OBJECT,
    SIZE_LIMIT_EXCEEDED,
    SUCCESS,
    optional_entry,
    policy_dn,
    read_entry,
)
from syncbot.targets.ldap.policy import POLICY_DN_KEY, PolicyError, policy_profile
from syncbot.targets.ldap.ranged import RangeError, completed, first_window

log = structlog.get_logger("syncbot.ldap")

_PAGED_RESULTS = "1.2.840.113556.1.4.319"
_NO_ATTRIBUTES = "1.1"  # RFC 4511: "return no attributes"


def entry_counter(request: ReadRequest) -> Callable[[int], None]:
    """Called with each page's number of entries; tells `request.progress` the sum so far."""
    seen = 0

    def count(entries: int) -> None:
        nonlocal seen
        seen += entries
        request.progress(seen, None)

    return count


class DirectoryReader:
    """Reads one directory through the target's `Link`; raises `OperationFailed`."""

    def __init__(self, layout: Layout, link: Link) -> None:
        self.layout = layout
        self.link = link

    def snapshot(self, conn: ldap3.Connection, request: ReadRequest) -> Snapshot:
        """Every account and every group in two paged searches (pages, not per person)."""
        layout = self.layout
        flavour = layout.flavour
        count = entry_counter(request)

        # Groups first: each user entry then becomes its whole account as it arrives.
        groups = index_groups(
            self.group_entries(conn, count),
            flavour.member_attribute,
            flavour.member_kind,
            layout.placeholder_key,
        )
        managed_keys = frozenset(normalise_server_dn(m) for m in request.managed)
        reader = AccountReader(
            target=layout.name,
            flavour=flavour,
            username_attribute=layout.username_attribute,
            match_attribute=layout.settings.match_attribute,
            email_attribute=layout.settings.email_attribute,
            observe=request.observe,
            now=datetime.now(UTC),
            groups=groups,
            managed_keys=managed_keys,
            known=request.known,
        )
        users = self.paged(
            conn,
            layout.settings.users_base,
            layout.users_filter,
            self.user_attributes(request.observe),
            count,
        )
        try:
            accounts = reader.read_all(users)
        except UnreadableEntry as error:
            raise OperationFailed(str(error)) from None
        # Writing looks accounts up only to list them by name or address in groups.
        by_key = flavour.member_kind is not MemberKind.DN
        locator = LdapLocator(
            dns=reader.dns,
            aliases=reader.aliases,
            group_dns=groups.dns,
            groups_with_placeholder=frozenset(groups.with_placeholder),
            accounts={account.key: account for account in accounts} if by_key else {},
        )
        settings, settings_key = (
            self.read_settings(conn) if request.observe.settings else (None, "")
        )
        return Snapshot(
            target=layout.name,
            accounts=tuple(accounts),
            entitlements=frozenset(managed_keys & groups.dns.keys()),
            settings=settings,
            settings_key=settings_key,
            locator=locator,
        )

    def group_entries(
        self, conn: ldap3.Connection, count: Callable[[int], None]
    ) -> Iterator[dict[str, Any]]:
        """Every group with all its members, AD's large ones read window by window."""
        flavour = self.layout.flavour
        step = flavour.member_range_step
        attribute = flavour.member_attribute
        wanted = first_window(attribute, step) if step else attribute
        entries = self.paged(
            conn, self.layout.settings.groups_base, flavour.group_filter, [wanted], count
        )
        if not step:
            yield from entries
            return

        def read_window(dn: str, window: str) -> Attributes:
            return read_entry(conn, dn, [window])

        try:
            yield from completed(entries, attribute, read_window)
        except RangeError as error:
            raise OperationFailed(str(error)) from None

    def user_attributes(self, observe: Observe = OBSERVE_NOTHING) -> list[str]:
        layout = self.layout
        wanted = [
            layout.username_attribute,
            layout.settings.match_attribute,
            layout.settings.email_attribute,
            "displayName",
            "cn",
            *layout.flavour.lock_attributes,
            *account_duties(layout.flavour.name).attributes(observe),
        ]
        return list(dict.fromkeys(wanted))

    def paged(
        self,
        conn: ldap3.Connection,
        base: str,
        search_filter: str,
        attributes: list[str],
        count: Callable[[int], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries of one paged subtree search, page by page; raises `OperationFailed`."""
        fast = self.link.fast
        if fast is not None:
            try:
                yield from fast.search(base, search_filter, attributes, count)
            except SearchFailed as failed:
                raise OperationFailed(
                    self._search_failure(base, search_filter, failed.result)
                ) from None
            return
        cookie: bytes | None = None
        while True:
            conn.search(
                base,
                search_filter,
                search_scope=ldap3.SUBTREE,
                attributes=attributes,
                paged_size=self.layout.settings.page_size,
                paged_cookie=cookie,
            )
            result = conn.result
            code = result.get("result") if isinstance(result, dict) else None
            if code != SUCCESS:
                raise OperationFailed(self._search_failure(base, search_filter, result))
            entries = [e for e in conn.response or () if e.get("type") == "searchResEntry"]
            yield from entries
            if count is not None:
                count(len(entries))
            control = (result.get("controls") or {}).get(_PAGED_RESULTS)
            cookie = control["value"]["cookie"] if control else None
            if not cookie:
                return

    def _search_failure(self, base: str, search_filter: str, result: object) -> str:
        text = f"search under {base} with {search_filter} failed: {result_text(result)}"
        code = result.get("result") if isinstance(result, dict) else None
        if code == SIZE_LIMIT_EXCEEDED:
            text += f" (give {self.layout.settings.bind_dn} an unlimited size limit on the server)"
        elif code == NO_SUCH_OBJECT:
            text += " (check users_base / groups_base)"
        return text

    def read_settings(self, conn: ldap3.Connection) -> tuple[dict[str, str] | None, str]:
        """The policy in force and where it lives; {} when the entry does not exist yet,
        None when it cannot be read (the plan then says so instead of guessing)."""
        layout = self.layout
        profile = policy_profile(layout.flavour.name)
        dn = ""
        try:
            dn = policy_dn(conn, layout) or ""
            if not dn:
                return None, ""
            found = optional_entry(conn, dn, list(profile.attributes))
            return (profile.current(found) if found is not None else {}), dn
        except (OperationFailed, PolicyError) as error:
            log.warning("ldap.settings.unreadable", target=layout.name, entry=dn, reason=str(error))
            return None, dn

    def counts(self, conn: ldap3.Connection) -> tuple[int, int]:
        """How many accounts and groups the target's searches see."""
        settings = self.layout.settings
        accounts = self.paged(conn, settings.users_base, self.layout.users_filter, [_NO_ATTRIBUTES])
        groups = self.paged(
            conn, settings.groups_base, self.layout.flavour.group_filter, [_NO_ATTRIBUTES]
        )
        return sum(1 for _ in accounts), sum(1 for _ in groups)

    def describe_policy(self, conn: ldap3.Connection) -> str:
        dn = policy_dn(conn, self.layout)
        if dn is None:
            return (
                f"password policy entry: {POLICY_DN_KEY} not set; a [password_policy] with "
                "settings cannot be enforced on this target until it names the entry the "
                "server uses"
            )
        attributes = list(policy_profile(self.layout.flavour.name).attributes)
        found = optional_entry(conn, dn, attributes)
        state = "found" if found is not None else "missing (apply creates it)"
        return f"password policy entry: {dn} ({state})"
