"""The Keycloak target: one realm, read by `read`, changed by `write`, named here.

The target object holds the settings and one HTTP session, nothing it learnt from the
realm: what an apply needs from a read travels in `Snapshot.locator`, so any instance
can apply steps planned from a snapshot another one read.

Not thread-safe: one `KeycloakTarget` holds one HTTP session, used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncbot.duty_settings import Duties, WantedSettings
from syncbot.errors import TargetError
from syncbot.model import Action, Snapshot
from syncbot.targets.base import ApplyError, ReadRequest
from syncbot.targets.insecure import warn_insecure
from syncbot.targets.keycloak import policy
from syncbot.targets.keycloak.api import AdminApi, AdminError
from syncbot.targets.keycloak.checks import check_roles, describe_realm
from syncbot.targets.keycloak.event_settings import wanted_events
from syncbot.targets.keycloak.read import read_realm
from syncbot.targets.keycloak.refs import EntitlementKind, parse_key, parse_reference
from syncbot.targets.keycloak.settings import KeycloakSettings
from syncbot.targets.keycloak.write import apply_steps
from syncbot.targets.rights import RightsReport


class KeycloakTarget:
    """A `syncbot.targets.base.Target` for one realm of a Keycloak server."""

    def __init__(self, settings: KeycloakSettings) -> None:
        self.name = settings.name
        self.settings = settings
        warn_insecure(settings.name, settings.insecure_reasons)
        self.api = AdminApi(settings)

    def __repr__(self) -> str:
        return (
            f"KeycloakTarget(name={self.name!r}, url={self.settings.server_url!r}, "
            f"realm={self.settings.realm!r})"
        )

    @property
    def requests(self) -> int:
        """Admin API calls made so far by this target (token requests not counted)."""
        return self.api.calls

    def entitlement_key(self, ref: str) -> str:
        """`realm:R`, `client:C:R`, `group:P` as `realm-role:R`, `client-role:C:R`, `group:/P`."""
        return parse_reference(ref, target=self.name).key

    def owned_for_federated(self, managed: frozenset[str]) -> frozenset[str]:
        """Client roles: an LDAP the organisation syncs feeds groups (and realm roles through
        role mappers) to the users it federates, but never the roles of one application."""
        return frozenset(
            key
            for key in managed
            if (parsed := parse_key(key)) and parsed.kind is EntitlementKind.CLIENT_ROLE
        )

    def read(self, request: ReadRequest) -> Snapshot:
        """Every person in the realm and the direct members of every managed entitlement."""
        return read_realm(self.api, self.settings, request)

    def apply(self, steps: Sequence[Action], snapshot: Snapshot) -> list[ApplyError | None]:
        """Carry out `steps` planned from `snapshot`; None or the error for each step."""
        return apply_steps(self.api, self.settings, steps, snapshot)

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        """The policy terms the rules call for and, with `store_events`, event storage on
        for at least `events_expiration_days`, LOGIN and LOGIN_ERROR among the stored types.

        Event settings are "at least": the snapshot reports them as syncbot judges them
        (the required types that are stored; an expiration at least as long, or none, reads
        as the configured one), so wanted values never depend on a read, and apply only
        ever adds types or lengthens the expiration.
        """
        values = policy.wanted_terms(duties.password)
        if self.settings.store_events:
            values.update(wanted_events(self.settings.events_expiration_days))
        return WantedSettings(values=values)

    def describe(self) -> list[str]:
        """Sign in and say what is there and what is wrong, for `syncbot check-config`."""
        try:
            return describe_realm(self.api)
        except AdminError as error:
            raise TargetError(f"{self.name}: {error}") from None

    def check_rights(self, managed: frozenset[str]) -> RightsReport:
        """Whether the service account holds the roles this configuration needs."""
        try:
            return check_roles(self.api, managed)
        except AdminError as error:
            raise TargetError(f"{self.name}: {error}") from None

    def close(self) -> None:
        self.api.close()
