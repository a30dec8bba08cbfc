"""Password, sign-in and failure facts read from LDAP, and the directory's password policy.

The slapd tests run against the real server from conftest (ppolicy, core lastbind); the
other flavours are checked by the exact attributes they read and the requests they send.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import ldap3
import pytest
from conftest import SEED_USERS, user_dn
from ldap3 import MODIFY_DELETE, MODIFY_REPLACE
from target_steps import apply_one

from localdev.slapd import SlapdServer
from syncbot.config import load_config
from syncbot.duty_settings import (
    CharClass,
    Duties,
    Observe,
    PasswordPolicy,
    Response,
    WantedSettings,
)
from syncbot.errors import ConfigError
from syncbot.model import Account, Action, ActionKind, Duty, Reason, Setting, Snapshot
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap import LdapTarget
from syncbot.targets.ldap.observed import (
    AD_DUTIES,
    DS389_DUTIES,
    OPENLDAP_DUTIES,
    ZIMBRA_DUTIES,
    TimeFormatError,
    parse_filetime,
    parse_generalized_time,
)
from syncbot.targets.ldap.policy import (
    AD_COMPLEXITY,
    AD_POLICY,
    DS389_POLICY,
    OPENLDAP_POLICY,
    ZIMBRA_POLICY,
    PolicyError,
)
from syncbot.targets.ldap.settings import LdapSettings

TODAY = datetime.now(UTC).date()
NOW = datetime(2024, 10, 26, 8, 30, tzinfo=UTC)
KEY = "uid=alice,ou=people,dc=example,dc=gov,dc=vn"
EVERYTHING = Observe(
    passwords=True, sign_ins_since=date(2024, 1, 1), failures_since=date(2024, 10, 20)
)
CIRCULAR = PasswordPolicy(
    min_length=12,
    classes=frozenset(CharClass),
    not_username=True,
    history=5,
    max_age_days=90,
    never_changed=Response.REQUIRE_CHANGE,
    expired=Response.REPORT,
)
LENGTH_ONLY = PasswordPolicy(
    min_length=12, history=5, max_age_days=90, never_changed=Response.REQUIRE_CHANGE
)


# -- time formats ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20241026083000Z", datetime(2024, 10, 26, 8, 30, tzinfo=UTC)),
        ("20261123233512.611269Z", datetime(2026, 11, 23, 23, 35, 12, 611269, tzinfo=UTC)),
        ("20240101120000.0Z", datetime(2024, 1, 1, 12, tzinfo=UTC)),  # AD whenCreated
        ("20241026153000+0700", datetime(2024, 10, 26, 8, 30, tzinfo=UTC)),
        ("202410260830Z", datetime(2024, 10, 26, 8, 30, tzinfo=UTC)),
        ("2024102608Z", datetime(2024, 10, 26, 8, tzinfo=UTC)),
        ("2024102608.5Z", datetime(2024, 10, 26, 8, 30, tzinfo=UTC)),  # fraction of an hour
    ],
)
def test_generalized_time(text: str, expected: datetime) -> None:
    assert parse_generalized_time(text) == expected


def test_generalized_time_remembers_only_the_last_text() -> None:
    # Entries of one import share a creation time; a remembered value never leaks into
    # the next, different text.
    first, second = "20241026083000Z", "20241026083001Z"
    assert parse_generalized_time(first) == parse_generalized_time(first)
    assert parse_generalized_time(second) == datetime(2024, 10, 26, 8, 30, 1, tzinfo=UTC)
    assert parse_generalized_time(first) == datetime(2024, 10, 26, 8, 30, tzinfo=UTC)
    with pytest.raises(TimeFormatError):
        parse_generalized_time("20241026083060Z")  # second 60: the short form, but no time


@pytest.mark.parametrize("text", ["", "yesterday", "20241326083000Z", "2024-10-26T08:30:00Z"])
def test_generalized_time_rejects_what_is_not_one(text: str) -> None:
    with pytest.raises(TimeFormatError):
        parse_generalized_time(text)


def test_filetime() -> None:
    # 2024-10-26 08:30 UTC: (seconds since 1601) * 10^7.
    ticks = int((NOW - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()) * 10_000_000
    assert ticks == 133744050000000000
    assert parse_filetime(str(ticks)) == NOW
    assert parse_filetime("0") is None  # never
    assert parse_filetime("9223372036854775807") is None  # never expires / not applicable
    with pytest.raises(TimeFormatError):
        parse_filetime("20241026083000Z")


# -- reading account facts, per flavour -----------------------------------------------------


def test_openldap_reads_ppolicy_and_lastbind() -> None:
    entry = {
        "createTimestamp": ["20240101000000Z"],
        "pwdChangedTime": ["20240301000000Z"],
        "pwdReset": ["TRUE"],
        "pwdLastSuccess": ["20241025070000Z"],
        "modifiersName": ["cn=admin,dc=example,dc=gov,dc=vn"],
        "modifyTimestamp": ["20241026000000Z"],
        "pwdFailureTime": ["20241019235959.999999Z", "20241020000000.5Z", "20241025101010Z"],
    }
    seen = OPENLDAP_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.created == datetime(2024, 1, 1, tzinfo=UTC)
    assert seen.password_changed == datetime(2024, 3, 1, tzinfo=UTC)
    assert seen.must_change_password
    assert seen.last_sign_in == datetime(2024, 10, 25, 7, tzinfo=UTC)  # admin's write ignored
    assert seen.failed_sign_ins == 2  # the one just before the window is not counted


def test_openldap_own_password_change_counts_as_a_sign_in() -> None:
    # ppolicy deletes pwdLastSuccess when the password changes; the user's own change
    # (modifiersName is the entry) proves they were signed in then.
    entry = {
        "createTimestamp": ["20240101000000Z"],
        "modifiersName": ["UID=Alice, ou=People,dc=example,dc=gov,dc=vn"],
        "modifyTimestamp": ["20241026000000Z"],
    }
    seen = OPENLDAP_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.last_sign_in == datetime(2024, 10, 26, tzinfo=UTC)


def test_times_are_read_in_every_shape_the_ldap_libraries_hand_over() -> None:
    """python-ldap gives bytes; ldap3 gives text, or a datetime (not in a list) when the
    connection loaded the schema; servers spell attribute names as they like."""
    local = datetime(2024, 3, 1, 7, tzinfo=timezone(timedelta(hours=7)))
    entry = {
        "createtimestamp": [b"20240101000000Z"],
        "PWDCHANGEDTIME": local,
        "pwdLastSuccess": "20241025070000Z",
    }
    seen = OPENLDAP_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.created == datetime(2024, 1, 1, tzinfo=UTC)
    assert seen.password_changed == datetime(2024, 3, 1, tzinfo=UTC)
    assert seen.password_changed is not None and seen.password_changed.tzinfo is UTC
    assert seen.last_sign_in == datetime(2024, 10, 25, 7, tzinfo=UTC)


def test_openldap_without_a_change_time_falls_back_to_creation() -> None:
    entry = {"createTimestamp": ["20240101000000Z"]}
    seen = OPENLDAP_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.password_changed == seen.created == datetime(2024, 1, 1, tzinfo=UTC)
    assert not seen.must_change_password
    assert seen.last_sign_in is None
    assert seen.failed_sign_ins == 0


def test_only_what_is_observed_is_requested_and_read() -> None:
    assert OPENLDAP_DUTIES.attributes(Observe()) == ("createTimestamp",)
    assert OPENLDAP_DUTIES.attributes(EVERYTHING) == (
        "createTimestamp",
        "pwdChangedTime",
        "pwdReset",
        "pwdLastSuccess",
        "modifiersName",
        "modifyTimestamp",
        "pwdFailureTime",
    )
    entry = {"createTimestamp": ["20240101000000Z"], "pwdReset": ["TRUE"]}
    seen = OPENLDAP_DUTIES.read(entry, KEY, Observe(), NOW)
    assert seen.password_changed is None and not seen.must_change_password


def test_ad_reads_filetimes_and_the_bad_password_count() -> None:
    entry = {
        "whenCreated": ["20240101120000.0Z"],
        "pwdLastSet": ["133744050000000000"],
        "lastLogonTimestamp": ["133744050000000000"],
        "badPwdCount": ["4"],
        "badPasswordTime": ["133744050000000000"],
    }
    seen = AD_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.created == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert seen.password_changed == seen.last_sign_in == NOW
    assert not seen.must_change_password
    assert seen.failed_sign_ins == 4


def test_ad_pwd_last_set_zero_means_must_change_and_old_failures_do_not_count() -> None:
    entry = {
        "whenCreated": ["20240101120000.0Z"],
        "pwdLastSet": ["0"],
        "lastLogonTimestamp": ["0"],
        "badPwdCount": ["4"],
        "badPasswordTime": ["133000000000000000"],  # 2022: before the window
    }
    seen = AD_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.must_change_password
    assert seen.password_changed is None and seen.last_sign_in is None
    assert seen.failed_sign_ins == 0
    assert AD_DUTIES.attributes(EVERYTHING) == (
        "whenCreated",
        "pwdLastSet",
        "lastLogonTimestamp",
        "badPwdCount",
        "badPasswordTime",
    )


def test_389ds_reads_update_time_expiry_login_and_retries() -> None:
    entry = {
        "createTimestamp": ["20240101000000Z"],
        "pwdUpdateTime": ["20240301000000Z"],
        "passwordExpirationTime": ["19700101000000Z"],
        "lastLoginTime": ["20241025070000Z"],
        "passwordRetryCount": ["3"],
        "retryCountResetTime": ["20241026090000Z"],
    }
    seen = DS389_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.password_changed == datetime(2024, 3, 1, tzinfo=UTC)
    assert seen.must_change_password  # expired at the epoch: reset by an administrator
    assert seen.last_sign_in == datetime(2024, 10, 25, 7, tzinfo=UTC)
    assert seen.failed_sign_ins == 3
    later = {**entry, "passwordExpirationTime": ["20250101000000Z"]}
    later["retryCountResetTime"] = ["20241026080000Z"]  # already past: the count is stale
    seen = DS389_DUTIES.read(later, KEY, EVERYTHING, NOW)
    assert not seen.must_change_password
    assert seen.failed_sign_ins == 0


def test_zimbra_reads_its_own_attributes() -> None:
    entry = {
        "createTimestamp": ["20240101000000Z"],
        "zimbraPasswordModifiedTime": ["20240301000000Z"],
        "zimbraPasswordMustChange": ["TRUE"],
        "zimbraLastLogonTimestamp": ["20241025070000Z"],
        "zimbraPasswordLockoutFailureTime": [
            "20241019000000.000Z",
            "20241021000000.000Z",
            "20241022000000.000Z",
        ],
    }
    seen = ZIMBRA_DUTIES.read(entry, KEY, EVERYTHING, NOW)
    assert seen.password_changed == datetime(2024, 3, 1, tzinfo=UTC)
    assert seen.must_change_password
    assert seen.last_sign_in == datetime(2024, 10, 25, 7, tzinfo=UTC)
    assert seen.failed_sign_ins == 2


def test_a_malformed_time_is_an_error_not_a_guess() -> None:
    with pytest.raises(TimeFormatError):
        OPENLDAP_DUTIES.read({"createTimestamp": ["soon"]}, KEY, EVERYTHING, NOW)


# -- the policy each flavour wants ----------------------------------------------------------


def test_openldap_policy_mapping() -> None:
    wanted = OPENLDAP_POLICY.wanted(CIRCULAR, dn_known=True)
    assert wanted.values == {
        "pwdMinLength": "12",
        "pwdCheckQuality": "2",
        "pwdMaxAge": "7776000",
        "pwdInHistory": "5",
        "pwdMustChange": "TRUE",
        "pwdAttribute": "userPassword",
    }
    assert len(wanted.unsupported) == 2
    assert wanted.unsupported[0].startswith("require = [digit, lower, special, upper]")
    assert "pwdCheckModule" in wanted.unsupported[0]
    assert wanted.unsupported[1].startswith("not_username")


def test_openldap_policy_without_its_dn_is_unsupported_and_names_the_key() -> None:
    wanted = OPENLDAP_POLICY.wanted(LENGTH_ONLY, dn_known=False)
    assert wanted.values == {}
    assert wanted.unsupported[0].startswith("password_policy_dn:")
    assert "pwdMinLength" in wanted.unsupported[0]


def test_no_policy_means_no_settings() -> None:
    for profile in (OPENLDAP_POLICY, AD_POLICY, DS389_POLICY, ZIMBRA_POLICY):
        assert profile.wanted(PasswordPolicy(), dn_known=False) == WantedSettings()


def test_openldap_reads_values_in_its_own_spelling() -> None:
    entry = {
        "pwdAttribute": ["2.5.4.35"],
        "pwdMustChange": ["true"],
        "pwdMinLength": ["8"],
        "pwdMaxFailure": ["5"],  # not managed: not part of the settings
    }
    assert OPENLDAP_POLICY.current(entry) == {
        "pwdAttribute": "userPassword",
        "pwdMustChange": "TRUE",
        "pwdMinLength": "8",
    }


def test_openldap_configure_replaces_exactly_the_listed_attributes() -> None:
    settings: list[Setting] = [("pwdMinLength", "0", "12"), ("pwdMaxAge", None, "7776000")]
    assert OPENLDAP_POLICY.changes(settings, {"pwdMinLength": ["0"]}) == {
        "pwdMinLength": [(MODIFY_REPLACE, ["12"])],
        "pwdMaxAge": [(MODIFY_REPLACE, ["7776000"])],
    }
    unset: list[Setting] = [("pwdInHistory", "5", None), ("pwdMaxAge", None, None)]
    assert OPENLDAP_POLICY.changes(unset, {"pwdInHistory": ["5"]}) == {
        "pwdInHistory": [(MODIFY_DELETE, [])]
    }


def test_openldap_creates_a_cn_entry_only() -> None:
    dn = "cn=default,ou=policies,dc=example,dc=gov,dc=vn"
    created = OPENLDAP_POLICY.creation(dn, [("pwdMinLength", None, "12")])
    assert created == {
        "objectClass": ["device", "pwdPolicy"],
        "cn": ["default"],
        "pwdAttribute": ["userPassword"],
        "pwdMinLength": ["12"],
    }
    with pytest.raises(PolicyError, match="cn="):
        OPENLDAP_POLICY.creation("ou=default,dc=example", [])
    with pytest.raises(PolicyError, match="does not exist"):
        AD_POLICY.creation("dc=example,dc=com", [])


def test_ad_policy_mapping() -> None:
    wanted = AD_POLICY.wanted(CIRCULAR, dn_known=True)
    assert wanted.values == {
        "minPwdLength": "12",
        "maxPwdAge": "-77760000000000",  # 90 days in 100-ns intervals, negative
        "pwdHistoryLength": "5",
        AD_COMPLEXITY: "1",
    }
    assert len(wanted.unsupported) == 1 and "3 trong 5" in wanted.unsupported[0]
    only_username = AD_POLICY.wanted(PasswordPolicy(not_username=True), dn_known=True)
    assert only_username == WantedSettings(values={AD_COMPLEXITY: "1"})


def test_ad_complexity_is_one_bit_of_pwd_properties() -> None:
    domain = {"minPwdLength": ["7"], "pwdProperties": ["24"], "maxPwdAge": ["-36288000000000"]}
    assert AD_POLICY.current(domain) == {
        "minPwdLength": "7",
        "maxPwdAge": "-36288000000000",
        AD_COMPLEXITY: "0",
    }
    changes = AD_POLICY.changes([(AD_COMPLEXITY, "0", "1"), ("minPwdLength", "7", "12")], domain)
    # Other bits (lockout of admins 8, reversible encryption 16) are kept as read.
    assert changes == {
        "pwdProperties": [(MODIFY_REPLACE, ["25"])],
        "minPwdLength": [(MODIFY_REPLACE, ["12"])],
    }
    assert AD_POLICY.changes([(AD_COMPLEXITY, "1", "0")], {"pwdProperties": ["25"]}) == {
        "pwdProperties": [(MODIFY_REPLACE, ["24"])]
    }


def test_389ds_policy_mapping() -> None:
    wanted = DS389_POLICY.wanted(CIRCULAR, dn_known=True)
    assert wanted.values == {
        "passwordMinLength": "12",
        "passwordMinDigits": "1",
        "passwordMinLowers": "1",
        "passwordMinSpecials": "1",
        "passwordMinUppers": "1",
        "passwordCheckSyntax": "on",
        "passwordExp": "on",
        "passwordMaxAge": "7776000",
        "passwordHistory": "on",
        "passwordInHistory": "5",
        "passwordTrackUpdateTime": "on",
        "passwordMustChange": "on",
    }
    assert wanted.unsupported == ()
    assert DS389_POLICY.default_dn == "cn=config"
    assert DS389_POLICY.current({"passwordExp": ["ON"], "passwordMaxAge": ["8640000"]}) == {
        "passwordExp": "on",
        "passwordMaxAge": "8640000",
    }
    assert DS389_POLICY.changes([("passwordExp", "off", "on")], {}) == {
        "passwordExp": [(MODIFY_REPLACE, ["on"])]
    }
    assert DS389_POLICY.changes([("passwordMaxAge", "1", None)], {"passwordMaxAge": ["1"]}) == {
        "passwordMaxAge": [(MODIFY_DELETE, [])]
    }


def test_zimbra_policy_mapping() -> None:
    wanted = ZIMBRA_POLICY.wanted(CIRCULAR, dn_known=True)
    assert wanted.values == {
        "zimbraPasswordMinLength": "12",
        "zimbraPasswordMaxAge": "90",  # days
        "zimbraPasswordEnforceHistory": "5",
        "zimbraPasswordMinNumericChars": "1",
        "zimbraPasswordMinLowerCaseChars": "1",
        "zimbraPasswordMinPunctuationChars": "1",
        "zimbraPasswordMinUpperCaseChars": "1",
    }
    assert len(wanted.unsupported) == 1 and wanted.unsupported[0].startswith("not_username")
    assert ZIMBRA_POLICY.default_dn is None  # the COS is configuration, never guessed
    assert ZIMBRA_POLICY.changes([("zimbraPasswordMinLength", None, "12")], {}) == {
        "zimbraPasswordMinLength": [(MODIFY_REPLACE, ["12"])]
    }


# -- configuration --------------------------------------------------------------------------


def test_password_policy_dn_is_read_from_the_target_table(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-value", encoding="utf-8")
    config = tmp_path / "syncbot.toml"
    config.write_text(
        '[roster]\npath = "nhan-su.csv"\n[targets.ldap]\nurl = "ldap://127.0.0.1:3890"\n'
        'bind_dn = "cn=syncbot,dc=example"\nbind_password_file = "pw"\n'
        'users_base = "ou=people,dc=example"\ngroups_base = "ou=groups,dc=example"\n'
        'password_policy_dn = "cn=default,ou=policies,dc=example"\n',
        encoding="utf-8",
    )
    ldap = load_config(config).targets["ldap"]
    assert isinstance(ldap, LdapSettings)
    assert ldap.password_policy_dn == "cn=default,ou=policies,dc=example"


def test_password_policy_dn_must_be_a_dn() -> None:
    with pytest.raises(ConfigError, match="must be a DN") as caught:
        LdapSettings(
            name="ldap",
            flavour="openldap",
            url="ldap://127.0.0.1",
            bind_dn="cn=x",
            bind_password="pw-x",
            users_base="ou=people",
            groups_base="ou=groups",
            password_policy_dn="default",
        )
    assert caught.value.key == "password_policy_dn"


# -- against the real slapd -----------------------------------------------------------------


def _password(uid: str) -> str:
    return next(u.password for u in SEED_USERS if u.uid == uid)


def _connect(server: SlapdServer, dn: str, password: str) -> ldap3.Connection:
    conn = ldap3.Connection(
        ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
        dn,
        password,
        raise_exceptions=False,
    )
    conn.bind()
    return conn


def _as_service(server: SlapdServer) -> ldap3.Connection:
    conn = _connect(server, server.service_dn, server.service_password)
    assert conn.bound, conn.result
    return conn


def _change_own_password(server: SlapdServer, uid: str, old: str, new: str) -> dict[str, object]:
    """The password modify extended operation, as the user (what ldappasswd sends)."""
    conn = _connect(server, user_dn(server, uid), old)
    assert conn.bound, conn.result
    conn.extend.standard.modify_password(user_dn(server, uid), old, new)
    result: dict[str, object] = conn.result
    conn.unbind()
    return result


def _read(target: LdapTarget, observe: Observe) -> tuple[Snapshot, dict[str, Account]]:
    snapshot = target.read(ReadRequest(frozenset(), observe=observe))
    return snapshot, {a.username: a for a in snapshot.accounts}


def _configure(snapshot: Snapshot, wanted: WantedSettings) -> Action:
    """The CONFIGURE step a plan holds for this drift: only the names that differ."""
    now = snapshot.settings or {}
    settings = tuple(
        (name, now.get(name), value)
        for name, value in sorted(wanted.values.items())
        if now.get(name) != value
    )
    assert settings, "no drift to configure"
    return Action(
        target=snapshot.target,
        kind=ActionKind.CONFIGURE,
        account=snapshot.settings_key,
        username=snapshot.settings_key,
        employee_id=None,
        reason=Reason(vi="chính sách mật khẩu", en="password policy"),
        evidence=None,
        duty=Duty.PASSWORD,
        settings=settings,
    )


@pytest.fixture
def policy_settings(ldap_settings: LdapSettings, ldap_directory: SlapdServer) -> LdapSettings:
    return dataclasses.replace(ldap_settings, password_policy_dn=ldap_directory.default_policy_dn)


@pytest.fixture
def target(policy_settings: LdapSettings, ldap_directory: SlapdServer) -> Iterator[LdapTarget]:
    target = LdapTarget(policy_settings)
    try:
        yield target
    finally:
        target.close()
        # Later tests share this server: they must find the policy as built.
        ldap_directory.restore_default_policy()


OBSERVE_ALL = Observe(
    passwords=True,
    sign_ins_since=TODAY - timedelta(days=365),
    failures_since=TODAY,
    settings=True,
)


@pytest.mark.slapd
def test_a_bind_is_a_sign_in_and_no_bind_is_none(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    assert _connect(server, user_dn(server, "levanc"), _password("levanc")).bound
    _, accounts = _read(target, OBSERVE_ALL)
    last = accounts["levanc"].last_sign_in
    assert last is not None
    assert abs((datetime.now(UTC) - last).total_seconds()) < 5
    assert accounts["phamthid"].last_sign_in is None
    # Not asked for: not read.
    _, quiet = _read(target, Observe())
    assert quiet["levanc"].last_sign_in is None


@pytest.mark.slapd
def test_created_and_password_changed_and_a_change_by_the_user(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    _, before = _read(target, OBSERVE_ALL)
    levanc = before["levanc"]
    assert levanc.created is not None
    assert abs((datetime.now(UTC) - levanc.created).total_seconds()) < 60
    # Added by an administrator before any policy date was set: as old as the account.
    assert levanc.password_changed == levanc.created
    assert not levanc.must_change_password

    time.sleep(1.1)  # ppolicy's times have whole seconds
    result = _change_own_password(server, "levanc", _password("levanc"), "mat-khau-moi-2024")
    assert result["description"] == "success", result
    _, after = _read(target, OBSERVE_ALL)
    changed = after["levanc"].password_changed
    assert changed is not None and changed > levanc.created
    # ppolicy deleted pwdLastSuccess with the change; the change itself was a sign-in.
    assert after["levanc"].last_sign_in == changed
    assert after["tranthib"].password_changed == after["tranthib"].created


@pytest.mark.slapd
def test_pwd_reset_reads_as_must_change(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    service = _as_service(ldap_directory)
    reset = {"pwdReset": [(MODIFY_REPLACE, ["TRUE"])]}
    assert service.modify(user_dn(ldap_directory, "tranthib"), reset), service.result
    _, accounts = _read(target, OBSERVE_ALL)
    assert accounts["tranthib"].must_change_password
    assert not accounts["levanc"].must_change_password


@pytest.mark.slapd
def test_three_wrong_passwords_are_three_failed_sign_ins(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    for _ in range(3):
        assert not _connect(server, user_dn(server, "nguyenvana"), "sai-mat-khau").bound
    _, accounts = _read(target, OBSERVE_ALL)
    assert accounts["nguyenvana"].failed_sign_ins == 3
    assert accounts["levanc"].failed_sign_ins == 0
    later = dataclasses.replace(OBSERVE_ALL, failures_since=TODAY + timedelta(days=1))
    _, accounts = _read(target, later)
    assert accounts["nguyenvana"].failed_sign_ins == 0


@pytest.mark.slapd
def test_configure_creates_the_missing_policy_and_slapd_enforces_it(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    service = _as_service(server)
    assert service.delete(server.default_policy_dn), service.result
    snapshot, _ = _read(target, OBSERVE_ALL)
    assert snapshot.settings == {}
    assert snapshot.settings_key == server.default_policy_dn

    wanted = target.wanted_settings(Duties(password=LENGTH_ONLY))
    apply_one(target, _configure(snapshot, wanted), snapshot)

    snapshot, _ = _read(target, OBSERVE_ALL)
    assert snapshot.settings == wanted.values  # no drift left
    refused = _change_own_password(server, "levanc", _password("levanc"), "Ngan#1")
    assert refused["description"] == "constraintViolation", refused
    accepted = _change_own_password(server, "levanc", _password("levanc"), "Du-dai-12-ky-tu")
    assert accepted["description"] == "success", accepted


@pytest.mark.slapd
def test_configure_corrects_drift_and_keeps_unmanaged_terms(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    snapshot, _ = _read(target, OBSERVE_ALL)
    assert snapshot.settings is not None
    assert snapshot.settings["pwdMinLength"] == "0"  # as built: drifted from the policy
    wanted = target.wanted_settings(Duties(password=LENGTH_ONLY))
    action = _configure(snapshot, wanted)
    assert ("pwdAttribute", "userPassword", "userPassword") not in action.settings
    apply_one(target, action, snapshot)
    apply_one(target, action, snapshot)  # a repeat changes nothing and does not fail

    snapshot, _ = _read(target, OBSERVE_ALL)
    assert snapshot.settings == wanted.values
    service = _as_service(server)
    service.search(server.default_policy_dn, "(objectClass=*)", ldap3.BASE, attributes=["*"])
    kept = service.response[0]["attributes"]
    assert kept["pwdMaxFailure"] == ["5"] and kept["pwdLockout"] == ["TRUE"]  # not ours
    refused = _change_own_password(server, "tranthib", _password("tranthib"), "ngan-qua")
    assert refused["description"] == "constraintViolation", refused


@pytest.mark.slapd
def test_must_change_restricts_the_user_until_the_password_is_changed(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    snapshot, _ = _read(target, OBSERVE_ALL)
    configure = _configure(snapshot, target.wanted_settings(Duties(password=LENGTH_ONLY)))
    apply_one(target, configure, snapshot)
    key = user_dn(server, "levanc")
    apply_one(
        target,
        Action(
            target=target.name,
            kind=ActionKind.REQUIRE_PASSWORD_CHANGE,
            account=key,
            username="levanc",
            employee_id="NV003",
            reason=Reason(vi="mật khẩu cấp ban đầu", en="issued password"),
            evidence=None,
            duty=Duty.PASSWORD,
        ),
        snapshot,
    )
    _, accounts = _read(target, OBSERVE_ALL)
    assert accounts["levanc"].must_change_password

    user = _connect(server, key, _password("levanc"))
    assert user.bound  # the bind succeeds ...
    user.search(server.people_base, "(uid=levanc)", attributes=["cn"])
    assert user.result["description"] == "insufficientAccessRights"  # ... nothing else does
    assert "restricted" in user.result["message"]
    new = "Mat-khau-rieng-2024"
    user.extend.standard.modify_password(key, _password("levanc"), new)
    assert user.result["description"] == "success", user.result

    again = _connect(server, key, new)
    again.search(server.people_base, "(uid=levanc)", attributes=["cn"])
    assert again.result["description"] == "success"
    assert len(again.response) == 1
    _, accounts = _read(target, OBSERVE_ALL)
    assert not accounts["levanc"].must_change_password


@pytest.mark.slapd
def test_without_a_policy_dn_the_policy_is_reported_not_guessed(
    ldap_settings: LdapSettings, ldap_directory: SlapdServer
) -> None:
    target = LdapTarget(ldap_settings)  # no password_policy_dn
    try:
        wanted = target.wanted_settings(Duties(password=LENGTH_ONLY))
        assert wanted.values == {}
        assert wanted.unsupported[0].startswith("password_policy_dn:")
        snapshot, _ = _read(target, OBSERVE_ALL)
        assert snapshot.settings is None and snapshot.settings_key == ""
        assert any("password_policy_dn not set" in line for line in target.describe())
    finally:
        target.close()


@pytest.mark.slapd
def test_describe_names_the_policy_entry(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    lines = target.describe()
    assert f"password policy entry: {ldap_directory.default_policy_dn} (found)" in lines
