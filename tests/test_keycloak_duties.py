"""The Keycloak side of the circulars' duties against a real Keycloak 26: the realm's password
policy (CONFIGURE), event storage, last and failed sign-ins, and password dates.

Every test gets a fresh realm whose syncbot service account holds the roles localdev grants
(those of `NEEDS` and `DUTY_NEEDS`); a server that cannot start fails the tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from keycloak import KeycloakPostError, KeycloakPutError
from keycloak_fixtures import realm_target
from target_steps import apply_one

from localdev.keycloak import RealmHandle
from syncbot.config import load_config
from syncbot.duty_settings import OBSERVE_NOTHING, CharClass, Duties, Observe, PasswordPolicy
from syncbot.errors import ConfigError
from syncbot.model import Account, Action, ActionKind, Duty, Reason, Snapshot
from syncbot.targets.base import ApplyError, ReadRequest
from syncbot.targets.keycloak import KeycloakSettings, KeycloakTarget
from syncbot.targets.keycloak.event_settings import (
    EVENTS_ENABLED,
    EVENTS_EXPIRATION,
    EVENTS_TYPES,
)
from syncbot.targets.keycloak.permissions import NEEDS

pytestmark = pytest.mark.keycloak

NOTHING = frozenset[str]()
REASON = Reason(vi="kiểm thử", en="test")
RULES = Duties(
    password=PasswordPolicy(
        min_length=12,
        classes=frozenset(CharClass),
        not_username=True,
        history=5,
        max_age_days=90,
    )
)
SETTINGS = Observe(settings=True)
GOOD_PASSWORD = "Mật-khẩu-Đủ-Dài-2025!"


def yesterday() -> date:
    """A window start that holds everything from today, whatever Keycloak's time zone."""
    return datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture
def target(keycloak_realm: RealmHandle) -> Iterator[KeycloakTarget]:
    with realm_target(keycloak_realm, store_events=True) as kc:
        yield kc


def drift(snapshot: Snapshot, wanted: dict[str, str]) -> tuple[tuple[str, str | None, str], ...]:
    """What the planner puts in a CONFIGURE step: the wanted settings that differ."""
    assert snapshot.settings is not None
    return tuple(
        (name, snapshot.settings.get(name), value)
        for name, value in sorted(wanted.items())
        if snapshot.settings.get(name) != value
    )


def read(target: KeycloakTarget, observe: Observe = OBSERVE_NOTHING) -> Snapshot:
    return target.read(ReadRequest(NOTHING, observe=observe))


def configure(
    target: KeycloakTarget,
    settings: tuple[tuple[str, str | None, str], ...],
    snapshot: Snapshot,
) -> None:
    apply_one(
        target,
        Action(
            target="keycloak",
            kind=ActionKind.CONFIGURE,
            account="realm",
            username="realm",
            employee_id=None,
            reason=REASON,
            evidence=None,
            duty=Duty.PASSWORD,
            settings=settings,
        ),
        snapshot,
    )


def account(target: KeycloakTarget, user_id: str, observe: Observe) -> Account:
    return next(a for a in read(target, observe).accounts if a.key == user_id)


def person(realm: RealmHandle, username: str, password: str | None = GOOD_PASSWORD) -> str:
    """A user the password grant accepts (the default profile wants e-mail and names)."""
    return realm.add_user(
        username,
        email=f"{username}@example.gov.vn",
        first_name="Nguyễn",
        last_name=username,
        password=password,
    )


def policy_text(realm: RealmHandle) -> str:
    return str(realm.admin.get_realm(realm.name).get("passwordPolicy") or "")


def set_policy(realm: RealmHandle, text: str) -> None:
    realm.admin.update_realm(realm.name, {"passwordPolicy": text})


def refused(call: Any, *args: Any) -> str:
    """Keycloak's refusal as text; fails the test if the call was accepted."""
    with pytest.raises((KeycloakPostError, KeycloakPutError)) as caught:
        call(*args)
    body = caught.value.response_body
    return body.decode() if isinstance(body, bytes) else str(body)


# -- password policy -----------------------------------------------------------------------


def test_configure_sets_the_policy_that_keycloak_then_enforces(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    realm = keycloak_realm
    set_policy(realm, "hashIterations(27500) and length(6)")
    user = person(realm, "chuyen.vien-01", password=None)
    calls = target.requests

    before = read(target, SETTINGS)

    # The realm itself and its event settings: two requests beyond the accounts.
    assert target.requests - calls == 1 + 1 + 1 + 1  # users/count, users, realm, events/config
    assert before.settings_key == "realm"
    assert before.settings is not None
    assert {k: v for k, v in before.settings.items() if not k.startswith("events.")} == {
        "hashIterations": "27500",
        "length": "6",
    }
    wanted = target.wanted_settings(RULES).values
    changes = drift(before, wanted)
    assert {name for name, _, _ in changes} == {
        EVENTS_ENABLED,
        EVENTS_EXPIRATION,
        "digits",
        "forceExpiredPasswordChange",
        "length",
        "lowerCase",
        "notUsername",
        "passwordHistory",
        "specialChars",
        "upperCase",
    }
    assert ("length", "6", "12") in changes

    configure(target, changes, before)

    after = read(target, SETTINGS)
    assert drift(after, target.wanted_settings(RULES).values) == ()
    assert after.settings is not None and after.settings["hashIterations"] == "27500"
    assert policy_text(realm).startswith("hashIterations(27500) and length(12) and ")
    # Keycloak now enforces it: the admin cannot set a short password, nor the username.
    assert "invalidPasswordMinLengthMessage" in refused(
        realm.admin.set_user_password, user, "Ab1!ngan", False
    )
    assert "invalidPasswordNotUsernameMessage" in refused(
        realm.admin.set_user_password, user, "Chuyen.Vien-01", False
    )
    realm.admin.set_user_password(user, GOOD_PASSWORD, False)

    # Written back reordered and respaced by hand, with a term syncbot does not manage: the
    # same policy, no drift; a second apply of the same step changes nothing. (Keycloak
    # itself refuses spaces inside the parentheses: `digits( 1 )` is a 500.)
    shuffled = (
        "forceExpiredPasswordChange(90)  and notUsername and passwordHistory(5) and "
        "specialChars(1) and digits(1) and lowerCase(1) and upperCase(1) and length(12) "
        "and hashIterations(27500) and maxLength(64)"
    )
    set_policy(realm, shuffled)
    stored = policy_text(realm)  # Keycloak keeps the order, joins terms with one space
    again = read(target, SETTINGS)
    assert drift(again, target.wanted_settings(RULES).values) == ()
    calls = target.requests
    configure(target, changes, again)
    assert target.requests - calls == 2  # the realm and its event settings read, no write
    assert policy_text(realm) == stored


def test_configure_changes_only_the_named_terms(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    realm = keycloak_realm
    set_policy(realm, "length(8) and hashIterations(27500) and passwordHistory(3)")
    snapshot = read(target, SETTINGS)

    configure(target, (("passwordHistory", "3", "5"), ("digits", None, "1")), snapshot)

    assert policy_text(realm) == (
        "length(8) and hashIterations(27500) and passwordHistory(5) and digits(1)"
    )


def test_settings_are_not_read_unless_asked(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    person(keycloak_realm, "vanthu01")
    calls = target.requests
    snapshot = read(target)
    assert snapshot.settings is None
    assert target.requests - calls == 2  # users/count and one page of users
    only = snapshot.accounts[0]
    assert only.password_changed is None and only.last_sign_in is None
    assert only.failed_sign_ins == 0
    assert only.created is not None  # free: part of the user representation


# -- events, sign-ins and failures ---------------------------------------------------------


def test_events_stored_by_configure_give_last_and_failed_sign_ins(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    realm = keycloak_realm
    signs_in = person(realm, "lanhdao01")
    stays_away = person(realm, "lanhdao02")
    guessed = person(realm, "lanhdao03")
    observe = Observe(sign_ins_since=yesterday(), failures_since=yesterday())

    before = read(target, observe)
    assert before.settings is not None and before.settings[EVENTS_ENABLED] == "false"
    assert realm.login("lanhdao01", GOOD_PASSWORD)["access_token"]  # not stored yet
    changes = drift(before, target.wanted_settings(Duties()).values)
    assert {name for name, _, _ in changes} == {EVENTS_ENABLED, EVENTS_EXPIRATION}
    assert {"LOGIN", "LOGIN_ERROR"} <= set(before.settings[EVENTS_TYPES].split(","))

    configure(target, changes, before)

    config = realm.admin.connection.raw_get(f"admin/realms/{realm.name}/events/config").json()
    assert config["eventsEnabled"] is True
    assert config["eventsExpiration"] == 400 * 86_400
    assert {"LOGIN", "LOGIN_ERROR"} <= set(config["enabledEventTypes"])
    assert config["eventsListeners"] == ["jboss-logging"]  # kept
    assert len(config["enabledEventTypes"]) > 2  # other types kept
    signed_in_at = datetime.now(UTC)
    realm.login("lanhdao01", GOOD_PASSWORD)
    for _ in range(6):
        refused(realm.login, "lanhdao03", "sai-mat-khau")
    refused(realm.login, "khong-ton-tai", "sai-mat-khau")  # no user id: counted for nobody

    calls = target.requests
    after = {a.key: a for a in read(target, observe).accounts}

    # users/count, users, one page of LOGIN events, one of LOGIN_ERROR events, brute-force
    # status of the one user with failures, events/config (store_events, events watched).
    assert target.requests - calls == 6
    last = after[signs_in].last_sign_in
    assert last is not None and abs((last - signed_in_at).total_seconds()) < 10
    assert after[stays_away].last_sign_in is None
    assert after[guessed].last_sign_in is None
    assert after[guessed].failed_sign_ins >= 6
    assert after[signs_in].failed_sign_ins == 0
    assert after[stays_away].failed_sign_ins == 0


# -- password dates and required change ----------------------------------------------------


def test_password_dates_and_a_required_change(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    realm = keycloak_realm
    issued = person(realm, "vanthu02")
    no_password = person(realm, "vanthu03", password=None)
    locked = person(realm, "vanthu04")
    realm.admin.update_user(locked, {"enabled": False})
    passwords = Observe(passwords=True)
    calls = target.requests

    snapshot = read(target, passwords)
    first = {a.key: a for a in snapshot.accounts}

    # One credentials request per enabled user: two, the disabled one is not read.
    assert target.requests - calls == 2 + 2
    created = first[issued].created
    changed = first[issued].password_changed
    assert created is not None and changed is not None
    assert created.tzinfo is UTC and changed.tzinfo is UTC
    assert abs((created - datetime.now(UTC)).total_seconds()) < 60
    assert timedelta(0) <= changed - created < timedelta(seconds=5)  # issued, never changed
    assert first[no_password].password_changed is None
    assert first[locked].password_changed is None
    assert first[issued].must_change_password is False

    time.sleep(1.5)
    realm.admin.set_user_password(issued, "Một-Mật-Khẩu-Mới-2025!", False)

    later = account(target, issued, passwords)
    assert later.password_changed is not None
    assert later.password_changed - changed >= timedelta(seconds=1.5)
    assert later.created == created

    configure_required = Action(
        target="keycloak",
        kind=ActionKind.REQUIRE_PASSWORD_CHANGE,
        account=issued,
        username="vanthu02",
        employee_id=None,
        reason=REASON,
        evidence=None,
        duty=Duty.PASSWORD,
    )
    apply_one(target, configure_required, snapshot)

    assert account(target, issued, Observe()).must_change_password is True
    # The password still matches, but the grant cannot finish the required action.
    assert "Account is not fully set up" in refused(
        realm.login, "vanthu02", "Một-Mật-Khẩu-Mới-2025!"
    )


def test_federated_users_have_no_password_date_of_their_own(
    keycloak_realm: RealmHandle, target: KeycloakTarget
) -> None:
    """A user whose federationLink is set keeps the password in LDAP: no request, None."""
    realm = keycloak_realm
    local = person(realm, "vanthu05")
    component = realm.admin.create_component(
        {
            "name": "ldap-gia",
            "providerId": "ldap",
            "providerType": "org.keycloak.storage.UserStorageProvider",
            "parentId": realm.realm_id,
            "config": {"enabled": ["false"], "editMode": ["READ_ONLY"], "vendor": ["other"]},
        }
    )
    linked = realm.admin.create_user(
        {"username": "lienket01", "enabled": True, "federationLink": str(component)}
    )
    calls = target.requests

    people = {a.key: a for a in read(target, Observe(passwords=True)).accounts}

    assert people[linked].federated is True
    assert people[linked].password_changed is None
    assert people[local].password_changed is not None
    assert target.requests - calls == 2 + 1


# -- permissions ---------------------------------------------------------------------------


def test_missing_duty_roles_are_named(keycloak_realm: RealmHandle, target: KeycloakTarget) -> None:
    from test_keycloak_target import set_service_account_roles

    set_service_account_roles(keycloak_realm, {need.role for need in NEEDS})
    snapshot = read(target)

    lines = target.describe()

    assert any(line.startswith("realm-management roles: all present") for line in lines)
    duty = next(line for line in lines if line.startswith("realm-management roles for the"))
    assert duty.startswith("realm-management roles for the duties MISSING: view-events (")
    assert "manage-realm (set the realm's password policy" in duty
    assert "manage-events (" in duty
    with pytest.raises(ApplyError, match="lacks realm-management role manage-realm"):
        configure(target, (("length", None, "12"),), snapshot)
    with pytest.raises(ApplyError, match="lacks realm-management role manage-events"):
        configure(target, ((EVENTS_ENABLED, "false", "true"),), snapshot)
    observe = Observe(sign_ins_since=yesterday())
    with pytest.raises(Exception, match="lacks realm-management role view-events"):
        read(target, observe)


# -- cost ----------------------------------------------------------------------------------


def test_password_dates_of_2000_users_cost_one_request_each(
    keycloak_realm: RealmHandle, target: KeycloakTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    keycloak_realm.bulk_add_users(2000, "nv", password="mat-khau-chung")
    page = target.settings.page_size
    read(target)  # Keycloak's caches warm, so both figures below compare alike
    started = time.perf_counter()
    calls = target.requests
    read(target)
    plain = (target.requests - calls, time.perf_counter() - started)

    started = time.perf_counter()
    calls = target.requests
    snapshot = read(target, Observe(passwords=True))
    observed = (target.requests - calls, time.perf_counter() - started)

    with capsys.disabled():
        print(
            f"\nread of 2,000 users: {plain[0]} requests, {plain[1]:.2f} s; "
            f"with password dates: {observed[0]} requests, {observed[1]:.2f} s"
        )
    assert plain[0] == 1 + 2000 // page + 1
    assert observed[0] == plain[0] + 2000
    assert all(a.password_changed is not None for a in snapshot.accounts)
    assert all(a.created is not None for a in snapshot.accounts)


# -- configuration -------------------------------------------------------------------------

KEYCLOAK_CONFIG = """
[roster]
path = "nhan-su.csv"
[targets.sso]
type = "keycloak"
server_url = "https://sso.example.gov.vn"
realm = "so"
client_id = "syncbot"
client_secret_file = "secret"
"""


def test_event_keys_in_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret-value\n", encoding="utf-8")
    path = tmp_path / "syncbot.toml"
    path.write_text(KEYCLOAK_CONFIG, encoding="utf-8")
    defaults = load_config(path).targets["sso"]
    assert isinstance(defaults, KeycloakSettings)
    assert (defaults.store_events, defaults.events_expiration_days) == (False, 400)

    path.write_text(KEYCLOAK_CONFIG + "store_events = true\nevents_expiration_days = 730\n")
    chosen = load_config(path).targets["sso"]
    assert isinstance(chosen, KeycloakSettings)
    assert (chosen.store_events, chosen.events_expiration_days) == (True, 730)

    for extra, key in (
        ('store_events = "yes"\n', "targets.sso.store_events"),
        ("events_expiration_days = 0\n", "targets.sso.events_expiration_days"),
    ):
        path.write_text(KEYCLOAK_CONFIG + extra)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert caught.value.key == key
