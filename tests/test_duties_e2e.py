"""The password duties end to end: `syncbot plan` and `apply` against a real Keycloak 26.

A realm with its own users (no federation), created with a password by the administrator
and never changed since: the circulars' "default password" case.
"""

from __future__ import annotations

import json
from pathlib import Path

import keycloak
import pytest

from localdev.demo import REPO_MAPPINGS
from localdev.keycloak import RealmHandle
from localdev.sample_keycloak import keycloak_config
from syncbot.cli import main

pytestmark = [pytest.mark.keycloak]

ISSUED = "Mat-khau-duoc-cap-1"
PEOPLE = (("lanvt", "NV001", "Lan", "Vũ Thị"), ("minhpq", "NV002", "Minh", "Phạm Quang"))
DUTIES = """
[password_policy]
min_length = 12
require = ["upper", "lower", "digit", "special"]
not_username = true
history = 5
never_changed = "require_change"

[failed_sign_ins]
threshold = 3
days = 1
"""


def run(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(config, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def sign_in_error(realm: RealmHandle, username: str, password: str) -> str:
    try:
        realm.login(username, password)
    except keycloak.exceptions.KeycloakError as error:
        return str(error)
    return ""


@pytest.fixture
def config(keycloak_realm: RealmHandle, tmp_path: Path) -> Path:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name in ("positions", "statuses", "roles"):
        (mappings / f"{name}.toml").write_text((REPO_MAPPINGS / f"{name}.toml").read_text("utf-8"))
    (mappings / "units.toml").write_text('[units."Văn phòng"]\n', encoding="utf-8")
    rows = ["Mã cán bộ,Họ và tên,Email,Đơn vị,Chức vụ,Trạng thái,Ngày hiệu lực"]
    for username, number, first, last in PEOPLE:
        keycloak_realm.add_user(
            username, email=f"{username}@tinhmau.gov.vn", employee_number=number,
            password=ISSUED, first_name=first, last_name=last, client_roles=["chuyen-vien"],
        )  # fmt: skip
        rows.append(
            f"{number},{last} {first},{username}@tinhmau.gov.vn,Văn phòng,Chuyên viên,"
            "Đang công tác,"
        )
    (tmp_path / "nhan-su.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    secret = tmp_path / "keycloak-secret"
    secret.write_text(keycloak_realm.client_secret + "\n", encoding="utf-8")
    path = tmp_path / "syncbot.toml"
    path.write_text(
        '[roster]\npath = "nhan-su.csv"\n[mappings]\ndir = "mappings"\n'
        '[state]\ndir = "state"\n[audit]\npath = "audit.jsonl"\n'
        + DUTIES
        + keycloak_config(keycloak_realm, secret.name)
        + "store_events = true\n",
        encoding="utf-8",
    )
    return path


def test_issued_passwords_must_be_changed_and_the_realm_enforces_the_rules(
    config: Path, keycloak_realm: RealmHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sign_in_error(keycloak_realm, "lanvt", ISSUED) == ""  # works before the run
    plan = plan_json(config, capsys)
    steps = sorted((a["action"], a["username"]) for a in plan["actions"])
    assert steps == [
        ("configure", "realm"),
        ("require_password_change", "lanvt"),
        ("require_password_change", "minhpq"),
    ]
    configure = next(a for a in plan["actions"] if a["action"] == "configure")
    after = {setting["name"]: setting["value"] for setting in configure["after"]["settings"]}
    assert after["length"] == "12"
    assert after["events.enabled"] == "true"
    assert after["passwordHistory"] == "5"  # a name with "password" in it, audited below
    assert configure["duty"] == "password"

    assert run(config, "apply", "--yes", "--force") == 0  # 2 of 2 people: over any share
    for username, *_ in PEOPLE:
        # The issued password no longer yields a token: its owner must choose a new one.
        assert (
            "account is not fully set up"
            in sign_in_error(keycloak_realm, username, ISSUED).casefold()
        )
    # The realm itself now refuses a weak password.
    user_id = keycloak_realm.admin.get_user_id("lanvt")
    with pytest.raises(keycloak.exceptions.KeycloakError):
        keycloak_realm.admin.set_user_password(user_id, "ngan1", temporary=False)

    records = [json.loads(x) for x in (config.parent / "audit.jsonl").read_text().splitlines()]
    assert sum(r["event"] == "change" and r["result"] == "ok" for r in records) == 3
    audited = next(r for r in records if r.get("action") == "configure")
    assert {"name": "passwordHistory", "value": "5"} in audited["after"]["settings"]
    assert run(config, "audit", "verify") == 0
    again = plan_json(config, capsys)["actions"]
    assert again == [], [(a["before"], a["after"]) for a in again]


def test_repeated_failed_sign_ins_are_reported_once_events_are_stored(
    config: Path, keycloak_realm: RealmHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "apply", "--yes", "--force") == 0  # turns event storage on
    for _ in range(4):
        assert sign_in_error(keycloak_realm, "minhpq", "doan-mo-mat-khau") != ""
    plan = plan_json(config, capsys)
    failed = [f for f in plan["findings"] if f["finding"] == "failed_sign_ins"]
    assert [f["account"] for f in failed] == [keycloak_realm.admin.get_user_id("minhpq")]
    assert "4" in failed[0]["reason"]["en"]
