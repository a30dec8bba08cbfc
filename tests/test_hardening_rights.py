"""`syncbot check-config` checks the rights of the account a target signs in as, and
changes nothing doing so: a read-only bind fails it, naming the missing right."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import ldap3
import pytest

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.sample import roster_csv
from localdev.slapd import SlapdServer, ssha
from syncbot.targets.keycloak.checks import check_roles
from syncbot.targets.keycloak.settings import KeycloakSettings

REPO = Path(__file__).resolve().parents[1]
READER_PASSWORD = "chi-doc-123"


def reader_dn(server: SlapdServer) -> str:
    return f"cn=reader,ou=system,{server.suffix}"


def add_reader(server: SlapdServer) -> None:
    """A bind account the default ACLs let read accounts and groups, but not locks."""
    server.add_ldif(
        f"""dn: {reader_dn(server)}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: reader
userPassword: {ssha(READER_PASSWORD)}
"""
    )


def deployment(server: SlapdServer, folder: Path) -> Path:
    (folder / "nhan-su.csv").write_text(roster_csv(date.today()), encoding="utf-8")
    return write_config(folder, server, REPO_MAPPINGS)


def bind_as_reader(config: Path, server: SlapdServer) -> None:
    (config.parent / "ldap-password").write_text(READER_PASSWORD + "\n", encoding="utf-8")
    text = config.read_text("utf-8").replace(server.service_dn, reader_dn(server))
    config.write_text(text, encoding="utf-8")


def check_config(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncbot", "--config", str(config), "check-config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stamps(server: SlapdServer) -> dict[str, str]:
    """Every entry's entryCSN: a write of any kind changes it."""
    with ldap3.Connection(
        ldap3.Server(server.url.rstrip("/")),
        server.admin_dn,
        server.admin_password,
        auto_bind=True,
    ) as conn:
        conn.search(server.suffix, "(objectClass=*)", attributes=["entryCSN"])
        return {str(e.entry_dn): str(e["entryCSN"]) for e in conn.entries}


@pytest.mark.slapd
def test_a_read_only_bind_fails_check_config_naming_the_right(
    ldap_directory: SlapdServer, tmp_path: Path
) -> None:
    add_reader(ldap_directory)
    config = deployment(ldap_directory, tmp_path)
    bind_as_reader(config, ldap_directory)
    done = check_config(config)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "rights: reading pwdAccountLockedTime on accounts: MISSING" in done.stdout
    assert "cn=reader" in done.stderr and "cannot read pwdAccountLockedTime" in done.stderr
    assert "cannot write member" in done.stderr  # groups are readable, not writable


@pytest.mark.slapd
def test_the_service_account_passes_and_nothing_is_changed(
    ldap_directory: SlapdServer, tmp_path: Path
) -> None:
    config = deployment(ldap_directory, tmp_path)
    before = stamps(ldap_directory)
    done = check_config(config)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "rights: reading pwdAccountLockedTime on accounts: yes",
        "rights: writing pwdAccountLockedTime on accounts: yes",
        "rights: writing member on members of groups: yes",
    ):
        assert f"ldap: {line}" in done.stdout
    after = stamps(ldap_directory)
    # slapd records each bind on the bind account's own entry (olcLastBind); nothing else.
    del before[ldap_directory.service_dn], after[ldap_directory.service_dn]
    assert after == before


class _SignedIn:
    """What `check_roles` reads of the admin API: the settings and a token's claims."""

    def __init__(self, roles: list[str]) -> None:
        self.settings = KeycloakSettings(
            name="keycloak",
            server_url="https://sso.tinhmau.gov.vn",
            realm="tinh",
            client_id="syncbot",
            client_secret="s",
        )
        self.claims = {"resource_access": {"realm-management": {"roles": roles}}}

    def sign_in(self) -> dict[str, Any]:
        return self.claims


def test_keycloak_rights_name_the_missing_role() -> None:
    managed = frozenset({"realm-role:can-bo", "group:/phong/van-phong"})
    report = check_roles(_SignedIn(["view-users", "query-users"]), managed)
    assert [m.split(" (")[0] for m in report.missing] == [
        "the service account of client syncbot lacks realm-management role manage-users",
        "the service account of client syncbot lacks realm-management role view-realm",
    ]
    enough = check_roles(_SignedIn(["manage-users", "view-realm"]), managed)
    assert enough.missing == []
    assert "rights: view-realm: yes" in enough.lines
