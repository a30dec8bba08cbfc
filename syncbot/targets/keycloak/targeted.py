"""A targeted read: the accounts of a few people, each as the full read gives it.

A push naming one person must not list a realm of 20,000 users. The users a `Lookup`
could want are found by search: one exact search of the match attribute per employee id
(Keycloak compares attribute values case-blind), one of the e-mail or username per
contact value of the fallback; `Lookup.wants` then keeps what matching would pair. For
each kept user, their direct role mappings and groups, which are what the full read's
member lists of roles and groups say about them, and whatever `request.observe` asks for
(their events, their password credential), each asked about that user alone.

`Snapshot.entitlements` must say which managed entitlements exist, as the full read's
does: each is looked up by name (its Keycloak id, used to recognise it among a user's
mappings). Settings are no one person's and are not read.

Requests go out from a few threads at once: each is a few milliseconds of round trip,
and there are two or three per person. When the searches would cost more than reading
the realm whole (`worth_searching`), the realm is read whole and narrowed instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import structlog

from syncbot.duty_settings import Observe
from syncbot.errors import TargetError
from syncbot.lookup import Lookup, narrowed
from syncbot.model import Account, Snapshot
from syncbot.targets.base import ReadRequest
from syncbot.targets.keycloak import observed
from syncbot.targets.keycloak.accounts import (
    NOTHING_HELD,
    User,
    account_of,
    is_person,
    needs_password_date,
)
from syncbot.targets.keycloak.api import (
    HTTP_NOT_FOUND,
    IN_FLIGHT,
    AdminApi,
    AdminError,
    segment,
)
from syncbot.targets.keycloak.locator import Names
from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind, entitlement_of
from syncbot.targets.keycloak.settings import KeycloakSettings

log = structlog.get_logger("syncbot.keycloak")

#: Up to this many values (employee ids and contacts) a targeted read always searches
#: one by one. Beyond it, only while the realm holds `USERS_PER_VALUE` users or more per
#: value; otherwise the realm is read whole and narrowed, which is correct by construction.
KEYCLOAK_LOOKUP_MAX = 100

#: Both costs grow with the realm, at different rates. An attribute search is a scan on
#: the test server (H2 compares values case-blind with no index to use). Measured with
#: bench/bench_latency.py, a targeted read of 200 values (100 people: their ids and
#: e-mails, then each one's mappings) took 1.4-1.7 s in a realm of 2,000 users, whose full
#: read took 0.75-0.84 s, and 3.4-4.9 s in one of 20,000, whose full read took 14.4-16 s:
#: a value cost as much as reading 17-23 users whole in the first, 21-34 in the second.
#: At 30 users per value the searches cost at most about what the full read does, and a
#: fraction of it for the tens of people a file drop names.
USERS_PER_VALUE = 30


class _Gone(Exception):
    """The user was deleted between the search and the reads about them."""


def worth_searching(api: AdminApi, lookup: Lookup) -> tuple[bool, int | None]:
    """Whether searching `lookup`'s values costs less than reading the realm whole, and
    the realm's user count when it had to be asked for (one request, above the floor).
    A realm that does not say how many users it has is read whole, as it was before."""
    if len(lookup) <= KEYCLOAK_LOOKUP_MAX:
        return True, None
    users = api.count_users()
    return users is not None and len(lookup) * USERS_PER_VALUE <= users, users


def read_targeted(
    api: AdminApi,
    settings: KeycloakSettings,
    request: ReadRequest,
    lookup: Lookup,
    full_read: Callable[[ReadRequest], Snapshot],
) -> Snapshot:
    """The accounts `lookup` wants, as `narrowed(full read, lookup)` has them: searched
    for, or, when that would cost more than reading the realm (`worth_searching`), that
    very thing (`full_read` is the read without a lookup)."""
    try:
        searching, realm_users = worth_searching(api, lookup)
    except AdminError as error:
        raise TargetError(f"{settings.name}: counting users of {settings.realm}: {error}") from None
    if not searching:
        log.info(
            "keycloak.fetch.targeted_as_full",
            target=settings.name,
            asked=len(lookup),
            realm_users=realm_users,
            users_per_value=USERS_PER_VALUE,
        )
        return narrowed(full_read(replace(request, lookup=None)), lookup)
    wanted = [entitlement_of(key, settings.name) for key in sorted(request.managed)]
    started = time.perf_counter()
    calls_before = api.calls
    names = Names(api, settings)
    pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="keycloak-read")
    try:
        api.ensure_signed_in()
        # Clients one at a time, before their roles are looked up under them (mappings
        # name one or two).
        for client_id in sorted({str(e.client_id) for e in wanted if e.client_id}):
            names.client_uuid(client_id)
        ids = {e.key: pool.submit(entitlement_id, api, names, e) for e in wanted}
        searches = [pool.submit(_search, api, p) for p in search_params(settings, lookup)]
        keys = _Keys.of(wanted, {key: future.result() for key, future in ids.items()})
        users: dict[str, User] = {}
        for search in searches:
            for user in search.result():
                if is_person(user):
                    users.setdefault(str(user["id"]), user)
        details = [
            pool.submit(_complete, api, account, keys, request.observe)
            for user in users.values()
            if lookup.wants(account := account_of(settings, user, request.known))
        ]
        del users, searches
        accounts = tuple(
            sorted(
                (done for future in details if (done := future.result()) is not None),
                key=lambda a: a.key,
            )
        )
    except AdminError as error:
        raise TargetError(f"{settings.name}: reading realm {settings.realm}: {error}") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    request.progress(len(accounts), len(accounts))
    log.info(
        "keycloak.fetch.targeted",
        target=settings.name,
        realm=settings.realm,
        asked=len(lookup),
        accounts=len(accounts),
        managed_found=len(keys.existing),
        managed_missing=sorted(set(request.managed) - keys.existing),
        requests=api.calls - calls_before,
        seconds=round(time.perf_counter() - started, 3),
    )
    return Snapshot(
        target=settings.name,
        accounts=accounts,
        entitlements=keys.existing,
        has_sessions=True,
        settings=None,
        settings_key="",
        locator=names.locator(),
    )


# -- finding the users ---------------------------------------------------------------------


def search_params(settings: KeycloakSettings, lookup: Lookup) -> list[dict[str, str]]:
    """One users search per value: exact (case-blind) on the match attribute for ids, on
    e-mail or username for the contact values of id-less accounts."""
    params = [
        found
        for value in sorted(lookup.raw_ids)
        if (found := attribute_search(settings.match_attribute, value)) is not None
    ]
    attribute = lookup.contact_attribute
    if attribute is not None:
        params.extend({attribute: value, "exact": "true"} for value in sorted(lookup.raw_contacts))
    return params


def attribute_search(name: str, value: str) -> dict[str, str] | None:
    """The search for users whose attribute `name` equals `value`, case-blind.

    Keycloak's `q` takes `name:value` pairs, a value quoted with `"` inside written `\\"`;
    it has no way to write a backslash just before a quote or at the end. Such a value is
    searched by what precedes its first backslash, as a substring (`exact=false`), and the
    users found are kept or not by `Lookup.wants` like any others; None (and a warning)
    when nothing precedes it, as the search would list the realm.
    """
    if '\\"' not in value and not value.endswith("\\"):
        return {"q": f"{_quoted(name)}:{_quoted(value)}", "exact": "true"}
    head = value.partition("\\")[0]
    if not head.strip():
        log.warning("keycloak.fetch.unsearchable", attribute=name, value=value)
        return None
    return {"q": f"{_quoted(name)}:{_quoted(head)}", "exact": "false"}


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _search(api: AdminApi, params: dict[str, str]) -> list[User]:
    query: dict[str, Any] = params  # none of them is `size`
    return [
        user for page in api.pages("users", briefRepresentation="false", **query) for user in page
    ]


def entitlement_id(api: AdminApi, names: Names, entitlement: Entitlement) -> str | None:
    """Keycloak's id of a role or group; None when it does not exist (as the full read,
    whose member list of it would then be missing, finds it)."""
    if entitlement.kind is EntitlementKind.GROUP:
        return names.group_id(entitlement.name)
    if entitlement.kind is EntitlementKind.REALM_ROLE:
        path = f"roles/{segment(entitlement.name)}"
    else:
        uuid = names.client_uuid(str(entitlement.client_id))
        if uuid is None:
            return None
        path = f"clients/{uuid}/roles/{segment(entitlement.name)}"
    try:
        found = api.get(path)
    except AdminError as error:
        if error.status == HTTP_NOT_FOUND:
            return None
        raise
    return str(found["id"]) if isinstance(found, dict) and found.get("id") else None


# -- what each user holds and did ----------------------------------------------------------


class _Keys:
    """The managed entitlements that exist, by the Keycloak id that a user's mappings give."""

    def __init__(self, roles: dict[str, str], groups: dict[str, str]) -> None:
        self.roles = roles
        self.groups = groups
        self.existing = frozenset((*roles.values(), *groups.values()))

    @classmethod
    def of(cls, wanted: Sequence[Entitlement], ids: dict[str, str | None]) -> _Keys:
        roles: dict[str, str] = {}
        groups: dict[str, str] = {}
        for entitlement in wanted:
            found = ids[entitlement.key]
            if found is not None:
                into = groups if entitlement.kind is EntitlementKind.GROUP else roles
                into[found] = entitlement.key
        return cls(roles, groups)


def _complete(api: AdminApi, account: Account, keys: _Keys, observe: Observe) -> Account | None:
    """`account` with what it holds and what `observe` asks for; None if it is gone."""
    user_id = account.key
    try:
        held = _held(api, user_id, keys)
    except _Gone:
        return None
    last_sign_in = failures = password_changed = None
    if observe.sign_ins_since is not None:
        last_sign_in = observed.last_sign_in_of(api, user_id, observe.sign_ins_since)
    if observe.failures_since is not None:
        failures = observed.failed_sign_ins_of(api, user_id, observe.failures_since)
    if observe.passwords and needs_password_date(account):
        password_changed = observed.password_set_of(api, user_id)
    return replace(
        account,
        entitlements=held,
        groups=held,
        last_sign_in=last_sign_in,
        failed_sign_ins=failures or 0,
        password_changed=password_changed,
    )


def _held(api: AdminApi, user_id: str, keys: _Keys) -> frozenset[str]:
    """The managed entitlements mapped to the user directly: their own role mappings and
    the groups they are a member of, not what they inherit through groups or composites
    (the full read lists a role's or group's direct members)."""
    if not keys.roles and not keys.groups:
        return NOTHING_HELD
    user = f"users/{segment(user_id)}"
    held: set[str] = set()
    try:
        if keys.roles:
            mappings = api.get(f"{user}/role-mappings")
            held.update(keys.roles[r] for r in _role_ids(mappings) if r in keys.roles)
        if keys.groups:
            for page in api.pages(f"{user}/groups", briefRepresentation="true"):
                held.update(keys.groups[g] for g in _ids(page) if g in keys.groups)
    except AdminError as error:
        if error.status == HTTP_NOT_FOUND:
            raise _Gone from None
        raise
    return frozenset(held) if held else NOTHING_HELD


def _role_ids(mappings: Any) -> list[str]:
    """The ids of the realm roles and client roles in a `role-mappings` answer."""
    if not isinstance(mappings, dict):
        return []
    ids = _ids(mappings.get("realmMappings"))
    for client in (mappings.get("clientMappings") or {}).values():
        if isinstance(client, dict):
            ids.extend(_ids(client.get("mappings")))
    return ids


def _ids(items: Any) -> list[str]:
    return [str(i["id"]) for i in items or () if isinstance(i, dict) and i.get("id")]
