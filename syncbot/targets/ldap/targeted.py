"""Reading only the accounts some people could be paired with, never the whole directory.

A push naming one person must not cost a read of a province's directory. The accounts
are found by their values (`Lookup`'s ids, and for id-less accounts their e-mail or
username), a few hundred values to a search; the server compares with its own matching
rule, so what it returns is narrowed again by `Lookup.wants`, the rule matching uses.

Groups come from the other side: no group's member list is read. One search lists the
groups (names only) for the snapshot's entitlements and for writing, one finds those
holding the placeholder member, and one search per account asks which groups list it,
many of them in flight at once on python-ldap's connection. Each account is then built
by the same `AccountReader` as in a full read, from a group index holding just its own
memberships, so it comes out exactly as a full read would give it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPSocketReceiveError
from ldap3.utils.conv import escape_filter_chars

from syncbot.lookup import Lookup
from syncbot.model import Account, Snapshot
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap.accounts import AccountReader, GroupIndex, UnreadableEntry
from syncbot.targets.ldap.dn import normalise_server_dn
from syncbot.targets.ldap.fast_search import PagedSearcher, error_text
from syncbot.targets.ldap.flavours import MemberKind
from syncbot.targets.ldap.link import OperationFailed
from syncbot.targets.ldap.locator import LdapLocator
from syncbot.targets.ldap.read import DirectoryReader, entry_counter
from syncbot.targets.ldap.settings import LdapSettings

# Optional, as in fast_search: without it member searches go one at a time through ldap3.
with contextlib.suppress(ImportError):
    import ldap

#: Filter terms per user search: a filter of a few kilobytes, far below any server's limit.
BATCH = 200
#: Member searches in flight on one connection: slapd is saturated by about 16 and drops
#: a connection with more than ~1000 outstanding requests.
WINDOW = 16
_NO_ATTRIBUTES = "1.1"  # RFC 4511: "return no attributes"

Count = Callable[[int], None]


class TargetedReader:
    """Targeted reads of one directory; holds python-ldap's connection for member searches."""

    def __init__(self, reader: DirectoryReader) -> None:
        self.reader = reader
        self.layout = reader.layout
        # Pipelined through python-ldap where the target searches with it; ldap3's
        # synchronous connection answers one request at a time.
        fast = reader.link.fast
        self.pipeline = Pipeline(fast, reader.layout.settings) if fast is not None else None

    def snapshot(self, conn: ldap3.Connection, request: ReadRequest, lookup: Lookup) -> Snapshot:
        """The accounts `lookup` wants, as a full read gives them; entitlements as a full
        read gives them; no settings. Raises `OperationFailed`, and ldap3's
        `LDAPCommunicationError` when a connection drops (for `Link.retrying`)."""
        return self._snapshot(conn, request, lookup)

    def _snapshot(self, conn: ldap3.Connection, request: ReadRequest, lookup: Lookup) -> Snapshot:
        layout = self.layout
        count = entry_counter(request)
        group_dns, with_placeholder = self.groups(conn, count)
        managed_keys = frozenset(normalise_server_dn(m) for m in request.managed)
        now = datetime.now(UTC)

        def account_reader(groups: GroupIndex) -> AccountReader:
            return AccountReader(
                target=layout.name,
                flavour=layout.flavour,
                username_attribute=layout.username_attribute,
                match_attribute=layout.settings.match_attribute,
                email_attribute=layout.settings.email_attribute,
                observe=request.observe,
                now=now,
                groups=groups,
                managed_keys=managed_keys,
                known=request.known,
            )

        entries = self.user_entries(conn, lookup, request, count)
        # First without groups, to see which entries `wants` keeps: the server's matching
        # rule may be looser than ours, and only those kept cost a member search.
        first = account_reader(GroupIndex())
        wanted = [
            (entry, account)
            for entry, account in zip(entries, _read(first, entries), strict=True)
            if lookup.wants(account)
        ]
        filters = self.member_filters(wanted, first.aliases)
        found = self.member_groups(conn, list(filters.values()), count)
        index = GroupIndex(
            dns=group_dns,
            with_placeholder=with_placeholder,
            of_member=dict(zip(filters, found, strict=True)),
        )
        reader = account_reader(index)
        accounts = _read(reader, [entry for entry, _ in wanted])
        by_key = layout.flavour.member_kind is not MemberKind.DN
        locator = LdapLocator(
            dns=reader.dns,
            aliases=reader.aliases,
            group_dns=group_dns,
            groups_with_placeholder=frozenset(with_placeholder),
            accounts={account.key: account for account in accounts} if by_key else {},
        )
        return Snapshot(
            target=layout.name,
            accounts=tuple(accounts),
            entitlements=frozenset(managed_keys & group_dns.keys()),
            settings=None,
            settings_key="",
            locator=locator,
        )

    def groups(self, conn: ldap3.Connection, count: Count) -> tuple[dict[str, str], set[str]]:
        """Every group's DN by key, without members; and the groups holding the placeholder."""
        layout = self.layout
        flavour, base = layout.flavour, layout.settings.groups_base
        listed = self.reader.paged(conn, base, flavour.group_filter, [_NO_ATTRIBUTES], count)
        group_dns = {normalise_server_dn(entry["dn"]): entry["dn"] for entry in listed}
        with_placeholder: set[str] = set()
        if layout.placeholder:
            holding = _and(
                flavour.group_filter, _equals(flavour.member_attribute, layout.placeholder)
            )
            found = self.reader.paged(conn, base, holding, [_NO_ATTRIBUTES], count)
            with_placeholder = {normalise_server_dn(entry["dn"]) for entry in found}
        return group_dns, with_placeholder

    def user_entries(
        self, conn: ldap3.Connection, lookup: Lookup, request: ReadRequest, count: Count
    ) -> list[dict[str, Any]]:
        """User entries holding one of the lookup's values, each once, in batched searches."""
        layout = self.layout
        settings = layout.settings
        terms = [
            _equals(settings.match_attribute, v) for v in spellings(lookup.raw_ids, lookup.ids)
        ]
        contact = {"email": settings.email_attribute, "username": layout.username_attribute}.get(
            lookup.contact_attribute or ""
        )
        if contact is not None:
            values = spellings(lookup.raw_contacts, lookup.contacts)
            terms += [_equals(contact, v) for v in values]
        attributes = self.reader.user_attributes(request.observe)
        users_filter = _wrapped(layout.users_filter)
        entries: dict[str, dict[str, Any]] = {}
        for batch in batches(list(dict.fromkeys(terms)), BATCH):
            search_filter = _and(users_filter, f"(|{''.join(batch)})")
            for entry in self.reader.paged(
                conn, settings.users_base, search_filter, attributes, count
            ):
                entries.setdefault(entry["dn"], entry)
        return list(entries.values())

    def member_filters(
        self, wanted: Sequence[tuple[dict[str, Any], Account]], aliases: dict[str, tuple[str, ...]]
    ) -> dict[str, str]:
        """One group search per member key of the wanted accounts: the key a full read's
        group index files their memberships under, and the filter finding those groups."""
        layout = self.layout
        flavour = layout.flavour
        attribute = flavour.member_attribute
        filters: dict[str, str] = {}
        for entry, account in wanted:
            keyed: dict[str, tuple[str, ...]]
            if flavour.member_kind is MemberKind.DN:
                # The entry's DN as the server spells it: the member values compare equal.
                keyed = {normalise_server_dn(entry["dn"]): (entry["dn"],)}
            elif flavour.member_kind is MemberKind.UID:
                name = account.username.strip()
                keyed = {name.lower(): (name, name.lower())} if name else {}
            else:
                emails = aliases.get(account.key) or ((account.email,) if account.email else ())
                keyed = {email: (email,) for email in emails}
            for key, values in keyed.items():
                if key not in filters:
                    either = "".join(_equals(attribute, v) for v in dict.fromkeys(values))
                    filters[key] = _and(flavour.group_filter, f"(|{either})")
        return filters

    def member_groups(
        self, conn: ldap3.Connection, filters: list[str], count: Count
    ) -> list[frozenset[str]]:
        """For each filter, the keys of the groups it finds under groups_base."""
        base = self.layout.settings.groups_base
        if self.pipeline is not None:
            found, too_many = self.pipeline.dns(base, filters, count)
        else:
            found, too_many = [[] for _ in filters], set(range(len(filters)))
        for index in sorted(too_many):
            # ldap3, or an answer cut at the server's size limit (AD: 1000 without
            # paging): this search again, paged.
            entries = self.reader.paged(conn, base, filters[index], [_NO_ATTRIBUTES], count)
            found[index] = [entry["dn"] for entry in entries]
        return [frozenset(normalise_server_dn(dn) for dn in dns) for dns in found]


class Pipeline:
    """Many small searches in flight on the target's own python-ldap connection.

    The paged searches of a read are consumed whole before the pipeline sends anything,
    so no other answer is in flight on the connection when it reads any answer there.
    """

    def __init__(self, searcher: PagedSearcher, settings: LdapSettings) -> None:
        self.searcher = searcher
        self.settings = settings

    def dns(
        self, base: str, filters: Sequence[str], count: Count
    ) -> tuple[list[list[str]], set[int]]:
        """The DNs each subtree search finds, and which searches the server cut short
        (size limit) and must be asked again with paging.

        Raises `OperationFailed` when a search is refused, and ldap3's
        `LDAPSocketReceiveError` when the connection drops, so that `Link.retrying`
        reconnects as for its own connections.
        """
        found: list[list[str]] = [[] for _ in filters]
        too_many: set[int] = set()
        if not filters:
            return found, too_many
        conn = self.searcher.connection()
        pending: dict[int, int] = {}  # message id -> index of its search
        sent = 0
        finished = False
        try:
            while sent < len(filters) or pending:
                while sent < len(filters) and len(pending) < WINDOW:
                    search_filter = filters[sent]
                    msgid = self._call(
                        base,
                        search_filter,
                        conn.search_ext,
                        base,
                        ldap.SCOPE_SUBTREE,
                        search_filter,
                        [_NO_ATTRIBUTES],
                    )
                    pending[msgid] = sent
                    sent += 1
                try:
                    kind, data, msgid, _ = self._call(
                        base, "", conn.result3, ldap.RES_ANY, 0, self.settings.timeout
                    )
                except _SizeLimit as cut:
                    if cut.msgid in pending:
                        too_many.add(pending.pop(cut.msgid))
                    continue
                index = pending.get(msgid)
                if index is None:
                    continue  # not one of ours (an unsolicited notice): nothing to file
                if kind == ldap.RES_SEARCH_RESULT:
                    del pending[msgid]
                elif kind == ldap.RES_SEARCH_ENTRY:
                    # A continuation reference has no DN: skipped, as in a full read.
                    dns = [dn for dn, _ in data if dn is not None]
                    found[index] += dns
                    count(len(dns))
            finished = True
        finally:
            if not finished:
                # Answers to searches still in flight would be read by the next call.
                self.searcher.close()
        return found, too_many

    def _call(
        self, base: str, search_filter: str, operation: Callable[..., Any], *args: Any
    ) -> Any:
        try:
            return operation(*args)
        except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR) as error:
            self.searcher.close()
            raise LDAPSocketReceiveError(self._text(error)) from None
        except ldap.SIZELIMIT_EXCEEDED as error:
            details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            msgid = details.get("msgid")
            if not isinstance(msgid, int):
                raise OperationFailed(self._failure(base, search_filter, error)) from None
            raise _SizeLimit(msgid) from None
        except ldap.LDAPError as error:
            raise OperationFailed(self._failure(base, search_filter, error)) from None

    def _failure(self, base: str, search_filter: str, error: BaseException) -> str:
        what = f" with {search_filter}" if search_filter else ""
        return f"search under {base}{what} failed: {self._text(error)}"

    def _text(self, error: BaseException) -> str:
        return error_text(error, self.settings.bind_password)


class _SizeLimit(Exception):
    """The server stopped one search at its size limit; `msgid` says which."""

    def __init__(self, msgid: int) -> None:
        super().__init__(msgid)
        self.msgid = msgid


def spellings(raw: Iterable[str], keys: Iterable[str]) -> list[str]:
    """The values to search for: as HR wrote them and as matching keys them, each also in
    lower and upper case, so that an attribute compared case-exactly still finds the usual
    spellings (the server's answer is narrowed by `Lookup.wants` anyway)."""
    found: dict[str, None] = {}
    for value in (*raw, *keys):
        text = value.strip()
        if text:
            found.update(dict.fromkeys((text, text.lower(), text.upper())))
    return list(found)


def batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _read(reader: AccountReader, entries: Iterable[dict[str, Any]]) -> list[Account]:
    try:
        return reader.read_all(entries)
    except UnreadableEntry as error:
        raise OperationFailed(str(error)) from None


def _equals(attribute: str, value: str) -> str:
    return f"({attribute}={escape_filter_chars(value)})"


def _and(*filters: str) -> str:
    return f"(&{''.join(filters)})"


def _wrapped(search_filter: str) -> str:
    text = search_filter.strip()
    return text if text.startswith("(") else f"({text})"
