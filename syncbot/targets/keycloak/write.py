"""Carrying out planned steps in a realm, each answered on its own.

A departed clerk whose LDAP entry is locked but whose Keycloak session, offline token or
client role still works has not been deprovisioned, so besides enabling, disabling and
role or group membership this ends sessions and revokes offline tokens (SIGN_OUT). Every
step reads what it changes just before writing it, and writes only what differs, so
repeating a step, or an administrator's edit made since the plan, is harmless.

A batch holds at most one step per account (the executor's window), so its steps go out
`IN_FLIGHT` at a time: ten departures are ten users disabled in the time of three, and
the LDAP locks of the same window do not wait behind them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog

from syncbot.model import Action, ActionKind, Snapshot
from syncbot.targets.base import AnswerLost, ApplyError
from syncbot.targets.keycloak import policy
from syncbot.targets.keycloak.accounts import UPDATE_PASSWORD
from syncbot.targets.keycloak.api import (
    HTTP_NOT_FOUND,
    IN_FLIGHT,
    AdminApi,
    AdminError,
    segment,
)
from syncbot.targets.keycloak.event_settings import (
    EVENTS_ENABLED,
    EVENTS_EXPIRATION,
    EVENTS_TYPES,
)
from syncbot.targets.keycloak.locator import KeycloakLocator, Names
from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind, parse_key
from syncbot.targets.keycloak.settings import KeycloakSettings

log = structlog.get_logger("syncbot.keycloak")


def apply_steps(
    api: AdminApi, settings: KeycloakSettings, steps: Sequence[Action], snapshot: Snapshot
) -> list[ApplyError | None]:
    """Carry out `steps`, planned from `snapshot`; None or the error for each, in order.

    Names the snapshot's locator does not know are looked up once for the whole batch and
    forgotten afterwards. A snapshot another target read is refused for every step: its
    ids, if any, belong elsewhere.
    """
    locator = _locator(settings, snapshot)
    if isinstance(locator, str):
        return [ApplyError(locator) for _ in steps]
    writer = _Writer(api, settings, Names(api, settings, locator))
    # The realm's settings before any user's step: the password rules are in force before
    # anyone is made to choose a new password (the plan's order, `step_order`).
    settings_first = [writer.answer(s) for s in steps if s.kind is ActionKind.CONFIGURE]
    answers = iter(_each_user(writer, [s for s in steps if s.kind is not ActionKind.CONFIGURE]))
    done = iter(settings_first)
    return [next(done if s.kind is ActionKind.CONFIGURE else answers) for s in steps]


def _each_user(writer: _Writer, steps: list[Action]) -> list[ApplyError | None]:
    """Steps of different users, `IN_FLIGHT` at a time; answers in the steps' order."""
    if len(steps) < 2:
        return [writer.answer(step) for step in steps]
    # One token for all, not one sign-in per thread; a failure here is met again by each
    # step, which answers it as its own.
    with contextlib.suppress(AdminError):
        writer.api.ensure_signed_in()
    with ThreadPoolExecutor(min(IN_FLIGHT, len(steps)), "keycloak-apply") as pool:
        return list(pool.map(writer.answer, steps))


def _locator(settings: KeycloakSettings, snapshot: Snapshot) -> KeycloakLocator | str:
    """The ids `snapshot` carries for this realm, or why its steps cannot be applied here."""
    locator = snapshot.locator
    if snapshot.target != settings.name:
        return f"a snapshot of target {snapshot.target!r} sent to {settings.name!r}"
    if not isinstance(locator, KeycloakLocator):
        return f"a snapshot {settings.name!r} did not read (no Keycloak locator)"
    if not locator.fits(settings):
        return (
            f"a snapshot of realm {locator.realm} at {locator.server_url} sent to "
            f"{settings.name!r} (realm {settings.realm} at {settings.server_url})"
        )
    return locator


class _Writer:
    """One apply call's steps against one realm."""

    def __init__(self, api: AdminApi, settings: KeycloakSettings, names: Names) -> None:
        self.api = api
        self.settings = settings
        self.name = settings.name
        self.names = names

    def answer(self, action: Action) -> ApplyError | None:
        """Carry out one step; None when done (or already so), else its error."""
        if action.target != self.name:
            return ApplyError(f"action for target {action.target!r} sent to {self.name!r}")
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
            return failure(f"{action.kind.value} {action.username} ({action.account}): {error}")
        except ApplyError as error:
            return error
        # Any other exception is a bug: it leaves the batch, and the executor sends each
        # of its steps again alone, so the bug fails only the step it is in.
        return None

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

    # -- realm settings --------------------------------------------------------------------

    def _configure(self, wanted: Mapping[str, str | None]) -> None:
        """Set exactly the named settings; every other policy term and event setting stays.

        Each side is read just before it is written and written only if it changes.
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

    # -- one user --------------------------------------------------------------------------

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

    # -- roles and groups ------------------------------------------------------------------

    def _each(self, keys: Iterable[str], step: Callable[[Entitlement], None]) -> None:
        for key in keys:
            parsed = parse_key(key)
            if parsed is None:
                raise AdminError(f"{key!r} is not a Keycloak entitlement key")
            step(parsed)

    def _grant(self, user: str, entitlement: Entitlement) -> None:
        """Add a role mapping or group membership; one already there is success."""
        if entitlement.kind is EntitlementKind.GROUP:
            group_id = self.names.group_id(entitlement.name)
            if group_id is None:
                raise AdminError(f"{entitlement} does not exist in realm {self.settings.realm}")
            self.api.put(f"{self._user_path(user)}/groups/{group_id}")
            return
        role = self.names.role(entitlement)
        if role is None:
            raise AdminError(f"{entitlement} does not exist in realm {self.settings.realm}")
        self.api.post(self._mapping_path(user, entitlement), [role])

    def _revoke(self, user: str, entitlement: Entitlement) -> None:
        """Remove a role mapping or group membership; one that is not there is success."""
        if entitlement.kind is EntitlementKind.GROUP:
            group_id = self.names.group_id(entitlement.name)
            if group_id is not None:
                self.api.delete(f"{self._user_path(user)}/groups/{group_id}")
                return
        else:
            role = self.names.role(entitlement)
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
        uuid = self.names.client_uuid(str(entitlement.client_id))
        return f"{self._user_path(user)}/role-mappings/clients/{uuid}"
