"""How the Keycloak target pages its reads, against a real Keycloak 26.

Role and group member lists are read in one request each (Keycloak's cost for a page of a
role's members grows with its offset), yet exactly: realm roles, client roles and groups
with more members than a users page, a list that fills the answer and goes on, and pages
read past the first for every kind of member list; and each answer decoded item by item
as its bytes arrive (`json_stream`), whatever the chunks. A server that cannot start
fails the tests, it never skips them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from keycloak_fixtures import realm_target

from localdev.keycloak import DOCUMENT_CLIENT, EMPLOYEE_NUMBER, UNIT_GROUP, RealmHandle
from syncbot.targets.base import ReadRequest
from syncbot.targets.keycloak import KeycloakTarget
from syncbot.targets.keycloak import read as read_module
from syncbot.targets.keycloak.json_stream import NotAList, array_items
from syncbot.targets.keycloak.locator import Names

pytestmark = pytest.mark.keycloak

PEOPLE = 230
PAGE = 50  # users pages of 50: five requests for 230 people
REALM_ROLE = "realm-role:van-thu"
CLIENT_ROLE = f"client-role:{DOCUMENT_CLIENT}:lanh-dao"
UNIT = f"group:/{UNIT_GROUP}"
EMPTY_GROUP = "group:/chuyen-vien"
MANAGED = frozenset({REALM_ROLE, CLIENT_ROLE, UNIT, EMPTY_GROUP})
#: Who holds what, by person number: each list longer than a users page, overlapping.
HOLDERS = {
    REALM_ROLE: range(0, 120),
    CLIENT_ROLE: range(60, 190),
    UNIT: range(100, 215),
}


def person(i: int, holds: frozenset[str], prefix: str) -> dict[str, Any]:
    """A user representation for partial import, with the roles and groups `holds` names."""
    return {
        "username": f"{prefix}{i:04d}",
        "email": f"{prefix}{i:04d}@so-tttt.gov.vn",
        "emailVerified": True,
        "firstName": "Cán bộ",
        "lastName": f"số {i}",
        "enabled": True,
        "attributes": {EMPLOYEE_NUMBER: [f"NV{i:04d}"]},
        "realmRoles": ["van-thu"] if REALM_ROLE in holds else [],
        "clientRoles": {DOCUMENT_CLIENT: ["lanh-dao"]} if CLIENT_ROLE in holds else {},
        "groups": [f"/{UNIT_GROUP}"] if UNIT in holds else [],
    }


def add_people(realm: RealmHandle, holders: dict[str, range], prefix: str = "nv") -> dict[str, str]:
    """PEOPLE users holding what `holders` gives them, in one partial import; username -> id."""
    users = [
        person(i, frozenset(key for key, who in holders.items() if i in who), prefix)
        for i in range(PEOPLE)
    ]
    answer = realm.admin.partial_import_realm(
        realm.name, {"ifResourceExists": "FAIL", "users": users}
    )
    ids = {
        str(result["resourceName"]): str(result["id"])
        for result in answer.get("results", [])
        if result.get("resourceType") == "USER"
    }
    assert len(ids) == PEOPLE
    return ids


def give_service_account_role(realm: RealmHandle, role: str) -> str:
    """Map a realm role to syncbot's own service account; returns that account's id."""
    admin = realm.admin
    account = admin.get_client_service_account_user(realm.client_uuid(realm.client_id))
    admin.assign_realm_roles(account["id"], [admin.get_realm_role(role)])
    return str(account["id"])


@pytest.fixture
def target(keycloak_realm: RealmHandle) -> Iterator[KeycloakTarget]:
    with realm_target(keycloak_realm, page_size=PAGE) as kc:
        yield kc


def held(target: KeycloakTarget, managed: frozenset[str]) -> tuple[dict[str, set[str]], int]:
    """Who holds each managed key according to a read (username sets), and its requests."""
    calls = target.requests
    snapshot = target.read(ReadRequest(managed))
    calls = target.requests - calls
    assert snapshot.entitlements == managed
    assert len(snapshot.accounts) == PEOPLE  # the service account is not a person
    found = {
        key: {a.username for a in snapshot.accounts if key in a.entitlements} for key in managed
    }
    return found, calls


def usernames(who: range, prefix: str = "nv") -> set[str]:
    return {f"{prefix}{i:04d}" for i in who}


def test_roles_and_groups_longer_than_a_page_are_read_exactly_one_request_each(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    add_people(keycloak_realm, HOLDERS)
    give_service_account_role(keycloak_realm, "van-thu")  # a member who is not a person

    found, calls = held(target, MANAGED)

    for key, who in HOLDERS.items():
        assert found[key] == usernames(who), key
    assert found[EMPTY_GROUP] == set()
    # users/count and the users' pages up to the first short one; then one request per
    # entitlement for all its members, the client's lookup and one lookup per group path.
    assert calls == 1 + (PEOPLE // PAGE + 1) + len(MANAGED) + 1 + 2


def test_a_member_list_that_fills_the_answer_is_read_on_to_its_end(
    keycloak_realm: RealmHandle, target: KeycloakTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everybody holds the role, and so does the service account the users list leaves out:
    # with no headroom the first answer (as long as the users list) is full. Keycloak orders
    # members by username, "service-account-syncbot" before "vt…", so the last person only
    # comes with the next page.
    monkeypatch.setattr(read_module, "MEMBERS_HEADROOM", 0)
    add_people(keycloak_realm, {REALM_ROLE: range(PEOPLE)}, prefix="vt")
    give_service_account_role(keycloak_realm, "van-thu")

    found, calls = held(target, frozenset({REALM_ROLE}))

    assert found[REALM_ROLE] == usernames(range(PEOPLE), prefix="vt")
    assert calls == 1 + (PEOPLE // PAGE + 1) + 2


@pytest.mark.parametrize("key", [REALM_ROLE, CLIENT_ROLE, UNIT])
def test_small_pages_of_every_member_list_add_up_to_the_whole_list(
    keycloak_realm: RealmHandle, target: KeycloakTarget, key: str
) -> None:
    # What the read falls back on, kept honest: Keycloak orders each member list, so
    # pages read from growing offsets neither repeat nor skip anyone.
    ids = add_people(keycloak_realm, HOLDERS)
    names = Names(target.api, target.settings)
    path = read_module.members_path(read_module.entitlement_of(key, target.name), names)
    assert path is not None
    size = 7
    calls = target.requests

    read = [
        str(user["id"])
        for page in target.api.pages(path, size=size, briefRepresentation="true")
        for user in page
    ]

    expected = {ids[name] for name in usernames(HOLDERS[key])}
    assert len(read) == len(expected)
    assert set(read) == expected
    assert target.requests - calls == len(expected) // size + 1


# -- decoding as the answer arrives ----------------------------------------------------------

ITEMS = [
    *({"id": f"u-{i}", "firstName": "Nguyễn Văn " * (i % 4), "access": {"view": True}}
      for i in range(60)),
    12345, -0.25e-3, 1.5e3, "a, b ]", None, False, [1, [2, {}]],
]  # fmt: skip


def chunks(data: bytes, size: int) -> list[bytes]:
    """`data` cut every `size` bytes, inside characters, numbers and strings alike."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100_000])
@pytest.mark.parametrize("indent", [None, 2])
def test_a_list_decoded_as_it_arrives_is_what_json_gives_whole(
    size: int, indent: int | None
) -> None:
    data = json.dumps(ITEMS, ensure_ascii=False, indent=indent).encode()
    assert list(array_items(chunks(data, size))) == ITEMS

    def hook(item: dict[str, Any]) -> Any:
        return item.get("id", item)

    assert list(array_items(chunks(data, size), hook)) == json.loads(data, object_hook=hook)


@pytest.mark.parametrize("data", [b"[]", b" [ ]\n", b"[1,2]", b'["]"]'])
def test_short_lists_decode_whatever_the_chunks(data: bytes) -> None:
    for size in (1, 2, 100):
        assert list(array_items(chunks(data, size))) == json.loads(data)


@pytest.mark.parametrize(
    "data", [b"", b"{}", b"[", b"[1,", b"[1 2]", b"[1x]", b"[,]", b"[1,]", b'[{"id": 1}', b"[1]x"]
)
def test_what_is_not_a_whole_list_is_refused(data: bytes) -> None:
    for size in (1, 3, 100):
        with pytest.raises(NotAList):
            list(array_items(chunks(data, size)))
