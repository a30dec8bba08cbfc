"""The LDAP target against a real OpenLDAP: reads, locks, group changes, TLS, failures."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
import structlog
from conftest import (
    ROLE_GROUPS,
    SEED_USERS,
    UNIT_GROUPS,
    group_dn,
    placeholder_dn,
    tls_settings,
    user_dn,
)
from ldap3.utils.dn import escape_rdn
from structlog.testing import capture_logs
from target_steps import apply_one

from localdev import probes
from localdev.slapd import LocalPki, SlapdServer, make_test_pki
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Account, Action, ActionKind, Reason, Snapshot
from syncbot.targets.base import ApplyError, ReadRequest, Target
from syncbot.targets.ldap import LdapLocator, LdapSettings, LdapTarget
from syncbot.targets.ldap.dn import normalise_dn

SPECIAL_GROUP = "Nhóm Văn thư, Lưu trữ + Đặc biệt"


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """Start from structlog's defaults: another test may have configured it for its CLI run."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def target(ldap_settings: LdapSettings) -> Iterator[LdapTarget]:
    ldap_target = LdapTarget(ldap_settings)
    yield ldap_target
    ldap_target.close()


def managed_keys(target: LdapTarget) -> frozenset[str]:
    return frozenset(target.entitlement_key(name) for name in (*ROLE_GROUPS, *UNIT_GROUPS))


def by_username(snapshot: Snapshot) -> dict[str, Account]:
    return {account.username: account for account in snapshot.accounts}


def action(
    target: LdapTarget,
    kind: ActionKind,
    uid: str,
    *,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
) -> Action:
    return Action(
        target=target.name,
        kind=kind,
        account=normalise_dn(user_dn_for(target, uid)),
        username=uid,
        employee_id=None,
        reason=Reason(vi="Kiểm thử", en="test"),
        evidence=None,
        add=tuple(target.entitlement_key(g) for g in add),
        remove=tuple(target.entitlement_key(g) for g in remove),
    )


def user_dn_for(target: LdapTarget, uid: str) -> str:
    return f"uid={uid},{target.settings.users_base}"


def admin(server: SlapdServer) -> ldap3.Connection:
    return ldap3.Connection(
        ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
        server.admin_dn,
        server.admin_password,
        auto_bind=True,
    )


def can_bind(server: SlapdServer, uid: str) -> bool:
    password = next(u.password for u in SEED_USERS if u.uid == uid)
    return probes.can_bind(server.url, user_dn(server, uid), password)


def read_attribute(server: SlapdServer, dn: str, attribute: str) -> list[str]:
    conn = admin(server)
    try:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[attribute])
        found = conn.response[0]["attributes"].get(attribute, [])
        return [str(v) for v in found]
    finally:
        conn.unbind()


def member_of(server: SlapdServer, uid: str) -> set[str]:
    return {normalise_dn(dn) for dn in read_attribute(server, user_dn(server, uid), "memberOf")}


def members(server: SlapdServer, cn: str) -> set[str]:
    return {normalise_dn(dn) for dn in read_attribute(server, group_dn(server, cn), "member")}


def key(server: SlapdServer, cn: str) -> str:
    return normalise_dn(group_dn(server, cn))


def user_key(server: SlapdServer, uid: str) -> str:
    return normalise_dn(user_dn(server, uid))


# -- pure: entitlement keys and the protocol ------------------------------------------------


def make_target(**overrides: Any) -> LdapTarget:
    settings = LdapSettings(
        name="ldap",
        flavour="openldap",
        url="ldap://127.0.0.1:1/",
        bind_dn="cn=syncbot,ou=system,dc=example,dc=gov,dc=vn",
        bind_password="not-a-real-secret-9f3",
        users_base="ou=people,dc=example,dc=gov,dc=vn",
        groups_base="ou=groups,dc=example,dc=gov,dc=vn",
    )
    return LdapTarget(dataclasses.replace(settings, **overrides))


def test_ldap_target_satisfies_the_target_protocol() -> None:
    target: Target = make_target()
    assert target.name == "ldap"


def test_bare_group_name_becomes_a_dn_under_groups_base() -> None:
    target = make_target()
    assert target.entitlement_key("van-thu") == "cn=van-thu,ou=groups,dc=example,dc=gov,dc=vn"
    assert target.entitlement_key("  Van-Thu ") == target.entitlement_key("van-thu")


def test_full_dn_reference_is_normalised() -> None:
    target = make_target()
    spelled = "CN=Lanh-Dao , OU=Groups,DC=Example,DC=gov,DC=vn"
    assert target.entitlement_key(spelled) == "cn=lanh-dao,ou=groups,dc=example,dc=gov,dc=vn"


def test_special_characters_in_a_group_name_are_escaped() -> None:
    target = make_target()
    group_key = target.entitlement_key(SPECIAL_GROUP)
    assert group_key.endswith(",ou=groups,dc=example,dc=gov,dc=vn")
    # The server's own spelling (hex escapes, original case) gives the same key.
    server_form = "cn=Nhóm Văn thư\\2C Lưu trữ \\2B Đặc biệt,ou=groups,dc=example,dc=gov,dc=vn"
    assert normalise_dn(server_form) == group_key
    assert normalise_dn(f"cn={escape_rdn(SPECIAL_GROUP)},ou=groups,dc=example,dc=gov,dc=vn") == (
        group_key
    )


def test_zimbra_lists_are_named_by_uid() -> None:
    target = make_target(flavour="zimbra")
    assert target.entitlement_key("phong-hc") == "uid=phong-hc,ou=groups,dc=example,dc=gov,dc=vn"


def test_invalid_reference_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        make_target().entitlement_key("cn=a,,=b")


def test_unknown_flavour_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="flavour"):
        make_target(flavour="edirectory")


def test_password_stays_out_of_reprs() -> None:
    target = make_target()
    assert "not-a-real-secret-9f3" not in repr(target)
    assert "not-a-real-secret-9f3" not in repr(target.settings)


@pytest.mark.parametrize(
    "spelling",
    [
        "uid=NguyenVanA,ou=People,dc=example,dc=gov,dc=vn",
        "UID = nguyenvana , OU=people,DC=example,DC=gov,DC=vn",
        "uid=nguyenvana,ou=people,dc=example,dc=gov,dc=vn ",
    ],
)
def test_every_spelling_of_a_dn_gives_one_key(spelling: str) -> None:
    assert normalise_dn(spelling) == "uid=nguyenvana,ou=people,dc=example,dc=gov,dc=vn"


def test_dn_keys_compose_unicode_and_order_multi_valued_rdns() -> None:
    composed = "cn=Phòng Tài chính,ou=groups,dc=vn"
    decomposed = unicodedata.normalize("NFD", composed)
    assert normalise_dn(decomposed) == normalise_dn(composed) == composed.lower()
    assert normalise_dn("uid=a+cn=B,dc=vn") == normalise_dn("cn=b+uid=A,dc=vn")
    # UTF-8 hex escapes as some servers write them.
    assert normalise_dn(r"cn=Ph\C3\B2ng,dc=vn") == "cn=phòng,dc=vn"


def test_escaped_equals_and_hex_escapes_agree() -> None:
    assert normalise_dn(r"cn=a\3Db,dc=vn") == normalise_dn(r"cn=a\=b,dc=vn")
    assert normalise_dn(r"cn=\23tag,dc=vn") == normalise_dn(r"cn=\#tag,dc=vn")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"url": "http://ldap.tinh.gov.vn"}, "url"),
        ({"url": "ldaps://ldap.tinh.gov.vn", "start_tls": True}, "start_tls"),
        ({"page_size": 0}, "page_size"),
        ({"timeout": 0}, "timeout"),
        ({"users_base": " "}, "users_base"),
        ({"flavour": "novell"}, "flavour"),
    ],
)
def test_settings_refuse_what_cannot_work(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        make_target(**overrides)
    assert raised.value.key == key


def test_plain_ldap_to_a_remote_host_warns() -> None:
    # 192.0.2.1 is TEST-NET-1: nothing answers, the connect times out quickly.
    target = make_target(url="ldap://192.0.2.1:389/", timeout=0.3)
    with capture_logs() as logs, pytest.raises(TargetError) as raised:
        target.describe()
    warnings = [e for e in logs if e["event"] == "ldap.insecure_transport"]
    assert warnings and warnings[0]["log_level"] == "warning"
    assert "not-a-real-secret-9f3" not in str(raised.value)


def test_loopback_without_tls_does_not_warn() -> None:
    target = make_target(url="ldap://127.0.0.1:1/", timeout=0.3)
    with capture_logs() as logs, pytest.raises(TargetError, match="cannot connect"):
        target.describe()
    assert not [e for e in logs if e["event"] == "ldap.insecure_transport"]


# -- fetch ----------------------------------------------------------------------------------


@pytest.mark.slapd
def test_fetch_reads_accounts_with_keys_ids_and_state(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    snapshot = target.read(ReadRequest(managed_keys(target)))
    accounts = by_username(snapshot)
    assert set(accounts) == {u.uid for u in SEED_USERS}
    a = accounts["nguyenvana"]
    assert a.target == "ldap"
    assert a.key == f"uid=nguyenvana,{ldap_directory.people_base}"
    assert a.employee_id == "NV001"
    assert a.email == "nguyenvana@example.gov.vn"  # stored mixed-case, compared lower
    assert a.display_name == "Nguyễn Văn A"
    assert a.enabled is True
    assert accounts["tranthib"].employee_id == "NV002"  # stored with spaces around
    assert all(account.enabled for account in snapshot.accounts)


@pytest.mark.slapd
def test_account_without_employee_number_has_no_employee_id(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    account = by_username(target.read(ReadRequest(managed_keys(target))))["phamthid"]
    assert account.employee_id is None
    assert account.entitlements == frozenset()
    assert account.groups == frozenset()


@pytest.mark.slapd
def test_fetch_reports_managed_entitlements_and_all_groups(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    missing = target.entitlement_key("nhom-chua-tao")  # managed, never created
    snapshot = target.read(ReadRequest(managed_keys(target) | {missing}))
    b = by_username(snapshot)["tranthib"]
    assert b.entitlements == {
        key(server, "chuyen-vien"),
        key(server, "lanh-dao"),
        key(server, "don-vi-phong-tai-chinh"),
    }
    # "ban-tin" is not managed: reported among groups, never among entitlements.
    assert b.groups == b.entitlements | {key(server, "ban-tin")}
    assert snapshot.entitlements == managed_keys(target)
    assert missing not in snapshot.entitlements


@pytest.mark.slapd
def test_fetch_reports_progress(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    calls: list[tuple[int, int | None]] = []
    target.read(
        ReadRequest(managed_keys(target), progress=lambda done, total: calls.append((done, total)))
    )
    assert calls and all(total is None for _, total in calls)
    assert calls[-1][0] == len(SEED_USERS) + len(ROLE_GROUPS) + len(UNIT_GROUPS) + 1
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.slapd
def test_fetch_of_2000_users_is_one_users_search_and_one_groups_search(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted on ldap3's search; tests/test_ldap_fast_search.py pages the python-ldap path.
    monkeypatch.setenv("SYNCBOT_LDAP_SEARCH", "ldap3")
    server = ldap_directory
    people = [
        f"dn: uid=bulk{i:04d},{server.people_base}\nobjectClass: inetOrgPerson\n"
        f"uid: bulk{i:04d}\ncn: Người {i}\nsn: N\nemployeeNumber: B{i:04d}\n"
        f"mail: bulk{i:04d}@example.gov.vn\n"
        for i in range(2000)
    ]
    member_lines = "".join(f"member: uid=bulk{i:04d},{server.people_base}\n" for i in range(2000))
    group = f"dn: cn=toan-bo,{server.groups_base}\nobjectClass: groupOfNames\ncn: toan-bo\n"
    server.bulk_load("\n".join([*people, group + member_lines]))

    started: list[str] = []
    pages: list[str] = []
    original = ldap3.Connection.search

    def counting_search(self: ldap3.Connection, search_base: str, *args: Any, **kwargs: Any) -> Any:
        pages.append(search_base)
        if not kwargs.get("paged_cookie"):
            started.append(search_base)
        return original(self, search_base, *args, **kwargs)

    monkeypatch.setattr(ldap3.Connection, "search", counting_search)
    target = LdapTarget(ldap_settings)
    try:
        snapshot = target.read(ReadRequest(frozenset({target.entitlement_key("toan-bo")})))
    finally:
        target.close()

    # Groups first, so that each user entry becomes its whole account as it arrives.
    assert started == [server.groups_base, server.people_base]
    assert set(pages) == {server.people_base, server.groups_base}
    assert pages.count(server.people_base) == 5  # 2004 entries in pages of 500
    assert len(snapshot.accounts) == 2000 + len(SEED_USERS)
    in_group = [a for a in snapshot.accounts if a.entitlements]
    assert len(in_group) == 2000


# -- disable / enable -----------------------------------------------------------------------


@pytest.mark.slapd
def test_disable_locks_the_account(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))
    assert can_bind(server, "levanc")

    apply_one(target, action(target, ActionKind.DISABLE, "levanc"), snapshot)

    assert not can_bind(server, "levanc")
    lock = read_attribute(server, user_dn(server, "levanc"), "pwdAccountLockedTime")
    assert lock == ["000001010000Z"]
    accounts = by_username(target.read(ReadRequest(managed_keys(target))))
    assert accounts["levanc"].enabled is False
    assert accounts["nguyenvana"].enabled is True


@pytest.mark.slapd
def test_enable_unlocks_the_account(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))
    apply_one(target, action(target, ActionKind.DISABLE, "levanc"), snapshot)
    assert not can_bind(server, "levanc")

    apply_one(target, action(target, ActionKind.ENABLE, "levanc"), snapshot)

    assert can_bind(server, "levanc")
    assert by_username(target.read(ReadRequest(managed_keys(target))))["levanc"].enabled is True


@pytest.mark.slapd
def test_disable_and_enable_twice_are_harmless(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    snapshot = target.read(ReadRequest(managed_keys(target)))
    disable = action(target, ActionKind.DISABLE, "levanc")
    apply_one(target, disable, snapshot)
    apply_one(target, disable, snapshot)
    assert not can_bind(ldap_directory, "levanc")
    enable = action(target, ActionKind.ENABLE, "levanc")
    apply_one(target, enable, snapshot)
    apply_one(target, enable, snapshot)
    assert can_bind(ldap_directory, "levanc")


@pytest.mark.slapd
def test_disable_of_a_missing_account_fails_clearly(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    snapshot = target.read(ReadRequest(managed_keys(target)))
    with pytest.raises(ApplyError, match="noSuchObject") as raised:
        apply_one(target, action(target, ActionKind.DISABLE, "khong-ton-tai"), snapshot)
    assert ldap_directory.service_password not in str(raised.value)


# -- group membership -----------------------------------------------------------------------


@pytest.mark.slapd
def test_grant_adds_to_the_group(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))

    apply_one(target, action(target, ActionKind.GRANT, "levanc", add=("lanh-dao",)), snapshot)

    assert user_key(server, "levanc") in members(server, "lanh-dao")
    assert key(server, "lanh-dao") in member_of(server, "levanc")
    fresh = by_username(target.read(ReadRequest(managed_keys(target))))["levanc"]
    assert fresh.entitlements == {key(server, "quan-tri"), key(server, "lanh-dao")}


@pytest.mark.slapd
def test_revoke_removes_from_the_group(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))

    apply_one(target, action(target, ActionKind.REVOKE, "tranthib", remove=("lanh-dao",)), snapshot)

    assert user_key(server, "tranthib") not in members(server, "lanh-dao")
    assert key(server, "lanh-dao") not in member_of(server, "tranthib")
    fresh = by_username(target.read(ReadRequest(managed_keys(target))))["tranthib"]
    assert key(server, "lanh-dao") not in fresh.entitlements
    assert key(server, "chuyen-vien") in fresh.entitlements


@pytest.mark.slapd
def test_change_unit_moves_between_unit_groups(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))
    move = action(
        target,
        ActionKind.CHANGE_UNIT,
        "nguyenvana",
        add=("don-vi-phong-tai-chinh",),
        remove=("don-vi-van-phong",),
    )

    apply_one(target, move, snapshot)

    assert member_of(server, "nguyenvana") == {
        key(server, "van-thu"),
        key(server, "don-vi-phong-tai-chinh"),
    }
    fresh = by_username(target.read(ReadRequest(managed_keys(target))))["nguyenvana"]
    assert fresh.entitlements == {key(server, "van-thu"), key(server, "don-vi-phong-tai-chinh")}


@pytest.mark.slapd
def test_applying_the_same_membership_action_twice_is_fine(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))
    grant = action(target, ActionKind.GRANT, "levanc", add=("chuyen-vien",))
    revoke = action(target, ActionKind.REVOKE, "tranthib", remove=("chuyen-vien",))
    for _ in range(2):
        apply_one(target, grant, snapshot)
        apply_one(target, revoke, snapshot)
    assert members(server, "chuyen-vien") == {user_key(server, "levanc")}


@pytest.mark.slapd
def test_membership_actions_work_with_a_locator_that_knows_no_spelling(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    snapshot = dataclasses.replace(
        target.read(ReadRequest(managed_keys(target))), locator=LdapLocator()
    )
    # A lower-cased key is all apply has then; LDAP DN matching accepts it.
    apply_one(target, action(target, ActionKind.GRANT, "phamthid", add=("van-thu",)), snapshot)
    assert user_key(ldap_directory, "phamthid") in members(ldap_directory, "van-thu")


@pytest.mark.slapd
def test_removing_the_last_member_leaves_the_placeholder(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    placeholder = normalise_dn(placeholder_dn(server))
    snapshot = target.read(ReadRequest(managed_keys(target)))

    apply_one(target, action(target, ActionKind.REVOKE, "levanc", remove=("quan-tri",)), snapshot)

    assert members(server, "quan-tri") == {placeholder}
    snapshot = target.read(ReadRequest(managed_keys(target)))
    assert key(server, "quan-tri") in snapshot.entitlements  # the group still exists
    assert all(key(server, "quan-tri") not in a.groups for a in snapshot.accounts)
    assert placeholder not in {a.key for a in snapshot.accounts}

    # The next grant takes the placeholder out again.
    apply_one(target, action(target, ActionKind.GRANT, "phamthid", add=("quan-tri",)), snapshot)
    assert members(server, "quan-tri") == {user_key(server, "phamthid")}


@pytest.mark.slapd
def test_grant_to_a_missing_group_fails_with_the_ldap_reason(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    snapshot = target.read(ReadRequest(managed_keys(target)))
    with pytest.raises(ApplyError, match="noSuchObject") as raised:
        apply_one(
            target, action(target, ActionKind.GRANT, "levanc", add=("nhom-chua-tao",)), snapshot
        )
    assert ldap_directory.service_password not in str(raised.value)


@pytest.mark.slapd
def test_group_name_with_comma_plus_and_vietnamese_round_trips(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    dn = f"cn={escape_rdn(SPECIAL_GROUP)},{server.groups_base}"
    server.add_ldif(
        f"dn: {dn}\nobjectClass: groupOfNames\ncn: {SPECIAL_GROUP}\n"
        f"member: {user_dn(server, 'nguyenvana')}\n"
    )
    special = target.entitlement_key(SPECIAL_GROUP)
    managed = managed_keys(target) | {special}

    snapshot = target.read(ReadRequest(managed))
    assert special in snapshot.entitlements
    assert special in by_username(snapshot)["nguyenvana"].entitlements

    apply_one(target, action(target, ActionKind.GRANT, "levanc", add=(SPECIAL_GROUP,)), snapshot)
    apply_one(
        target, action(target, ActionKind.REVOKE, "nguyenvana", remove=(SPECIAL_GROUP,)), snapshot
    )

    accounts = by_username(target.read(ReadRequest(managed)))
    assert special in accounts["levanc"].entitlements
    assert special not in accounts["nguyenvana"].entitlements
    assert special in member_of(server, "levanc")


@pytest.mark.slapd
def test_a_target_that_never_read_applies_steps_from_another_ones_snapshot(
    ldap_settings: LdapSettings, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    reader = LdapTarget(ldap_settings)
    try:
        snapshot = reader.read(ReadRequest(managed_keys(reader)))
    finally:
        reader.close()
    assert isinstance(snapshot.locator, LdapLocator)
    writer = LdapTarget(ldap_settings)  # has read nothing: all it knows comes in the snapshot
    steps = [
        action(writer, ActionKind.DISABLE, "levanc"),
        action(writer, ActionKind.GRANT, "phamthid", add=("van-thu",)),
        action(writer, ActionKind.REVOKE, "tranthib", remove=("lanh-dao",)),
        action(writer, ActionKind.GRANT, "nguyenvana", add=("lanh-dao",)),
    ]
    try:
        assert writer.apply(steps, snapshot) == [None] * len(steps)
    finally:
        writer.close()

    assert not can_bind(server, "levanc")
    assert user_key(server, "phamthid") in members(server, "van-thu")
    assert members(server, "lanh-dao") == {user_key(server, "nguyenvana")}


@pytest.mark.slapd
def test_a_snapshot_another_target_read_is_refused_step_by_step(
    target: LdapTarget, ldap_settings: LdapSettings, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    steps = [
        action(target, ActionKind.DISABLE, "levanc"),
        action(target, ActionKind.GRANT, "phamthid", add=("van-thu",)),
    ]
    keycloak = Snapshot(target="keycloak", accounts=(), entitlements=frozenset(), locator={})
    other = LdapTarget(dataclasses.replace(ldap_settings, name="ldap-khac"))
    try:
        elsewhere = other.read(ReadRequest(managed_keys(other)))
    finally:
        other.close()
    mine = target.read(ReadRequest(managed_keys(target)))
    not_mine = dataclasses.replace(mine, locator=object())

    for snapshot in (keycloak, elsewhere, not_mine):
        errors = target.apply(steps, snapshot)
        assert len(errors) == len(steps)
        assert all(type(error) is ApplyError for error in errors)
        assert errors[0] is not errors[1]  # one answer per step
    assert can_bind(server, "levanc")
    assert user_key(server, "phamthid") not in members(server, "van-thu")

    # A step for another target is refused on its own; the batch's other steps are done.
    stray = dataclasses.replace(steps[0], target="keycloak")
    errors = target.apply([stray, steps[1]], mine)
    assert isinstance(errors[0], ApplyError)
    assert "keycloak" in str(errors[0])
    assert errors[1] is None
    assert can_bind(server, "levanc")
    assert user_key(server, "phamthid") in members(server, "van-thu")


@pytest.mark.slapd
def test_apply_reconnects_once_after_the_connection_dropped(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    server = ldap_directory
    snapshot = target.read(ReadRequest(managed_keys(target)))
    server.stop()  # every open connection is cut
    server.start()

    with capture_logs() as logs:
        apply_one(target, action(target, ActionKind.GRANT, "levanc", add=("van-thu",)), snapshot)

    assert user_key(server, "levanc") in members(server, "van-thu")
    assert [e["event"] for e in logs].count("ldap.reconnect") == 1


@pytest.mark.slapd
def test_apply_fails_when_the_server_stays_down(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    snapshot = target.read(ReadRequest(managed_keys(target)))
    ldap_directory.stop()
    try:
        with pytest.raises(ApplyError, match="cannot connect"):
            apply_one(
                target, action(target, ActionKind.GRANT, "levanc", add=("van-thu",)), snapshot
            )
    finally:
        ldap_directory.start()


# -- describe -------------------------------------------------------------------------------


@pytest.mark.slapd
def test_describe_binds_and_counts(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    lines = target.describe()
    assert lines[0].startswith(f"{server.url} bound as {server.service_dn}")
    assert f"accounts under {server.people_base}: {len(SEED_USERS)}" in lines
    assert f"groups under {server.groups_base}: 7" in lines


@pytest.mark.slapd
def test_describe_with_a_wrong_password_raises_without_the_password(
    ldap_settings: LdapSettings,
) -> None:
    wrong = "Sai-Mat-Khau-7731"
    target = LdapTarget(dataclasses.replace(ldap_settings, bind_password=wrong))
    with capture_logs() as logs, pytest.raises(TargetError, match="invalidCredentials") as raised:
        target.describe()
    assert wrong not in str(raised.value)
    assert ldap_settings.bind_dn in str(raised.value)
    assert wrong not in repr(logs)


@pytest.mark.slapd
def test_fetch_with_a_wrong_base_is_a_target_error(ldap_settings: LdapSettings) -> None:
    settings = dataclasses.replace(ldap_settings, users_base="ou=nobody,dc=example,dc=gov,dc=vn")
    target = LdapTarget(settings)
    with pytest.raises(TargetError, match="noSuchObject"):
        target.read(ReadRequest(frozenset()))


@pytest.mark.slapd
def test_no_log_line_carries_the_password(
    ldap_settings: LdapSettings, ldap_directory: SlapdServer
) -> None:
    target = LdapTarget(ldap_settings)
    with capture_logs() as logs:
        target.describe()
        snapshot = target.read(ReadRequest(managed_keys(target)))
        apply_one(target, action(target, ActionKind.DISABLE, "levanc"), snapshot)
        target.close()
    assert logs
    assert ldap_settings.bind_password not in repr(logs)


# -- TLS ------------------------------------------------------------------------------------


@pytest.mark.slapd
def test_start_tls_with_the_right_ca(tls_server: SlapdServer, pki: LocalPki) -> None:
    settings = tls_settings(tls_server, start_tls=True, ca_file=str(pki.ca_certificate))
    assert "over StartTLS" in LdapTarget(settings).describe()[0]


@pytest.mark.slapd
def test_ldaps_with_the_right_ca(tls_server: SlapdServer, pki: LocalPki) -> None:
    settings = tls_settings(tls_server, url=tls_server.ldaps_url, ca_file=str(pki.ca_certificate))
    assert LdapTarget(settings).describe()[0].startswith(tls_server.ldaps_url)


@pytest.mark.slapd
@pytest.mark.parametrize("use_ldaps", [False, True])
def test_tls_with_another_ca_is_refused(
    tls_server: SlapdServer, tmp_path: Path, use_ldaps: bool
) -> None:
    stranger = make_test_pki(tmp_path / "stranger", common_name="some other CA")
    overrides: dict[str, Any] = {"ca_file": str(stranger.ca_certificate)}
    overrides.update({"url": tls_server.ldaps_url} if use_ldaps else {"start_tls": True})
    target = LdapTarget(tls_settings(tls_server, **overrides))
    with pytest.raises(TargetError, match="certificate verify failed") as raised:
        target.describe()
    assert "TLS" in str(raised.value)
    assert tls_server.service_password not in str(raised.value)


@pytest.mark.slapd
def test_unverified_tls_is_possible_for_labs(tls_server: SlapdServer, tmp_path: Path) -> None:
    stranger = make_test_pki(tmp_path / "stranger")
    settings = tls_settings(
        tls_server, start_tls=True, ca_file=str(stranger.ca_certificate), tls_verify=False
    )
    assert "over StartTLS" in LdapTarget(settings).describe()[0]


@pytest.mark.slapd
def test_missing_ca_file_is_a_target_error(tls_server: SlapdServer, tmp_path: Path) -> None:
    settings = tls_settings(tls_server, start_tls=True, ca_file=str(tmp_path / "absent.pem"))
    with pytest.raises(TargetError, match=r"absent\.pem"):
        LdapTarget(settings).describe()
