"""One plan, both targets: the `syncbot` command against a real slapd and a real Keycloak 26."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import keycloak
import pytest

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.keycloak import DOCUMENT_CLIENT, RealmHandle
from localdev.sample import SAMPLE_PASSWORD, directory_ldif, roster_csv
from localdev.sample_keycloak import federate, grant_drifted_client_roles, keycloak_config
from localdev.slapd import SlapdServer
from syncbot.cli import main

pytestmark = [pytest.mark.slapd, pytest.mark.keycloak]
TODAY = date.today()


def run(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(config, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def write_secret(tmp_path: Path, realm: RealmHandle) -> str:
    secret = tmp_path / "keycloak-secret"
    secret.write_text(realm.client_secret + "\n", encoding="utf-8")
    return secret.name


def client_roles(realm: RealmHandle, username: str) -> set[str]:
    user_id = realm.admin.get_user_id(username)
    roles = realm.admin.get_client_roles_of_user(user_id, realm.client_uuid(DOCUMENT_CLIENT))
    return {r["name"] for r in roles}


def refused(call: object) -> bool:
    try:
        call()  # type: ignore[operator]
    except keycloak.exceptions.KeycloakError:
        return True
    return False


@pytest.fixture
def federated(
    slapd_server: SlapdServer, keycloak_realm: RealmHandle, tmp_path: Path
) -> tuple[Path, RealmHandle]:
    """The sample department: slapd, a realm federated from it, drifted client roles."""
    if not slapd_server.running:
        slapd_server.start()
    slapd_server.reset()
    slapd_server.add_ldif(directory_ldif(TODAY, slapd_server.people_base, slapd_server.groups_base))
    federate(keycloak_realm, slapd_server)
    grant_drifted_client_roles(keycloak_realm, TODAY)
    (tmp_path / "nhan-su.csv").write_text(roster_csv(TODAY), encoding="utf-8")
    extra = keycloak_config(keycloak_realm, write_secret(tmp_path, keycloak_realm))
    return write_config(tmp_path, slapd_server, REPO_MAPPINGS, extra), keycloak_realm


def test_federated_departure_locks_ldap_and_signs_out_keycloak_once(
    federated: tuple[Path, RealmHandle], capsys: pytest.CaptureFixture[str]
) -> None:
    config, realm = federated
    session = realm.login("hattt", SAMPLE_PASSWORD, offline=True)
    plan = plan_json(config, capsys)
    hattt = [(a["target"], a["action"]) for a in plan["actions"] if a["username"] == "hattt"]
    assert hattt == [
        ("keycloak", "disable"),
        ("ldap", "disable"),
        ("keycloak", "sign_out"),
        ("keycloak", "revoke"),
        ("ldap", "revoke"),
        ("ldap", "revoke"),
    ]  # fmt: skip  -- locks everywhere first, then sessions, then roles
    kc = [a for a in plan["actions"] if a["target"] == "keycloak"]
    assert all("liên kết LDAP" in a["reason"]["vi"] for a in kc)  # which side acts
    assert {
        a["add"][0] if a["add"] else a["remove"][0]
        for a in kc
        if a["action"] != "disable" and a["action"] != "sign_out"
    } <= {
        f"client-role:qoffice:{r}" for r in ("van-thu", "chuyen-vien", "lanh-dao", "quan-tri")
    }  # fmt: skip  -- for federated users Keycloak changes client roles only

    assert run(config, "apply", "--yes") == 0
    assert refused(lambda: realm.refresh(session["refresh_token"]))
    assert refused(lambda: realm.login("hattt", SAMPLE_PASSWORD))
    assert client_roles(realm, "hattt") == set()
    # Role drift in Keycloak: a "Lãnh đạo" client role on a Chuyên viên is revoked...
    assert client_roles(realm, "sonbq") == {"chuyen-vien"}
    # ...and missing roles are granted (a promotion, a new clerk).
    assert client_roles(realm, "phonght") == {"lanh-dao"}
    assert client_roles(realm, "yennk") == {"van-thu"}

    records = [
        json.loads(x) for x in (config.parent / "audit/audit.jsonl").read_text().splitlines()
    ]
    changes = [r for r in records if r["event"] == "change"]
    assert len(changes) == len(plan["actions"])  # one record per step
    steps = Counter((r["target"], r["action"]) for r in changes if r["employee_id"] == "CB2001")
    assert steps == {
        ("keycloak", "disable"): 1, ("keycloak", "sign_out"): 1, ("keycloak", "revoke"): 1,
        ("ldap", "disable"): 1, ("ldap", "revoke"): 2,
    }  # fmt: skip
    assert plan_json(config, capsys)["actions"] == []
    assert run(config, "audit", "verify") == 0


def test_keycloak_only_realm_roles_and_client_roles_are_revoked(
    keycloak_realm: RealmHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A realm with its own users (no federation): realm and client roles both managed."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name in ("positions", "statuses", "units"):
        (mappings / f"{name}.toml").write_text((REPO_MAPPINGS / f"{name}.toml").read_text("utf-8"))
    roles = "\n".join(
        f'[roles."{title}"]\nkeycloak = ["client:qoffice:{ref}", "realm:{ref}"]\n'
        for title, ref in (("Văn thư", "van-thu"), ("Chuyên viên", "chuyen-vien"),
                           ("Lãnh đạo", "lanh-dao"), ("Quản trị", "quan-tri"))
    )  # fmt: skip
    (mappings / "roles.toml").write_text(roles, encoding="utf-8")
    (mappings / "units.toml").write_text('[units."Văn phòng"]\n', encoding="utf-8")
    keycloak_realm.add_user(
        "lanvt", email="lanvt@tinhmau.gov.vn", employee_number="NV001", password="Mat-khau-1",
        first_name="Lan", last_name="Vũ Thị",
        realm_roles=["chuyen-vien"], client_roles=["chuyen-vien", "lanh-dao"],
    )  # fmt: skip
    keycloak_realm.add_user(
        "minhpq", email="minhpq@tinhmau.gov.vn", employee_number="NV002", password="Mat-khau-2",
        first_name="Minh", last_name="Phạm Quang",
        client_roles=["chuyen-vien"],
    )  # fmt: skip
    (tmp_path / "nhan-su.csv").write_text(
        "Mã cán bộ,Họ và tên,Email,Đơn vị,Chức vụ,Trạng thái,Ngày hiệu lực\n"
        f"NV001,Vũ Thị Lan,lanvt@tinhmau.gov.vn,Văn phòng,Chuyên viên,Nghỉ việc,{TODAY:%d/%m/%Y}\n"
        "NV002,Phạm Quang Minh,minhpq@tinhmau.gov.vn,Văn phòng,Chuyên viên,Đang công tác,\n",
        encoding="utf-8",
    )
    config = tmp_path / "syncbot.toml"
    config.write_text(
        '[roster]\npath = "nhan-su.csv"\n[mappings]\ndir = "mappings"\n'
        '[state]\ndir = "state"\n[audit]\npath = "audit.jsonl"\n'
        + keycloak_config(keycloak_realm, write_secret(tmp_path, keycloak_realm)),
        encoding="utf-8",
    )
    session = keycloak_realm.login("lanvt", "Mat-khau-1")
    plan = plan_json(config, capsys)
    assert sorted((a["username"], a["action"], (a["add"] + a["remove"] + [""])[0])
                  for a in plan["actions"]) == [
        ("lanvt", "disable", ""),
        ("lanvt", "revoke", "client-role:qoffice:chuyen-vien"),
        ("lanvt", "revoke", "client-role:qoffice:lanh-dao"),
        ("lanvt", "revoke", "realm-role:chuyen-vien"),
        ("lanvt", "sign_out", ""),
        ("minhpq", "grant", "realm-role:chuyen-vien"),
    ]  # fmt: skip
    assert run(config, "apply", "--yes", "--force") == 0  # 1 of 2 people: over any share
    assert refused(lambda: keycloak_realm.refresh(session["refresh_token"]))
    assert refused(lambda: keycloak_realm.login("lanvt", "Mat-khau-1"))
    user_id = keycloak_realm.admin.get_user_id("lanvt")
    realm_roles = {r["name"] for r in keycloak_realm.admin.get_realm_roles_of_user(user_id)}
    assert not realm_roles & {"van-thu", "chuyen-vien", "lanh-dao", "quan-tri"}
    assert client_roles(keycloak_realm, "lanvt") == set()
    records = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sum(r["event"] == "change" for r in records) == len(plan["actions"])
    assert plan_json(config, capsys)["actions"] == []


def test_worker_signs_a_departure_out_of_keycloak_within_seconds(
    federated: tuple[Path, RealmHandle], slapd_server: SlapdServer, tmp_path: Path
) -> None:
    """`syncbot run` as a real process, both targets: HR drops an export, sessions end."""
    import time

    from worker_process import WorkerProcess, can_bind, departed, wait_for

    config, realm = federated
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\n[worker]\ninterval_minutes = 0\ndebounce_seconds = 0.5\n")
    worker = WorkerProcess(config)
    try:
        worker.wait_runs(1, timeout=120)  # the start-up run applies the sample plan
        session = realm.login("sonbq", SAMPLE_PASSWORD, offline=True)
        roster = config.parent / "nhan-su.csv"
        text = departed(roster_csv(TODAY), "CB2006", TODAY - timedelta(days=1))
        staging = roster.with_name(".nhan-su.csv.tmp")
        staging.write_text(text, encoding="utf-8")
        landed = time.monotonic()
        staging.replace(roster)

        def signed_out() -> bool:
            return refused(lambda: realm.refresh(session["refresh_token"]))

        wait_for("Keycloak to refuse the session", signed_out, timeout=30)
        latency = time.monotonic() - landed
        assert not can_bind(slapd_server, "sonbq")
        wait_for("the roles to go", lambda: client_roles(realm, "sonbq") == set(), timeout=10)
        print(f"HR file → Keycloak session refused: {latency:.2f} s")
        assert latency < 10
    finally:
        assert worker.stop() == 0
    records = [
        json.loads(x) for x in (config.parent / "audit/audit.jsonl").read_text().splitlines()
    ]
    sonbq = Counter((r["target"], r["action"]) for r in records if r.get("employee_id") == "CB2006")
    assert sonbq[("keycloak", "sign_out")] == 1 and sonbq[("ldap", "disable")] == 1
