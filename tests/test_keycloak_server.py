"""The throwaway Keycloak and its realms behave as the Keycloak adapter's tests rely on."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import SEED_USERS
from keycloak import KeycloakOpenID, KeycloakPostError

from localdev.keycloak import (
    BUILT_MARKER,
    DOCUMENT_CLIENT,
    EMPLOYEE_NUMBER,
    KEYCLOAK_VERSION,
    LOGIN_CLIENT,
    ROLE_NAMES,
    SERVICE_ACCOUNT_ROLES,
    UNIT_GROUP,
    KeycloakServer,
    RealmHandle,
    find_java_home,
    install_problem,
    java_major,
)
from localdev.slapd import SlapdServer
from syncbot.errors import LocalResourceError


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        assert response.status == 200
        return dict(json.load(response))


def names(items: list[dict[str, object]]) -> set[str]:
    return {str(item["name"]) for item in items}


def alive(pid: int | str) -> bool:
    """True while the process exists and is not a zombie waiting for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def add_civil_servant(realm: RealmHandle) -> str:
    return realm.add_user(
        "nguyenvana",
        email="nguyenvana@example.gov.vn",
        employee_number="NV001",
        password="mat-khau-1",
        first_name="Văn A",
        last_name="Nguyễn",
        realm_roles=["van-thu"],
        client_roles=["lanh-dao"],
        groups=["van-thu", UNIT_GROUP],
    )


def fake_java_home(folder: Path, version_line: str) -> Path:
    """A JDK stand-in whose `java -version` prints `version_line`, as real ones do, on stderr."""
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n", encoding="utf-8")
    java.chmod(0o755)
    return folder


def fake_distribution(folder: Path, script: str) -> Path:
    """A distribution whose `kc.sh` runs `script`, marked as built like a real install."""
    kc_sh = folder / "bin" / "kc.sh"
    kc_sh.parent.mkdir(parents=True)
    kc_sh.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    kc_sh.chmod(0o755)
    built = folder / "lib" / "quarkus" / "quarkus-application.dat"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"built")
    digest = hashlib.sha256(b"built").hexdigest()
    (folder / BUILT_MARKER).write_text(
        f"options: --fake\n{digest}  lib/quarkus/quarkus-application.dat\n", encoding="utf-8"
    )
    return folder


@pytest.fixture
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `KeycloakServer` start its own process even when SYNCBOT_KEYCLOAK_URL is set."""
    monkeypatch.delenv("SYNCBOT_KEYCLOAK_URL", raising=False)


# -- the server -----------------------------------------------------------------------------


def test_server_answers_with_the_pinned_version(keycloak_server: KeycloakServer) -> None:
    assert get_json(f"{keycloak_server.url}/realms/master")["realm"] == "master"
    info = keycloak_server.admin().get_server_info()
    if not keycloak_server.attached:
        assert info["systemInfo"]["version"] == KEYCLOAK_VERSION
        assert keycloak_server.home.name == f"keycloak-{KEYCLOAK_VERSION}"
        assert get_json(f"{keycloak_server.management_url}/health/ready")["status"] == "UP"
    assert keycloak_server.admin_password not in repr(keycloak_server)


def test_server_keeps_its_database_in_its_workdir(keycloak_server: KeycloakServer) -> None:
    if keycloak_server.attached:
        assert keycloak_server.pid is None  # someone else's server: nothing of ours runs
        return
    assert list((keycloak_server.workdir / "data" / "h2").glob("keycloakdb*"))
    assert not (keycloak_server.home / "data" / "h2").exists()
    log = keycloak_server.log_file.read_text(encoding="utf-8")
    assert "Listening on: " + keycloak_server.url in log
    assert keycloak_server.admin_password not in log


def test_two_servers_run_side_by_side_and_stop_cleanly(
    keycloak_server: KeycloakServer, tmp_path: Path, local_only: None
) -> None:
    with KeycloakServer(tmp_path) as second:
        assert second.admin_password != keycloak_server.admin_password
        pid, port = second.pid, second.port
        assert pid is not None
        second.admin().create_realm({"realm": "chi-o-may-hai", "enabled": True})
        realms = {realm["realm"] for realm in keycloak_server.admin().get_realms()}
        assert "chi-o-may-hai" not in realms  # separate databases
    assert not second.running
    assert not alive(pid)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_missing_distribution_names_the_install_script(tmp_path: Path, local_only: None) -> None:
    with pytest.raises(RuntimeError, match=r"bash \.ci/install-keycloak"):
        KeycloakServer(tmp_path, home=tmp_path / "nothing-here").start()


def test_an_unbuilt_distribution_is_refused_before_java_starts(
    tmp_path: Path, local_only: None
) -> None:
    home = fake_distribution(tmp_path / "dist", f"touch {tmp_path / 'ran'}\n")
    (home / BUILT_MARKER).unlink()
    with pytest.raises(LocalResourceError, match=r"not built.*bash \.ci/install-keycloak"):
        KeycloakServer(tmp_path / "work", home=home).start(timeout=5)
    assert not (tmp_path / "ran").exists()


def test_a_distribution_broken_after_its_build_is_refused(tmp_path: Path, local_only: None) -> None:
    """What a killed start-dev used to leave: the build's files missing or half written."""
    home = fake_distribution(tmp_path / "dist", f"touch {tmp_path / 'ran'}\n")
    built = home / "lib" / "quarkus" / "quarkus-application.dat"
    built.write_bytes(b"half")
    with pytest.raises(LocalResourceError, match=r"quarkus-application\.dat differs"):
        KeycloakServer(tmp_path / "work", home=home).start(timeout=5)
    built.unlink()
    assert install_problem(home) == "lib/quarkus/quarkus-application.dat is missing"
    assert not (tmp_path / "ran").exists()


def test_the_installed_distribution_is_whole_and_no_start_changes_it(
    keycloak_server: KeycloakServer,
) -> None:
    if keycloak_server.attached:
        return
    assert install_problem(keycloak_server.home) is None
    marker = keycloak_server.home / BUILT_MARKER
    changed = [
        path
        for path in keycloak_server.home.rglob("*")
        if path.is_file() and path.stat().st_mtime > marker.stat().st_mtime
    ]
    assert changed == []


def test_a_relative_workdir_is_made_absolute(tmp_path: Path, local_only: None) -> None:
    assert KeycloakServer(Path("rel/kc")).workdir == Path.cwd() / "rel" / "kc"


def test_failed_start_reports_the_last_log_lines(tmp_path: Path, local_only: None) -> None:
    home = fake_distribution(
        tmp_path / "dist", 'for i in $(seq 1 100); do echo "log line $i"; done\nexit 3\n'
    )
    server = KeycloakServer(tmp_path / "work", home=home)
    with pytest.raises(RuntimeError, match="did not become ready") as raised:
        server.start(timeout=30)
    message = str(raised.value)
    assert "log line 100" in message and "log line 41" in message
    assert "log line 40\n" not in message  # only the last 60 lines
    assert server.admin_password not in message
    assert not server.running


def test_start_timeout_kills_the_whole_process_group(tmp_path: Path, local_only: None) -> None:
    marker = tmp_path / "child.pid"
    home = fake_distribution(tmp_path / "dist", f"sleep 600 &\necho $! > {marker}\nwait\n")
    server = KeycloakServer(tmp_path / "work", home=home)
    with pytest.raises(RuntimeError, match="within 2 s"):
        server.start(timeout=2)
    child = marker.read_text(encoding="ascii").strip()
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGTERM is delivered asynchronously
    assert not alive(child)


def test_attaching_needs_the_admin_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCBOT_KEYCLOAK_URL", "http://127.0.0.1:9/")
    monkeypatch.delenv("SYNCBOT_KEYCLOAK_ADMIN", raising=False)
    monkeypatch.delenv("SYNCBOT_KEYCLOAK_ADMIN_PASSWORD", raising=False)
    server = KeycloakServer(tmp_path)
    assert server.attached and server.url == "http://127.0.0.1:9"
    with pytest.raises(RuntimeError, match="SYNCBOT_KEYCLOAK_ADMIN_PASSWORD"):
        server.start(timeout=1)


def test_java_version_detection(tmp_path: Path) -> None:
    assert java_major(fake_java_home(tmp_path / "j8", 'openjdk version "1.8.0_412"')) == 8
    assert java_major(fake_java_home(tmp_path / "j17", 'openjdk version "17.0.15" 2025')) == 17
    assert java_major(fake_java_home(tmp_path / "j25", 'openjdk version "25" 2025-09-16')) == 25
    assert java_major(tmp_path / "absent") == 0


def test_an_explicit_java_too_old_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_java_home(tmp_path / "j17", 'openjdk version "17.0.15"')
    monkeypatch.setenv("KEYCLOAK_JAVA_HOME", str(old))
    with pytest.raises(RuntimeError, match="not a Java 21\\+ JDK"):
        find_java_home()
    new = fake_java_home(tmp_path / "j21", 'openjdk version "21.0.4"')
    monkeypatch.setenv("KEYCLOAK_JAVA_HOME", str(new))
    assert find_java_home() == new


# -- the realm ------------------------------------------------------------------------------


def test_realm_declares_employee_number(keycloak_realm: RealmHandle) -> None:
    profile = keycloak_realm.admin.get_realm_users_profile()
    declared = {attribute["name"]: attribute for attribute in profile["attributes"]}
    assert "admin" in declared[EMPLOYEE_NUMBER]["permissions"]["edit"]
    assert "admin" in declared[EMPLOYEE_NUMBER]["permissions"]["view"]


def test_users_keep_employee_number_roles_groups_and_vietnamese_names(
    keycloak_realm: RealmHandle,
) -> None:
    realm = keycloak_realm
    user_id = add_civil_servant(realm)
    user = realm.admin.get_user(user_id)
    assert user["attributes"][EMPLOYEE_NUMBER] == ["NV001"]
    assert (user["firstName"], user["lastName"]) == ("Văn A", "Nguyễn")
    assert names(realm.admin.get_realm_roles_of_user(user_id)) >= {"van-thu"}
    qoffice = realm.client_uuid(DOCUMENT_CLIENT)
    assert names(realm.admin.get_client_roles_of_user(user_id, qoffice)) == {"lanh-dao"}
    assert names(realm.admin.get_user_groups(user_id)) == {"van-thu", UNIT_GROUP}
    assert names(realm.admin.get_client_roles(qoffice)) == set(ROLE_NAMES)


def test_undeclared_attributes_are_dropped(keycloak_realm: RealmHandle) -> None:
    """Why the realm declares employeeNumber: Keycloak ignores what the profile lacks."""
    user_id = keycloak_realm.admin.create_user(
        {"username": "khongkhai", "attributes": {"maNhanSu": ["NV404"], EMPLOYEE_NUMBER: ["X"]}}
    )
    attributes = keycloak_realm.admin.get_user(user_id)["attributes"]
    assert attributes == {EMPLOYEE_NUMBER: ["X"]}


def test_login_and_refresh_stop_working_once_disabled_and_logged_out(
    keycloak_realm: RealmHandle,
) -> None:
    realm = keycloak_realm
    user_id = add_civil_servant(realm)
    tokens = realm.login("nguyenvana", "mat-khau-1")
    assert tokens["access_token"] and tokens["refresh_token"]
    refreshed = realm.refresh(tokens["refresh_token"])
    assert refreshed["access_token"] != tokens["access_token"]

    realm.admin.disable_user(user_id)
    realm.admin.user_logout(user_id)
    with pytest.raises(KeycloakPostError) as refused:
        realm.refresh(refreshed["refresh_token"])
    assert refused.value.response_code == 400
    assert b"invalid_grant" in (refused.value.response_body or b"")
    with pytest.raises(KeycloakPostError):
        realm.login("nguyenvana", "mat-khau-1")


def test_offline_tokens_end_with_the_revoked_consent(keycloak_realm: RealmHandle) -> None:
    realm = keycloak_realm
    user_id = add_civil_servant(realm)
    offline = realm.login("nguyenvana", "mat-khau-1", offline=True)
    assert "offline_access" in offline["scope"].split()
    assert offline["refresh_expires_in"] == 0  # offline tokens do not expire with the session
    realm.admin.user_logout(user_id)
    realm.refresh(offline["refresh_token"])  # a logout leaves offline sessions alive
    realm.admin.revoke_consent(user_id, LOGIN_CLIENT)
    with pytest.raises(KeycloakPostError):
        realm.refresh(offline["refresh_token"])


# -- the syncbot service account ------------------------------------------------------------


def test_syncbot_client_gets_a_token_with_client_credentials(keycloak_realm: RealmHandle) -> None:
    client = KeycloakOpenID(
        server_url=keycloak_realm.server_url,
        realm_name=keycloak_realm.name,
        client_id=keycloak_realm.client_id,
        client_secret_key=keycloak_realm.client_secret,
    )
    assert client.token(grant_type="client_credentials")["access_token"]
    assert keycloak_realm.client_secret not in repr(keycloak_realm)


def test_syncbot_account_does_all_the_adapter_needs(keycloak_realm: RealmHandle) -> None:
    realm = keycloak_realm
    user_id = add_civil_servant(realm)
    realm.login("nguyenvana", "mat-khau-1", offline=True)
    bot = realm.syncbot_admin()
    qoffice = bot.get_client_id(DOCUMENT_CLIENT)
    assert qoffice == realm.client_uuid(DOCUMENT_CLIENT)

    [listed] = bot.get_users({"q": f"{EMPLOYEE_NUMBER}:NV001", "briefRepresentation": False})
    assert listed["id"] == user_id and listed["attributes"][EMPLOYEE_NUMBER] == ["NV001"]
    assert "van-thu" in names(bot.get_realm_roles_of_user(user_id))
    assert names(bot.get_client_roles_of_user(user_id, qoffice)) == {"lanh-dao"}
    assert names(bot.get_user_groups(user_id)) == {"van-thu", UNIT_GROUP}

    bot.assign_realm_roles(user_id, [bot.get_realm_role("chuyen-vien")])
    bot.delete_realm_roles_of_user(user_id, [bot.get_realm_role("van-thu")])
    bot.assign_client_role(user_id, qoffice, [bot.get_client_role(qoffice, "quan-tri")])
    bot.delete_client_roles_of_user(user_id, qoffice, [bot.get_client_role(qoffice, "lanh-dao")])
    bot.group_user_add(user_id, realm.group_id("lanh-dao"))
    bot.group_user_remove(user_id, realm.group_id("van-thu"))
    bot.revoke_consent(user_id, LOGIN_CLIENT)
    bot.user_logout(user_id)
    bot.disable_user(user_id)

    admin = realm.admin
    realm_roles = names(admin.get_realm_roles_of_user(user_id))
    assert "chuyen-vien" in realm_roles and "van-thu" not in realm_roles
    assert names(admin.get_client_roles_of_user(user_id, qoffice)) == {"quan-tri"}
    assert names(admin.get_user_groups(user_id)) == {"lanh-dao", UNIT_GROUP}
    assert admin.user_consents(user_id) == []
    assert admin.get_user(user_id)["enabled"] is False


def test_syncbot_account_cannot_go_beyond_its_roles(keycloak_realm: RealmHandle) -> None:
    realm = keycloak_realm
    bot = realm.syncbot_admin()
    with pytest.raises(KeycloakPostError) as refused:
        bot.create_realm({"realm": "khong-duoc-phep", "enabled": True})
    assert refused.value.response_code == 403
    with pytest.raises(KeycloakPostError) as refused:
        bot.create_client({"clientId": "khong-duoc-phep"})
    assert refused.value.response_code == 403
    management = realm.client_uuid("realm-management")
    own_account = realm.admin.get_client_service_account_user(realm.client_uuid("syncbot"))
    granted = realm.admin.get_client_roles_of_user(own_account["id"], management)
    assert names(granted) == set(SERVICE_ACCOUNT_ROLES)
    realm_admin = realm.admin.get_client_role(management, "realm-admin")
    with pytest.raises(KeycloakPostError) as refused:  # no raising its own rights
        bot.assign_client_role(own_account["id"], management, [realm_admin])
    assert refused.value.response_code == 403


# -- many users and LDAP --------------------------------------------------------------------


def test_bulk_add_of_2000_users(
    keycloak_realm: RealmHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    realm = keycloak_realm
    started = time.monotonic()
    ids = realm.bulk_add_users(2000, "nv", password="mat-khau-chung")
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\nbulk_add_users: 2,000 users in {elapsed:.1f} s")
    assert len(ids) == 2000
    assert realm.admin.users_count({"username": "nv", "exact": False}) == 2000
    sample = realm.admin.get_user(ids["nv01999"])
    assert sample["attributes"][EMPLOYEE_NUMBER] == ["NV01999"]
    assert realm.login("nv01234", "mat-khau-chung")["access_token"]
    assert elapsed < 120  # one request per user would take minutes here


def test_ldap_federation_imports_users_with_employee_number(
    keycloak_realm: RealmHandle, ldap_directory: SlapdServer
) -> None:
    realm = keycloak_realm
    component_id = realm.add_ldap_federation(
        ldap_directory.url,
        ldap_directory.service_dn,
        ldap_directory.service_password,
        ldap_directory.people_base,
    )
    result = realm.sync_ldap_users()
    assert result["added"] == len(SEED_USERS)
    [user] = realm.admin.get_users({"username": "nguyenvana", "exact": True})
    assert user["federationLink"] == component_id
    assert user["attributes"][EMPLOYEE_NUMBER] == ["NV001"]
    assert user["firstName"] == "Nguyễn Văn A"
    assert realm.login("nguyenvana", "pw-nguyenvana")["access_token"]  # bind through to slapd
    stored = realm.admin.get_component(component_id)["config"]["bindCredential"]
    assert ldap_directory.service_password not in stored
