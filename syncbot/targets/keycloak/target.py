"""The Keycloak target: reads a realm in paged lists and changes one user at a time.

A departed clerk whose LDAP entry is locked but whose Keycloak session, offline token or
client role still works has not been deprovisioned, so besides enabling, disabling and
role or group membership this target ends sessions and revokes offline tokens (SIGN_OUT).

Reading costs pages, never a request per person: the users list (attributes included),
then the direct members of each managed realm role, client role and group, one request
each (see `_read_members`). What the duties observe adds the realm's stored LOGIN /
LOGIN_ERROR events (pages for the whole realm), the realm's password policy and event
settings (two requests) and, only when password dates are asked for, one request per
enabled user with a password of their own.

Not thread-safe: one `KeycloakTarget` holds one HTTP session, used by one thread at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from syncbot.duty_settings import OBSERVE_NOTHING, Duties, Observe, WantedSettings
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Account, Action, ActionKind, Snapshot
from syncbot.roster_strings import NO_ROSTER_STRINGS, RosterStrings
from syncbot.targets.base import AnswerLost, ApplyError, Progress, no_progress
from syncbot.targets.keycloak import observed, policy
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
#: Where the realm's target-wide settings live, as plans name it.
SETTINGS_KEY = "realm"
#: Event-store settings, beside the policy terms in `Snapshot.settings`.
EVENTS_ENABLED = "events.enabled"
EVENTS_EXPIRATION = "events.expiration"  # seconds, as Keycloak keeps it
EVENTS_TYPES = "events.types"  # the stored event types, sorted, comma-separated
#: The event types the dormancy and failed sign-in duties read.
REQUIRED_EVENT_TYPES = frozenset({observed.LOGIN, observed.LOGIN_ERROR})
_DAY_SECONDS = 86_400
#: Members a role or group may have beyond the users just read (service accounts, people
#: added meanwhile) while its whole list still comes in the one answer asked for.
MEMBERS_HEADROOM = 1_000


@dataclass(slots=True)
class _Observed:
    """What a fetch read beyond accounts: per user id, and the realm's settings."""

    password_set: dict[str, datetime] = field(default_factory=dict)
    last_sign_in: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    settings: dict[str, str] | None = None


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
        # The realm's event settings as last read: what `wanted_settings` keeps (types
        # and a longer expiration an administrator chose are never taken away).

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
        known: RosterStrings = NO_ROSTER_STRINGS,
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
                if (found := self._read_members(entitlement, len(users))) is not None
            }
            extra = self._read_observed(users, observe, progress)
        except AdminError as error:
            raise TargetError(
                f"{self.name}: reading realm {self.settings.realm}: {error}"
            ) from None
        except policy.PolicyError as error:
            raise TargetError(
                f"{self.name}: the password policy of realm {self.settings.realm} "
                f"cannot be read: {error}"
            ) from None
        held: dict[str, set[str]] = {}
        for key, user_ids in members.items():
            for user_id in user_ids:
                held.setdefault(user_id, set()).add(key)
        accounts = tuple(
            self._account(user, frozenset(held.get(user["id"], ())), extra, known) for user in users
        )
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
            settings=extra.settings,
            settings_key=SETTINGS_KEY,
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
            # A change that may have been made is left for the next run to look at.
            failure = AnswerLost if error.maybe_done else ApplyError
            raise failure(
                f"{action.kind.value} {action.username} ({action.account}): {error}"
            ) from None

    def wanted_settings(self, duties: Duties) -> WantedSettings:
        """The policy terms the rules call for and, with `store_events`, event storage on
        for at least `events_expiration_days`, LOGIN and LOGIN_ERROR among the stored types.

        Event settings are "at least": the snapshot reports them as syncbot judges them
        (the required types that are stored; an expiration at least as long, or none, reads
        as the configured one), so wanted values never depend on a fetch, and apply only
        ever adds types or lengthens the expiration.
        """
        values = policy.wanted_terms(duties.password)
        if self.settings.store_events:
            values.update(self._wanted_events())
        return WantedSettings(values=values)

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

    def _read_members(self, entitlement: Entitlement, realm_users: int) -> set[str] | None:
        """Ids of the direct members, or None if the entitlement does not exist.

        One request asks for more members than the realm has users. Keycloak 26 answers a
        page of a role's members at offset k only after loading the k members before it one
        by one to count them, so each page costs O(k): 14,800 members of a 20,000-user realm
        took 26-30 s in pages of 200 and 3.7 s in one answer (groups count in SQL, but one
        answer still took 2.9 s against 9.4 s). One answer is also one query: a member
        removed meanwhile cannot shift another out of the pages read, which the planner
        would take for a missing role and grant again. Should the list still fill the
        answer, the next pages follow. The brief representation holds the id, all that is
        used here; the full one costs a user-profile evaluation per member (7,400 members:
        104 s against 0.4 s). Keycloak streams the answer, so `timeout` bounds the pauses
        within it, not the whole list.
        """
        path = self._members_path(entitlement)
        if path is None:
            return None
        size = max(self.settings.page_size, realm_users + MEMBERS_HEADROOM)
        try:
            return {
                str(user["id"])
                for page in self.api.pages(path, size=size, briefRepresentation="true")
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

    def _read_observed(self, users: list[User], observe: Observe, progress: Progress) -> _Observed:
        """Whatever `observe` asks for beyond accounts; nothing (no request) by default."""
        extra = _Observed()
        if observe.sign_ins_since is not None:
            extra.last_sign_in = observed.last_sign_ins(self.api, observe.sign_ins_since)
        if observe.failures_since is not None:
            extra.failures = observed.failed_sign_ins(self.api, observe.failures_since)
        events_watched = observe.sign_ins_since is not None or observe.failures_since is not None
        if observe.settings or (self.settings.store_events and events_watched):
            extra.settings = self._read_settings(policy_too=observe.settings)
        if observe.passwords:
            # Federated users' passwords live in LDAP; a disabled account's password is of
            # no use to anyone, and each user read here is one more request.
            own = [
                str(user["id"])
                for user in users
                if user.get("enabled", True) and not user.get("federationLink")
            ]
            extra.password_set = observed.password_set_on(
                self.api, own, lambda done: progress(done, len(own))
            )
        return extra

    def _read_settings(self, *, policy_too: bool) -> dict[str, str]:
        """The realm's policy terms and, with `store_events`, its event settings."""
        settings: dict[str, str] = {}
        if policy_too:
            realm = self.api.get("")
            raw = realm.get("passwordPolicy") if isinstance(realm, dict) else None
            settings.update(policy.parse(str(raw) if raw else ""))
        if self.settings.store_events:
            now = _events_settings(self.api.get("events/config"))
            settings.update(_as_judged(now, self._wanted_events()))
        return settings

    def _wanted_events(self) -> dict[str, str]:
        return {
            EVENTS_ENABLED: "true",
            EVENTS_TYPES: ",".join(sorted(REQUIRED_EVENT_TYPES)),
            EVENTS_EXPIRATION: str(self.settings.events_expiration_days * _DAY_SECONDS),
        }

    def _account(
        self, user: User, held: frozenset[str], extra: _Observed, known: RosterStrings
    ) -> Account:
        attributes = user.get("attributes") or {}
        raw_ids = attributes.get(self.settings.match_attribute) or ()
        names = (str(user.get(k) or "").strip() for k in ("firstName", "lastName"))
        employee_id, email, display_name = known.shared(
            next((v.strip() for v in raw_ids if isinstance(v, str) and v.strip()), None),
            str(user.get("email") or "").strip().lower() or None,
            " ".join(n for n in names if n) or None,
        )
        return Account(
            target=self.name,
            key=str(user["id"]),
            username=str(user.get("username") or ""),
            employee_id=employee_id,
            email=email,
            enabled=bool(user.get("enabled", True)),
            entitlements=held,
            display_name=display_name,
            groups=held,
            federated=bool(user.get("federationLink")),
            created=observed.from_millis(user.get("createdTimestamp")),
            password_changed=extra.password_set.get(str(user["id"])),
            must_change_password=UPDATE_PASSWORD in (user.get("requiredActions") or ()),
            last_sign_in=extra.last_sign_in.get(str(user["id"])),
            failed_sign_ins=extra.failures.get(str(user["id"]), 0),
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
        if kind is ActionKind.CONFIGURE:
            self._configure({name: wanted for name, _, wanted in action.settings})
        elif kind is ActionKind.DISABLE:
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

    def _configure(self, wanted: Mapping[str, str | None]) -> None:
        """Set exactly the named settings; every other policy term and event setting stays.

        Each side is read just before it is written and written only if it changes, so
        repeating the step, or an administrator's edit made since the plan, is harmless.
        """
        terms = {k: v for k, v in wanted.items() if not k.startswith("events.")}
        events = {k: v for k, v in wanted.items() if k.startswith("events.")}
        if terms:
            self._configure_policy(terms)
        if events:
            self._configure_events(events)

    def _configure_policy(self, terms: Mapping[str, str | None]) -> None:
        realm = self.api.get("")
        raw = str(realm.get("passwordPolicy") or "") if isinstance(realm, dict) else ""
        try:
            current = policy.parse(raw)
        except policy.PolicyError as error:
            raise AdminError(f"the realm's password policy cannot be read: {error}") from None
        merged = policy.merge(current, terms)
        if merged == current:
            log.info("keycloak.apply.already_done", target=self.name, settings=sorted(terms))
            return
        # Only "passwordPolicy" is sent: Keycloak leaves what a partial realm omits.
        self.api.put("", {"passwordPolicy": policy.serialise(merged)})

    def _configure_events(self, wanted: Mapping[str, str | None]) -> None:
        config = self.api.get("events/config")
        if not isinstance(config, dict):
            raise AdminError("GET events/config: expected an object")
        changed = dict(config)
        if EVENTS_ENABLED in wanted:
            changed["eventsEnabled"] = wanted[EVENTS_ENABLED] == "true"
        expiration = wanted.get(EVENTS_EXPIRATION)
        if expiration is not None:
            changed["eventsExpiration"] = int(expiration)
        types = wanted.get(EVENTS_TYPES)
        if types is not None:
            # Never narrower than now: another team may read the other event types.
            held = [str(t) for t in config.get("enabledEventTypes") or ()]
            changed["enabledEventTypes"] = sorted({*held, *filter(None, types.split(","))})
        if changed == config:
            log.info("keycloak.apply.already_done", target=self.name, settings=sorted(wanted))
            return
        # The whole representation goes back: a PUT without the listeners or the admin-event
        # flags would reset them.
        self.api.put("events/config", changed)

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


def _as_judged(now: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """Event settings as compared with `wanted`: more than asked for is what was asked."""
    judged = dict(now)
    held = set(filter(None, now.get(EVENTS_TYPES, "").split(",")))
    judged[EVENTS_TYPES] = ",".join(sorted(held & REQUIRED_EVENT_TYPES))
    current, enough = now.get(EVENTS_EXPIRATION), int(wanted[EVENTS_EXPIRATION])
    unlimited = current is None and now.get(EVENTS_ENABLED) == "true"
    if unlimited or (current is not None and current.isdigit() and int(current) >= enough):
        judged[EVENTS_EXPIRATION] = wanted[EVENTS_EXPIRATION]
    return judged


def _events_settings(config: object) -> dict[str, str]:
    """The event settings syncbot compares, from `GET events/config`."""
    if not isinstance(config, dict):
        raise AdminError("GET events/config: expected an object")
    settings = {
        EVENTS_ENABLED: "true" if config.get("eventsEnabled") else "false",
        EVENTS_TYPES: ",".join(sorted(str(t) for t in config.get("enabledEventTypes") or ())),
    }
    expiration = config.get("eventsExpiration")
    if isinstance(expiration, int) and not isinstance(expiration, bool) and expiration > 0:
        settings[EVENTS_EXPIRATION] = str(expiration)
    return settings
