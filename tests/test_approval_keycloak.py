"""An approved plan with Keycloak steps, against a real slapd and a real Keycloak 26: the
steps are applied as saved, and one whose Keycloak account was locked by hand meanwhile
is skipped while the sign-out after it still goes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli_e2e import _mass_departure
from test_keycloak_e2e import federated, run  # noqa: F401

from localdev.keycloak import RealmHandle
from syncbot.approval.store import PlanStore
from syncbot.config import load_config
from syncbot.model import ActionKind

pytestmark = [pytest.mark.slapd, pytest.mark.keycloak]


def enabled(realm: RealmHandle, username: str) -> bool:
    user = realm.admin.get_user(realm.admin.get_user_id(username))
    return bool(user["enabled"])


def test_an_approved_plan_applies_its_keycloak_steps_and_skips_one_done_by_hand(
    federated: tuple[Path, RealmHandle],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, realm = federated
    _mass_departure(config, 0.30)
    assert run(config, "apply", "--yes") == 4
    capsys.readouterr()
    assert run(config, "plans", "list", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    loaded = load_config(config)
    saved = PlanStore(loaded.state_dir, loaded.approval).load(listed["id"])
    locks = [
        a for a in saved.plan.actions if a.target == "keycloak" and a.kind is ActionKind.DISABLE
    ]
    assert len(locks) >= 2
    by_hand, other = locks[0], locks[1]
    realm.admin.update_user(by_hand.account, {"enabled": False})
    assert enabled(realm, other.username)

    assert run(config, "approve", listed["short_id"], "--yes") == 0

    assert not enabled(realm, other.username)
    records = [
        json.loads(line)
        for line in (config.parent / "audit/audit.jsonl").read_text("utf-8").splitlines()
    ]
    mine = [r for r in records if r.get("plan_id") == listed["id"]]
    skipped = [r["details"]["step"] for r in mine if r["event"] == "step_skipped"]
    assert [(s["target"], s["username"], s["action"]) for s in skipped] == [
        ("keycloak", by_hand.username, "disable")
    ]
    changes = {(r["target"], r["username"], r["action"]) for r in mine if r["event"] == "change"}
    assert ("keycloak", by_hand.username, "sign_out") in changes
    assert ("keycloak", other.username, "disable") in changes
    expected = {(a.target, a.username, a.kind.value) for a in saved.plan.actions}
    assert changes == expected - {("keycloak", by_hand.username, "disable")}
    assert run(config, "audit", "verify") == 0
