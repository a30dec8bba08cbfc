"""The Keycloak target against a real Keycloak 26: reading, changing, sessions, tokens, checks.

Every test gets a fresh realm from `keycloak_realm`; a server that cannot start fails the
tests (the fixtures raise), it never skips them.
"""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from keycloak import KeycloakAdmin, KeycloakPostError
from keycloak_fixtures import realm_settings, realm_target
from plan_builders import row
from target_steps import apply_one

from localdev.keycloak import RealmHandle
from localdev.ports import free_port
from localdev.slapd import SlapdServer
from syncbot.errors import TargetError
from syncbot.model import Account, Action, ActionKind, Reason, Snapshot
from syncbot.roster_strings import RosterStrings
from syncbot.targets.base import ApplyError, ReadRequest
from syncbot.targets.keycloak import KeycloakSettings, KeycloakTarget
from syncbot.targets.keycloak.api import AdminApi, RetryPolicy
from syncbot.targets.keycloak.locator import KeycloakLocator
from syncbot.targets.keycloak.permissions import NEEDS

UNIT = "Phòng Tài chính"
OTHER_UNIT = "Văn phòng Sở"
REALM_ROLE = "realm-role:van-thu"
CLIENT_ROLE = "client-role:qoffice:lanh-dao"
UNIT_GROUP = f"group:/{UNIT}"
OTHER_UNIT_GROUP = f"group:/{OTHER_UNIT}"
ROLE_GROUP = "group:/chuyen-vien"
MANAGED = frozenset({REALM_ROLE, CLIENT_ROLE, UNIT_GROUP, ROLE_GROUP})
NOTHING = frozenset[str]()
REASON = Reason(vi="kiểm thử", en="test")


# -- helpers -------------------------------------------------------------------------------


def service_account_roles(realm: RealmHandle) -> tuple[KeycloakAdmin, str, str]:
    """The realm's admin client, the syncbot service account's id and realm-management's."""
    admin = realm.admin
    account = admin.get_client_service_account_user(realm.client_uuid(realm.client_id))
    return admin, str(account["id"]), realm.client_uuid("realm-management")


def set_service_account_roles(realm: RealmHandle, roles: set[str]) -> None:
    """Give syncbot's service account exactly `roles` of realm-management."""
    admin, account, management = service_account_roles(realm)
    current = admin.get_client_roles_of_user(account, management)
    if current:
        admin.delete_client_roles_of_user(account, management, current)
    admin.assign_client_role(
        account, management, [admin.get_client_role(management, role) for role in sorted(roles)]
    )


@pytest.fixture
def realm(keycloak_realm: RealmHandle) -> RealmHandle:
    """A fresh realm whose syncbot service account holds the roles the target asks for."""
    set_service_account_roles(realm=keycloak_realm, roles={need.role for need in NEEDS})
    keycloak_realm.admin.create_group({"name": OTHER_UNIT})
    return keycloak_realm


settings_for = realm_settings


@pytest.fixture
def target(realm: RealmHandle) -> Iterator[KeycloakTarget]:
    with realm_target(realm) as kc:
        yield kc


def action(
    kind: ActionKind, user_id: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
) -> Action:
    return Action(
        target="keycloak",
        kind=kind,
        account=user_id,
        username=f"user-{user_id[:8]}",
        employee_id=None,
        reason=REASON,
        evidence=None,
        add=add,
        remove=remove,
    )


def by_username(snapshot: Snapshot) -> dict[str, Account]:
    return {account.username: account for account in snapshot.accounts}


def read(target: KeycloakTarget, managed: frozenset[str] = MANAGED, **request: Any) -> Snapshot:
    return target.read(ReadRequest(managed, **request))


def account_in(snapshot: Snapshot, user_id: str) -> Account:
    return next(a for a in snapshot.accounts if a.key == user_id)


def account_of(target: KeycloakTarget, user_id: str, managed: frozenset[str]) -> Account:
    return account_in(read(target, managed), user_id)


def refused(call: Any, *args: Any) -> str:
    """Keycloak's refusal of a token request, as text; fails the test if it was granted."""
    with pytest.raises(KeycloakPostError) as caught:
        call(*args)
    return caught.value.response_body.decode() if caught.value.response_body else ""


# -- read ----------------------------------------------------------------------------------


def test_read_finds_people_roles_and_groups(realm: RealmHandle, target: KeycloakTarget) -> None:
    a = realm.add_user(
        "nguyenvana",
        email="NguyenVanA@Example.GOV.vn",
        employee_number="NV001",
        first_name="Nguyễn Văn",
        last_name="A",
        realm_roles=["van-thu"],
        client_roles=["lanh-dao"],
        groups=[UNIT, "quan-tri"],
    )
    b = realm.add_user(
        "tranthib", email="tranthib@example.gov.vn", employee_number="NV002", enabled=False
    )
    c = realm.add_user("levanc", groups=["chuyen-vien"])
    missing = frozenset({"realm-role:khong-co", "client-role:khong-co:x", "group:/Không có"})
    started = time.perf_counter()
    calls_before = target.requests

    snapshot = read(target, MANAGED | missing)

    print(
        f"\nread of 3 people and 7 entitlements: {target.requests - calls_before} requests, "
        f"{time.perf_counter() - started:.3f} s"
    )
    people = by_username(snapshot)
    assert set(people) == {"nguyenvana", "tranthib", "levanc"}
    service_account = realm.admin.get_client_service_account_user(
        realm.client_uuid(realm.client_id)
    )
    assert service_account["id"] not in {account.key for account in snapshot.accounts}
    assert snapshot.target == "keycloak"
    assert snapshot.has_sessions is True
    assert snapshot.entitlements == MANAGED  # the three missing ones are simply absent

    created = people["nguyenvana"].created  # free with the user: always filled
    assert created is not None and abs(time.time() - created.timestamp()) < 120
    assert people["nguyenvana"] == Account(
        target="keycloak",
        key=a,
        username="nguyenvana",
        employee_id="NV001",
        email="nguyenvana@example.gov.vn",
        enabled=True,
        entitlements=frozenset({REALM_ROLE, CLIENT_ROLE, UNIT_GROUP}),
        display_name="Nguyễn Văn A",
        groups=frozenset({REALM_ROLE, CLIENT_ROLE, UNIT_GROUP}),  # quan-tri is not managed
        federated=False,
        created=created,
    )
    assert people["tranthib"].key == b
    assert people["tranthib"].employee_id == "NV002"
    assert people["tranthib"].enabled is False
    assert people["tranthib"].entitlements == frozenset()
    assert people["levanc"].key == c
    assert people["levanc"].employee_id is None
    assert people["levanc"].email is None
    assert people["levanc"].display_name is None
    assert people["levanc"].entitlements == {ROLE_GROUP}
    assert not any(account.federated for account in snapshot.accounts)
    # What an apply needs of this read: the ids found, and None for what is not there.
    locator = snapshot.locator
    assert isinstance(locator, KeycloakLocator)
    assert (locator.server_url, locator.realm) == (realm.server_url, realm.name)
    assert locator.clients == {"qoffice": realm.client_uuid("qoffice"), "khong-co": None}
    assert locator.groups == {
        f"/{UNIT}": realm.group_id(UNIT),
        "/chuyen-vien": realm.group_id("chuyen-vien"),
        "/Không có": None,
    }


def test_read_holds_the_rosters_strings_for_equal_values(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    realm.add_user(
        "nguyenvana",
        email="NguyenVanA@Example.GOV.vn",
        employee_number="NV001",
        first_name="Nguyễn Văn",
        last_name="A",
    )
    realm.add_user("tranthib", email="tranthib@example.gov.vn", employee_number="NV002")
    an = row(2, "NV001", name="Nguyễn Văn A", email="nguyenvana@example.gov.vn")
    binh = row(3, "NV002", name="Trần Thị B", email="binh@example.gov.vn")

    people = by_username(read(target, known=RosterStrings([an, binh])))

    assert people["nguyenvana"].employee_id is an.employee_id
    assert people["nguyenvana"].email is an.email
    assert people["nguyenvana"].display_name is an.full_name
    # Another address stays the realm's own; the id is still the roster's string.
    assert people["tranthib"].employee_id is binh.employee_id
    assert people["tranthib"].email == "tranthib@example.gov.vn"


def test_read_of_a_client_without_view_clients_fails_instead_of_missing(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    # With query-clients only, Keycloak answers the client search with [] rather than 403:
    # the target must not report every client role as missing on that word.
    set_service_account_roles(realm, {"manage-users", "view-realm", "query-clients"})
    user = realm.add_user("maithio")
    with pytest.raises(TargetError, match="cannot tell whether client 'qoffice' exists"):
        read(target, frozenset({CLIENT_ROLE}))
    # A read that did not need the client leaves the apply to look it up, and refuse.
    snapshot = read(target, NOTHING)
    with pytest.raises(ApplyError, match="view-clients"):
        apply_one(target, action(ActionKind.REVOKE, user, remove=(CLIENT_ROLE,)), snapshot)


def test_read_without_view_realm_names_the_role(realm: RealmHandle, target: KeycloakTarget) -> None:
    set_service_account_roles(realm, {"manage-users", "view-clients"})
    with pytest.raises(TargetError, match="lacks realm-management role view-realm"):
        read(target, frozenset({REALM_ROLE}))


@pytest.mark.slapd
@pytest.mark.parametrize("edit_mode", ["READ_ONLY", "WRITABLE"])
def test_users_federated_from_ldap_are_marked_and_can_be_locked_out(
    realm: RealmHandle, target: KeycloakTarget, ldap_directory: SlapdServer, edit_mode: str
) -> None:
    realm.add_ldap_federation(
        ldap_directory.url,
        ldap_directory.service_dn,
        ldap_directory.service_password,
        ldap_directory.people_base,
        edit_mode=edit_mode,
    )
    realm.sync_ldap_users()
    local = realm.add_user("nguoidiaphuong", employee_number="NV900")

    snapshot = read(target)
    people = by_username(snapshot)

    assert people["nguyenvana"].federated is True
    assert people["nguyenvana"].employee_id == "NV001"
    assert people["nguyenvana"].email == "nguyenvana@example.gov.vn"
    assert people["nguoidiaphuong"].key == local
    assert people["nguoidiaphuong"].federated is False
    # Keycloak keeps its own lock and its own client roles even for a read-only LDAP.
    federated = people["nguyenvana"].key
    apply_one(target, action(ActionKind.DISABLE, federated), snapshot)
    apply_one(target, action(ActionKind.SIGN_OUT, federated), snapshot)
    apply_one(target, action(ActionKind.GRANT, federated, add=(CLIENT_ROLE,)), snapshot)
    after = account_of(target, federated, MANAGED)
    assert after.enabled is False
    assert after.entitlements == {CLIENT_ROLE}
    assert target.owned_for_federated(MANAGED) == {CLIENT_ROLE}


# -- sessions, disable and enable --------------------------------------------------------


def test_disable_then_sign_out_ends_every_way_in(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    user = realm.add_user(
        "phamthid",
        email="phamthid@example.gov.vn",
        employee_number="NV004",
        first_name="Phạm Thị",
        last_name="D",
        password="mat-khau-D1",
        realm_roles=["van-thu"],
    )
    before = realm.admin.get_user(user)
    session = realm.login("phamthid", "mat-khau-D1")
    offline = realm.login("phamthid", "mat-khau-D1", offline=True)
    assert realm.admin.user_consents(user), "the offline token shows as a grant"
    snapshot = read(target)

    apply_one(target, action(ActionKind.DISABLE, user), snapshot)

    after = realm.admin.get_user(user)
    assert after["enabled"] is False
    assert after["attributes"] == before["attributes"] == {"employeeNumber": ["NV004"]}
    for key in ("username", "email", "firstName", "lastName"):
        assert after[key] == before[key]
    # Keycloak issue #37981: the lock alone leaves the sessions in place.
    assert realm.admin.get_sessions(user), "disabling alone ended the sessions"

    apply_one(target, action(ActionKind.SIGN_OUT, user), snapshot)
    apply_one(target, action(ActionKind.SIGN_OUT, user), snapshot)  # a second time: no change

    assert realm.admin.get_sessions(user) == []
    assert realm.admin.user_consents(user) == []
    assert "invalid_grant" in refused(realm.refresh, session["refresh_token"])
    assert "invalid_grant" in refused(realm.refresh, offline["refresh_token"])
    assert "invalid_grant" in refused(realm.login, "phamthid", "mat-khau-D1")
    assert realm.admin.get_user(user)["attributes"] == {"employeeNumber": ["NV004"]}
    assert account_of(target, user, MANAGED).entitlements == {REALM_ROLE}  # disable keeps roles


def test_enable_lets_the_person_sign_in_again(realm: RealmHandle, target: KeycloakTarget) -> None:
    user = realm.add_user(
        "hoangvane",
        email="hoangvane@example.gov.vn",
        employee_number="NV005",
        first_name="Hoàng Văn",
        last_name="E",
        password="mat-khau-E1",
        enabled=False,
    )
    assert "invalid_grant" in refused(realm.login, "hoangvane", "mat-khau-E1")
    snapshot = read(target)

    apply_one(target, action(ActionKind.ENABLE, user), snapshot)
    apply_one(target, action(ActionKind.ENABLE, user), snapshot)

    assert realm.login("hoangvane", "mat-khau-E1")["access_token"]
    assert account_of(target, user, MANAGED).enabled is True
    assert realm.admin.get_user(user)["attributes"] == {"employeeNumber": ["NV005"]}


def test_disable_twice_is_harmless(realm: RealmHandle, target: KeycloakTarget) -> None:
    user = realm.add_user("ngothig", employee_number="NV007")
    snapshot = read(target)
    apply_one(target, action(ActionKind.DISABLE, user), snapshot)
    apply_one(target, action(ActionKind.DISABLE, user), snapshot)
    assert account_of(target, user, MANAGED).enabled is False


# -- grant, revoke, change unit ------------------------------------------------------------


@pytest.mark.parametrize("key", [REALM_ROLE, CLIENT_ROLE, UNIT_GROUP])
def test_grant_and_revoke_show_in_a_fresh_read(
    realm: RealmHandle, target: KeycloakTarget, key: str
) -> None:
    user = realm.add_user("dangvanh", employee_number="NV008")
    snapshot = read(target)
    assert account_in(snapshot, user).entitlements == frozenset()

    apply_one(target, action(ActionKind.GRANT, user, add=(key,)), snapshot)
    apply_one(target, action(ActionKind.GRANT, user, add=(key,)), snapshot)
    assert account_of(target, user, MANAGED).entitlements == {key}

    apply_one(target, action(ActionKind.REVOKE, user, remove=(key,)), snapshot)
    apply_one(target, action(ActionKind.REVOKE, user, remove=(key,)), snapshot)
    assert account_of(target, user, MANAGED).entitlements == frozenset()


@pytest.mark.parametrize(("managed", "requests"), [(MANAGED, 5), (NOTHING, 7)])
def test_a_fresh_target_applies_steps_planned_from_another_ones_read(
    realm: RealmHandle, target: KeycloakTarget, managed: frozenset[str], requests: int
) -> None:
    """The target keeps nothing between a read and an apply: a new instance (another
    process resuming an interrupted run, say) applies steps planned from a snapshot another
    instance read, with the ids that snapshot carries."""
    user = realm.add_user("buithik", employee_number="NV010")
    disabled = realm.add_user("dinhthio", employee_number="NV014")
    snapshot = read(target, managed)
    grant = action(ActionKind.GRANT, user, add=(REALM_ROLE, CLIENT_ROLE, UNIT_GROUP))

    with realm_target(realm) as fresh:
        assert fresh.requests == 0
        assert fresh.apply([grant], snapshot) == [None]
        # Two role lookups and three writes; the client and the group come from the
        # snapshot when it read them, else from one lookup each.
        assert fresh.requests == requests
        answers = fresh.apply([grant, action(ActionKind.DISABLE, disabled)], snapshot)
        assert answers == [None, None]
        assert account_of(fresh, user, MANAGED).entitlements == {
            REALM_ROLE,
            CLIENT_ROLE,
            UNIT_GROUP,
        }
        assert account_of(fresh, disabled, MANAGED).enabled is False


def test_one_steps_failure_is_not_another_ones(realm: RealmHandle, target: KeycloakTarget) -> None:
    user = realm.add_user("trinhvanp", employee_number="NV015")
    other = realm.add_user("caothiq", employee_number="NV016")
    snapshot = read(target)
    astray = replace(action(ActionKind.DISABLE, other), target="ldap")

    answers = target.apply(
        [
            action(ActionKind.GRANT, user, add=("group:/Không có",)),
            action(ActionKind.DISABLE, "00000000-0000-0000-0000-000000000000"),
            astray,
            action(ActionKind.GRANT, other, add=(REALM_ROLE,)),
            action(ActionKind.DISABLE, user),
        ],
        snapshot,
    )

    assert [type(answer) for answer in answers] == [
        ApplyError,
        ApplyError,
        ApplyError,
        type(None),
        type(None),
    ]
    assert "does not exist" in str(answers[0])
    assert "404" in str(answers[1])
    assert str(answers[2]) == "action for target 'ldap' sent to 'keycloak'"
    assert account_of(target, other, MANAGED).entitlements == {REALM_ROLE}
    assert account_of(target, other, MANAGED).enabled is True  # its step went elsewhere
    assert account_of(target, user, MANAGED).enabled is False


def test_a_snapshot_another_target_read_is_refused_step_by_step(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    user = realm.add_user("ngovanr", employee_number="NV017")
    ours = read(target)
    steps = [action(ActionKind.DISABLE, user), action(ActionKind.GRANT, user, add=(REALM_ROLE,))]
    elsewhere = KeycloakLocator(realm.server_url, "another-realm", clients={}, groups={})
    foreign = [
        Snapshot(target="ldap", accounts=ours.accounts, entitlements=ours.entitlements),
        Snapshot(target="keycloak", accounts=ours.accounts, entitlements=ours.entitlements),
        Snapshot(
            target="keycloak",
            accounts=ours.accounts,
            entitlements=ours.entitlements,
            locator=object(),
        ),
        Snapshot(
            target="keycloak",
            accounts=ours.accounts,
            entitlements=ours.entitlements,
            locator=elsewhere,
        ),
    ]
    calls = target.requests

    for snapshot in foreign:
        answers = target.apply(steps, snapshot)
        assert len(answers) == len(steps)
        assert all(isinstance(answer, ApplyError) for answer in answers), answers

    assert target.requests == calls  # refused before anything was sent
    assert "'ldap'" in str(target.apply(steps, foreign[0])[0])
    assert "another-realm" in str(target.apply(steps, foreign[3])[0])
    assert account_of(target, user, MANAGED) == account_in(ours, user)
    assert target.apply([], foreign[0]) == []


def test_change_unit_moves_between_groups(realm: RealmHandle, target: KeycloakTarget) -> None:
    user = realm.add_user("vuvanl", employee_number="NV011", groups=[UNIT])
    managed = MANAGED | {OTHER_UNIT_GROUP}
    move = action(ActionKind.CHANGE_UNIT, user, add=(OTHER_UNIT_GROUP,), remove=(UNIT_GROUP,))
    snapshot = read(target, managed)

    apply_one(target, move, snapshot)
    apply_one(target, move, snapshot)

    assert account_of(target, user, managed).entitlements == {OTHER_UNIT_GROUP}


def test_missing_entitlement_fails_a_grant_and_satisfies_a_revoke(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    user = realm.add_user("lyvanm", employee_number="NV012")
    snapshot = read(target)
    for key, name in (
        ("group:/Không có", "group '/Không có'"),
        ("realm-role:khong-co", "realm role 'khong-co'"),
        ("client-role:qoffice:khong-co", "role 'khong-co' of client 'qoffice'"),
        ("client-role:khong-co:van-thu", "role 'van-thu' of client 'khong-co'"),
    ):
        with pytest.raises(ApplyError, match=f"{name} does not exist in realm {realm.name}"):
            apply_one(target, action(ActionKind.GRANT, user, add=(key,)), snapshot)
        apply_one(target, action(ActionKind.REVOKE, user, remove=(key,)), snapshot)


def test_errors_carry_keycloaks_words_never_the_secret(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    snapshot = read(target, NOTHING)
    with pytest.raises(ApplyError) as caught:
        apply_one(
            target, action(ActionKind.DISABLE, "00000000-0000-0000-0000-000000000000"), snapshot
        )
    message = str(caught.value)
    assert "404" in message and "User not found" in message
    assert realm.client_secret not in message


# -- scale ---------------------------------------------------------------------------------


def test_read_of_2000_people_costs_pages_not_people(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    ids = list(realm.bulk_add_users(2000, "nv").values())
    admin = realm.admin
    role = admin.get_realm_role("van-thu")
    qoffice = realm.client_uuid("qoffice")
    client_role = admin.get_client_role(qoffice, "lanh-dao")
    unit = realm.group_id(UNIT)
    members = {REALM_ROLE: ids[:450], CLIENT_ROLE: ids[300:550], UNIT_GROUP: ids[1000:1300]}
    for user in members[REALM_ROLE]:
        admin.assign_realm_roles(user, [role])
    for user in members[CLIENT_ROLE]:
        admin.assign_client_role(user, qoffice, [client_role])
    for user in members[UNIT_GROUP]:
        admin.group_user_add(user, unit)
    page = target.settings.page_size
    calls_before = target.requests
    started = time.perf_counter()

    snapshot = read(target)

    seconds = time.perf_counter() - started
    calls = target.requests - calls_before
    sizes = {key: len(members.get(key, ())) for key in sorted(MANAGED)}
    print(
        f"\nread of 2000 people, {len(MANAGED)} managed entitlements {sizes}, page {page}: "
        f"{calls} requests, {seconds:.2f} s"
    )
    # users/count, the users' pages up to the first short one (an empty one after 2000), one
    # request per entitlement for all its members, one client lookup, one per group path.
    assert calls == 1 + (2000 // page + 1) + len(MANAGED) + 3
    started = time.perf_counter()
    read(target)
    print(f"the same read again, Keycloak's caches warm: {time.perf_counter() - started:.2f} s")
    assert len(snapshot.accounts) == 2000
    held = {key: {a.key for a in snapshot.accounts if key in a.entitlements} for key in MANAGED}
    for key, users in members.items():
        assert held[key] == set(users)
    assert held[ROLE_GROUP] == set()
    assert {a.employee_id for a in snapshot.accounts} == {f"NV{i:05d}" for i in range(2000)}


# -- tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("refresh", ["ahead of expiry", "on 401"])
def test_an_expired_token_does_not_break_apply(
    realm: RealmHandle, target: KeycloakTarget, refresh: str
) -> None:
    lifespan = 3
    realm.admin.update_realm(realm.name, {"accessTokenLifespan": lifespan})
    user = realm.add_user("tranvann", employee_number="NV013")
    connection = target.api.connection()
    if refresh == "on 401":
        # As if the local clock lagged: the token is used past its end, and Keycloak's 401
        # must lead to a new sign-in with the client credentials and a retry.
        connection.token_lifetime_fraction = 1000
    snapshot = read(target)
    first = connection.token
    assert first is not None and first["expires_in"] == lifespan

    time.sleep(lifespan + 2)
    apply_one(target, action(ActionKind.GRANT, user, add=(REALM_ROLE, UNIT_GROUP)), snapshot)
    apply_one(target, action(ActionKind.DISABLE, user), snapshot)

    assert connection.token is not None
    assert connection.token["access_token"] != first["access_token"]
    account = account_of(target, user, MANAGED)
    assert account.entitlements == {REALM_ROLE, UNIT_GROUP}
    assert account.enabled is False


# -- describe ------------------------------------------------------------------------------


def test_describe_reports_users_roles_and_profile(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    for i in range(3):
        realm.add_user(f"user{i}", employee_number=f"NV10{i}")

    lines = target.describe()

    assert lines[0] == (
        f"{realm.server_url} realm {realm.name} as service account of client syncbot"
    )
    assert "users: 3" in lines
    assert any(line.startswith("realm-management roles: all present") for line in lines)
    assert "user profile declares employeeNumber" in lines


def test_describe_names_a_missing_role(realm: RealmHandle, target: KeycloakTarget) -> None:
    set_service_account_roles(realm, {need.role for need in NEEDS} - {"view-realm"})

    roles = next(line for line in target.describe() if line.startswith("realm-management"))

    assert roles.startswith("realm-management roles MISSING: view-realm (")
    assert "manage-users" not in roles and "view-clients" not in roles


def test_describe_reports_an_undeclared_match_attribute(
    realm: RealmHandle, target: KeycloakTarget
) -> None:
    profile = realm.admin.get_realm_users_profile()
    profile["attributes"] = [a for a in profile["attributes"] if a["name"] != "employeeNumber"]
    realm.admin.update_realm_users_profile(profile)

    lines = target.describe()

    assert any(
        line.startswith("user profile does NOT declare employeeNumber: declare it in Realm")
        and "dropped silently" in line
        for line in lines
    ), lines


def test_describe_fails_on_a_wrong_secret_without_showing_it(realm: RealmHandle) -> None:
    wrong = "wrong-secret-0123456789"
    kc = KeycloakTarget(settings_for(realm, client_secret=wrong))
    with pytest.raises(TargetError) as caught:
        kc.describe()
    message = str(caught.value)
    assert "refused" in message and "unauthorized_client" in message
    assert wrong not in message and realm.client_secret not in message
    with pytest.raises(TargetError, match="refused"):
        read(kc)


def test_describe_fails_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    kc = KeycloakTarget(
        KeycloakSettings("keycloak", url, "r", "syncbot", "secret-xyz", timeout=3.0)
    )
    with pytest.raises(TargetError, match=f"cannot connect to {url}: .*refused"):
        kc.describe()


class _RefusingKeycloak(http.server.BaseHTTPRequestHandler):
    """Answers every request as Keycloak answers a wrong client secret."""

    def do_POST(self) -> None:
        body = json.dumps(
            {"error": "unauthorized_client", "error_description": "Invalid client credentials"}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTPS server with a self-signed certificate, and that certificate."""
    cert, key = tmp_path / "ca.pem", tmp_path / "key.pem"
    openssl = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", str(key), "-out", str(cert),
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]  # fmt: skip
    subprocess.run(openssl, check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingKeycloak)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_tls_trusts_the_configured_ca_file(https_server: tuple[str, Path]) -> None:
    url, ca = https_server
    untrusting = KeycloakTarget(KeycloakSettings("keycloak", url, "r", "syncbot", "secret-xyz"))
    with pytest.raises(TargetError) as caught:
        untrusting.describe()
    assert "failed (trusting the system CA store): certificate verify failed" in str(caught.value)

    trusting = KeycloakTarget(
        KeycloakSettings("keycloak", url, "r", "syncbot", "secret-xyz", ca_file=str(ca))
    )
    with pytest.raises(TargetError) as caught:
        trusting.describe()  # TLS passes; the (stand-in) server then refuses the client
    assert "refused: unauthorized_client: Invalid client credentials" in str(caught.value)
    assert "secret-xyz" not in str(caught.value)


class _CutOffOnce(http.server.BaseHTTPRequestHandler):
    """Gives a token, then a list whose first answer stops half-way, as a dropped
    connection leaves it; the next answer is whole."""

    lists_sent = 0
    BODY = json.dumps([{"id": "mot", "ten": "Một"}, {"id": "hai", "ten": "Hai"}]).encode()

    def do_POST(self) -> None:
        self._answer(json.dumps({"access_token": "t", "expires_in": 300}).encode())

    def do_GET(self) -> None:
        type(self).lists_sent += 1
        cut = type(self).lists_sent == 1
        self._answer(self.BODY[: len(self.BODY) // 2] if cut else self.BODY, len(self.BODY))

    def _answer(self, body: bytes, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length or len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
        pass


def test_a_list_cut_off_half_way_is_asked_for_again() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutOffOnce)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = KeycloakSettings("keycloak", url, "r", "syncbot", "secret-xyz", timeout=3.0)
        api = AdminApi(settings, RetryPolicy(first_delay=0.01))
        pages = list(api.pages("users", size=10))
    finally:
        server.shutdown()
        server.server_close()
    assert pages == [[{"id": "mot", "ten": "Một"}, {"id": "hai", "ten": "Hai"}]]
    assert _CutOffOnce.lists_sent == 2
    assert api.calls == 2
