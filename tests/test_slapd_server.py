"""The throwaway slapd behaves like the production directory syncbot expects."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import ldap3
import pytest
from conftest import SEED_USERS, group_dn, user_dn

from localdev import slapd as slapd_module
from localdev.ports import free_port
from localdev.slapd import SlapdServer

pytestmark = pytest.mark.slapd


def connect(server: SlapdServer, dn: str | None, password: str | None) -> ldap3.Connection:
    conn = ldap3.Connection(
        ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
        dn,
        password,
        raise_exceptions=False,
    )
    conn.bind()
    return conn


def as_service(server: SlapdServer) -> ldap3.Connection:
    return connect(server, server.service_dn, server.service_password)


def as_user(server: SlapdServer, uid: str) -> ldap3.Connection:
    password = next(u.password for u in SEED_USERS if u.uid == uid)
    return connect(server, user_dn(server, uid), password)


def entry_count(conn: ldap3.Connection, base: str, search_filter: str = "(objectClass=*)") -> int:
    conn.search(base, search_filter, ldap3.SUBTREE, attributes=["1.1"])
    return len([e for e in conn.response or () if e["type"] == "searchResEntry"])


def people_ldif(server: SlapdServer, count: int, *, prefix: str = "p") -> str:
    return "\n".join(
        f"dn: uid={prefix}{i},{server.people_base}\nobjectClass: inetOrgPerson\n"
        f"uid: {prefix}{i}\ncn: {prefix} {i}\nsn: {prefix}\n"
        for i in range(count)
    )


# -- lifecycle ------------------------------------------------------------------------------


def test_start_answers_and_stop_frees_the_port(tmp_path: Path) -> None:
    with SlapdServer(tmp_path, suffix="dc=tinh,dc=gov,dc=vn") as server:
        assert server.running
        pid = server.pid
        assert pid is not None and Path(f"/proc/{pid}").exists()
        assert server.url == f"ldap://127.0.0.1:{server.port}/"
        assert server.people_base == "ou=people,dc=tinh,dc=gov,dc=vn"
        conn = as_service(server)
        assert conn.bound
        conn.unbind()
    assert not server.running
    assert server.pid is None
    assert not Path(f"/proc/{pid}").exists()  # gone and reaped, not a zombie
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0


def test_restart_keeps_the_data_and_the_port(tmp_path: Path) -> None:
    with SlapdServer(tmp_path) as server:
        server.add_ldif(people_ldif(server, 3))
        port = server.port
        server.stop()
        server.start()
        assert server.port == port
        assert entry_count(as_service(server), server.people_base, "(uid=*)") == 3


def test_ports_are_picked_below_the_ephemeral_range() -> None:
    """A client retrying a stopped server can connect to itself on an ephemeral port."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(port < low for port in ports)
    assert len(ports) > 1  # picked at random, not one fixed port


def test_a_client_retrying_the_stopped_server_does_not_keep_it_from_coming_back(
    tmp_path: Path,
) -> None:
    with SlapdServer(tmp_path) as server:
        port = server.port
        server.stop()
        for _ in range(3_000):  # what an apply does while its directory is down
            with socket.socket() as client, contextlib.suppress(ConnectionRefusedError):
                client.connect(("127.0.0.1", port))
        server.start()
        assert server.port == port
        assert as_service(server).bound


def test_a_restart_waits_for_its_port_and_never_moves(tmp_path: Path) -> None:
    with SlapdServer(tmp_path) as server:
        port = server.port
        server.stop()
        squatter = _squatter()
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        threading.Timer(1.5, squatter.close).start()  # freed while the restart retries
        with pytest.warns(UserWarning, match=f"slapd restart on {server.url}: slapd exited"):
            server.start()
        assert server.port == port
        assert as_service(server).bound

        server.stop()
        with _squatter() as squatter, pytest.warns(UserWarning, match="exited with code"):
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            with pytest.raises(RuntimeError, match="Address already in use"):
                server.start()
        assert server.port == port and not server.running


def _squatter() -> socket.socket:
    """A listener on a port slapd just left: its old connections may still be in TIME_WAIT."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def test_missing_slapd_is_reported_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slapd_module, "find_binary", lambda name: None)
    with pytest.raises(RuntimeError, match="slapd not installed: apt-get install slapd ldap-utils"):
        SlapdServer(tmp_path).start()


def test_failed_start_includes_slapd_own_explanation(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = SlapdServer(tmp_path, port=squatter.getsockname()[1])
        with pytest.raises(RuntimeError, match="slapd -d stats") as raised:
            server.start()
    assert "Address already in use" in str(raised.value)
    assert not server.running


def test_admin_password_is_random_per_instance(tmp_path: Path) -> None:
    first, second = SlapdServer(tmp_path / "a"), SlapdServer(tmp_path / "b")
    assert first.admin_password != second.admin_password
    assert first.service_password != second.service_password
    assert first.admin_password not in repr(first)


# -- content --------------------------------------------------------------------------------


def test_reset_keeps_the_skeleton_and_the_service_account(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    server.reset()
    conn = as_service(server)
    assert conn.bound
    assert entry_count(conn, server.people_base) == 1
    assert entry_count(conn, server.groups_base) == 1
    assert entry_count(conn, f"ou=policies,{server.suffix}", "(objectClass=pwdPolicy)") == 2


def test_reset_after_a_large_load_rebuilds_offline(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    server.bulk_load(people_ldif(server, 2500, prefix="bulk"))
    server.reset()
    assert server.running
    assert entry_count(as_service(server), server.people_base) == 1


def test_add_ldif_fails_loudly(ldap_directory: SlapdServer) -> None:
    bad = f"dn: uid=x,{ldap_directory.people_base}\nobjectClass: inetOrgPerson\nuid: x\n"
    with pytest.raises(RuntimeError, match="ldapadd failed"):
        ldap_directory.add_ldif(bad)  # cn and sn are required


def test_online_adds_fill_member_of_and_bulk_loads_do_not(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    conn = as_service(server)
    dn = user_dn(server, "nguyenvana")
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["memberOf"])
    assert conn.response[0]["attributes"]["memberOf"]

    server.bulk_load(
        people_ldif(server, 1, prefix="offline")
        + f"\ndn: cn=offline,{server.groups_base}\nobjectClass: groupOfNames\ncn: offline\n"
        + f"member: uid=offline0,{server.people_base}\n"
    )
    conn = as_service(server)
    conn.search(f"uid=offline0,{server.people_base}", "(objectClass=*)", attributes=["memberOf"])
    assert not conn.response[0]["attributes"].get("memberOf")


# -- limits, ACLs and password policy -------------------------------------------------------


def test_service_account_has_no_size_limit_but_users_do(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    server.add_ldif(people_ldif(server, 600, prefix="many"))
    service = as_service(server)
    assert entry_count(service, server.people_base, "(uid=many*)") == 600
    user = as_user(server, "nguyenvana")
    user.search(server.people_base, "(uid=many*)", ldap3.SUBTREE, attributes=["1.1"])
    assert user.result["description"] == "sizeLimitExceeded"


def test_users_cannot_read_passwords_or_lock_state_of_others(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    other = user_dn(server, "tranthib")
    service = as_service(server)
    assert service.modify(
        other, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, ["000001010000Z"])]}
    ), service.result
    user = as_user(server, "nguyenvana")
    user.search(other, "(objectClass=*)", ldap3.BASE, attributes=["*", "+"])
    attributes = {name.lower() for name in user.response[0]["attributes"]}
    assert "cn" in attributes
    assert "userpassword" not in attributes
    assert "pwdaccountlockedtime" not in attributes
    anonymous = connect(server, None, None)
    assert entry_count(anonymous, server.people_base) == 0


def test_users_change_their_own_password_only(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    user = as_user(server, "nguyenvana")
    own = {"userPassword": [(ldap3.MODIFY_REPLACE, ["mat-khau-moi"])]}
    assert user.modify(user_dn(server, "nguyenvana"), own), user.result
    assert not user.modify(user_dn(server, "tranthib"), own)
    assert connect(server, user_dn(server, "nguyenvana"), "mat-khau-moi").bound


def test_default_policy_locks_users_after_failed_binds(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    for _ in range(5):
        assert not connect(server, user_dn(server, "levanc"), "wrong").bound
    assert not as_user(server, "levanc").bound  # right password, locked out now


def test_failed_binds_never_lock_the_service_account(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    for _ in range(8):
        assert not connect(server, server.service_dn, "wrong").bound
    assert as_service(server).bound


def test_service_account_manages_groups(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    service = as_service(server)
    member = user_dn(server, "levanc")
    assert service.modify(
        group_dn(server, "van-thu"), {"member": [(ldap3.MODIFY_ADD, [member])]}
    ), service.result


# -- what the duties read -------------------------------------------------------------------


def _operational(server: SlapdServer, dn: str, *names: str) -> dict[str, list[str]]:
    service = as_service(server)
    service.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(names))
    raw = service.response[0]["raw_attributes"]
    return {name: [v.decode() for v in raw.get(name, [])] for name in names}


def test_binds_and_failed_binds_are_recorded(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    dn = user_dn(server, "levanc")
    assert _operational(server, dn, "pwdLastSuccess")["pwdLastSuccess"] == []
    assert as_user(server, "levanc").bound
    assert len(_operational(server, dn, "pwdLastSuccess")["pwdLastSuccess"]) == 1
    assert not connect(server, dn, "wrong").bound
    assert len(_operational(server, dn, "pwdFailureTime")["pwdFailureTime"]) == 1


def test_last_bind_recording_can_be_turned_off(tmp_path: Path) -> None:
    with SlapdServer(tmp_path, record_last_bind=False) as server:
        server.add_ldif(people_ldif(server, 1) + "userPassword: pw-p0\n")
        dn = f"uid=p0,{server.people_base}"
        assert connect(server, dn, "pw-p0").bound
        assert _operational(server, dn, "pwdLastSuccess")["pwdLastSuccess"] == []


def test_reset_restores_the_default_policy(ldap_directory: SlapdServer) -> None:
    server = ldap_directory
    service = as_service(server)
    assert service.modify(
        server.default_policy_dn, {"pwdMinLength": [(ldap3.MODIFY_REPLACE, ["12"])]}
    ), service.result
    server.reset()
    assert _operational(server, server.default_policy_dn, "pwdMinLength") == {"pwdMinLength": ["0"]}
    assert service.delete(server.default_policy_dn), service.result
    server.restore_default_policy()
    assert _operational(server, server.default_policy_dn, "pwdMaxFailure") == {
        "pwdMaxFailure": ["5"]
    }
