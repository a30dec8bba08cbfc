"""The LDAP target: reads a whole directory in two paged searches and writes batches of steps.

A targeted read (`ReadRequest.lookup`) reads only the accounts some people could be
paired with (`targeted`): a push for one person costs searches for that person.

Thin on purpose: reading (`read`, `targeted`), writing (`write`, `members`) and the
connections (`link`) live in their own modules; this class holds what one configured
directory is and answers the `Target` contract with them. It keeps nothing between a read and an
apply: what writing needs travels in the snapshot (`LdapLocator`).

Not thread-safe: one `LdapTarget` holds one connection, used by one thread at a time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from ldap3.core.exceptions import LDAPException

from syncbot.duty_settings import NO_SETTINGS, Duties, WantedSettings
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Action, Snapshot
from syncbot.targets.base import ApplyError, ReadRequest
from syncbot.targets.insecure import warn_insecure
from syncbot.targets.ldap.dn import InvalidDnError, normalise_dn
from syncbot.targets.ldap.flavours import Flavour
from syncbot.targets.ldap.layout import Layout
from syncbot.targets.ldap.link import Link, OperationFailed
from syncbot.targets.ldap.locator import LdapLocator
from syncbot.targets.ldap.policy import policy_profile
from syncbot.targets.ldap.read import DirectoryReader
from syncbot.targets.ldap.rights import check_rights
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.ldap.targeted import TargetedReader
from syncbot.targets.ldap.write import Writer
from syncbot.targets.rights import RightsReport

log = structlog.get_logger("syncbot.ldap")


class LdapTarget:
    """A `syncbot.targets.base.Target` for OpenLDAP, Active Directory, 389 DS and Zimbra."""

    def __init__(self, settings: LdapSettings) -> None:
        self.layout = Layout.of(settings)
        self.flavour: Flavour = self.layout.flavour
        self.name = settings.name
        self.settings = settings
        warn_insecure(settings.name, settings.insecure_reasons)
        self.link = Link(settings)
        self.reader = DirectoryReader(self.layout, self.link)
        self.targeted = TargetedReader(self.reader)
        self.search_library = self.link.search_library

    def __repr__(self) -> str:
        return (
            f"LdapTarget(name={self.name!r}, flavour={self.flavour.name!r}, "
            f"url={self.settings.url!r})"
        )

    def entitlement_key(self, ref: str) -> str:
        """A group DN, or a bare group name under groups_base, as a normalised DN key."""
        text = ref.strip()
        if not text:
            raise ConfigError("empty group reference", source=f"targets.{self.name}")
        try:
            dn = text if "=" in text else self.layout.group_dn_for_name(text)
            return normalise_dn(dn)
        except InvalidDnError as error:
            raise ConfigError(str(error), source=f"targets.{self.name}") from None

    def read(self, request: ReadRequest) -> Snapshot:
        """Read every account and every group in two paged searches (pages, not per person);
        with `request.lookup`, only the accounts it wants, searched for by their values."""
        started = time.perf_counter()
        lookup = request.lookup
        try:
            if lookup is None:
                snapshot = self.link.retrying(lambda conn: self.reader.snapshot(conn, request))
            else:
                snapshot = self.link.retrying(
                    lambda conn: self.targeted.snapshot(conn, request, lookup)
                )
        except OperationFailed as error:
            raise TargetError(f"{self.name}: {error}") from None
        except LDAPException as error:
            raise TargetError(
                f"{self.name}: reading {self.settings.url} failed: {self.link.safe(error)}"
            ) from None
        locator = snapshot.locator
        log.info(
            "ldap.fetch.done",
            target=self.name,
            accounts=len(snapshot.accounts),
            groups=len(locator.group_dns) if isinstance(locator, LdapLocator) else 0,
            managed_found=len(snapshot.entitlements),
            targeted=lookup is not None,
            looked_up=len(lookup) if lookup is not None else None,
            seconds=round(time.perf_counter() - started, 3),
        )
        return snapshot

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        """Carry out `steps`, planned from `snapshot`; per step None or its error.

        A snapshot this directory did not read says nothing about where its accounts and
        groups are: every step is refused rather than guessed at.
        """
        locator = snapshot.locator
        if snapshot.target != self.name or not isinstance(locator, LdapLocator):
            log.warning("ldap.apply.foreign_snapshot", target=self.name, snapshot=snapshot.target)
            return [
                ApplyError(f"snapshot of {snapshot.target!r} is not one {self.name!r} read")
                for _ in steps
            ]
        return Writer(self.layout, self.link, locator).apply(steps)

    def owned_for_federated(self, managed: frozenset[str]) -> frozenset[str]:
        """An LDAP directory is where federation starts: none of its accounts are federated."""
        return frozenset()

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
            accounts, groups = self.link.retrying(self.reader.counts)
            policy = self.link.retrying(self.reader.describe_policy)
        except OperationFailed as error:
            raise TargetError(f"{self.name}: {error}") from None
        except LDAPException as error:
            raise TargetError(f"{self.name}: {self.link.safe(error)}") from None
        return [
            f"{self.settings.url} bound as {self.settings.bind_dn}{security} "
            f"(flavour {self.flavour.name})",
            f"accounts under {self.settings.users_base}: {accounts}",
            f"groups under {self.settings.groups_base}: {groups}",
            policy,
        ]

    def check_rights(self, managed: frozenset[str]) -> RightsReport:
        """Whether the bind account may read and write locks and members (`rights`)."""
        try:
            return self.link.retrying(lambda conn: check_rights(conn, self.layout, managed))
        except LDAPException as error:
            raise TargetError(f"{self.name}: {self.link.safe(error)}") from None

    def close(self) -> None:
        self.link.close()
