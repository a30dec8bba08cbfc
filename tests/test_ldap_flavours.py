"""The exact modify requests each directory flavour sends, and how it reads a lock."""

from __future__ import annotations

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

from syncbot.targets.ldap.flavours import (
    ACTIVE_DIRECTORY,
    DS389,
    FLAVOURS,
    OPENLDAP,
    ZIMBRA,
    Flavour,
    FlavourError,
    MemberKind,
    first,
    get_flavour,
    values,
)

ALICE = "uid=alice,ou=people,dc=example,dc=gov,dc=vn"
PLACEHOLDER = "cn=syncbot-empty-group-placeholder,ou=groups,dc=example,dc=gov,dc=vn"


# -- choosing a profile ---------------------------------------------------------------------


def test_every_profile_is_registered_under_its_name() -> None:
    assert set(FLAVOURS) == {"openldap", "ad", "389ds", "zimbra"}
    assert get_flavour("AD") is ACTIVE_DIRECTORY
    assert get_flavour(" openldap ") is OPENLDAP


def test_unknown_flavour_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="openldap, ad, 389ds, zimbra"):
        get_flavour("novell")


def test_profile_defaults() -> None:
    assert OPENLDAP.users_filter == "(objectClass=inetOrgPerson)"
    assert ACTIVE_DIRECTORY.users_filter == "(&(objectCategory=person)(objectClass=user))"
    assert ZIMBRA.users_filter == "(objectClass=zimbraAccount)"
    assert [f.username_attribute for f in (OPENLDAP, ACTIVE_DIRECTORY, DS389, ZIMBRA)] == [
        "uid",
        "sAMAccountName",
        "uid",
        "uid",
    ]
    assert OPENLDAP.group_filter == "(objectClass=groupOfNames)"
    assert ACTIVE_DIRECTORY.group_filter == "(objectClass=group)"
    assert ZIMBRA.group_filter == "(objectClass=zimbraDistributionList)"
    assert ZIMBRA.member_attribute == "zimbraMailForwardingAddress"
    assert ZIMBRA.member_kind is MemberKind.MAIL
    assert OPENLDAP.member_kind is ACTIVE_DIRECTORY.member_kind is MemberKind.DN
    assert not OPENLDAP.groups_may_be_empty and not DS389.groups_may_be_empty
    assert ACTIVE_DIRECTORY.groups_may_be_empty and ZIMBRA.groups_may_be_empty


def test_lock_attributes_are_requested_by_name() -> None:
    # pwdAccountLockedTime is operational: a search for "*" would not return it.
    assert OPENLDAP.lock_attributes == ("pwdAccountLockedTime",)
    assert ACTIVE_DIRECTORY.lock_attributes == ("userAccountControl",)
    assert DS389.lock_attributes == ("nsAccountLock",)
    assert ZIMBRA.lock_attributes == ("zimbraAccountStatus",)


# -- OpenLDAP (ppolicy) ---------------------------------------------------------------------


def test_openldap_disable_sets_a_permanent_lock() -> None:
    assert OPENLDAP.disable_changes({}) == {
        "pwdAccountLockedTime": [(MODIFY_REPLACE, ["000001010000Z"])]
    }


def test_openldap_disable_turns_a_passing_lockout_into_a_permanent_one() -> None:
    lockout = {"pwdAccountLockedTime": ["20250101120000Z"]}
    assert OPENLDAP.disable_changes(lockout) == {
        "pwdAccountLockedTime": [(MODIFY_REPLACE, ["000001010000Z"])]
    }


def test_openldap_disable_of_a_locked_account_sends_nothing() -> None:
    assert OPENLDAP.disable_changes({"pwdAccountLockedTime": ["000001010000Z"]}) == {}


def test_openldap_enable_deletes_the_lock() -> None:
    locked = {"pwdAccountLockedTime": ["000001010000Z"]}
    assert OPENLDAP.enable_changes(locked) == {"pwdAccountLockedTime": [(MODIFY_DELETE, [])]}


def test_openldap_enable_of_an_enabled_account_sends_nothing() -> None:
    assert OPENLDAP.enable_changes({}) == {}


def test_openldap_disabled_iff_a_lock_time_is_present() -> None:
    assert OPENLDAP.is_disabled({"pwdAccountLockedTime": ["000001010000Z"]})
    assert OPENLDAP.is_disabled({"pwdaccountlockedtime": ["20250101120000Z"]})
    assert not OPENLDAP.is_disabled({"uid": ["alice"]})
    assert not OPENLDAP.is_disabled({"pwdAccountLockedTime": []})


# -- Active Directory (userAccountControl) ---------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [(512, "514"), (66048, "66050"), (544, "546"), (4096, "4098")],
)
def test_ad_disable_sets_only_the_disable_bit(before: int, after: str) -> None:
    assert ACTIVE_DIRECTORY.disable_changes({"userAccountControl": [str(before)]}) == {
        "userAccountControl": [(MODIFY_REPLACE, [after])]
    }


@pytest.mark.parametrize(
    ("before", "after"),
    [(514, "512"), (66050, "66048"), (546, "544")],
)
def test_ad_enable_clears_only_the_disable_bit(before: int, after: str) -> None:
    assert ACTIVE_DIRECTORY.enable_changes({"userAccountControl": [str(before)]}) == {
        "userAccountControl": [(MODIFY_REPLACE, [after])]
    }


@pytest.mark.parametrize("value", ["512", "66048", 512])
def test_ad_enable_of_an_enabled_account_sends_nothing(value: object) -> None:
    assert ACTIVE_DIRECTORY.enable_changes({"userAccountControl": [value]}) == {}


@pytest.mark.parametrize("value", ["514", "66050"])
def test_ad_disable_of_a_disabled_account_sends_nothing(value: str) -> None:
    assert ACTIVE_DIRECTORY.disable_changes({"userAccountControl": [value]}) == {}


def test_ad_round_trip_keeps_the_other_bits() -> None:
    disabled = ACTIVE_DIRECTORY.disable_changes({"userAccountControl": ["66048"]})
    new_value = disabled["userAccountControl"][0][1][0]
    enabled = ACTIVE_DIRECTORY.enable_changes({"userAccountControl": [new_value]})
    assert enabled == {"userAccountControl": [(MODIFY_REPLACE, ["66048"])]}


def test_ad_disabled_iff_the_bit_is_set() -> None:
    assert ACTIVE_DIRECTORY.is_disabled({"userAccountControl": ["514"]})
    assert ACTIVE_DIRECTORY.is_disabled({"useraccountcontrol": ["66050"]})
    assert not ACTIVE_DIRECTORY.is_disabled({"userAccountControl": ["512"]})
    assert not ACTIVE_DIRECTORY.is_disabled({"userAccountControl": [66048]})


@pytest.mark.parametrize("attributes", [{}, {"userAccountControl": ["enabled"]}])
def test_ad_refuses_to_guess_without_a_readable_flag_word(
    attributes: dict[str, list[str]],
) -> None:
    with pytest.raises(FlavourError, match="userAccountControl"):
        ACTIVE_DIRECTORY.disable_changes(attributes)
    with pytest.raises(FlavourError, match="userAccountControl"):
        ACTIVE_DIRECTORY.is_disabled(attributes)


# -- 389 Directory Server (nsAccountLock) ---------------------------------------------------


def test_389ds_disable_sets_the_lock() -> None:
    assert DS389.disable_changes({}) == {"nsAccountLock": [(MODIFY_REPLACE, ["TRUE"])]}
    assert DS389.disable_changes({"nsAccountLock": ["false"]}) == {
        "nsAccountLock": [(MODIFY_REPLACE, ["TRUE"])]
    }


def test_389ds_disable_of_a_locked_account_sends_nothing() -> None:
    assert DS389.disable_changes({"nsAccountLock": ["true"]}) == {}


def test_389ds_enable_deletes_the_lock() -> None:
    assert DS389.enable_changes({"nsAccountLock": ["TRUE"]}) == {
        "nsAccountLock": [(MODIFY_DELETE, [])]
    }


@pytest.mark.parametrize("attributes", [{}, {"nsAccountLock": ["FALSE"]}])
def test_389ds_enable_of_an_enabled_account_sends_nothing(
    attributes: dict[str, list[str]],
) -> None:
    assert DS389.enable_changes(attributes) == {}


@pytest.mark.parametrize(
    ("attributes", "disabled"),
    [
        ({"nsAccountLock": ["TRUE"]}, True),
        ({"nsAccountLock": ["true"]}, True),
        ({"nsaccountlock": ["True "]}, True),
        ({"nsAccountLock": ["FALSE"]}, False),
        ({}, False),
    ],
)
def test_389ds_disabled_iff_lock_is_true(attributes: dict[str, list[str]], disabled: bool) -> None:
    assert DS389.is_disabled(attributes) is disabled


# -- Zimbra (zimbraAccountStatus) -----------------------------------------------------------


def test_zimbra_disable_closes_the_account() -> None:
    expected = {"zimbraAccountStatus": [(MODIFY_REPLACE, ["closed"])]}
    assert ZIMBRA.disable_changes({"zimbraAccountStatus": ["active"]}) == expected
    assert ZIMBRA.disable_changes({"zimbraAccountStatus": ["lockout"]}) == expected


@pytest.mark.parametrize("status", ["closed", "locked", "Closed"])
def test_zimbra_disable_of_a_shut_account_sends_nothing(status: str) -> None:
    assert ZIMBRA.disable_changes({"zimbraAccountStatus": [status]}) == {}


def test_zimbra_enable_reactivates() -> None:
    expected = {"zimbraAccountStatus": [(MODIFY_REPLACE, ["active"])]}
    assert ZIMBRA.enable_changes({"zimbraAccountStatus": ["closed"]}) == expected
    assert ZIMBRA.enable_changes({"zimbraAccountStatus": ["locked"]}) == expected


@pytest.mark.parametrize("status", ["active", "lockout", "maintenance"])
def test_zimbra_enable_of_an_open_account_sends_nothing(status: str) -> None:
    assert ZIMBRA.enable_changes({"zimbraAccountStatus": [status]}) == {}


@pytest.mark.parametrize(
    ("status", "disabled"),
    [
        ("closed", True),
        ("locked", True),
        ("LOCKED", True),
        ("active", False),
        ("lockout", False),
        ("maintenance", False),
        ("pending", False),
    ],
)
def test_zimbra_disabled_statuses(status: str, disabled: bool) -> None:
    assert ZIMBRA.is_disabled({"zimbraAccountStatus": [status]}) is disabled


# -- group membership -----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", [OPENLDAP, ACTIVE_DIRECTORY, DS389])
def test_dn_member_requests(flavour: Flavour) -> None:
    assert flavour.add_member_changes(ALICE) == {"member": [(MODIFY_ADD, [ALICE])]}
    assert flavour.remove_member_changes(ALICE) == {"member": [(MODIFY_DELETE, [ALICE])]}


def test_zimbra_member_requests_use_mail_addresses() -> None:
    mail = "alice@example.gov.vn"
    assert ZIMBRA.add_member_changes(mail) == {
        "zimbraMailForwardingAddress": [(MODIFY_ADD, [mail])]
    }
    assert ZIMBRA.remove_member_changes(mail) == {
        "zimbraMailForwardingAddress": [(MODIFY_DELETE, [mail])]
    }


def test_removing_the_last_member_swaps_in_the_placeholder_atomically() -> None:
    # One modify: add the placeholder first, so the group is never without a member.
    assert OPENLDAP.remove_last_member_changes(ALICE, PLACEHOLDER) == {
        "member": [(MODIFY_ADD, [PLACEHOLDER]), (MODIFY_DELETE, [ALICE])]
    }


# -- reading attributes ---------------------------------------------------------------------


def test_attribute_lookup_ignores_name_case_and_decodes_bytes() -> None:
    attributes = {"employeeNumber": [b"NV001"], "mail": "a@b.vn", "cn": ["Nguyễn", "A"]}
    assert first(attributes, "employeenumber") == "NV001"
    assert values(attributes, "MAIL") == ["a@b.vn"]
    assert values(attributes, "cn") == ["Nguyễn", "A"]
    assert first(attributes, "uid") is None
    assert values(attributes, "uid") == []
