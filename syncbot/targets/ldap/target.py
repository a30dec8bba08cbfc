"""The LDAP target: reads a whole directory in two paged searches and changes one account.

Not thread-safe: one `LdapTarget` holds one connection, used by one thread at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import ldap3
import structlog
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException

from syncbot.duty_settings import NO_SETTINGS, OBSERVE_NOTHING, Duties, Observe, WantedSettings
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Account, Action, ActionKind, Snapshot
from syncbot.roster_strings import NO_ROSTER_STRINGS, RosterStrings
from syncbot.targets.base import AnswerLost, ApplyError, Progress, no_progress
from syncbot.targets.ldap.accounts import AccountReader, UnreadableEntry, index_groups
from syncbot.targets.ldap.connection import connect, error_text, result_text
from syncbot.targets.ldap.dn import (
    InvalidDnError,
    child_dn,
    normalise_dn,
    normalise_server_dn,
)
from syncbot.targets.ldap.fast_search import LDAP3, PYTHON_LDAP, SearchFailed, paged_searcher
from syncbot.targets.ldap.flavours import (
    Attributes,
    Changes,
    Flavour,
    FlavourError,
    MemberKind,
    first,
    get_flavour,
    values,
)
from syncbot.targets.ldap.observed import (
    account_duties,
)
from syncbot.targets.ldap.policy import POLICY_DN_KEY, PolicyError, policy_profile
from syncbot.targets.ldap.ranged import RangeError, completed, first_window
from syncbot.targets.ldap.settings import LdapSettings

log = structlog.get_logger("syncbot.ldap")

T = TypeVar("T")

_PAGED_RESULTS = "1.2.840.113556.1.4.319"
_SUCCESS = 0
_SIZE_LIMIT_EXCEEDED = 4
_COMPARE_FALSE = 5
_COMPARE_TRUE = 6
_NO_SUCH_ATTRIBUTE = 16
_ATTRIBUTE_OR_VALUE_EXISTS = 20
_NO_SUCH_OBJECT = 32
_OBJECT_CLASS_VIOLATION = 65
_NO_ATTRIBUTES = "1.1"  # RFC 4511: "return no attributes"
_GROUP_KINDS = frozenset({ActionKind.GRANT, ActionKind.REVOKE, ActionKind.CHANGE_UNIT})
#: Flavours whose lock replaces one attribute with a fixed value (ppolicy's permanent lock
#: time, nsAccountLock TRUE): locking needs no read of the entry first.
_FIXED_VALUE_LOCKS = frozenset({"openldap", "389ds"})


class _OperationFailed(Exception):
    """An LDAP operation returned an unexpected result; carries the message for ApplyError."""


class _Unanswered(TargetError):
    """The connection dropped during an operation and could not be opened again."""


class LdapTarget:
    """A `syncbot.targets.base.Target` for OpenLDAP, Active Directory, 389 DS and Zimbra."""

    def __init__(self, settings: LdapSettings) -> None:
        self.flavour: Flavour = get_flavour(settings.flavour)  # LdapSettings checked the name
        self.name = settings.name
        self.settings = settings
        self._users_filter = settings.users_filter or self.flavour.users_filter
        self._username_attribute = settings.username_attribute or self.flavour.username_attribute
        self._placeholder = self._resolve_placeholder()
        self._placeholder_key = (
            normalise_server_dn(self._placeholder) if self._placeholder else None
        )
        self._conn: ldap3.Connection | None = None
        # What the last fetch saw, for apply: accounts by key (where groups list names or
        # addresses), DNs the server spells otherwise than their key, and every address
        # of accounts with more than one.
        self._accounts: dict[str, Account] = {}
        self._dns: dict[str, str] = {}
        self._aliases: dict[str, tuple[str, ...]] = {}
        self._group_dns: dict[str, str] = {}
        self._groups_with_placeholder: set[str] = set()
        # Whole-directory reads through libldap when installed (see fast_search); ldap3 else.
        self._fast = paged_searcher(settings)
        self.search_library = PYTHON_LDAP if self._fast else LDAP3

    def __repr__(self) -> str:
        return (
            f"LdapTarget(name={self.name!r}, flavour={self.flavour.name!r}, "
            f"url={self.settings.url!r})"
        )

    # -- Target protocol -------------------------------------------------------------------

    def entitlement_key(self, ref: str) -> str:
        """A group DN, or a bare group name under groups_base, as a normalised DN key."""
        text = ref.strip()
        if not text:
            raise ConfigError("empty group reference", source=f"targets.{self.name}")
        try:
            dn = text if "=" in text else self._group_dn_for_name(text)
            return normalise_dn(dn)
        except InvalidDnError as error:
            raise ConfigError(str(error), source=f"targets.{self.name}") from None

    def fetch(
        self,
        managed: frozenset[str],
        progress: Progress = no_progress,
        observe: Observe = OBSERVE_NOTHING,
        known: RosterStrings = NO_ROSTER_STRINGS,
    ) -> Snapshot:
        """Read every account and every group in two paged searches (pages, not per person)."""
        started = time.perf_counter()
        try:
            snapshot = self._retrying(
                lambda conn: self._fetch(conn, managed, progress, observe, known)
            )
        except _OperationFailed as error:
            raise TargetError(f"{self.name}: {error}") from None
        except LDAPException as error:
            raise TargetError(
                f"{self.name}: reading {self.settings.url} failed: {self._safe(error)}"
            ) from None
        log.info(
            "ldap.fetch.done",
            target=self.name,
            accounts=len(snapshot.accounts),
            groups=len(self._group_dns),
            managed_found=len(snapshot.entitlements),
            seconds=round(time.perf_counter() - started, 3),
        )
        return snapshot

    def apply(self, action: Action) -> None:
        """Carry out one action; repeating it is harmless. Raises `ApplyError` on failure."""
        if action.target != self.name:
            raise ApplyError(f"action for target {action.target!r} sent to {self.name!r}")
        self._log_step(action)
        try:
            self._apply(action)
        except _OperationFailed as error:
            raise ApplyError(str(error)) from None
        except _Unanswered as error:
            raise AnswerLost(str(error)) from None
        except TargetError as error:
            raise ApplyError(str(error)) from None
        except LDAPCommunicationError as error:
            raise AnswerLost(f"{action.kind.value} {action.account}: {self._safe(error)}") from None
        except LDAPException as error:
            raise ApplyError(f"{action.kind.value} {action.account}: {self._safe(error)}") from None

    def apply_many(self, actions: Sequence[Action]) -> list[ApplyError | None]:
        """Carry out several people's actions; per action None or the error, as `apply`.

        What several actions add to or take from one group goes in one modify: slapd
        rewrites a whole groupOfNames entry per modify, so one modify for a window of
        departures costs about what one removal costs. Other kinds go one by one.
        """
        errors: list[ApplyError | None] = [None] * len(actions)
        merged: list[int] = []
        for index, action in enumerate(actions):
            if action.target == self.name and self._mergeable(action):
                merged.append(index)
            else:
                errors[index] = self._apply_answer(action)
        if merged:
            found = self._apply_merged([actions[i] for i in merged])
            for index, error in zip(merged, found, strict=True):
                errors[index] = error
        return errors

    def owned_for_federated(self, managed: frozenset[str]) -> frozenset[str]:
        """An LDAP directory is where federation starts: none of its accounts are federated."""
        return frozenset()

    def _log_step(self, action: Action) -> None:
        log.info(
            "ldap.apply",
            target=self.name,
            action=action.kind.value,
            account=action.account,
            add=list(action.add),
            remove=list(action.remove),
        )

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        """The password policy in this product's attributes (see `policy`)."""
        profile = policy_profile(self.flavour.name)
        known = bool(
            self.settings.password_policy_dn or profile.default_dn or profile.dn_from_root_dse
        )
        wanted = profile.wanted(duties.password, dn_known=known)
        return wanted if wanted.values or wanted.unsupported else NO_SETTINGS

    def describe(self) -> list[str]:
        """Bind and count what is there, for `syncbot check-config`; raise `TargetError`."""
        security = " over StartTLS" if self.settings.start_tls else ""
        try:
            accounts, groups = self._retrying(self._counts)
            policy = self._retrying(self._describe_policy)
        except _OperationFailed as error:
            raise TargetError(f"{self.name}: {error}") from None
        except LDAPException as error:
            raise TargetError(f"{self.name}: {self._safe(error)}") from None
        return [
            f"{self.settings.url} bound as {self.settings.bind_dn}{security} "
            f"(flavour {self.flavour.name})",
            f"accounts under {self.settings.users_base}: {accounts}",
            f"groups under {self.settings.groups_base}: {groups}",
            policy,
        ]

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(LDAPException):  # a dead connection has nothing to release
                conn.unbind()

    # -- connection ------------------------------------------------------------------------

    def _connection(self) -> ldap3.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings)
        return self._conn

    def _retrying(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run `operation`; if the connection dropped, reconnect once and run it again.

        Safe because every operation here is idempotent (adds tolerate "exists", locks
        re-read the entry first).
        """
        try:
            return operation(self._connection())
        except LDAPCommunicationError as error:
            log.warning("ldap.reconnect", target=self.name, reason=self._safe(error))
            self.close()
            try:
                return operation(self._connection())
            except _Unanswered:
                raise
            except TargetError as again:
                # The first attempt may have reached the server before the line dropped.
                raise _Unanswered(
                    f"no answer ({self._safe(error)}), and reconnecting failed: {again}"
                ) from None

    def _safe(self, error: BaseException) -> str:
        return error_text(error, self.settings.bind_password)

    # -- fetch -----------------------------------------------------------------------------

    def _fetch(
        self,
        conn: ldap3.Connection,
        managed: frozenset[str],
        progress: Progress,
        observe: Observe = OBSERVE_NOTHING,
        known: RosterStrings = NO_ROSTER_STRINGS,
    ) -> Snapshot:
        flavour = self.flavour
        seen = 0

        def count(entries: int) -> None:
            nonlocal seen
            seen += entries
            progress(seen, None)

        # Groups first: each user entry then becomes its whole account as it arrives.
        groups = index_groups(
            self._group_entries(conn, count),
            flavour.member_attribute,
            flavour.member_kind,
            self._placeholder_key,
        )
        managed_keys = frozenset(normalise_server_dn(m) for m in managed)
        reader = AccountReader(
            target=self.name,
            flavour=flavour,
            username_attribute=self._username_attribute,
            match_attribute=self.settings.match_attribute,
            email_attribute=self.settings.email_attribute,
            observe=observe,
            now=datetime.now(UTC),
            groups=groups,
            managed_keys=managed_keys,
            known=known,
        )
        users = self._paged(
            conn,
            self.settings.users_base,
            self._users_filter,
            self._user_attributes(observe),
            count,
        )
        try:
            accounts = reader.read_all(users)
        except UnreadableEntry as error:
            raise _OperationFailed(str(error)) from None
        # Apply looks accounts up only to list them by name or address in groups.
        by_key = flavour.member_kind is not MemberKind.DN
        self._accounts = {account.key: account for account in accounts} if by_key else {}
        self._dns = reader.dns
        self._aliases = reader.aliases
        self._group_dns = groups.dns
        self._groups_with_placeholder = groups.with_placeholder
        settings, settings_key = self._read_settings(conn) if observe.settings else (None, "")
        return Snapshot(
            target=self.name,
            accounts=tuple(accounts),
            entitlements=frozenset(managed_keys & groups.dns.keys()),
            settings=settings,
            settings_key=settings_key,
        )

    def _group_entries(
        self, conn: ldap3.Connection, count: Callable[[int], None]
    ) -> Iterator[dict[str, Any]]:
        """Every group with all its members, AD's large ones read window by window."""
        flavour = self.flavour
        step = flavour.member_range_step
        attribute = flavour.member_attribute
        wanted = first_window(attribute, step) if step else attribute
        entries = self._paged(
            conn, self.settings.groups_base, flavour.group_filter, [wanted], count
        )
        if not step:
            yield from entries
            return

        def read_window(dn: str, window: str) -> Attributes:
            return self._read_entry(conn, dn, [window])

        try:
            yield from completed(entries, attribute, read_window)
        except RangeError as error:
            raise _OperationFailed(str(error)) from None

    def _user_attributes(self, observe: Observe = OBSERVE_NOTHING) -> list[str]:
        wanted = [
            self._username_attribute,
            self.settings.match_attribute,
            self.settings.email_attribute,
            "displayName",
            "cn",
            *self.flavour.lock_attributes,
            *account_duties(self.flavour.name).attributes(observe),
        ]
        return list(dict.fromkeys(wanted))

    def _paged(
        self,
        conn: ldap3.Connection,
        base: str,
        search_filter: str,
        attributes: list[str],
        count: Callable[[int], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries of one paged subtree search, page by page; raises `_OperationFailed`."""
        if self._fast is not None:
            try:
                yield from self._fast.search(base, search_filter, attributes, count)
            except SearchFailed as failed:
                raise _OperationFailed(
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
                paged_size=self.settings.page_size,
                paged_cookie=cookie,
            )
            result = conn.result
            code = result.get("result") if isinstance(result, dict) else None
            if code != _SUCCESS:
                raise _OperationFailed(self._search_failure(base, search_filter, result))
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
        if code == _SIZE_LIMIT_EXCEEDED:
            text += f" (give {self.settings.bind_dn} an unlimited size limit on the server)"
        elif code == _NO_SUCH_OBJECT:
            text += " (check users_base / groups_base)"
        return text

    def _counts(self, conn: ldap3.Connection) -> tuple[int, int]:
        """How many accounts and groups the target's searches see."""
        accounts = self._paged(conn, self.settings.users_base, self._users_filter, [_NO_ATTRIBUTES])
        groups = self._paged(
            conn, self.settings.groups_base, self.flavour.group_filter, [_NO_ATTRIBUTES]
        )
        return sum(1 for _ in accounts), sum(1 for _ in groups)

    def _describe_policy(self, conn: ldap3.Connection) -> str:
        dn = self._policy_dn(conn)
        if dn is None:
            return (
                f"password policy entry: {POLICY_DN_KEY} not set; a [password_policy] with "
                "settings cannot be enforced on this target until it names the entry the "
                "server uses"
            )
        found = self._policy_entry(conn, dn, list(policy_profile(self.flavour.name).attributes))
        state = "found" if found is not None else "missing (apply creates it)"
        return f"password policy entry: {dn} ({state})"

    # -- password policy -------------------------------------------------------------------

    def _policy_dn(self, conn: ldap3.Connection) -> str | None:
        """The configured policy entry, the product's fixed one, or AD's domain object."""
        profile = policy_profile(self.flavour.name)
        if self.settings.password_policy_dn or profile.default_dn:
            return self.settings.password_policy_dn or profile.default_dn
        if not profile.dn_from_root_dse:
            return None
        root = self._policy_entry(conn, "", ["defaultNamingContext"])
        return first(root, "defaultNamingContext") if root is not None else None

    def _policy_entry(
        self, conn: ldap3.Connection, dn: str, attributes: list[str]
    ) -> Attributes | None:
        """The entry's attributes; None when it does not exist. Raises `_OperationFailed`."""
        conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=attributes)
        result = conn.result
        code = result.get("result") if isinstance(result, dict) else None
        if code == _NO_SUCH_OBJECT:
            return None
        entries = [e for e in conn.response or () if e.get("type") == "searchResEntry"]
        if code != _SUCCESS or not entries:
            raise _OperationFailed(f"read {dn or 'the root DSE'} failed: {result_text(result)}")
        found: Attributes = entries[0]["attributes"]
        return found

    def _read_settings(self, conn: ldap3.Connection) -> tuple[dict[str, str] | None, str]:
        """The policy in force and where it lives; {} when the entry does not exist yet,
        None when it cannot be read (the plan then says so instead of guessing)."""
        profile = policy_profile(self.flavour.name)
        dn = ""
        try:
            dn = self._policy_dn(conn) or ""
            if not dn:
                return None, ""
            found = self._policy_entry(conn, dn, list(profile.attributes))
            return (profile.current(found) if found is not None else {}), dn
        except (_OperationFailed, PolicyError) as error:
            log.warning("ldap.settings.unreadable", target=self.name, entry=dn, reason=str(error))
            return None, dn

    # -- apply -----------------------------------------------------------------------------

    def _apply(self, action: Action) -> None:
        kind = action.kind
        if kind is ActionKind.CONFIGURE:
            self._retrying(lambda conn: self._configure(conn, action))
        elif kind is ActionKind.DISABLE:
            self._retrying(lambda conn: self._set_enabled(conn, action.account, enabled=False))
        elif kind is ActionKind.ENABLE:
            self._retrying(lambda conn: self._set_enabled(conn, action.account, enabled=True))
        elif kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            self._retrying(lambda conn: self._require_password_change(conn, action.account))
        elif kind is ActionKind.GRANT:
            self._add_to_groups(action.account, action.add)
        elif kind is ActionKind.REVOKE:
            self._remove_from_groups(action.account, action.remove)
        elif kind is ActionKind.CHANGE_UNIT:
            # Into the new unit first: a failure half-way leaves the person in two units,
            # which is visible and harmless, never in none.
            self._add_to_groups(action.account, action.add)
            self._remove_from_groups(action.account, action.remove)
        else:  # pragma: no cover - ActionKind is closed
            raise ApplyError(f"unsupported action {kind!r}")

    def _add_to_groups(self, account: str, groups: tuple[str, ...]) -> None:
        for group in groups:
            self._retrying(partial(self._add_member, group=group, account=account))

    def _remove_from_groups(self, account: str, groups: tuple[str, ...]) -> None:
        for group in groups:
            self._retrying(partial(self._remove_member, group=group, account=account))

    def _apply_answer(self, action: Action) -> ApplyError | None:
        """`apply` of one action, its failure as the executor would record it."""
        try:
            self.apply(action)
        except ApplyError as error:
            return error
        except Exception as error:  # an adapter bug must not fail the other actions
            log.exception("ldap.apply.crashed", target=self.name, account=action.account)
            return ApplyError(f"{type(error).__name__}: {error}")
        return None

    def _mergeable(self, action: Action) -> bool:
        """Group changes whose member values are known without asking the server."""
        return action.kind in _GROUP_KINDS and (
            self.flavour.member_kind is MemberKind.DN or action.account in self._accounts
        )

    def _apply_merged(self, actions: list[Action]) -> list[ApplyError | None]:
        """Group changes of several accounts: all additions first, then all removals.

        A change of unit whose addition failed keeps its old unit (never in none). Any
        merged modify the server refuses - all or nothing in LDAP: a value already there
        or gone, the group's last member, a product's own code - is redone value by
        value through the single-action path, which knows every tolerated answer.
        """
        errors: list[ApplyError | None] = [None] * len(actions)
        values: list[tuple[str, ...]] = []
        for index, action in enumerate(actions):
            self._log_step(action)
            try:
                values.append(self._member_values(self._connection(), action.account))
            except (_OperationFailed, TargetError) as error:
                values.append(())
                errors[index] = ApplyError(str(error))
        for adding in (True, False):
            wanted: dict[str, list[int]] = {}
            for index, action in enumerate(actions):
                if errors[index] is None:
                    for group in action.add if adding else action.remove:
                        wanted.setdefault(group, []).append(index)
            for group, indexes in wanted.items():
                merged = self._merged_modify(group, indexes, values, adding=adding)
                if merged is not True:
                    for index in indexes:
                        failure = errors[index] or self._member_answer(
                            actions[index], group, adding=adding
                        )
                        # The merged modify may have landed: so may this account's part.
                        lost = merged is None and failure is not None
                        errors[index] = AnswerLost(str(failure)) if lost else failure
        return errors

    def _merged_modify(
        self, group: str, indexes: list[int], values: list[tuple[str, ...]], *, adding: bool
    ) -> bool | None:
        """One modify for every value; False if refused or not tried (redo one by one),
        None if its answer was lost."""
        if len(indexes) < 2 or (adding and group in self._groups_with_placeholder):
            return False
        chosen = [values[i][:1] if adding else values[i] for i in indexes]
        members = list(dict.fromkeys(value for found in chosen for value in found))
        operation = ldap3.MODIFY_ADD if adding else ldap3.MODIFY_DELETE
        changes: Changes = {self.flavour.member_attribute: [(operation, members)]}
        group_dn = self._group_dns.get(group, group)
        try:
            self._retrying(lambda conn: self._modify(conn, group_dn, changes, tolerated=set()))
        except (_Unanswered, LDAPCommunicationError) as error:
            log.info("ldap.merged_modify_unanswered", target=self.name, group=group_dn,
                     reason=self._safe(error))  # fmt: skip
            return None
        except (_OperationFailed, TargetError, LDAPException) as error:
            log.info("ldap.merged_modify_refused", target=self.name, group=group_dn,
                     reason=str(error) if not isinstance(error, LDAPException) else
                     self._safe(error))  # fmt: skip
            return False
        return True

    def _member_answer(self, action: Action, group: str, *, adding: bool) -> ApplyError | None:
        """One account into or out of one group, the failure as `apply` words it."""
        work = self._add_member if adding else self._remove_member
        try:
            self._retrying(partial(work, group=group, account=action.account))
        except _Unanswered as error:
            return AnswerLost(str(error))
        except (_OperationFailed, TargetError) as error:
            return ApplyError(str(error))
        except LDAPCommunicationError as error:
            return AnswerLost(f"{action.kind.value} {action.account}: {self._safe(error)}")
        except LDAPException as error:
            return ApplyError(f"{action.kind.value} {action.account}: {self._safe(error)}")
        return None

    def _set_enabled(self, conn: ldap3.Connection, account: str, *, enabled: bool) -> None:
        dn = self._account_dn(account)
        if not enabled and self.flavour.name in _FIXED_VALUE_LOCKS:
            # The lock is one fixed value written over whatever is there: reading first
            # would end in the same state, one round trip later.
            attributes: Attributes = {}
        else:
            # Read just before writing: AD's flag word holds other bits that may have
            # changed since the fetch, Zimbra's status may be an administrator's own lock,
            # and an entry already in the wanted state needs no write at all.
            attributes = self._read_entry(conn, dn, list(self.flavour.lock_attributes))
        build = self.flavour.enable_changes if enabled else self.flavour.disable_changes
        try:
            changes = build(attributes)
        except FlavourError as error:
            raise _OperationFailed(f"{'enable' if enabled else 'disable'} {dn}: {error}") from None
        if not changes:
            log.info("ldap.apply.already_done", target=self.name, account=dn, enabled=enabled)
            return
        # Deleting a lock attribute that vanished meanwhile still leaves the account enabled.
        self._modify(conn, dn, changes, tolerated={_NO_SUCH_ATTRIBUTE} if enabled else set())

    def _require_password_change(self, conn: ldap3.Connection, account: str) -> None:
        dn = self._account_dn(account)
        self._check_must_change_switch(conn, dn)
        attribute = self.flavour.must_change_attribute
        changes = self.flavour.must_change_changes(self._read_entry(conn, dn, [attribute]))
        if not changes:
            log.info("ldap.apply.already_done", target=self.name, account=dn, must_change=True)
            return
        self._modify(conn, dn, changes, tolerated=set())

    def _check_must_change_switch(self, conn: ldap3.Connection, dn: str) -> None:
        """Refuse a "must change" flag the server would ignore, rather than report it done.

        389 DS restricts an account whose password expired at the epoch only while
        cn=config says `passwordMustChange: on`; with it off (the default) the old password
        goes on working as before. A policy entry the service account may not read cannot
        be checked: the flag is written then, as before.
        """
        switch = self.flavour.must_change_switch
        if switch is None:
            return
        entry, attribute, wanted = switch
        try:
            found = self._policy_entry(conn, entry, [attribute])
        except _OperationFailed as error:
            log.warning("ldap.must_change.unchecked", target=self.name, reason=str(error))
            return
        value = first(found, attribute) if found is not None else None
        if (value or "").strip().lower() != wanted:
            raise _OperationFailed(
                f"require a password change of {dn}: {entry} has {attribute}: "
                f"{value or 'unset'}, so the server would still accept the old password; "
                f"set {attribute}: {wanted} (syncbot does, with [password_policy] "
                'never_changed or expired = "require_change")'
            )

    def _configure(self, conn: ldap3.Connection, action: Action) -> None:
        """Set exactly the planned policy attributes; create the ppolicy entry if missing."""
        profile = policy_profile(self.flavour.name)
        dn = self._policy_dn(conn)
        if dn is None:
            raise _OperationFailed(f"configure {self.name}: {POLICY_DN_KEY} is not set")
        if normalise_server_dn(dn) != normalise_server_dn(action.account):
            raise _OperationFailed(
                f"configure: planned for {action.account}, but the policy is {dn}"
            )
        current = self._policy_entry(conn, dn, list(profile.attributes))
        try:
            if current is None:
                self._add_policy(conn, dn, profile.creation(dn, action.settings))
                return
            changes = profile.changes(action.settings, current)
        except PolicyError as error:
            raise _OperationFailed(f"configure {dn}: {error}") from None
        if changes:
            self._modify(conn, dn, changes, tolerated=set())

    def _add_policy(
        self, conn: ldap3.Connection, dn: str, attributes: dict[str, list[str]]
    ) -> None:
        conn.add(dn, attributes=attributes)
        if not isinstance(conn.result, dict) or conn.result.get("result") != _SUCCESS:
            raise _OperationFailed(f"create {dn} failed: {result_text(conn.result)}")
        log.info("ldap.settings.created", target=self.name, entry=dn, attributes=sorted(attributes))

    def _add_member(self, conn: ldap3.Connection, group: str, account: str) -> None:
        group_dn = self._group_dns.get(group, group)
        value = self._member_values(conn, account)[0]
        code = self._modify(
            conn,
            group_dn,
            self.flavour.add_member_changes(value),
            tolerated={_ATTRIBUTE_OR_VALUE_EXISTS},
            confirm=self.flavour.member_exists_codes,
        )
        if code in self.flavour.member_exists_codes and not self._is_member(conn, group_dn, value):
            raise _OperationFailed(f"add {value} to {group_dn}: refused ({code})")
        if self._placeholder and group in self._groups_with_placeholder:
            self._modify(
                conn,
                group_dn,
                self.flavour.remove_member_changes(self._placeholder),
                tolerated={_NO_SUCH_ATTRIBUTE},
            )
            self._groups_with_placeholder.discard(group)

    def _remove_member(self, conn: ldap3.Connection, group: str, account: str) -> None:
        group_dn = self._group_dns.get(group, group)
        for value in self._member_values(conn, account):
            self._remove_value(conn, group, group_dn, value)

    def _remove_value(self, conn: ldap3.Connection, group: str, group_dn: str, value: str) -> None:
        tolerated = {_NO_SUCH_ATTRIBUTE}
        if self._placeholder:
            tolerated.add(_OBJECT_CLASS_VIOLATION)
        code = self._modify(
            conn,
            group_dn,
            self.flavour.remove_member_changes(value),
            tolerated=tolerated,
            confirm=self.flavour.member_absent_codes,
        )
        if code in self.flavour.member_absent_codes and self._is_member(conn, group_dn, value):
            raise _OperationFailed(f"remove {value} from {group_dn}: refused ({code})")
        if code == _OBJECT_CLASS_VIOLATION and self._placeholder:
            # The group's class requires a member and this was the last one.
            self._modify(
                conn,
                group_dn,
                self.flavour.remove_last_member_changes(value, self._placeholder),
                tolerated={_NO_SUCH_ATTRIBUTE},
            )
            self._groups_with_placeholder.add(group)
            log.info("ldap.group.placeholder_added", target=self.name, group=group_dn)

    def _modify(
        self,
        conn: ldap3.Connection,
        dn: str,
        changes: Changes,
        *,
        tolerated: set[int],
        confirm: frozenset[int] = frozenset(),
    ) -> int:
        """Send one modify; return its result code if success, tolerated or to be confirmed."""
        conn.modify(dn, changes)
        result = conn.result
        code = result.get("result") if isinstance(result, dict) else None
        if code == _SUCCESS or code in tolerated or code in confirm:
            log.debug(
                "ldap.modify", target=self.name, dn=dn, attributes=sorted(changes), result=code
            )
            return int(code)
        attributes = ", ".join(sorted(changes))
        raise _OperationFailed(f"modify {attributes} of {dn} failed: {result_text(result)}")

    def _is_member(self, conn: ldap3.Connection, group_dn: str, value: str) -> bool:
        conn.compare(group_dn, self.flavour.member_attribute, value)
        code = conn.result.get("result") if isinstance(conn.result, dict) else None
        if code not in (_COMPARE_TRUE, _COMPARE_FALSE):
            raise _OperationFailed(
                f"compare membership in {group_dn} failed: {result_text(conn.result)}"
            )
        return bool(code == _COMPARE_TRUE)

    def _read_entry(self, conn: ldap3.Connection, dn: str, attributes: list[str]) -> Attributes:
        conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=attributes)
        result = conn.result
        code = result.get("result") if isinstance(result, dict) else None
        entries = [e for e in conn.response or () if e.get("type") == "searchResEntry"]
        if code != _SUCCESS or not entries:
            raise _OperationFailed(f"read {dn} failed: {result_text(result)}")
        found: Attributes = entries[0]["attributes"]
        return found

    def _account_dn(self, account: str) -> str:
        return self._dns.get(account, account)

    def _member_values(self, conn: ldap3.Connection, account: str) -> tuple[str, ...]:
        """What the flavour's groups may store for this account: DN, username or mails.

        The first value is the one added; removal takes out every one of them.
        """
        kind = self.flavour.member_kind
        if kind is MemberKind.DN:
            return (self._account_dn(account),)
        known = self._accounts.get(account)
        if known is not None:
            found = (
                self._aliases.get(account) or (known.email or "",)
                if kind is MemberKind.MAIL
                else (known.username,)
            )
        else:
            attribute = (
                self.settings.email_attribute
                if kind is MemberKind.MAIL
                else self._username_attribute
            )
            found = tuple(values(self._read_entry(conn, account, [attribute]), attribute))
        found = tuple(v for v in found if v)
        if not found:
            raise _OperationFailed(f"{account} has no {kind.value} to list as a group member")
        return found

    # -- naming ----------------------------------------------------------------------------

    def _group_dn_for_name(self, name: str) -> str:
        return child_dn(self.flavour.group_rdn_attribute, name, self.settings.groups_base)

    def _resolve_placeholder(self) -> str | None:
        if self.settings.empty_group_member:
            return self.settings.empty_group_member
        if self.flavour.groups_may_be_empty or self.flavour.placeholder_rdn is None:
            return None
        return f"{self.flavour.placeholder_rdn},{self.settings.groups_base}"
