"""The python-ldap search path against a real OpenLDAP: it must read exactly what ldap3 reads.

Every comparison runs both paths on the same directory, choosing the library with the
SYNCBOT_LDAP_SEARCH environment variable, and compares what `LdapTarget` hands on.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import ROLE_GROUPS, SEED_USERS, UNIT_GROUPS, tls_settings
from plan_builders import row
from structlog.testing import capture_logs

from localdev.slapd import LocalPki, SlapdServer, make_test_pki
from syncbot.errors import ConfigError, TargetError
from syncbot.model import Snapshot
from syncbot.roster_strings import RosterStrings
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap import LdapSettings, LdapTarget
from syncbot.targets.ldap.fast_search import (
    ENVIRONMENT,
    LDAP3,
    PYTHON_LDAP,
    PagedSearcher,
    choose_library,
    open_connection,
)

# Not UTF-8 (a JPEG header): ldap3 hands such a value over as bytes, and so must we.
BINARY = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x80\x81"


def target_with(
    library: str, settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> LdapTarget:
    monkeypatch.setenv(ENVIRONMENT, library)
    target = LdapTarget(settings)
    assert target.search_library == library
    return target


def fetched(
    library: str, settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> tuple[Snapshot, list[int]]:
    """The snapshot one path reads, and the progress counts it reported page by page."""
    target = target_with(library, settings, monkeypatch)
    progress: list[int] = []
    try:
        managed = frozenset(target.entitlement_key(g) for g in (*ROLE_GROUPS, *UNIT_GROUPS))
        snapshot = target.read(ReadRequest(managed, progress=lambda done, _: progress.append(done)))
    finally:
        target.close()
    return snapshot, progress


def entries(
    library: str,
    settings: LdapSettings,
    monkeypatch: pytest.MonkeyPatch,
    attributes: list[str],
) -> list[dict[str, Any]]:
    """Entries of the users search as `AccountReader` receives them, in plain dicts."""
    target = target_with(library, settings, monkeypatch)
    try:
        found = target.link.retrying(
            lambda conn: list(
                target.reader.paged(conn, settings.users_base, "(objectClass=*)", attributes)
            )
        )
    finally:
        target.close()
    return [
        {"dn": e["dn"], "attributes": dict(e["attributes"]), "raw": dict(e["raw_attributes"])}
        for e in found
    ]


def add_odd_person(server: SlapdServer) -> None:
    """Two mails, Vietnamese text, a binary photo: every kind of value a search returns."""
    photo = base64.b64encode(BINARY).decode("ascii")
    server.add_ldif(
        f"dn: uid=odd,{server.people_base}\nobjectClass: inetOrgPerson\nuid: odd\n"
        "cn: Đỗ Thị Ưng\nsn: Đỗ\ndisplayName: Đỗ Thị Ưng\nmail: Odd@Example.gov.vn\n"
        f"mail: odd.alias@example.gov.vn\nemployeeNumber: NV900\njpegPhoto:: {photo}\n"
    )


def bulk_people(server: SlapdServer, count: int) -> None:
    people = [
        f"dn: uid=bulk{i:04d},{server.people_base}\nobjectClass: inetOrgPerson\n"
        f"uid: bulk{i:04d}\ncn: Người {i}\nsn: N\nemployeeNumber: B{i:04d}\n"
        f"mail: bulk{i:04d}@example.gov.vn\n" + ("displayName: Trưởng phòng\n" if i % 7 else "")
        for i in range(count)
    ]
    members = "".join(f"member: uid=bulk{i:04d},{server.people_base}\n" for i in range(count))
    third = "".join(f"member: uid=bulk{i:04d},{server.people_base}\n" for i in range(0, count, 3))
    groups = [
        f"dn: cn=toan-bo,{server.groups_base}\nobjectClass: groupOfNames\ncn: toan-bo\n" + members,
        f"dn: cn=mot-phan-ba,{server.groups_base}\nobjectClass: groupOfNames\n"
        f"cn: mot-phan-ba\n" + third,
    ]
    server.bulk_load("\n".join([*people, *groups]))


# -- choosing the library (pure) -------------------------------------------------------------


def settings_like(search_library: str = "auto") -> Any:
    return SimpleNamespace(name="ldap", search_library=search_library)


def test_auto_chooses_python_ldap_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    assert choose_library(settings_like()) == PYTHON_LDAP
    assert choose_library(settings_like(search_library="auto")) == PYTHON_LDAP


def test_the_environment_refines_auto_but_not_an_explicit_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENVIRONMENT, "ldap3")
    assert choose_library(settings_like()) == LDAP3
    assert choose_library(settings_like(search_library="python-ldap")) == PYTHON_LDAP


def test_an_unknown_library_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    with pytest.raises(ConfigError, match="search_library"):
        choose_library(settings_like(search_library="openldap"))
    monkeypatch.setenv(ENVIRONMENT, "fast")
    with pytest.raises(ConfigError, match=ENVIRONMENT):
        choose_library(settings_like())


# -- the same snapshot both ways ---------------------------------------------------------------


@pytest.mark.slapd
def test_both_paths_read_the_seeded_directory_alike(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_odd_person(ldap_directory)
    slow, slow_progress = fetched(LDAP3, ldap_settings, monkeypatch)
    fast, fast_progress = fetched(PYTHON_LDAP, ldap_settings, monkeypatch)

    assert fast == slow
    assert fast_progress == slow_progress
    assert len(fast.accounts) == len(SEED_USERS) + 1
    assert any(a.entitlements for a in fast.accounts)
    assert fast.entitlements


@pytest.mark.slapd
@pytest.mark.parametrize("library", [LDAP3, PYTHON_LDAP])
def test_values_the_roster_holds_are_read_as_the_rosters_strings(
    library: str,
    ldap_directory: SlapdServer,
    ldap_settings: LdapSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = [
        row(n, u.employee_number.strip(), name=u.cn, email=u.mail.lower())
        for n, u in enumerate(SEED_USERS, start=2)
        if u.employee_number
    ]
    plain, _ = fetched(library, ldap_settings, monkeypatch)
    target = target_with(library, ldap_settings, monkeypatch)
    try:
        shared = target.read(ReadRequest(frozenset(), known=RosterStrings(people)))
    finally:
        target.close()

    # The same snapshot, holding fewer strings.
    assert [dataclasses.replace(a, entitlements=frozenset()) for a in plain.accounts] == [
        dataclasses.replace(a, entitlements=frozenset()) for a in shared.accounts
    ]
    by_id = {a.employee_id: a for a in shared.accounts}
    for person in people:
        account = by_id[person.employee_id]
        assert account.employee_id is person.employee_id
        assert account.email is person.email
        assert account.display_name is person.full_name


@pytest.mark.slapd
def test_entries_reach_the_reader_in_ldap3s_shape_with_lower_case_names(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_odd_person(ldap_directory)
    # Names in odd cases, as a configuration may spell them; a binary attribute too.
    wanted = ["UID", "mail", "employeenumber", "displayName", "jpegPhoto", "createTimestamp"]
    slow = entries(LDAP3, ldap_settings, monkeypatch, wanted)
    fast = entries(PYTHON_LDAP, ldap_settings, monkeypatch, wanted)

    # The same values; python-ldap's under lower-case names, which readers look up once.
    assert fast == [
        {**e, "attributes": {k.lower(): v for k, v in e["attributes"].items()}} for e in slow
    ]
    odd = next(e for e in fast if e["dn"].startswith("uid=odd,"))
    assert odd["attributes"]["mail"] == ["Odd@Example.gov.vn", "odd.alias@example.gov.vn"]
    assert odd["attributes"]["displayname"] == ["Đỗ Thị Ưng"]
    assert odd["attributes"]["jpegphoto"] == [BINARY]
    assert odd["raw"]["jpegPhoto"] == [BINARY]
    assert all(type(v) is str for v in odd["attributes"]["mail"])


@pytest.mark.slapd
def test_both_paths_read_2000_generated_entries_alike_page_by_page(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk_people(ldap_directory, 2000)
    settings = dataclasses.replace(ldap_settings, page_size=300)
    slow, slow_progress = fetched(LDAP3, settings, monkeypatch)
    fast, fast_progress = fetched(PYTHON_LDAP, settings, monkeypatch)

    assert fast == slow
    assert len(fast.accounts) == 2000 + len(SEED_USERS)
    # The groups first, in one page; then 2004 people in pages of the configured size.
    assert fast_progress == slow_progress
    groups = fast_progress[0]
    assert fast_progress[1:] == [groups + n for n in (300, 600, 900, 1200, 1500, 1800, 2004)]
    in_both = [a for a in fast.accounts if a.username.startswith("bulk") and len(a.groups) == 2]
    assert len(in_both) == len(range(0, 2000, 3))


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.slapd
def test_a_wrong_base_fails_with_the_same_message_both_ways(
    ldap_settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(ldap_settings, users_base="ou=nobody,dc=example,dc=gov,dc=vn")
    messages = []
    for library in (LDAP3, PYTHON_LDAP):
        with pytest.raises(TargetError, match="noSuchObject") as raised:
            fetched(library, settings, monkeypatch)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert "check users_base" in messages[1]


@pytest.mark.slapd
def test_a_wrong_password_is_refused_without_the_password(ldap_settings: LdapSettings) -> None:
    wrong = "Sai-Mat-Khau-4410"
    settings = dataclasses.replace(ldap_settings, bind_password=wrong)
    with capture_logs() as logs, pytest.raises(TargetError, match="invalidCredentials") as raised:
        open_connection(settings)
    assert settings.bind_dn in str(raised.value)
    assert wrong not in str(raised.value)
    assert wrong not in repr(logs)


@pytest.mark.slapd
def test_a_restarted_server_is_reconnected_once(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = target_with(PYTHON_LDAP, ldap_settings, monkeypatch)
    try:
        first = target.read(ReadRequest(frozenset()))
        ldap_directory.stop()  # both connections, ldap3's and python-ldap's, are cut
        ldap_directory.start()
        with capture_logs() as logs:
            again = target.read(ReadRequest(frozenset()))
    finally:
        target.close()
    assert again == first
    assert [e["event"] for e in logs].count("ldap.reconnect") == 1


@pytest.mark.slapd
def test_a_stopped_server_is_a_target_error(
    ldap_directory: SlapdServer, ldap_settings: LdapSettings
) -> None:
    ldap_directory.stop()
    try:
        with pytest.raises(TargetError, match="cannot connect") as raised:
            open_connection(ldap_settings)
    finally:
        ldap_directory.start()
    assert ldap_settings.bind_password not in str(raised.value)


# -- TLS ------------------------------------------------------------------------------------


def count_people(settings: LdapSettings) -> int:
    searcher = PagedSearcher(settings)
    try:
        return sum(1 for _ in searcher.search(settings.users_base, "(uid=*)", ["1.1"]))
    finally:
        searcher.close()


@pytest.mark.slapd
@pytest.mark.parametrize("use_ldaps", [False, True])
def test_tls_with_the_right_ca(tls_server: SlapdServer, pki: LocalPki, use_ldaps: bool) -> None:
    where: dict[str, Any] = {"url": tls_server.ldaps_url} if use_ldaps else {"start_tls": True}
    settings = tls_settings(tls_server, ca_file=str(pki.ca_certificate), **where)
    assert count_people(settings) == 0  # bound over TLS; the server holds no people yet


@pytest.mark.slapd
@pytest.mark.parametrize("use_ldaps", [False, True])
def test_tls_with_another_ca_is_refused(
    tls_server: SlapdServer, tmp_path: Path, use_ldaps: bool
) -> None:
    stranger = make_test_pki(tmp_path / "stranger", common_name="some other CA")
    where: dict[str, Any] = {"url": tls_server.ldaps_url} if use_ldaps else {"start_tls": True}
    settings = tls_settings(tls_server, ca_file=str(stranger.ca_certificate), **where)
    with pytest.raises(TargetError, match="TLS with") as raised:
        count_people(settings)
    assert str(stranger.ca_certificate) in str(raised.value)
    assert tls_server.service_password not in str(raised.value)


@pytest.mark.slapd
def test_unverified_tls_is_possible_for_labs(tls_server: SlapdServer, tmp_path: Path) -> None:
    stranger = make_test_pki(tmp_path / "stranger")
    settings = tls_settings(
        tls_server, start_tls=True, ca_file=str(stranger.ca_certificate), tls_verify=False
    )
    assert count_people(settings) == 0


@pytest.mark.slapd
def test_a_missing_ca_file_is_a_target_error(tls_server: SlapdServer, tmp_path: Path) -> None:
    settings = tls_settings(tls_server, start_tls=True, ca_file=str(tmp_path / "absent.pem"))
    with pytest.raises(TargetError, match=r"absent\.pem"):
        open_connection(settings)
