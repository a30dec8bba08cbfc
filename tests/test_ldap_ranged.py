"""AD's ranged member lists, without a server: windows followed, both libraries' shapes."""

from __future__ import annotations

from typing import Any

import pytest

from syncbot.targets.ldap.flavours import ACTIVE_DIRECTORY, DS389, OPENLDAP, values
from syncbot.targets.ldap.ranged import RangeError, collected, completed, first_window

GROUP = "CN=chuyen-vien,OU=groups,DC=so,DC=example,DC=vn"
MEMBERS = [f"CN=cv{i:04d},OU=people,DC=so,DC=example,DC=vn" for i in range(3200)]


def windows_of(members: list[str], cap: int) -> Any:
    """A DC that answers `member;range=N-*` with at most `cap` values, as Windows does."""
    asked: list[str] = []

    def read_window(dn: str, window: str) -> dict[str, list[str]]:
        assert dn == GROUP
        asked.append(window)
        low = int(window.split("=")[1].split("-")[0])
        chunk = members[low : low + cap]
        last = low + len(chunk) >= len(members)
        high = "*" if last else str(low + len(chunk) - 1)
        return {f"member;range={low}-{high}": chunk}

    return read_window, asked


def test_windows_are_followed_until_the_star() -> None:
    read_window, asked = windows_of(MEMBERS, 1500)
    first = {"dn": GROUP, "attributes": {"member;range=0-1499": MEMBERS[:1500]}}
    (entry,) = completed([first], "member", read_window)
    assert values(entry["attributes"], "member") == MEMBERS
    assert asked == ["member;range=1500-*", "member;range=3000-*"]


def test_without_following_a_ranged_group_looks_empty() -> None:
    """What the plain `member` lookup saw before: nothing at all."""
    first = {"dn": GROUP, "attributes": {"member;range=0-1499": MEMBERS[:1500]}}
    assert values(first["attributes"], "member") == []


def test_a_small_group_comes_whole_and_asks_nothing_more() -> None:
    read_window, asked = windows_of(MEMBERS, 1500)
    small = {"dn": GROUP, "attributes": {"member;range=0-*": MEMBERS[:3]}}
    empty = {"dn": GROUP, "attributes": {}}
    got = list(completed([small, empty], "member", read_window))
    assert values(got[0]["attributes"], "member") == MEMBERS[:3]
    assert values(got[1]["attributes"], "member") == []
    assert asked == []


def test_a_server_with_a_smaller_max_val_range_is_followed_from_where_it_stopped() -> None:
    read_window, asked = windows_of(MEMBERS, 1000)
    first = {"dn": GROUP, "attributes": {"member;range=0-999": MEMBERS[:1000]}}
    (entry,) = completed([first], "member", read_window)
    assert values(entry["attributes"], "member") == MEMBERS
    assert asked[0] == "member;range=1000-*"


def test_ldap3_auto_range_shape_is_taken_as_complete() -> None:
    """ldap3 follows ranges itself, files the values under `member`, leaves the name asked
    for empty: nothing is left to ask."""
    read_window, asked = windows_of(MEMBERS, 1500)
    entry = {"dn": GROUP, "attributes": {"member": MEMBERS, "member;range=0-1499": []}}
    (done,) = completed([entry], "member", read_window)
    assert values(done["attributes"], "member") == MEMBERS
    assert asked == []


def test_bytes_and_names_in_any_case_are_read() -> None:
    found, following = collected({"Member;Range=0-1": [b"CN=a", b"CN=b"]}, "member")
    assert found == ["CN=a", "CN=b"] and following == 2


def test_a_range_that_does_not_advance_is_an_error() -> None:
    def stuck(dn: str, window: str) -> dict[str, list[str]]:
        return {"member;range=0-1499": MEMBERS[:1500]}

    first = {"dn": GROUP, "attributes": {"member;range=0-1499": MEMBERS[:1500]}}
    with pytest.raises(RangeError, match="does not advance"):
        list(completed([first], "member", stuck))


def test_only_ad_asks_for_windows() -> None:
    assert ACTIVE_DIRECTORY.member_range_step == 1500
    assert first_window("member", 1500) == "member;range=0-1499"
    assert OPENLDAP.member_range_step is None and DS389.member_range_step is None
