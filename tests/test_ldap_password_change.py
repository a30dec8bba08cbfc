"""'Change the password at next sign-in': the exact modify each flavour sends, and on slapd."""

from __future__ import annotations

import ldap3
import pytest
from ldap3 import MODIFY_REPLACE
from target_steps import apply_one

from localdev.slapd import SlapdServer
from syncbot.model import Action, ActionKind, Reason
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap import LdapTarget
from syncbot.targets.ldap.flavours import (
    ACTIVE_DIRECTORY,
    DS389,
    OPENLDAP,
    ZIMBRA,
    Flavour,
)
from syncbot.targets.ldap.settings import LdapSettings


@pytest.mark.parametrize(
    ("flavour", "attribute", "value"),
    [
        (OPENLDAP, "pwdReset", "TRUE"),
        (ACTIVE_DIRECTORY, "pwdLastSet", "0"),
        (DS389, "passwordExpirationTime", "19700101000000Z"),
        (ZIMBRA, "zimbraPasswordMustChange", "TRUE"),
    ],
)
def test_each_flavour_writes_its_own_attribute(
    flavour: Flavour, attribute: str, value: str
) -> None:
    assert flavour.must_change_attribute == attribute
    assert flavour.must_change_changes({}) == {attribute: [(MODIFY_REPLACE, [value])]}


@pytest.mark.parametrize(
    ("flavour", "current"),
    [
        (OPENLDAP, {"pwdReset": ["FALSE"]}),
        (ACTIVE_DIRECTORY, {"pwdLastSet": ["133768992000000000"]}),
        (DS389, {"passwordExpirationTime": ["20270101000000Z"]}),
        (ZIMBRA, {"zimbraPasswordMustChange": ["FALSE"]}),
    ],
)
def test_a_different_value_is_replaced(flavour: Flavour, current: dict[str, list[str]]) -> None:
    (attribute,) = current
    changes = flavour.must_change_changes(current)
    assert list(changes) == [attribute]
    assert changes[attribute][0][0] == MODIFY_REPLACE


@pytest.mark.parametrize(
    ("flavour", "current"),
    [
        (OPENLDAP, {"pwdreset": ["true"]}),  # case of name and value as a server returns them
        (ACTIVE_DIRECTORY, {"pwdLastSet": ["0"]}),
        (DS389, {"passwordExpirationTime": [b"19700101000000Z"]}),
        (ZIMBRA, {"zimbraPasswordMustChange": ["TRUE"]}),
    ],
)
def test_an_entry_already_flagged_needs_no_write(
    flavour: Flavour, current: dict[str, list[object]]
) -> None:
    assert flavour.must_change_changes(current) == {}


def _must_change(uid: str) -> Action:
    return Action(
        target="ldap",
        kind=ActionKind.REQUIRE_PASSWORD_CHANGE,
        account=uid,
        username=uid,
        employee_id=None,
        reason=Reason(vi="lộ lọt", en="leaked"),
        evidence=None,
    )


def _pwd_reset(server: SlapdServer, dn: str) -> list[str]:
    conn = ldap3.Connection(
        ldap3.Server(server.url.rstrip("/")),
        server.service_dn,
        server.service_password,
        auto_bind=True,
    )
    try:
        conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["pwdReset"])
        raw = conn.response[0]["raw_attributes"].get("pwdReset", [])
        return [v.decode() for v in raw]
    finally:
        conn.unbind()


@pytest.mark.slapd
def test_openldap_sets_pwd_reset_and_a_second_time_is_harmless(
    ldap_settings: LdapSettings, ldap_directory: SlapdServer
) -> None:
    target = LdapTarget(ldap_settings)
    try:
        snapshot = target.read(ReadRequest(frozenset()))
        key = next(a.key for a in snapshot.accounts if a.username == "levanc")
        dn = f"uid=levanc,{ldap_directory.people_base}"
        assert _pwd_reset(ldap_directory, dn) == []
        apply_one(target, _must_change(key), snapshot)
        assert _pwd_reset(ldap_directory, dn) == ["TRUE"]
        apply_one(target, _must_change(key), snapshot)
        assert _pwd_reset(ldap_directory, dn) == ["TRUE"]
    finally:
        target.close()
