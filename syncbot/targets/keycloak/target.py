"""The Keycloak target: reads a realm in paged lists and changes one user at a time.

A departed clerk whose LDAP entry is locked but whose Keycloak session, offline token or
client role still works has not been deprovisioned, so besides enabling, disabling and
role or group membership this target ends sessions and revokes offline tokens (SIGN_OUT).

Reading costs pages, never a request per person: the users list (attributes included),
then the direct members of each managed realm role, client role and group.

Not thread-safe: one `KeycloakTarget` holds one HTTP session, used by one thread at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from syncbot.duties import NO_SETTINGS, OBSERVE_NOTHING, Duties, Observe, WantedSettings
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Account, Action, ActionKind, Snapshot
from syncbot.targets.base import ApplyError, Progress, no_progress
from syncbot.targets.keycloak.api import (
    HTTP_NOT_FOUND,
    AdminApi,
    AdminError,
    segment,
    segments,
)
from syncbot.targets.keycloak.checks import describe_realm
from syncbot.targets.keycloak.permissions import VIEW_CLIENTS
from syncbot.targets.keycloak.refs import (
    Entitlement,
    EntitlementKind,
    parse_key,
    parse_reference,
)
from syncbot.targets.keycloak.settings import KeycloakSettings

log = structlog.get_logger("syncbot.keycloak")

User = dict[str, Any]
#: Keycloak's required action that makes the next sign-in set a new password.
UPDATE_PASSWORD = "UPDATE_PASSWORD"  # noqa: S105 - the action's name, not a password


class KeycloakTarget:
    """A `syncbot.targets.base.Target` for one realm of a Keycloak server."""

    def __init__(self, settings: KeycloakSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.api = AdminApi(settings)
        # Names resolved to Keycloak's ids and role representations; refreshed by fetch.
        self._client_uuids: dict[str, str | None] = {}
        self._group_ids: dict[str, str | None] = {}
        self._roles: dict[str, dict[str, Any] | None] = {}

    def __repr__(self) -> str:
        return (
            f"KeycloakTarget(name={self.name!r}, url={self.settings.server_url!r}, "
            f"realm={self.settings.realm!r})"
        )

    @property
    def requests(self) -> int:
        """Admin API calls made so far by this target (token requests not counted)."""
        return self.api.calls

    # -- Target protocol -------------------------------------------------------------------

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

    def fetch(
        self,
        managed: frozenset[str],
        progress: Progress = no_progress,
        observe: Observe = OBSERVE_NOTHING,
    ) -> Snapshot:
        """Every person in the realm and the direct members of every managed entitlement."""
        wanted = [self._entitlement(key) for key in sorted(managed)]
        started = time.perf_counter()
        calls_before = self.api.calls
        self._client_uuids.clear()
        self._group_ids.clear()
        self._roles.clear()
        try:
            users = self._read_users(progress)
            members = {
                entitlement.key: found
                for entitlement in wanted
                if (found := self._read_members(entitlement)) is not None
            }
        except AdminError as error:
            raise TargetError(
                f"{self.name}: reading realm {self.settings.realm}: {error}"
            ) from None
        held: dict[str, set[str]] = {}
        for key, user_ids in members.items():
            for user_id in user_ids:
                held.setdefault(user_id, set()).add(key)
        accounts = tuple(self._account(user, frozenset(held.get(user["id"], ()))) for user in users)
        log.info(
            "keycloak.fetch.done",
            target=self.name,
            realm=self.settings.realm,
            accounts=len(accounts),
            managed_found=len(members),
            managed_missing=sorted(set(managed) - members.keys()),
            requests=self.api.calls - calls_before,
            seconds=round(time.perf_counter() - started, 3),
        )
        return Snapshot(
            target=self.name,
            accounts=accounts,
            entitlements=frozenset(members),
            has_sessions=True,
        )

    def apply(self, action: Action) -> None:
        """Carry out one action; repeating it is harmless. Raises `ApplyError` on failure."""
        if action.target != self.name:
            raise ApplyError(f"action for target {action.target!r} sent to {self.name!r}")
        log.info(
            "keycloak.apply",
            target=self.name,
            action=action.kind.value,
            account=action.account,
            username=action.username,
            add=list(action.add),
            remove=list(action.remove),
        )
        try:
            self._apply(action)
        except AdminError as error:
            raise ApplyError(
                f"{action.kind.value} {action.username} ({action.account}): {error}"
            ) from None

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        return NO_SETTINGS

    def describe(self) -> list[str]:
        """Sign in and say what is there and what is wrong, for `syncbot check-config`."""
        try:
            return describe_realm(self.api)
        except AdminError as error:
            raise TargetError(f"{self.name}: {error}") from None

    def close(self) -> None:
        self.api.close()

    # -- fetch -----------------------------------------------------------------------------

    def _entitlement(self, key: str) -> Entitlement:
        parsed = parse_key(key)
        if parsed is None:
            raise ConfigError(
                f"{key!r} is not a Keycloak entitlement key "
                "(realm-role:R, client-role:C:R or group:/PATH)",
                source=f"targets.{self.name}",
            )
        return parsed

    def _read_users(self, progress: Progress) -> list[User]:
        """All persons, de-duplicated by id; service-account users are not persons."""
        total = self.api.get("users/count")
        total = total if isinstance(total, int) else None
        seen: dict[str, User] = {}
        for page in self.api.pages("users", briefRepresentation="false"):
            for user in page:
                if not user.get("serviceAccountClientId"):
                    seen.setdefault(str(user["id"]), user)
            progress(len(seen), total)
        return list(seen.values())

    def _read_members(self, entitlement: Entitlement) -> set[str] | None:
        """Ids of the direct members, or None if the entitlement does not exist."""
        path = self._members_path(entitlement)
        if path is None:
            return None
        try:
            return {
                str(user["id"])
                for page in self.api.pages(path, briefRepresentation="true")
                for user in page
            }
        except AdminError as error:
            if error.status == HTTP_NOT_FOUND:
                return None
            raise

    def _members_path(self, entitlement: Entitlement) -> str | None:
        if entitlement.kind is EntitlementKind.REALM_ROLE:
            return f"roles/{segment(entitlement.name)}/users"
        if entitlement.kind is EntitlementKind.CLIENT_ROLE:
            uuid = self._client_uuid(str(entitlement.client_id))
            return f"clients/{uuid}/roles/{segment(entitlement.name)}/users" if uuid else None
        group_id = self._group_id(entitlement.name)
        return f"groups/{group_id}/members" if group_id else None

    def _account(self, user: User, held: frozenset[str]) -> Account:
        attributes = user.get("attributes") or {}
        raw_ids = attributes.get(self.settings.match_attribute) or ()
        employee_id = next((v.strip() for v in raw_ids if isinstance(v, str) and v.strip()), None)
        names = (str(user.get(k) or "").strip() for k in ("firstName", "lastName"))
        return Account(
            target=self.name,
            key=str(user["id"]),
            username=str(user.get("username") or ""),
            employee_id=employee_id,
            email=str(user.get("email") or "").strip().lower() or None,
            enabled=bool(user.get("enabled", True)),
            entitlements=held,
            display_name=" ".join(n for n in names if n) or None,
            groups=held,
            federated=bool(user.get("federationLink")),
        )

    # -- names to ids ----------------------------------------------------------------------

    def _client_uuid(self, client_id: str) -> str | None:
        """Keycloak's id of a client named by its clientId; None if there is none."""
        if client_id not in self._client_uuids:
            found = self.api.get("clients", clientId=client_id, search="false")
            matches = [c for c in found or () if c.get("clientId") == client_id]
            if not matches:
                self._refuse_unseen_client(client_id)
            self._client_uuids[client_id] = str(matches[0]["id"]) if matches else None
        return self._client_uuids[client_id]

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

    def _group_id(self, path: str) -> str | None:
        if path not in self._group_ids:
            self._group_ids[path] = self._lookup(f"group-by-path/{segments(path)}", "id")
        return self._group_ids[path]

    def _role(self, entitlement: Entitlement) -> dict[str, Any] | None:
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
        uuid = self._client_uuid(str(entitlement.client_id))
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

    # -- apply -----------------------------------------------------------------------------

    def _apply(self, action: Action) -> None:
        kind = action.kind
        user = action.account
        if kind is ActionKind.DISABLE:
            self._set_enabled(user, enabled=False)
        elif kind is ActionKind.ENABLE:
            self._set_enabled(user, enabled=True)
        elif kind is ActionKind.SIGN_OUT:
            self._sign_out(user)
        elif kind is ActionKind.REQUIRE_PASSWORD_CHANGE:
            self._require_password_change(user)
        elif kind is ActionKind.GRANT:
            self._each(action.add, lambda e: self._grant(user, e))
        elif kind is ActionKind.REVOKE:
            self._each(action.remove, lambda e: self._revoke(user, e))
        elif kind is ActionKind.CHANGE_UNIT:
            # Into the new unit first: a failure half-way leaves the person in two units,
            # which is visible and harmless, never in none.
            self._each(action.add, lambda e: self._grant(user, e))
            self._each(action.remove, lambda e: self._revoke(user, e))
        else:  # pragma: no cover - ActionKind is closed
            raise ApplyError(f"unsupported action {kind!r}")

    def _each(self, keys: Iterable[str], step: Callable[[Entitlement], None]) -> None:
        for key in keys:
            parsed = parse_key(key)
            if parsed is None:
                raise AdminError(f"{key!r} is not a Keycloak entitlement key")
            step(parsed)

    def _user_path(self, user: str) -> str:
        return f"users/{segment(user)}"

    def _set_enabled(self, user: str, *, enabled: bool) -> None:
        current = self.api.get(self._user_path(user))
        if isinstance(current, dict) and current.get("enabled") is enabled:
            log.info("keycloak.apply.already_done", target=self.name, account=user, enabled=enabled)
            return
        # Only "enabled" is sent. A PUT that carries "attributes" replaces all of them, and
        # since Keycloak 24 silently drops those the user profile does not declare; without
        # the key Keycloak keeps what is stored. Writing back the representation just read
        # would also put back the username, e-mail and names as they were a moment ago,
        # undoing an administrator's edit made in between.
        self.api.put(self._user_path(user), {"enabled": enabled})

    def _require_password_change(self, user: str) -> None:
        """Add UPDATE_PASSWORD to the user's required actions, keeping the others."""
        current = self.api.get(self._user_path(user))
        held = current.get("requiredActions") if isinstance(current, dict) else None
        actions = [str(a) for a in held or ()]
        if UPDATE_PASSWORD in actions:
            log.info(
                "keycloak.apply.already_done",
                target=self.name,
                account=user,
                action=UPDATE_PASSWORD,
            )
            return
        # Only "requiredActions" is sent, for the reasons given in `_set_enabled`.
        self.api.put(self._user_path(user), {"requiredActions": [*actions, UPDATE_PASSWORD]})

    def _sign_out(self, user: str) -> None:
        """End every session, then revoke consents and the offline tokens they hold.

        Disabling alone leaves sessions and offline tokens alive (Keycloak issue #37981).
        Both steps are harmless to repeat.
        """
        self.api.post(f"{self._user_path(user)}/logout")
        consents = self.api.get(f"{self._user_path(user)}/consents") or []
        for consent in consents:
            client_id = consent.get("clientId") if isinstance(consent, dict) else None
            if client_id:
                try:
                    self.api.delete(f"{self._user_path(user)}/consents/{segment(client_id)}")
                except AdminError as error:
                    if error.status != HTTP_NOT_FOUND:  # gone meanwhile: what we wanted
                        raise
        log.info("keycloak.signed_out", target=self.name, account=user, consents=len(consents))

    def _grant(self, user: str, entitlement: Entitlement) -> None:
        """Add a role mapping or group membership; one already there is success."""
        if entitlement.kind is EntitlementKind.GROUP:
            group_id = self._group_id(entitlement.name)
            if group_id is None:
                raise AdminError(f"{entitlement} does not exist in realm {self.settings.realm}")
            self.api.put(f"{self._user_path(user)}/groups/{group_id}")
            return
        role = self._role(entitlement)
        if role is None:
            raise AdminError(f"{entitlement} does not exist in realm {self.settings.realm}")
        self.api.post(self._mapping_path(user, entitlement), [role])

    def _revoke(self, user: str, entitlement: Entitlement) -> None:
        """Remove a role mapping or group membership; one that is not there is success."""
        if entitlement.kind is EntitlementKind.GROUP:
            group_id = self._group_id(entitlement.name)
            if group_id is not None:
                self.api.delete(f"{self._user_path(user)}/groups/{group_id}")
                return
        else:
            role = self._role(entitlement)
            if role is not None:
                self.api.delete(self._mapping_path(user, entitlement), [role])
                return
        # Nobody holds what does not exist: the wanted state is already there.
        log.warning(
            "keycloak.apply.missing_entitlement",
            target=self.name,
            account=user,
            entitlement=entitlement.key,
        )

    def _mapping_path(self, user: str, entitlement: Entitlement) -> str:
        if entitlement.kind is EntitlementKind.REALM_ROLE:
            return f"{self._user_path(user)}/role-mappings/realm"
        uuid = self._client_uuid(str(entitlement.client_id))
        return f"{self._user_path(user)}/role-mappings/clients/{uuid}"
