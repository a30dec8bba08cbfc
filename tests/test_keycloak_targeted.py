"""Targeted reads of the Keycloak target against a real Keycloak 26.

A targeted read (`ReadRequest.lookup`) must equal the full read narrowed to the accounts
the lookup wants (`syncbot.lookup.narrowed`), cost requests by the people asked about and
not by the realm's size, and carry what `apply` needs. A server that cannot start fails
the tests, it never skips them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from keycloak_fixtures import realm_target
from plan_builders import row
from target_steps import apply_one

from localdev.keycloak import RealmHandle
from localdev.slapd import SlapdServer
from syncbot.duty_settings import OBSERVE_NOTHING, Observe
from syncbot.lookup import Lookup, narrowed
from syncbot.matching import Fallback
from syncbot.model import Account, Action, ActionKind, Reason, Snapshot
from syncbot.targets.base import ReadRequest
from syncbot.targets.keycloak import KeycloakTarget, targeted
from syncbot.targets.keycloak.locator import KeycloakLocator
from syncbot.targets.keycloak.targeted import attribute_search

pytestmark = pytest.mark.keycloak

UNIT = "Phòng Tài chính"
REALM_ROLE = "realm-role:van-thu"
CLIENT_ROLE = "client-role:qoffice:lanh-dao"
UNIT_GROUP = f"group:/{UNIT}"
ROLE_GROUP = "group:/chuyen-vien"
MISSING = frozenset({"realm-role:khong-co", "client-role:khong-co:x", "group:/Không có"})
MANAGED = frozenset({REALM_ROLE, CLIENT_ROLE, UNIT_GROUP, ROLE_GROUP})
PASSWORD = "Mật-khẩu-Đủ-Dài-2025!"
REASON = Reason(vi="kiểm thử", en="test")
#: Ids in awkward spellings: a quote, spaces, "&", "+", "#", "%", a backslash before a
#: quote (which Keycloak's search syntax cannot write), Vietnamese letters.
AWKWARD_IDS = ('NV 005"x', "a+b&c%d#e", 'NV\\"7', "Đ-ĐƯỜNG-01")


@pytest.fixture
def target(keycloak_realm: RealmHandle) -> Iterator[KeycloakTarget]:
    with realm_target(keycloak_realm) as kc:
        yield kc


def lookup(
    ids: Iterable[str] = (), contacts: Iterable[str] = (), fallback: Fallback = Fallback.NONE
) -> Lookup:
    """The lookup of people with `ids` (no longer listed) and roster rows with `contacts`."""
    by_username = fallback is Fallback.USERNAME
    rows = [
        row(
            900 + n,
            f"HR{n:03d}",
            username=c if by_username else None,
            email=None if by_username else c,
        )
        for n, c in enumerate(contacts)
    ]
    return Lookup.build(ids, rows, fallback)


def read(
    target: KeycloakTarget,
    wants: Lookup | None = None,
    managed: frozenset[str] = MANAGED | MISSING,
    observe: Observe = OBSERVE_NOTHING,
) -> Snapshot:
    return target.read(ReadRequest(managed, observe=observe, lookup=wants))


def in_order(snapshot: Snapshot) -> Snapshot:
    return replace(snapshot, accounts=tuple(sorted(snapshot.accounts, key=lambda a: a.key)))


def assert_targeted_is_narrowed(
    target: KeycloakTarget,
    wants: Lookup,
    *,
    managed: frozenset[str] = MANAGED | MISSING,
    observe: Observe = OBSERVE_NOTHING,
) -> Snapshot:
    """Read targeted and whole; assert the first is the second narrowed; return the first."""
    targeted = read(target, wants, managed, observe)
    full = read(target, None, managed, observe)
    assert in_order(targeted) == in_order(narrowed(full, wants))
    return targeted


def names(snapshot: Snapshot) -> set[str]:
    return {account.username for account in snapshot.accounts}


def by_username(snapshot: Snapshot) -> dict[str, Account]:
    return {account.username: account for account in snapshot.accounts}


def step(kind: ActionKind, account: Account, **changes: tuple[str, ...]) -> Action:
    return Action(
        target="keycloak",
        kind=kind,
        account=account.key,
        username=account.username,
        employee_id=account.employee_id,
        reason=REASON,
        evidence=None,
        **changes,
    )


@pytest.fixture
def people(keycloak_realm: RealmHandle) -> RealmHandle:
    """A realm with people of every sort the lookup must tell apart."""
    realm = keycloak_realm
    realm.add_user(
        "nguyenvana",
        email="NguyenVanA@Example.GOV.vn",
        employee_number="NV001",
        first_name="Nguyễn Văn",
        last_name="A",
        realm_roles=["van-thu"],
        client_roles=["lanh-dao"],
        groups=[UNIT, "chuyen-vien", "quan-tri"],
    )
    realm.add_user("tranthib", email="tranthib@example.gov.vn", employee_number="nv002")
    realm.add_user("levanc", employee_number="NV003", enabled=False, groups=[UNIT])
    realm.add_user("khongma", email="khong.ma+hr@example.gov.vn", realm_roles=["van-thu"])
    realm.add_user("khongma2", email="khac@example.gov.vn")
    realm.add_user("comaroi", email="comaroi@example.gov.vn", employee_number="NV010")
    realm.add_user("trungma", employee_number="NV001", client_roles=["lanh-dao"])
    realm.add_user("nguoingoai", employee_number="NV999", realm_roles=["van-thu"])
    for n, value in enumerate(AWKWARD_IDS):
        realm.add_user(f"kytu{n}", employee_number=value, first_name="Đặng Thị", last_name="Ư")
    realm.add_user("kytu-gan", employee_number="NV\\", first_name="gần giống")
    changes = realm.add_user("doimatkhau", employee_number="NV011")
    realm.admin.update_user(changes, {"requiredActions": ["UPDATE_PASSWORD"]})
    return realm


# -- equal to the full read narrowed -------------------------------------------------------


def test_targeted_read_is_the_full_read_narrowed(
    people: RealmHandle, target: KeycloakTarget
) -> None:
    wants = lookup(
        ["NV001", "NV002", "NV003", "NV011", "nv404", *AWKWARD_IDS[:2], "đ-đường-01"],
        contacts=["Khong.Ma+HR@example.gov.vn", "comaroi@example.gov.vn"],
        fallback=Fallback.EMAIL,
    )

    targeted = assert_targeted_is_narrowed(target, wants)

    assert names(targeted) == {
        "nguyenvana",
        "trungma",  # the same id twice: both, as matching then refuses to guess
        "tranthib",  # the id in another case
        "levanc",  # disabled
        "doimatkhau",
        "khongma",  # no id, found by e-mail
        "kytu0",
        "kytu1",
        "kytu3",
    }  # not "comaroi": it has an id, so its e-mail does not count
    people_ = by_username(targeted)
    assert people_["nguyenvana"].entitlements == {REALM_ROLE, CLIENT_ROLE, UNIT_GROUP, ROLE_GROUP}
    assert people_["levanc"].enabled is False
    assert people_["doimatkhau"].must_change_password is True
    assert people_["kytu3"].display_name == "Đặng Thị Ư"
    assert targeted.entitlements == MANAGED
    assert targeted.settings is None
    assert targeted.has_sessions is True
    assert isinstance(targeted.locator, KeycloakLocator)


def test_a_value_keycloaks_search_cannot_write_is_found_all_the_same(
    people: RealmHandle, target: KeycloakTarget
) -> None:
    assert attribute_search("employeeNumber", 'NV\\"7') == {
        "q": '"employeeNumber":"NV"',
        "exact": "false",
    }
    targeted = assert_targeted_is_narrowed(target, lookup(['NV\\"7', "NV\\"]))
    assert names(targeted) == {"kytu2", "kytu-gan"}


def test_id_less_accounts_are_found_by_username(
    people: RealmHandle, target: KeycloakTarget
) -> None:
    wants = lookup(["NV999"], contacts=["KhongMa2", "nguyenvana"], fallback=Fallback.USERNAME)
    targeted = assert_targeted_is_narrowed(target, wants)
    assert names(targeted) == {"nguoingoai", "khongma2"}


@pytest.mark.parametrize(
    "wants",
    [
        lookup(["NV404"]),  # nobody
        lookup(),  # an empty lookup
        lookup(contacts=["khong.ma+hr@example.gov.vn"]),  # contacts without a fallback
    ],
)
def test_people_without_accounts_give_none(
    people: RealmHandle, target: KeycloakTarget, wants: Lookup
) -> None:
    assert assert_targeted_is_narrowed(target, wants).accounts == ()


def test_only_what_is_managed_is_read(people: RealmHandle, target: KeycloakTarget) -> None:
    for managed in (frozenset(), frozenset({CLIENT_ROLE}), frozenset({UNIT_GROUP})):
        assert_targeted_is_narrowed(target, lookup(["NV001"]), managed=managed)


def test_sign_ins_failures_and_password_dates_are_the_full_reads(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    realm = keycloak_realm
    realm.admin.update_realm(
        realm.name, {"eventsEnabled": True, "enabledEventTypes": ["LOGIN", "LOGIN_ERROR"]}
    )
    for n in range(4):
        realm.add_user(
            f"dangnhap{n}",
            email=f"dangnhap{n}@example.gov.vn",
            employee_number=f"DN{n}",
            first_name="Ngô",
            last_name=f"số {n}",
            password=PASSWORD,
            enabled=n != 3,
        )
    realm.login("dangnhap0", PASSWORD)
    realm.login("dangnhap1", PASSWORD)
    for _ in range(3):
        with pytest.raises(Exception, match="invalid"):
            realm.login("dangnhap1", "sai-mat-khau")
        with pytest.raises(Exception, match="invalid"):
            realm.login("dangnhap2", "sai-mat-khau")
    since = datetime.now(UTC).date() - timedelta(days=1)
    observe = Observe(passwords=True, sign_ins_since=since, failures_since=since)

    targeted = assert_targeted_is_narrowed(
        target, lookup(["DN0", "DN1", "DN2", "DN3"]), observe=observe
    )

    seen = by_username(targeted)
    assert seen["dangnhap0"].last_sign_in is not None
    assert seen["dangnhap1"].failed_sign_ins >= 3
    assert seen["dangnhap2"].last_sign_in is None
    assert seen["dangnhap2"].failed_sign_ins >= 3
    assert seen["dangnhap2"].password_changed is not None
    assert seen["dangnhap3"].password_changed is None  # disabled: not asked about
    # A window that starts tomorrow holds nothing.
    later = Observe(sign_ins_since=date.today() + timedelta(days=2))
    assert_targeted_is_narrowed(target, lookup(["DN0"]), observe=later)


@pytest.mark.slapd
def test_federated_users_read_as_the_full_read_has_them(
    keycloak_realm: RealmHandle, target: KeycloakTarget, ldap_directory: SlapdServer
) -> None:
    realm = keycloak_realm
    realm.add_ldap_federation(
        ldap_directory.url,
        ldap_directory.service_dn,
        ldap_directory.service_password,
        ldap_directory.people_base,
    )
    realm.sync_ldap_users()
    realm.add_user("nguoidiaphuong", employee_number="NV900")
    wants = lookup(["NV001", "NV002", "NV900"])

    targeted = assert_targeted_is_narrowed(target, wants, observe=Observe(passwords=True))

    seen = by_username(targeted)
    assert seen["nguyenvana"].federated is True
    assert seen["nguyenvana"].password_changed is None
    assert seen["nguoidiaphuong"].federated is False
    assert "tranthib" in seen  # its id is " NV002 " in LDAP, trimmed in Keycloak's copy


# -- applying what a targeted read planned -------------------------------------------------


def test_steps_planned_from_a_targeted_read_are_applied(
    people: RealmHandle, target: KeycloakTarget
) -> None:
    session = people.add_user(
        "roiviec",
        email="roiviec@example.gov.vn",
        employee_number="NV020",
        first_name="Lê",
        last_name="Rời",
        password=PASSWORD,
        realm_roles=["van-thu"],
        groups=[UNIT],
    )
    people.login("roiviec", PASSWORD, offline=True)
    snapshot = read(target, lookup(["NV020", "NV002", "NV003"]))
    seen = by_username(snapshot)
    leaving, moving, back = seen["roiviec"], seen["tranthib"], seen["levanc"]

    with realm_target(people) as fresh:  # nothing kept in the target between read and apply
        answers = fresh.apply(
            [
                step(ActionKind.DISABLE, leaving),
                step(ActionKind.CHANGE_UNIT, moving, add=(UNIT_GROUP, CLIENT_ROLE)),
                step(ActionKind.ENABLE, back),
            ],
            snapshot,
        )
        assert answers == [None, None, None]
        apply_one(fresh, step(ActionKind.SIGN_OUT, leaving), snapshot)
        apply_one(
            fresh, step(ActionKind.REVOKE, leaving, remove=(REALM_ROLE, UNIT_GROUP)), snapshot
        )

    after = by_username(read(target))
    assert after["roiviec"].enabled is False
    assert after["roiviec"].entitlements == frozenset()
    assert people.admin.get_sessions(session) == []
    assert people.admin.user_consents(session) == []
    assert after["tranthib"].entitlements == {UNIT_GROUP, CLIENT_ROLE}
    assert after["levanc"].enabled is True


# -- cost ----------------------------------------------------------------------------------


def test_a_lookup_above_the_cap_is_the_full_read_narrowed(
    people: RealmHandle, target: KeycloakTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targeted, "KEYCLOAK_LOOKUP_MAX", 3)
    wants = lookup(
        ["NV001", "NV002", "NV003"],
        contacts=["Khong.Ma+HR@example.gov.vn"],
        fallback=Fallback.EMAIL,
    )
    assert len(wants) > 3  # four ids (the roster row's too) and an address

    read(target)  # sign in, so that both reads below cost their requests alone
    calls = target.requests
    over = read(target, wants)
    spent = target.requests - calls
    calls = target.requests
    full = read(target)

    # the realm's user count, then the realm read whole: no search
    assert spent == 1 + target.requests - calls
    assert in_order(over) == in_order(narrowed(full, wants))
    assert names(over) == {"nguyenvana", "trungma", "tranthib", "levanc", "khongma"}
    assert over.settings is None


def test_a_lookup_above_the_cap_is_searched_in_a_realm_large_enough(
    people: RealmHandle, target: KeycloakTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the floor the realm's size decides: searching costs per value, reading whole
    per user. With the realm's users at exactly `USERS_PER_VALUE` a value the values are
    searched; with one user fewer a value the realm is read whole."""
    monkeypatch.setattr(targeted, "KEYCLOAK_LOOKUP_MAX", 3)
    wants = lookup(["NV001", "NV002", "NV003", "nv404"])
    values = len(wants)
    read(target)
    calls = target.requests
    full = read(target, None, MANAGED)
    full_cost = target.requests - calls
    realm_users = people.admin.users_count()
    assert realm_users >= values > 3

    monkeypatch.setattr(targeted, "USERS_PER_VALUE", realm_users // values)
    calls = target.requests
    searched = read(target, wants, MANAGED)
    searched_cost = target.requests - calls
    monkeypatch.setattr(targeted, "USERS_PER_VALUE", realm_users // values + 1)
    calls = target.requests
    whole = read(target, wants, MANAGED)
    whole_cost = target.requests - calls

    assert in_order(searched) == in_order(whole) == in_order(narrowed(full, wants))
    assert len(searched.accounts) >= 3
    # the count, the client, each managed role or group by name, one search per value,
    # and per person found their role mappings and their groups
    assert searched_cost == 1 + 1 + len(MANAGED) + values + 2 * len(searched.accounts)
    assert whole_cost == 1 + full_cost  # the count, then the realm read whole


def test_a_lookup_at_the_cap_is_still_searched(
    people: RealmHandle, target: KeycloakTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targeted, "KEYCLOAK_LOOKUP_MAX", 3)
    wants = lookup(["NV001", "NV002", "NV003"])
    read(target)
    calls = target.requests
    read(target, wants, MANAGED)
    # The client, each managed role or group by name, one search per id, and per person
    # found (four) their role mappings and their groups.
    assert target.requests - calls == 1 + len(MANAGED) + 3 + 4 * 2


def test_a_targeted_read_costs_requests_per_person_not_per_realm(
    people: RealmHandle, target: KeycloakTarget
) -> None:
    wants = lookup(["NV001", "NV003", "NV011"])

    def cost() -> tuple[int, float, Snapshot]:
        calls, started = target.requests, time.perf_counter()
        snapshot = read(target, wants, MANAGED)
        return target.requests - calls, time.perf_counter() - started, snapshot

    read(target, wants, MANAGED)  # sign in, warm Keycloak's caches
    small = cost()
    people.bulk_add_users(400, "them")
    large = cost()
    print(f"targeted read of 3 people: {small[0]} requests, {small[1]:.3f} s; "
          f"400 users later: {large[0]} requests, {large[1]:.3f} s")  # fmt: skip

    # The client, each managed role or group by name, one search per id, and per person
    # found (four: NV001 is held twice) their role mappings and their groups.
    assert small[0] == large[0] == 1 + len(MANAGED) + 3 + 4 * 2
    assert in_order(small[2]) == in_order(large[2])
    assert len(small[2].accounts) == 4
