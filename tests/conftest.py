"""Shared fixtures: a throwaway OpenLDAP server and a seeded directory on it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from localdev.slapd import LocalPki, SlapdServer, make_test_pki
from syncbot.targets.ldap.flavours import OPENLDAP
from syncbot.targets.ldap.settings import LdapSettings

# The real Keycloak server and realm fixtures live beside this file.
pytest_plugins = ["keycloak_fixtures", "directory_fixtures", "worker_process"]


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults: a CLI test configures a level filter
    that would otherwise hide later tests' info-level events from `capture_logs`."""
    yield
    structlog.reset_defaults()


ROLE_GROUPS = ("van-thu", "chuyen-vien", "lanh-dao", "quan-tri")
UNIT_GROUPS = ("don-vi-van-phong", "don-vi-phong-tai-chinh")


@dataclass(frozen=True)
class SeedUser:
    uid: str
    cn: str
    sn: str
    mail: str
    employee_number: str | None
    password: str
    groups: tuple[str, ...]


#: The people every `ldap_directory` test starts with; the groups are cn values.
SEED_USERS = (
    SeedUser(
        "nguyenvana",
        "Nguyễn Văn A",
        "Nguyễn",
        "NguyenVanA@example.gov.vn",
        "NV001",
        "pw-nguyenvana",
        ("van-thu", "don-vi-van-phong"),
    ),
    SeedUser(
        "tranthib",
        "Trần Thị B",
        "Trần",
        "tranthib@example.gov.vn",
        " NV002 ",
        "pw-tranthib",
        ("chuyen-vien", "lanh-dao", "don-vi-phong-tai-chinh", "ban-tin"),
    ),
    SeedUser(
        "levanc",
        "Lê Văn C",
        "Lê",
        "levanc@example.gov.vn",
        "NV003",
        "pw-levanc",
        ("quan-tri",),
    ),
    SeedUser(
        "phamthid",
        "Phạm Thị D",
        "Phạm",
        "phamthid@example.gov.vn",
        None,
        "pw-phamthid",
        (),
    ),
)


def user_dn(server: SlapdServer, uid: str) -> str:
    return f"uid={uid},{server.people_base}"


def group_dn(server: SlapdServer, cn: str) -> str:
    return f"cn={cn},{server.groups_base}"


def placeholder_dn(server: SlapdServer) -> str:
    return f"{OPENLDAP.placeholder_rdn},{server.groups_base}"


def user_ldif(server: SlapdServer, user: SeedUser) -> str:
    lines = [
        f"dn: {user_dn(server, user.uid)}",
        "objectClass: inetOrgPerson",
        f"uid: {user.uid}",
        f"cn: {user.cn}",
        f"sn: {user.sn}",
        f"displayName: {user.cn}",
        f"mail: {user.mail}",
        f"userPassword: {user.password}",
    ]
    if user.employee_number is not None:
        lines.append(f"employeeNumber: {user.employee_number}")
    return "\n".join(lines) + "\n"


def group_ldif(server: SlapdServer, cn: str, members: list[str]) -> str:
    lines = [f"dn: {group_dn(server, cn)}", "objectClass: groupOfNames", f"cn: {cn}"]
    lines += [f"member: {dn}" for dn in members]
    return "\n".join(lines) + "\n"


def seed_ldif(server: SlapdServer) -> str:
    """Users first, then groups, so memberof fills memberOf as the groups arrive."""
    blocks = [user_ldif(server, user) for user in SEED_USERS]
    for cn in (*ROLE_GROUPS, *UNIT_GROUPS, "ban-tin"):
        members = [user_dn(server, u.uid) for u in SEED_USERS if cn in u.groups]
        # groupOfNames needs a member: empty groups hold the placeholder syncbot itself uses.
        blocks.append(group_ldif(server, cn, members or [placeholder_dn(server)]))
    return "\n".join(blocks)


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    """One OpenLDAP server for the whole run; failing to start it fails the tests."""
    server = SlapdServer(tmp_path_factory.mktemp("slapd"))
    server.start()  # raises RuntimeError with slapd's own explanation: never a skip
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ldap_directory(slapd_server: SlapdServer) -> SlapdServer:
    """The server emptied and seeded with the role and unit groups and `SEED_USERS`."""
    if not slapd_server.running:  # a test may have stopped it to simulate an outage
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(seed_ldif(slapd_server))
    return slapd_server


@pytest.fixture
def ldap_settings(ldap_directory: SlapdServer) -> LdapSettings:
    """Settings of an `openldap` target bound as the server's service account."""
    return LdapSettings(
        name="ldap",
        flavour="openldap",
        url=ldap_directory.url,
        bind_dn=ldap_directory.service_dn,
        bind_password=ldap_directory.service_password,
        users_base=ldap_directory.people_base,
        groups_base=ldap_directory.groups_base,
    )


# -- a slapd serving LDAPS and StartTLS with a certificate from a throwaway CA -------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: LocalPki) -> Iterator[SlapdServer]:
    server = SlapdServer(tmp_path_factory.mktemp("slapd-tls"), tls=pki)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def tls_settings(server: SlapdServer, **overrides: Any) -> LdapSettings:
    """Settings for the TLS server's service account; tests vary URL, CA and verification."""
    settings = LdapSettings(
        name="ldap",
        flavour="openldap",
        url=server.url,
        bind_dn=server.service_dn,
        bind_password=server.service_password,
        users_base=server.people_base,
        groups_base=server.groups_base,
    )
    return dataclasses.replace(settings, **overrides)
