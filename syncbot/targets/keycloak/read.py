"""Reading a realm into a `Snapshot`: pages of users and of members, never a request per person.

The users list (attributes included), then the direct members of each managed realm role,
client role and group, one request each (see `read_members`). What the duties observe adds
the realm's stored LOGIN / LOGIN_ERROR events (pages for the whole realm), the realm's
password policy and event settings (two requests) and, only when password dates are asked
for, one request per enabled user with a password of their own. The ids of the clients
and groups read go back in `Snapshot.locator`, for the write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from syncbot.duty_settings import Observe
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Account, Snapshot
from syncbot.roster_strings import RosterStrings
from syncbot.targets.base import Progress, ReadRequest
from syncbot.targets.keycloak import event_settings, observed, policy
from syncbot.targets.keycloak.api import HTTP_NOT_FOUND, AdminApi, AdminError, segment
from syncbot.targets.keycloak.locator import Names
from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind, parse_key
from syncbot.targets.keycloak.settings import KeycloakSettings

log = structlog.get_logger("syncbot.keycloak")

User = dict[str, Any]
#: Keycloak's required action that makes the next sign-in set a new password.
UPDATE_PASSWORD = "UPDATE_PASSWORD"  # noqa: S105 - the action's name, not a password
#: Members a role or group may have beyond the users just read (service accounts, people
#: added meanwhile) while its whole list still comes in the one answer asked for.
MEMBERS_HEADROOM = 1_000


@dataclass(slots=True)
class _Observed:
    """What a read found beyond accounts: per user id, and the realm's settings."""

    password_set: dict[str, datetime] = field(default_factory=dict)
    last_sign_in: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    settings: dict[str, str] | None = None


def read_realm(api: AdminApi, settings: KeycloakSettings, request: ReadRequest) -> Snapshot:
    """Every person in the realm and the direct members of every managed entitlement."""
    wanted = [entitlement_of(key, settings.name) for key in sorted(request.managed)]
    started = time.perf_counter()
    calls_before = api.calls
    names = Names(api, settings)
    try:
        users = read_users(api, request.progress)
        members = {
            entitlement.key: found
            for entitlement in wanted
            if (found := read_members(api, entitlement, names, len(users))) is not None
        }
        extra = _read_observed(api, settings, users, request.observe, request.progress)
    except AdminError as error:
        raise TargetError(f"{settings.name}: reading realm {settings.realm}: {error}") from None
    except policy.PolicyError as error:
        raise TargetError(
            f"{settings.name}: the password policy of realm {settings.realm} "
            f"cannot be read: {error}"
        ) from None
    held: dict[str, set[str]] = {}
    for key, user_ids in members.items():
        for user_id in user_ids:
            held.setdefault(user_id, set()).add(key)
    accounts = tuple(
        _account(settings, user, frozenset(held.get(user["id"], ())), extra, request.known)
        for user in users
    )
    log.info(
        "keycloak.fetch.done",
        target=settings.name,
        realm=settings.realm,
        accounts=len(accounts),
        managed_found=len(members),
        managed_missing=sorted(set(request.managed) - members.keys()),
        requests=api.calls - calls_before,
        seconds=round(time.perf_counter() - started, 3),
    )
    return Snapshot(
        target=settings.name,
        accounts=accounts,
        entitlements=frozenset(members),
        has_sessions=True,
        settings=extra.settings,
        settings_key=event_settings.SETTINGS_KEY,
        locator=names.locator(),
    )


def entitlement_of(key: str, target: str) -> Entitlement:
    """The entitlement a managed key names; `ConfigError` for a key this target did not make."""
    parsed = parse_key(key)
    if parsed is None:
        raise ConfigError(
            f"{key!r} is not a Keycloak entitlement key "
            "(realm-role:R, client-role:C:R or group:/PATH)",
            source=f"targets.{target}",
        )
    return parsed


def read_users(api: AdminApi, progress: Progress) -> list[User]:
    """All persons, de-duplicated by id; service-account users are not persons."""
    total = api.get("users/count")
    total = total if isinstance(total, int) else None
    seen: dict[str, User] = {}
    for page in api.pages("users", briefRepresentation="false"):
        for user in page:
            if not user.get("serviceAccountClientId"):
                seen.setdefault(str(user["id"]), user)
        progress(len(seen), total)
    return list(seen.values())


def read_members(
    api: AdminApi, entitlement: Entitlement, names: Names, realm_users: int
) -> set[str] | None:
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
    path = members_path(entitlement, names)
    if path is None:
        return None
    size = max(api.settings.page_size, realm_users + MEMBERS_HEADROOM)
    try:
        return {
            str(user["id"])
            for page in api.pages(path, size=size, briefRepresentation="true")
            for user in page
        }
    except AdminError as error:
        if error.status == HTTP_NOT_FOUND:
            return None
        raise


def members_path(entitlement: Entitlement, names: Names) -> str | None:
    """Where the direct members of `entitlement` are listed; None if it does not exist."""
    if entitlement.kind is EntitlementKind.REALM_ROLE:
        return f"roles/{segment(entitlement.name)}/users"
    if entitlement.kind is EntitlementKind.CLIENT_ROLE:
        uuid = names.client_uuid(str(entitlement.client_id))
        return f"clients/{uuid}/roles/{segment(entitlement.name)}/users" if uuid else None
    group_id = names.group_id(entitlement.name)
    return f"groups/{group_id}/members" if group_id else None


def _read_observed(
    api: AdminApi,
    settings: KeycloakSettings,
    users: list[User],
    observe: Observe,
    progress: Progress,
) -> _Observed:
    """Whatever `observe` asks for beyond accounts; nothing (no request) by default."""
    extra = _Observed()
    if observe.sign_ins_since is not None:
        extra.last_sign_in = observed.last_sign_ins(api, observe.sign_ins_since)
    if observe.failures_since is not None:
        extra.failures = observed.failed_sign_ins(api, observe.failures_since)
    events_watched = observe.sign_ins_since is not None or observe.failures_since is not None
    if observe.settings or (settings.store_events and events_watched):
        extra.settings = _read_settings(api, settings, policy_too=observe.settings)
    if observe.passwords:
        # Federated users' passwords live in LDAP; a disabled account's password is of
        # no use to anyone, and each user read here is one more request.
        own = [
            str(user["id"])
            for user in users
            if user.get("enabled", True) and not user.get("federationLink")
        ]
        extra.password_set = observed.password_set_on(
            api, own, lambda done: progress(done, len(own))
        )
    return extra


def _read_settings(
    api: AdminApi, settings: KeycloakSettings, *, policy_too: bool
) -> dict[str, str]:
    """The realm's policy terms and, with `store_events`, its event settings."""
    found: dict[str, str] = {}
    if policy_too:
        realm = api.get("")
        raw = realm.get("passwordPolicy") if isinstance(realm, dict) else None
        found.update(policy.parse(str(raw) if raw else ""))
    if settings.store_events:
        now = event_settings.events_settings(api.get("events/config"))
        wanted = event_settings.wanted_events(settings.events_expiration_days)
        found.update(event_settings.as_judged(now, wanted))
    return found


def _account(
    settings: KeycloakSettings,
    user: User,
    held: frozenset[str],
    extra: _Observed,
    known: RosterStrings,
) -> Account:
    attributes = user.get("attributes") or {}
    raw_ids = attributes.get(settings.match_attribute) or ()
    names = (str(user.get(k) or "").strip() for k in ("firstName", "lastName"))
    employee_id, email, display_name = known.shared(
        next((v.strip() for v in raw_ids if isinstance(v, str) and v.strip()), None),
        str(user.get("email") or "").strip().lower() or None,
        " ".join(n for n in names if n) or None,
    )
    user_id = str(user["id"])
    return Account(
        target=settings.name,
        key=user_id,
        username=str(user.get("username") or ""),
        employee_id=employee_id,
        email=email,
        enabled=bool(user.get("enabled", True)),
        entitlements=held,
        display_name=display_name,
        groups=held,
        federated=bool(user.get("federationLink")),
        created=observed.from_millis(user.get("createdTimestamp")),
        password_changed=extra.password_set.get(user_id),
        must_change_password=UPDATE_PASSWORD in (user.get("requiredActions") or ()),
        last_sign_in=extra.last_sign_in.get(user_id),
        failed_sign_ins=extra.failures.get(user_id, 0),
    )
