"""Names to Keycloak's ids, and the ones a read found, carried to the write in the snapshot.

Role mappings and group memberships are changed by id, but plans name clients by clientId
and groups by path. The read resolves those it reads the members of; `KeycloakLocator`
keeps them in `Snapshot.locator`, so an apply works from what its plan was computed from
and the target object holds nothing between a read and an apply. Whatever else a write
needs (role representations, an entitlement the read was not asked about) is looked up by
a `Names` that lives for one apply call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from syncbot.targets.keycloak.api import HTTP_NOT_FOUND, AdminApi, AdminError, segment, segments
from syncbot.targets.keycloak.permissions import VIEW_CLIENTS
from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind
from syncbot.targets.keycloak.settings import KeycloakSettings


@dataclass(frozen=True, slots=True)
class KeycloakLocator:
    """Where one read found things in one realm: None for a client or group it found absent.

    `server_url` and `realm` say which realm the ids belong to: ids of another realm would
    find nothing, or the wrong thing, in this one.
    """

    server_url: str
    realm: str
    clients: Mapping[str, str | None]  # clientId -> Keycloak's id of the client
    groups: Mapping[str, str | None]  # group path -> group id

    def fits(self, settings: KeycloakSettings) -> bool:
        """Whether the ids were read from the realm `settings` names."""
        return (self.server_url, self.realm) == (settings.server_url, settings.realm)


class Names:
    """Resolves client, group and role names for one read or one apply call.

    Starts from what a locator already knows and asks Keycloak only for the rest; not
    meant to outlive the call that made it.
    """

    def __init__(
        self, api: AdminApi, settings: KeycloakSettings, known: KeycloakLocator | None = None
    ) -> None:
        self.api = api
        self.settings = settings
        self._clients: dict[str, str | None] = dict(known.clients) if known else {}
        self._groups: dict[str, str | None] = dict(known.groups) if known else {}
        self._roles: dict[str, dict[str, Any] | None] = {}

    def locator(self) -> KeycloakLocator:
        """What has been resolved so far, frozen for a snapshot."""
        return KeycloakLocator(
            server_url=self.settings.server_url,
            realm=self.settings.realm,
            clients=MappingProxyType(dict(self._clients)),
            groups=MappingProxyType(dict(self._groups)),
        )

    def client_uuid(self, client_id: str) -> str | None:
        """Keycloak's id of a client named by its clientId; None if there is none."""
        if client_id not in self._clients:
            found = self.api.get("clients", clientId=client_id, search="false")
            matches = [c for c in found or () if c.get("clientId") == client_id]
            if not matches:
                self._refuse_unseen_client(client_id)
            self._clients[client_id] = str(matches[0]["id"]) if matches else None
        return self._clients[client_id]

    def _refuse_unseen_client(self, client_id: str) -> None:
        """Raise if "no such client" may only mean "not allowed to see it".

        Keycloak answers the client search of an account without view-clients with an empty
        list, not 403; believing it would report every client role missing, and a revoke of
        one would "succeed" without touching anything.
        """
        granted = self.api.granted_roles()
        if granted is not None and not VIEW_CLIENTS.met_by(granted):
            raise AdminError(
                f"cannot tell whether client {client_id!r} exists: the service account of "
                f"client {self.settings.client_id} lacks realm-management role "
                f"{VIEW_CLIENTS.role} ({VIEW_CLIENTS.purpose})"
            )

    def group_id(self, path: str) -> str | None:
        if path not in self._groups:
            self._groups[path] = self._lookup(f"group-by-path/{segments(path)}", "id")
        return self._groups[path]

    def role(self, entitlement: Entitlement) -> dict[str, Any] | None:
        """The role representation (id and name) that role-mapping calls take."""
        if entitlement.key not in self._roles:
            path = self._role_path(entitlement)
            found = self._lookup(path, None) if path else None
            self._roles[entitlement.key] = (
                {"id": found["id"], "name": found["name"]} if isinstance(found, dict) else None
            )
        return self._roles[entitlement.key]

    def _role_path(self, entitlement: Entitlement) -> str | None:
        if entitlement.kind is EntitlementKind.REALM_ROLE:
            return f"roles/{segment(entitlement.name)}"
        uuid = self.client_uuid(str(entitlement.client_id))
        return f"clients/{uuid}/roles/{segment(entitlement.name)}" if uuid else None

    def _lookup(self, path: str, field: str | None) -> Any:
        """GET one resource (or one field of it); None when Keycloak says it does not exist."""
        try:
            found = self.api.get(path)
        except AdminError as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise
        if field is None:
            return found
        return str(found[field]) if isinstance(found, dict) and field in found else None
