"""`syncbot quarantine` end to end: a real slapd and a Keycloak 26 realm federated from it."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import keycloak
import ldap3
import pytest

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.keycloak import RealmHandle
from localdev.sample import SAMPLE_PASSWORD, directory_ldif, roster_csv
from localdev.sample_keycloak import federate, keycloak_config
from localdev.slapd import SlapdServer
from syncbot.cli import main
from syncbot.cli.parser import add_quarantine_parser
from syncbot.cli.quarantine import run
from syncbot.config import load_config
from syncbot.errors import SyncbotError

pytestmark = [pytest.mark.slapd]
TODAY = date.today()
USERNAME, EMAIL, UNKNOWN = "tuanlt", "GiangNH@tinhmau.gov.vn", "khongtontai@tinhmau.gov.vn"
LISTED = ("tuanlt", "giangnh")


def quarantine(config: Path, *argv: str) -> int:
    """`syncbot --config CONFIG quarantine ARGV`, with the CLI's handling of syncbot errors."""
    parser = argparse.ArgumentParser(prog="syncbot")
    add_quarantine_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["quarantine", *argv])
    try:
        return run(args, load_config(config))
    except SyncbotError as error:
        print(f"syncbot: {error}", file=sys.stderr)
        return error.exit_code


def write_list(folder: Path, *names: str) -> Path:
    path = folder / "lo-lot.txt"
    body = "# Danh sách do Công an tỉnh cung cấp\n\n" + "\n".join(names) + "\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    return path


def admin_connection(server: SlapdServer) -> ldap3.Connection:
    return ldap3.Connection(
        ldap3.Server(server.url.rstrip("/")), server.admin_dn, server.admin_password, auto_bind=True
    )


def pwd_reset(server: SlapdServer, uid: str) -> list[str]:
    conn = admin_connection(server)
    try:
        dn = f"uid={uid},{server.people_base}"
        conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["pwdReset"])
        return [v.decode() for v in conn.response[0]["raw_attributes"].get("pwdReset", [])]
    finally:
        conn.unbind()


def audit_changes(config: Path) -> list[dict[str, Any]]:
    lines = (config.parent / "audit/audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "change"]


def login_error(realm: RealmHandle, username: str) -> str:
    try:
        realm.login(username, SAMPLE_PASSWORD)
    except keycloak.exceptions.KeycloakError as error:
        return str(error)
    return ""


def refused(realm: RealmHandle, refresh_token: str) -> bool:
    try:
        realm.refresh(refresh_token)
    except keycloak.exceptions.KeycloakError:
        return True
    return False


@pytest.fixture
def sample_directory(slapd_server: SlapdServer) -> Iterator[SlapdServer]:
    """The sample department, with ppolicy honouring pwdReset (pwdMustChange) meanwhile."""
    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    conn = admin_connection(slapd_server)
    policy = slapd_server.default_policy_dn
    try:
        assert conn.modify(policy, {"pwdMustChange": [(ldap3.MODIFY_REPLACE, ["TRUE"])]})
        yield slapd_server
    finally:
        conn.modify(policy, {"pwdMustChange": [(ldap3.MODIFY_REPLACE, ["FALSE"])]})
        conn.unbind()


@pytest.fixture
def federated(
    sample_directory: SlapdServer, keycloak_realm: RealmHandle, tmp_path: Path
) -> tuple[Path, RealmHandle]:
    federate(keycloak_realm, sample_directory)
    (tmp_path / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    secret = tmp_path / "keycloak-secret"
    secret.write_text(keycloak_realm.client_secret + "\n", encoding="utf-8")
    extra = keycloak_config(keycloak_realm, secret.name)
    return write_config(tmp_path, sample_directory, REPO_MAPPINGS, extra), keycloak_realm


@pytest.mark.keycloak
def test_leaked_accounts_are_signed_out_and_must_change_their_password_everywhere(
    federated: tuple[Path, RealmHandle],
    sample_directory: SlapdServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, realm = federated
    leak_list = write_list(config.parent, USERNAME, EMAIL, UNKNOWN)
    sessions = {uid: realm.login(uid, SAMPLE_PASSWORD, offline=True) for uid in LISTED}
    bystander = realm.login("lantt", SAMPLE_PASSWORD, offline=True)

    capsys.readouterr()
    assert quarantine(config, "--list", str(leak_list), "--yes") == 0
    out = capsys.readouterr().out
    assert f"Không tìm thấy / not found: {UNKNOWN} (dòng 5)" in out
    assert "Tài khoản nằm trong danh sách lộ lọt" in out

    for uid in LISTED:
        assert refused(realm, sessions[uid]["refresh_token"]), uid  # offline token too
        assert "account is not fully set up" in login_error(realm, uid).casefold()
        assert pwd_reset(sample_directory, uid) == ["TRUE"]
    assert not refused(realm, bystander["refresh_token"])
    assert login_error(realm, "lantt") == ""
    assert pwd_reset(sample_directory, "lantt") == []

    changes = audit_changes(config)
    steps = Counter((r["username"], r["target"], r["action"]) for r in changes)
    assert steps == {
        (uid, target, action): 1
        for uid in LISTED
        for target, action in (
            ("keycloak", "sign_out"),
            ("keycloak", "require_password_change"),
            ("ldap", "require_password_change"),
        )
    }
    assert all(r["result"] == "ok" for r in changes)
    assert {r["evidence"]["roster_file"] for r in changes} == {str(leak_list)}
    assert {r["evidence"]["row"] for r in changes if r["username"] == "giangnh"} == {4}
    assert main(["--config", str(config), "audit", "verify"]) == 0

    # Idempotence: a password change already required is not in a snapshot, so it is
    # planned again and the targets leave it as it is; sign-out is repeated, ending any
    # session opened since. Nothing is locked unless asked.
    capsys.readouterr()
    assert quarantine(config, "--list", str(leak_list), "--dry-run", "--json") == 0
    again = json.loads(capsys.readouterr().out)
    assert Counter(a["action"] for a in again["actions"]) == {
        "sign_out": 2,
        "require_password_change": 4,
    }
    assert [f["finding"] for f in again["findings"]] == ["leaked_not_found"]
    assert quarantine(config, "--list", str(leak_list), "--yes") == 0
    for uid in LISTED:
        user_id = realm.admin.get_user_id(uid)
        assert user_id is not None
        user = realm.admin.get_user(user_id)
        assert user["requiredActions"].count("UPDATE_PASSWORD") == 1
        assert pwd_reset(sample_directory, uid) == ["TRUE"]

    # Locking: every target, and a lock already in place is not planned again.
    assert quarantine(config, "--list", str(leak_list), "--disable", "--yes") == 0
    capsys.readouterr()
    assert quarantine(config, "--list", str(leak_list), "--disable", "--dry-run", "--json") == 0
    locked = json.loads(capsys.readouterr().out)
    assert "disable" not in {a["action"] for a in locked["actions"]}
    assert main(["--config", str(config), "audit", "verify"]) == 0


def test_a_quarantine_past_the_threshold_is_refused_without_force(
    sample_directory: SlapdServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    config = write_config(tmp_path, sample_directory, REPO_MAPPINGS)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("max_disable_share = 0.10", "max_disable_share = 0.01"))
    leak_list = write_list(tmp_path, "tuanlt", "giangnh@tinhmau.gov.vn", "lantt")

    assert quarantine(config, "--list", str(leak_list), "--disable", "--yes") == 4
    assert "safety.max_disable_share" in capsys.readouterr().err
    assert audit_changes(config) == []  # only the refusal is audited, nothing changed
    assert all(pwd_reset(sample_directory, uid) == [] for uid in ("tuanlt", "giangnh", "lantt"))

    assert quarantine(config, "--list", str(leak_list), "--disable", "--yes", "--force") == 0
    assert {r["username"] for r in audit_changes(config)} == {"tuanlt", "giangnh", "lantt"}
    assert all(pwd_reset(sample_directory, uid) == ["TRUE"] for uid in ("tuanlt", "lantt"))
    assert main(["--config", str(config), "audit", "verify"]) == 0

    # A quarantine lock is not syncbot's departure lock: the roster never lifts it.
    capsys.readouterr()
    assert main(["--config", str(config), "plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert not [a for a in plan["actions"] if a["username"] in ("tuanlt", "giangnh", "lantt")]
    held = {f["account"] for f in plan["findings"] if f["finding"] == "locked_by_others"}
    assert f"uid=tuanlt,{sample_directory.people_base}" in held
