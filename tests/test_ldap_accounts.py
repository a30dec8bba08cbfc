"""Unit tests of turning search entries into accounts (pure: entries are plain dicts)."""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest
from plan_builders import row

from syncbot.duty_settings import OBSERVE_NOTHING
from syncbot.model import Account
from syncbot.roster_strings import RosterStrings
from syncbot.targets.ldap.accounts import AccountReader, GroupIndex, UnreadableEntry, index_groups
from syncbot.targets.ldap.flavours import LoweredAttributes, MemberKind, get_flavour
from syncbot.targets.ldap.observed import ACCOUNT_DUTIES

BASE = "ou=people,dc=x,dc=vn"
GROUPS = "ou=groups,dc=x,dc=vn"
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def entry(dn: str, **attributes: Any) -> dict[str, Any]:
    return {"dn": dn, "attributes": attributes}


def reader(flavour: str, groups: GroupIndex, managed: frozenset[str]) -> AccountReader:
    found = get_flavour(flavour)
    return AccountReader(
        target="t",
        flavour=found,
        username_attribute=found.username_attribute,
        match_attribute="employeeNumber",
        email_attribute="mail",
        observe=OBSERVE_NOTHING,
        now=NOW,
        groups=groups,
        managed_keys=managed,
    )


def dn_groups(members: dict[str, list[str]], placeholder: str | None = None) -> GroupIndex:
    entries = [entry(f"cn={cn},{GROUPS}", member=values) for cn, values in members.items()]
    return index_groups(entries, "member", MemberKind.DN, placeholder)


def test_people_in_the_same_groups_share_one_set_and_one_managed_part() -> None:
    people = [f"uid=u{i},{BASE}" for i in range(4)]
    groups = dn_groups({"a": people, "b": people[:2], "c": people[2:]})
    managed = frozenset({f"cn=a,{GROUPS}"})
    read = reader("openldap", groups, managed)
    accounts = read.read_all([entry(dn, uid=[dn[4:6]]) for dn in people])

    assert accounts[0].groups == {f"cn=a,{GROUPS}", f"cn=b,{GROUPS}"}
    assert accounts[0].groups is accounts[1].groups
    assert accounts[2].groups is accounts[3].groups
    assert accounts[0].groups != accounts[2].groups
    assert all(a.entitlements == managed for a in accounts)
    assert accounts[0].entitlements is accounts[3].entitlements


def test_the_key_is_the_entrys_own_dn_and_odd_spellings_keep_their_dn() -> None:
    plain, odd = f"uid=u1,{BASE}", f"UID=U2, OU=People,{'dc=x,dc=vn'}"
    groups = dn_groups({"a": [plain, odd], "b": [odd]})
    read = reader("openldap", groups, frozenset())
    as_read = "".join(plain)  # the user search decodes its own, equal string
    first, second = read.read_all([entry(as_read, uid=["u1"]), entry(odd, uid=["U2"])])

    assert first.key is as_read and first.groups == {f"cn=a,{GROUPS}"}
    assert second.key == f"uid=u2,{BASE}"
    assert second.groups == {f"cn=a,{GROUPS}", f"cn=b,{GROUPS}"}
    # Both were taken out of the index, so the group pass's copies of their DNs are gone.
    assert groups.of_member == {}
    # Apply must write the server's own spelling: kept only where it differs from the key.
    assert read.dns == {second.key: odd}


def test_a_placeholder_member_marks_the_group_and_belongs_to_nobody() -> None:
    placeholder = f"cn=placeholder,{GROUPS}"
    groups = dn_groups({"empty": [placeholder], "a": [placeholder, f"uid=u1,{BASE}"]}, placeholder)

    assert groups.with_placeholder == {f"cn=empty,{GROUPS}", f"cn=a,{GROUPS}"}
    assert placeholder not in groups.of_member
    assert groups.of_member[f"uid=u1,{BASE}"] == {f"cn=a,{GROUPS}"}


def test_values_are_read_whatever_the_case_of_the_attribute_names() -> None:
    groups = dn_groups({})
    dn = f"uid=u1,{BASE}"
    read = reader("openldap", groups, frozenset())
    # As ldap3 hands them over (names as the server spells them) and as python-ldap's
    # path does (lower-case), the same account.
    spelled = entry(dn, uid=["u1"], employeeNumber=[" E1 "], mail=["A@X.VN"], displayName="Tên")
    lowered = {"dn": dn, "attributes": LoweredAttributes(
        uid=["u1"], employeenumber=[" E1 "], mail=["A@X.VN"], displayname=["Tên"]
    )}  # fmt: skip
    one, two = read.read_all([spelled, lowered])

    assert one == two
    assert (one.username, one.employee_id, one.email, one.display_name) == (
        "u1",
        "E1",
        "a@x.vn",
        "Tên",
    )
    assert one.enabled


def test_mail_listed_groups_find_an_alias_and_apply_keeps_every_address() -> None:
    # Zimbra lists hold addresses; a list may name the alias rather than the primary.
    entries = [
        entry(f"cn=ds1,{GROUPS}", zimbraMailForwardingAddress=["Alias@X.vn"]),
        entry(f"cn=ds2,{GROUPS}", zimbraMailForwardingAddress=["a@x.vn"]),
    ]
    groups = index_groups(entries, "zimbraMailForwardingAddress", MemberKind.MAIL, None)
    read = reader("zimbra", groups, frozenset())
    dn = f"uid=a,{BASE}"
    (account,) = read.read_all([entry(dn, uid=["a"], mail=["a@x.vn", " alias@x.vn "])])

    assert account.email == "a@x.vn"
    assert account.groups == {f"cn=ds1,{GROUPS}", f"cn=ds2,{GROUPS}"}
    assert read.aliases == {account.key: ("a@x.vn", "alias@x.vn")}


def test_an_account_without_username_attribute_takes_the_rdn_value() -> None:
    read = reader("openldap", dn_groups({}), frozenset())
    (account,) = read.read_all([entry(f"uid=nguyen\\2Cvan,{BASE}")])
    assert account.username == "nguyen,van"
    assert account.employee_id is None and account.email is None


def test_a_malformed_lock_time_names_the_entry() -> None:
    read = reader("ad", dn_groups({}), frozenset())
    dn = f"cn=x,{BASE}"
    with pytest.raises(UnreadableEntry, match="account cn=x,"):
        read.read_all([entry(dn, sAMAccountName=["x"], userAccountControl=["not a number"])])


def test_an_account_holds_its_persons_values_as_the_rosters_strings() -> None:
    person = row(1, "NV001", name="Nguyễn Văn An", email="an@so.gov.vn")
    dn = f"uid=an,{BASE}"
    read = dataclasses.replace(
        reader("openldap", dn_groups({}), frozenset()), known=RosterStrings([person])
    )
    # Values as a search decodes them: equal to the row's, separate objects.
    values = {"uid": ["an"], "employeenumber": [" NV001 "], "mail": ["AN@so.gov.vn"]}
    (account,) = read.read_all([entry(dn, **values, cn=["".join("Nguyễn Văn An")])])

    assert account.employee_id is person.employee_id
    assert account.email is person.email  # lower-cased first, then found equal
    assert account.display_name is person.full_name


def test_accounts_are_built_in_the_order_of_accounts_fields() -> None:
    # `AccountReader.read_all` passes an account's values by position: a field added or
    # moved must be added or moved there too.
    assert [f.name for f in fields(Account)] == [
        "target",
        "key",
        "username",
        "employee_id",
        "email",
        "enabled",
        "entitlements",
        "display_name",
        "groups",
        "federated",
        "created",
        "password_changed",
        "must_change_password",
        "last_sign_in",
        "failed_sign_ins",
    ]


def test_groups_index_alike_whichever_library_read_them() -> None:
    # python-ldap's path hands over lower-case names and lists; ldap3's the server's
    # names; a value that is not UTF-8 text stays bytes. The same index either way.
    placeholder = f"cn=placeholder,{GROUPS}"
    members = {
        "a": [f"uid=u1,{BASE}", f"UID=U2, OU=People,{'dc=x,dc=vn'}", placeholder],
        "b": [f"uid=u2,{BASE}", f"uid=u1,{BASE}"],
    }
    plain = dn_groups(members, placeholder)
    lowered = index_groups(
        [
            {
                "dn": f"cn={cn},{GROUPS}",
                "attributes": LoweredAttributes(member=[v.encode() for v in values]),
            }
            for cn, values in members.items()
        ],
        "member",
        MemberKind.DN,
        placeholder,
    )

    assert lowered == plain
    assert plain.of_member == {
        f"uid=u1,{BASE}": {f"cn=a,{GROUPS}", f"cn=b,{GROUPS}"},
        f"uid=u2,{BASE}": {f"cn=a,{GROUPS}", f"cn=b,{GROUPS}"},
    }
    assert plain.with_placeholder == {f"cn=a,{GROUPS}"}


def test_creation_times_are_read_alike_when_entries_share_them() -> None:
    # With no duty watching accounts, an entry whose creation time is the last one's is
    # given the last reading again: the times must still be each entry's own.
    read = reader("openldap", dn_groups({}), frozenset())
    times = ["20240101000000Z", "20240101000000Z", "20250202000000Z", "20240101000000Z"]
    accounts = read.read_all(
        [
            entry(f"uid=u{i},{BASE}", uid=[f"u{i}"], createTimestamp=[time])
            for i, time in enumerate(times)
        ]
        + [entry(f"uid=none,{BASE}", uid=["none"])]
    )

    assert [a.created and a.created.year for a in accounts] == [2024, 2024, 2025, 2024, None]
    with pytest.raises(UnreadableEntry, match="uid=bad,"):
        read.read_all(
            [
                entry(f"uid=good,{BASE}", uid=["good"], createTimestamp=[times[0]]),
                entry(f"uid=bad,{BASE}", uid=["bad"], createTimestamp=["yesterday"]),
            ]
        )


@pytest.mark.parametrize("flavour", sorted(ACCOUNT_DUTIES))
def test_without_duties_watching_accounts_only_the_creation_time_is_read(flavour: str) -> None:
    # What lets `read_all` reuse a reading for an equal creation time: nothing else is
    # requested, so nothing else can differ.
    duties = ACCOUNT_DUTIES[flavour]
    assert duties.attributes(OBSERVE_NOTHING) == duties.created[:1]
