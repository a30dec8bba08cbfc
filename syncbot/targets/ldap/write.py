"""Carrying out a batch of steps planned from one snapshot, each answered on its own.

What several steps add to or take from one group goes in one modify: slapd rewrites a
whole groupOfNames entry per modify, so one modify for a window of departures costs
about what one removal costs. Every other step goes alone, its failure mapped to the
`ApplyError` or `AnswerLost` the executor records; no step's failure stops another.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import ldap3
import structlog
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException

from syncbot.errors import TargetError
from syncbot.model import Action, ActionKind
from syncbot.targets.base import AnswerLost, ApplyError
from syncbot.targets.ldap.connection import result_text
from syncbot.targets.ldap.dn import normalise_server_dn
from syncbot.targets.ldap.flavours import Attributes, Changes, FlavourError, MemberKind, first
from syncbot.targets.ldap.layout import Layout
from syncbot.targets.ldap.link import Link, OperationFailed, Unanswered
from syncbot.targets.ldap.locator import LdapLocator
from syncbot.targets.ldap.members import Membership
from syncbot.targets.ldap.operations import (
    NO_SUCH_ATTRIBUTE,
    SUCCESS,
    modify,
    optional_entry,
    policy_dn,
    read_entry,
)
from syncbot.targets.ldap.policy import POLICY_DN_KEY, PolicyError, policy_profile

log = structlog.get_logger("syncbot.ldap")

_GROUP_KINDS = frozenset({ActionKind.GRANT, ActionKind.REVOKE, ActionKind.CHANGE_UNIT})
#: Flavours whose lock replaces one attribute with a fixed value (ppolicy's permanent lock
#: time, nsAccountLock TRUE): locking needs no read of the entry first.
_FIXED_VALUE_LOCKS = frozenset({"openldap", "389ds"})


class Writer:
    """One batch of steps against one directory, from the snapshot they were planned from."""

    def __init__(self, layout: Layout, link: Link, locator: LdapLocator) -> None:
        self.layout = layout
        self.link = link
        self.locator = locator
        self.members = Membership(layout, locator)

    def apply(self, steps: Sequence[Action]) -> list[ApplyError | None]:
        """Per step None or its error. A lone step goes alone: there is nothing to merge."""
        if len(steps) == 1:
            return [self.answer(steps[0])]
        errors: list[ApplyError | None] = [None] * len(steps)
        merged: list[int] = []
        for index, step in enumerate(steps):
            if step.target == self.layout.name and self._mergeable(step):
                merged.append(index)
            else:
                errors[index] = self.answer(step)
        if merged:
            found = self._apply_merged([steps[i] for i in merged])
            for index, error in zip(merged, found, strict=True):
                errors[index] = error
        return errors

    def answer(self, step: Action) -> ApplyError | None:
        """Carry out one step; its failure as the executor records it."""
        try:
            self._apply_alone(step)
        except ApplyError as error:
            return error
        # Any other exception is a bug: it leaves the batch, and the executor sends each
        # of its steps again alone, so the bug fails only the step it is in.
        return None

    def _apply_alone(self, step: Action) -> None:
        """Raises `ApplyError` (or `AnswerLost`) on failure; repeating the step is harmless."""
        name = self.layout.name
        if step.target != name:
            raise ApplyError(f"action for target {step.target!r} sent to {name!r}")
        self._log_step(step)
        safe = self.link.safe
        try:
            self._dispatch(step)
        except OperationFailed as error:
            raise ApplyError(str(error)) from None
        except Unanswered as error:
            raise AnswerLost(str(error)) from None
        except TargetError as error:
            raise ApplyError(str(error)) from None
        except LDAPCommunicationError as error:
            raise AnswerLost(f"{step.kind.value} {step.account}: {safe(error)}") from None
        except LDAPException as error:
            raise ApplyError(f"{step.kind.value} {step.account}: {safe(error)}") from None

    def _dispatch(self, step: Action) -> None:
        retrying, kind, account = self.link.retrying, step.kind, step.account
        if kind is ActionKind.CONFIGURE:
            retrying(lambda conn: self._configure(conn, step))
        elif kind is ActionKind.DISABLE:
            retrying(lambda conn: self._set_enabled(conn, account, enabled=False))
        elif kind is ActionKind.ENABLE:
            retrying(lambda conn: self._set_enabled(conn, account, enabled=True))
        elif kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            retrying(lambda conn: self._require_password_change(conn, account))
        elif kind is ActionKind.GRANT:
            self._add_to_groups(account, step.add)
        elif kind is ActionKind.REVOKE:
            self._remove_from_groups(account, step.remove)
        elif kind is ActionKind.CHANGE_UNIT:
            # Into the new unit first: a failure half-way leaves the person in two units,
            # which is visible and harmless, never in none.
            self._add_to_groups(account, step.add)
            self._remove_from_groups(account, step.remove)
        else:  # pragma: no cover - ActionKind is closed
            raise ApplyError(f"unsupported action {kind!r}")

    def _log_step(self, step: Action) -> None:
        log.info(
            "ldap.apply",
            target=self.layout.name,
            action=step.kind.value,
            account=step.account,
            add=list(step.add),
            remove=list(step.remove),
        )

    # -- group changes ---------------------------------------------------------------------

    def _add_to_groups(self, account: str, groups: tuple[str, ...]) -> None:
        for group in groups:
            self.link.retrying(partial(self.members.add, group=group, account=account))

    def _remove_from_groups(self, account: str, groups: tuple[str, ...]) -> None:
        for group in groups:
            self.link.retrying(partial(self.members.remove, group=group, account=account))

    def _mergeable(self, step: Action) -> bool:
        """Group changes whose member values are known without asking the server."""
        return step.kind in _GROUP_KINDS and (
            self.layout.flavour.member_kind is MemberKind.DN
            or step.account in self.locator.accounts
        )

    def _apply_merged(self, steps: list[Action]) -> list[ApplyError | None]:
        """Group changes of several accounts: all additions first, then all removals.

        A change of unit whose addition failed keeps its old unit (never in none). Any
        merged modify the server refuses - all or nothing in LDAP: a value already there
        or gone, the group's last member, a product's own code - is redone value by
        value through the single-step path, which knows every tolerated answer.
        """
        errors: list[ApplyError | None] = [None] * len(steps)
        found: list[tuple[str, ...]] = []
        for index, step in enumerate(steps):
            self._log_step(step)
            try:
                found.append(self.members.values(self.link.connection(), step.account))
            except (OperationFailed, TargetError) as error:
                found.append(())
                errors[index] = ApplyError(str(error))
        for adding in (True, False):
            wanted: dict[str, list[int]] = {}
            for index, step in enumerate(steps):
                if errors[index] is None:
                    for group in step.add if adding else step.remove:
                        wanted.setdefault(group, []).append(index)
            for group, indexes in wanted.items():
                merged = self._merged_modify(group, indexes, found, adding=adding)
                if merged is not True:
                    for index in indexes:
                        failure = errors[index] or self._member_answer(
                            steps[index], group, adding=adding
                        )
                        # The merged modify may have landed: so may this account's part.
                        lost = merged is None and failure is not None
                        errors[index] = AnswerLost(str(failure)) if lost else failure
        return errors

    def _merged_modify(
        self, group: str, indexes: list[int], found: list[tuple[str, ...]], *, adding: bool
    ) -> bool | None:
        """One modify for every value; False if refused or not tried (redo one by one),
        None if its answer was lost."""
        if len(indexes) < 2 or (adding and group in self.members.with_placeholder):
            return False
        chosen = [found[i][:1] if adding else found[i] for i in indexes]
        members = list(dict.fromkeys(value for values in chosen for value in values))
        operation = ldap3.MODIFY_ADD if adding else ldap3.MODIFY_DELETE
        changes: Changes = {self.layout.flavour.member_attribute: [(operation, members)]}
        group_dn = self.locator.group_dn(group)
        name, safe = self.layout.name, self.link.safe
        try:
            self.link.retrying(lambda conn: modify(conn, name, group_dn, changes, tolerated=set()))
        except (Unanswered, LDAPCommunicationError) as error:
            log.info("ldap.merged_modify_unanswered", target=name, group=group_dn,
                     reason=safe(error))  # fmt: skip
            return None
        except (OperationFailed, TargetError, LDAPException) as error:
            log.info("ldap.merged_modify_refused", target=name, group=group_dn,
                     reason=str(error) if not isinstance(error, LDAPException) else
                     safe(error))  # fmt: skip
            return False
        return True

    def _member_answer(self, step: Action, group: str, *, adding: bool) -> ApplyError | None:
        """One account into or out of one group, the failure worded as for a lone step."""
        work = self.members.add if adding else self.members.remove
        safe = self.link.safe
        try:
            self.link.retrying(partial(work, group=group, account=step.account))
        except Unanswered as error:
            return AnswerLost(str(error))
        except (OperationFailed, TargetError) as error:
            return ApplyError(str(error))
        except LDAPCommunicationError as error:
            return AnswerLost(f"{step.kind.value} {step.account}: {safe(error)}")
        except LDAPException as error:
            return ApplyError(f"{step.kind.value} {step.account}: {safe(error)}")
        return None

    # -- account state and password policy -------------------------------------------------

    def _set_enabled(self, conn: ldap3.Connection, account: str, *, enabled: bool) -> None:
        flavour, name = self.layout.flavour, self.layout.name
        dn = self.locator.account_dn(account)
        if not enabled and flavour.name in _FIXED_VALUE_LOCKS:
            # The lock is one fixed value written over whatever is there: reading first
            # would end in the same state, one round trip later.
            attributes: Attributes = {}
        else:
            # Read just before writing: AD's flag word holds other bits that may have
            # changed since the read, Zimbra's status may be an administrator's own lock,
            # and an entry already in the wanted state needs no write at all.
            attributes = read_entry(conn, dn, list(flavour.lock_attributes))
        build = flavour.enable_changes if enabled else flavour.disable_changes
        try:
            changes = build(attributes)
        except FlavourError as error:
            raise OperationFailed(f"{'enable' if enabled else 'disable'} {dn}: {error}") from None
        if not changes:
            log.info("ldap.apply.already_done", target=name, account=dn, enabled=enabled)
            return
        # Deleting a lock attribute that vanished meanwhile still leaves the account enabled.
        modify(conn, name, dn, changes, tolerated={NO_SUCH_ATTRIBUTE} if enabled else set())

    def _require_password_change(self, conn: ldap3.Connection, account: str) -> None:
        flavour, name = self.layout.flavour, self.layout.name
        dn = self.locator.account_dn(account)
        self._check_must_change_switch(conn, dn)
        attribute = flavour.must_change_attribute
        changes = flavour.must_change_changes(read_entry(conn, dn, [attribute]))
        if not changes:
            log.info("ldap.apply.already_done", target=name, account=dn, must_change=True)
            return
        modify(conn, name, dn, changes, tolerated=set())

    def _check_must_change_switch(self, conn: ldap3.Connection, dn: str) -> None:
        """Refuse a "must change" flag the server would ignore, rather than report it done.

        389 DS restricts an account whose password expired at the epoch only while
        cn=config says `passwordMustChange: on`; with it off (the default) the old password
        goes on working as before. A policy entry the service account may not read cannot
        be checked: the flag is written then, as before.
        """
        switch = self.layout.flavour.must_change_switch
        if switch is None:
            return
        entry, attribute, wanted = switch
        try:
            found = optional_entry(conn, entry, [attribute])
        except OperationFailed as error:
            log.warning("ldap.must_change.unchecked", target=self.layout.name, reason=str(error))
            return
        value = first(found, attribute) if found is not None else None
        if (value or "").strip().lower() != wanted:
            raise OperationFailed(
                f"require a password change of {dn}: {entry} has {attribute}: "
                f"{value or 'unset'}, so the server would still accept the old password; "
                f"set {attribute}: {wanted} (syncbot does, with [password_policy] "
                'never_changed or expired = "require_change")'
            )

    def _configure(self, conn: ldap3.Connection, step: Action) -> None:
        """Set exactly the planned policy attributes; create the ppolicy entry if missing."""
        name = self.layout.name
        profile = policy_profile(self.layout.flavour.name)
        dn = policy_dn(conn, self.layout)
        if dn is None:
            raise OperationFailed(f"configure {name}: {POLICY_DN_KEY} is not set")
        if normalise_server_dn(dn) != normalise_server_dn(step.account):
            raise OperationFailed(f"configure: planned for {step.account}, but the policy is {dn}")
        current = optional_entry(conn, dn, list(profile.attributes))
        try:
            if current is None:
                self._add_policy(conn, dn, profile.creation(dn, step.settings))
                return
            changes = profile.changes(step.settings, current)
        except PolicyError as error:
            raise OperationFailed(f"configure {dn}: {error}") from None
        if changes:
            modify(conn, name, dn, changes, tolerated=set())

    def _add_policy(
        self, conn: ldap3.Connection, dn: str, attributes: dict[str, list[str]]
    ) -> None:
        conn.add(dn, attributes=attributes)
        if not isinstance(conn.result, dict) or conn.result.get("result") != SUCCESS:
            raise OperationFailed(f"create {dn} failed: {result_text(conn.result)}")
        name = self.layout.name
        log.info("ldap.settings.created", target=name, entry=dn, attributes=sorted(attributes))
