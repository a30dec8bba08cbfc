"""Reading a realm into a `Snapshot`: pages of users and of members, never a request per person.

The direct members of each managed realm role, client role and group come first, one
request each (see `read_members`), kept as one shared frozenset of keys per combination
held. The users list (attributes included) follows page by page, each user turned into
an `Account` as soon as it is decoded: a 20,000-user realm's representations would take
some 50 MB held together, its accounts a seventh of that. Every list is decoded as its
answer arrives (`json_stream`), never held whole, and the heap the read freed goes back
to the system at its end (`memory.release_free_memory`). What the duties observe adds
the realm's stored LOGIN / LOGIN_ERROR events (pages for the whole realm, read before the
users), the realm's password policy and event settings (two requests) and, only when
password dates are asked for, one request per enabled user with a password of their own.
The ids of the clients and groups read go back in `Snapshot.locator`, for the write.
A `ReadRequest.lookup` makes it a targeted read instead (`targeted`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import structlog

from syncbot.duty_settings import Observe
from syncbot.errors import TargetError
from syncbot.memory import release_free_memory
from syncbot.model import Account, Snapshot
from syncbot.targets.base import Progress, ReadRequest
from syncbot.targets.keycloak import event_settings, observed, policy
from syncbot.targets.keycloak.accounts import (
    NOTHING_HELD,
    UPDATE_PASSWORD,
    account_of,
    is_person,
    needs_password_date,
)
from syncbot.targets.keycloak.api import HTTP_NOT_FOUND, AdminApi, AdminError, segment
from syncbot.targets.keycloak.locator import Names
from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind, entitlement_of
from syncbot.targets.keycloak.settings import KeycloakSettings
from syncbot.targets.keycloak.targeted import read_targeted

__all__ = ["UPDATE_PASSWORD", "entitlement_of", "read_realm"]

log = structlog.get_logger("syncbot.keycloak")

#: Members a role or group may have beyond the users counted (service accounts, people
#: added meanwhile) while its whole list still comes in the one answer asked for.
MEMBERS_HEADROOM = 1_000


@dataclass(slots=True)
class _Observed:
    """What a read found beyond accounts: per user id, and the realm's settings."""

    last_sign_in: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    settings: dict[str, str] | None = None


def read_realm(api: AdminApi, settings: KeycloakSettings, request: ReadRequest) -> Snapshot:
    """Every person in the realm and the direct members of every managed entitlement;
    with `request.lookup`, only the accounts it wants (`targeted.read_targeted`)."""
    if request.lookup is not None:
        return read_targeted(
            api, settings, request, request.lookup, lambda whole: read_realm(api, settings, whole)
        )
    wanted = [entitlement_of(key, settings.name) for key in sorted(request.managed)]
    started = time.perf_counter()
    calls_before = api.calls
    names = Names(api, settings)
    try:
        total = api.count_users()
        held, found = read_held(api, wanted, names, total)
        extra = _read_observed(api, settings, request.observe)
        accounts = read_users(api, settings, request, held, extra, total)
        del held
        release_free_memory()  # the pages, the member ids, the dicts that indexed them
        if request.observe.passwords:
            accounts = _with_password_dates(api, accounts, request.progress)
    except AdminError as error:
        raise TargetError(f"{settings.name}: reading realm {settings.realm}: {error}") from None
    except policy.PolicyError as error:
        raise TargetError(
            f"{settings.name}: the password policy of realm {settings.realm} "
            f"cannot be read: {error}"
        ) from None
    log.info(
        "keycloak.fetch.done",
        target=settings.name,
        realm=settings.realm,
        accounts=len(accounts),
        managed_found=len(found),
        managed_missing=sorted(set(request.managed) - found),
        requests=api.calls - calls_before,
        seconds=round(time.perf_counter() - started, 3),
    )
    return Snapshot(
        target=settings.name,
        accounts=accounts,
        entitlements=found,
        has_sessions=True,
        settings=extra.settings,
        settings_key=event_settings.SETTINGS_KEY,
        locator=names.locator(),
    )


def read_held(
    api: AdminApi, wanted: Sequence[Entitlement], names: Names, realm_users: int | None
) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """User id -> the managed entitlements they hold directly, and the managed keys that
    exist. Users holding the same combination share one frozenset: a realm has a few
    dozen combinations for thousands of people."""
    found: list[str] = []
    masks: dict[str, int] = {}
    for entitlement in wanted:
        members = read_members(api, entitlement, names, realm_users or 0)
        if members is None:
            continue
        bit = 1 << len(found)
        found.append(entitlement.key)
        for user_id in members:
            masks[user_id] = masks.get(user_id, 0) | bit
        del members
    combinations: dict[int, frozenset[str]] = {}
    held: dict[str, frozenset[str]] = {}
    for user_id, mask in masks.items():
        keys = combinations.get(mask)
        if keys is None:
            keys = frozenset(key for i, key in enumerate(found) if mask >> i & 1)
            combinations[mask] = keys
        held[user_id] = keys
    return held, frozenset(found)


def read_users(
    api: AdminApi,
    settings: KeycloakSettings,
    request: ReadRequest,
    held: dict[str, frozenset[str]],
    extra: _Observed,
    total: int | None,
) -> tuple[Account, ...]:
    """All persons as accounts, de-duplicated by id, each page converted as it comes.

    Each user becomes an account as soon as it is decoded, so the objects of a page's
    representations never exist together and the accounts are not scattered among their
    remains. `held` is consumed: each page's users' entries are taken out once the page
    is read, so its ids are freed while the accounts grow. Equal display names share one
    string (`account_of`'s `names`).
    """
    accounts: dict[str, Account] = {}
    names: dict[str, str] = {}

    def account(user: dict[str, Any]) -> Account | None:
        if not is_person(user):
            return None
        user_id = str(user["id"])
        return account_of(
            settings,
            user,
            request.known,
            held=held.get(user_id, NOTHING_HELD),
            last_sign_in=extra.last_sign_in.get(user_id),
            failed_sign_ins=extra.failures.get(user_id, 0),
            names=names,
        )

    for page in api.pages("users", each=account, briefRepresentation="false"):
        for found in page:
            if found is not None and found.key not in accounts:
                accounts[found.key] = found
                held.pop(found.key, None)
        del page
        request.progress(len(accounts), total)
    return tuple(accounts.values())


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
    within it, not the whole list. Each member is kept as its id as it is decoded, never
    as the whole object.
    """
    path = members_path(entitlement, names)
    if path is None:
        return None
    size = max(api.settings.page_size, realm_users + MEMBERS_HEADROOM)
    try:
        return {
            str(user_id)
            for page in api.pages(path, size=size, hook=_id_of, briefRepresentation="true")
            for user_id in page
        }
    except AdminError as error:
        if error.status == HTTP_NOT_FOUND:
            return None
        raise


def _id_of(item: dict[str, Any]) -> Any:
    """A member object's id (nested objects, if any, become whatever: only ids are read)."""
    return item.get("id")


def members_path(entitlement: Entitlement, names: Names) -> str | None:
    """Where the direct members of `entitlement` are listed; None if it does not exist."""
    if entitlement.kind is EntitlementKind.REALM_ROLE:
        return f"roles/{segment(entitlement.name)}/users"
    if entitlement.kind is EntitlementKind.CLIENT_ROLE:
        uuid = names.client_uuid(str(entitlement.client_id))
        return f"clients/{uuid}/roles/{segment(entitlement.name)}/users" if uuid else None
    group_id = names.group_id(entitlement.name)
    return f"groups/{group_id}/members" if group_id else None


def _read_observed(api: AdminApi, settings: KeycloakSettings, observe: Observe) -> _Observed:
    """The events and settings `observe` asks for; nothing (no request) by default."""
    extra = _Observed()
    if observe.sign_ins_since is not None:
        extra.last_sign_in = observed.last_sign_ins(api, observe.sign_ins_since)
    if observe.failures_since is not None:
        extra.failures = observed.failed_sign_ins(api, observe.failures_since)
    events_watched = observe.sign_ins_since is not None or observe.failures_since is not None
    if observe.settings or (settings.store_events and events_watched):
        extra.settings = _read_settings(api, settings, policy_too=observe.settings)
    return extra


def _with_password_dates(
    api: AdminApi, accounts: tuple[Account, ...], progress: Progress
) -> tuple[Account, ...]:
    """`accounts` with the date of each one's password, asked only of those that need it."""
    own = [account.key for account in accounts if needs_password_date(account)]
    dates = observed.password_set_on(api, own, lambda done: progress(done, len(own)))
    return tuple(
        replace(account, password_changed=at) if (at := dates.get(account.key)) else account
        for account in accounts
    )


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
