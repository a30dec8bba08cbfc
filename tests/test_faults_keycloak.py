"""Keycloak answering 503, timing out or dropping connections, through a proxy the test drives.

The real Keycloak 26 stands behind `fault_proxy.FaultProxy`; syncbot's Keycloak target talks
to the proxy with a one-second timeout. Short faults must be ridden out by retries; an outage
longer than the retry budget must end the run with every attempted step audited as failed
and nothing changed without a record; the next run, with Keycloak healthy, converges.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import FaultProxy, Mode, admin_requests, admin_writes, after

from localdev.demo import REPO_MAPPINGS
from localdev.keycloak import EMPLOYEE_NUMBER, ROLE_TITLES, KeycloakServer, RealmHandle
from syncbot.cli import main
from syncbot.targets.keycloak.api import IN_FLIGHT, AdminApi, AdminError, RetryPolicy
from syncbot.targets.keycloak.settings import KeycloakSettings

pytestmark = pytest.mark.keycloak
REPO = Path(__file__).resolve().parent.parent
YESTERDAY = date.today() - timedelta(days=1)
ROLE = "chuyen-vien"
TOKEN_PATH = "/protocol/openid-connect/token"


@pytest.fixture
def proxy(keycloak_server: KeycloakServer) -> Iterator[FaultProxy]:
    with FaultProxy(keycloak_server.url) as running:
        yield running


def seed(realm: RealmHandle, staying: int, leaving: int) -> str:
    """Users holding realm role `chuyen-vien`; returns a roster where `leaving` of them left."""
    users = [
        {
            "username": f"nv{i:04d}",
            "email": f"nv{i:04d}@tinhmau.gov.vn",
            "emailVerified": True,
            "firstName": "Người",
            "lastName": f"Thứ {i}",
            "enabled": True,
            "attributes": {EMPLOYEE_NUMBER: [f"NV{i:04d}"]},
            "realmRoles": [ROLE],
        }
        for i in range(staying + leaving)
    ]
    realm.admin.partial_import_realm(realm.name, {"ifResourceExists": "FAIL", "users": users})
    rows = ["Mã cán bộ,Họ và tên,Email,Đơn vị,Chức vụ,Trạng thái,Ngày hiệu lực"]
    for i in range(staying + leaving):
        status, when = ("Nghỉ việc", f"{YESTERDAY:%d/%m/%Y}") if i >= staying else ("", "")
        rows.append(
            f"NV{i:04d},Người Thứ {i},nv{i:04d}@tinhmau.gov.vn,Văn phòng,Chuyên viên,"
            f"{status or 'Đang công tác'},{when}"
        )
    return "\n".join(rows) + "\n"


def write_config(tmp_path: Path, realm: RealmHandle, url: str, roster: str) -> Path:
    """A Keycloak-only config whose target goes through `url` with a one-second timeout."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for name in ("positions", "statuses"):
        (mappings / f"{name}.toml").write_text((REPO_MAPPINGS / f"{name}.toml").read_text("utf-8"))
    roles = "".join(
        f'[roles."{title}"]\nkeycloak = ["realm:{name}"]\n' for name, title in ROLE_TITLES.items()
    )
    (mappings / "roles.toml").write_text(roles, encoding="utf-8")
    (mappings / "units.toml").write_text('[units."Văn phòng"]\n', encoding="utf-8")
    (tmp_path / "nhan-su.csv").write_text(roster, encoding="utf-8")
    (tmp_path / "keycloak-secret").write_text(realm.client_secret + "\n", encoding="utf-8")
    config = tmp_path / "syncbot.toml"
    config.write_text(
        '[roster]\npath = "nhan-su.csv"\n[mappings]\ndir = "mappings"\n'
        '[state]\ndir = "state"\n[audit]\npath = "audit.jsonl"\n'
        f'[targets.keycloak]\ntype = "keycloak"\nserver_url = "{url}"\nrealm = "{realm.name}"\n'
        f'client_id = "{realm.client_id}"\nclient_secret_file = "keycloak-secret"\ntimeout = 1\n',
        encoding="utf-8",
    )
    return config


def records(config: Path) -> list[dict[str, Any]]:
    path = config.parent / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def changes(config: Path) -> list[dict[str, Any]]:
    return [r for r in records(config) if r["event"] == "change"]


def plan_actions(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["--config", str(config), "plan", "--json"]) == 0
    actions: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["actions"]
    return actions


def syncbot(config: Path, *argv: str) -> subprocess.Popen[str]:
    """`python -m syncbot` as its own process, as an operator or a timer runs it."""
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "error"}
    return subprocess.Popen(
        [sys.executable, "-m", "syncbot", "--config", str(config), *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def state_in_keycloak(realm: RealmHandle) -> dict[str, tuple[bool, bool]]:
    """username -> (enabled, holds the role), read straight from Keycloak, not the proxy."""
    users = realm.admin.get_users({"max": 10_000, "briefRepresentation": False})
    holders = {u["username"] for u in realm.admin.get_realm_role_members(ROLE, {"max": 10_000})}
    return {
        u["username"]: (bool(u["enabled"]), u["username"] in holders)
        for u in users
        if not u.get("serviceAccountClientId")
    }


def convergence_checks(config: Path, realm: RealmHandle, leaving: set[str]) -> None:
    """Healthy again: one more apply leaves nothing to do and every change recorded once."""
    assert main(["--config", str(config), "apply", "--yes", "--force"]) == 0
    assert main(["--config", str(config), "plan", "--detailed-exitcode"]) == 0
    assert main(["--config", str(config), "audit", "verify"]) == 0
    done = [(r["username"], r["action"]) for r in changes(config) if r["result"] == "ok"]
    assert len(done) == len(set(done)), "a change was recorded twice"
    state = state_in_keycloak(realm)
    assert {u for u, (enabled, _) in state.items() if not enabled} == leaving
    assert {u for u, (_, held) in state.items() if not held} == leaving


# -- short faults: retried, the plan completes ---------------------------------------------

SHORT_FAULTS: dict[str, Callable[[FaultProxy], None]] = {
    "503 before Keycloak sees the request": lambda p: p.fail(3, match=admin_writes),
    "503 after Keycloak made the change": lambda p: p.fail(3, match=admin_writes, forward=True),
    "timeout, change made, answer lost": lambda p: p.hang(
        2, seconds=3, match=admin_writes, forward=True
    ),
    "connection dropped": lambda p: p.drop(3, match=admin_writes),
    "503 from the token endpoint": lambda p: p.fail(2, match=lambda m, path: TOKEN_PATH in path),
}


@pytest.mark.parametrize("fault", list(SHORT_FAULTS))
def test_short_faults_are_retried_and_the_plan_completes(
    fault: str,
    keycloak_realm: RealmHandle,
    proxy: FaultProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, keycloak_realm, proxy.url, seed(keycloak_realm, 5, 10))
    planned = plan_actions(config, capsys)
    assert len(planned) == 30  # disable, sign_out, revoke for each of the ten

    SHORT_FAULTS[fault](proxy)
    assert main(["--config", str(config), "apply", "--yes", "--force"]) == 0

    assert proxy.faults() >= 2, "the fault never fired"
    done = changes(config)
    assert len(done) == len(planned)  # one record per step
    assert all(r["result"] == "ok" for r in done), [r["error"] for r in done]
    assert main(["--config", str(config), "audit", "verify"]) == 0
    assert plan_actions(config, capsys) == []
    state = state_in_keycloak(keycloak_realm)
    assert sum(not enabled for enabled, _ in state.values()) == 10


# -- outages longer than the retry budget ------------------------------------------------

OUTAGES: dict[str, Callable[[FaultProxy], None]] = {
    # Everything fails once 30 changes have gone through: mid-apply, deterministically.
    "503": lambda p: p.fail(None, match=after(30, admin_writes)),
    "timeouts, the first change made": lambda p: p.hang(
        None, seconds=3, match=after(30, admin_writes), forward=True
    ),
    "connections dropped": lambda p: p.drop(None, match=after(30, admin_writes)),
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_outage_mid_apply_is_audited_and_the_next_run_converges(
    outage: str,
    keycloak_realm: RealmHandle,
    proxy: FaultProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, keycloak_realm, proxy.url, seed(keycloak_realm, 5, 40))
    planned = plan_actions(config, capsys)
    assert len(planned) == 120
    leaving = {a["username"] for a in planned}

    OUTAGES[outage](proxy)
    started = time.monotonic()
    process = syncbot(config, "apply", "--yes", "--force")
    out, err = process.communicate(timeout=180)
    took = time.monotonic() - started
    assert process.returncode == 6, err  # finished, some steps failed

    # Every step was attempted and audited; the failures say why.
    done = changes(config)
    assert len(done) == len(planned)
    failed = [r for r in done if r["result"] == "failed"]
    assert len(failed) >= len(planned) // 2, "the outage came too late to matter"
    assert all(r["error"] and r["target"] == "keycloak" for r in failed)
    finished = records(config)[-1]
    assert finished["event"] == "run_finished" and finished["details"]["failed"] == len(failed)
    # The whole budget is spent once, then the target fails fast until its cooldown ends:
    # a long outage costs seconds, not a budget per step, and sends Keycloak a handful:
    # six while steps went one at a time; now also the first try of each other step in
    # flight when the outage began (one call retries, the others wait for its verdict).
    assert proxy.faults() <= 6 + IN_FLIGHT - 1, proxy.faults()
    assert took < 60, took
    assert realm_secret_absent(keycloak_realm, out + err, config)

    # Nothing changed without a record: a change Keycloak shows was recorded as done, or as
    # failed with an outcome the record admits it does not know.
    state = state_in_keycloak(keycloak_realm)
    admitted = 0
    for username in leaving:
        enabled, held = state[username]
        mine = {r["action"]: r for r in done if r["username"] == username}
        for changed, action in ((not enabled, "disable"), (not held, "revoke")):
            if changed and mine[action]["result"] != "ok":
                assert "not known" in mine[action]["error"], mine[action]
                admitted += 1
    # Keycloak made the changes in flight when the outage began (one per step sent at
    # once), but their answers never came back.
    if "change made" in outage:
        assert 1 <= admitted <= IN_FLIGHT, admitted
    else:
        assert admitted == 0

    proxy.healthy()
    convergence_checks(config, keycloak_realm, leaving)
    # Every change made now has its ok record: the one whose answer was lost got it from
    # the next run, which found it in the realm.
    made = {(r["username"], r["action"]) for r in changes(config) if r["result"] == "ok"}
    assert {(u, a) for u in leaving for a in ("disable", "revoke")} <= made


def realm_secret_absent(realm: RealmHandle, output: str, config: Path) -> bool:
    audit = (config.parent / "audit.jsonl").read_text("utf-8")
    return realm.client_secret not in output and realm.client_secret not in audit


# -- fetch ---------------------------------------------------------------------------------


def test_keycloak_down_during_fetch_fails_cleanly_before_any_change(
    keycloak_realm: RealmHandle,
    proxy: FaultProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, keycloak_realm, proxy.url, seed(keycloak_realm, 5, 10))
    before = state_in_keycloak(keycloak_realm)

    proxy.fail(2, match=admin_requests)  # a blip: retried, the plan is computed
    assert len(plan_actions(config, capsys)) == 30
    assert proxy.faults(Mode.FAIL) == 2

    proxy.fail(None, match=admin_requests)  # down for longer than the retry budget
    process = syncbot(config, "apply", "--yes", "--force")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 5, err  # a target could not be read, nothing changed
    assert "keycloak" in err and "503 Service Unavailable" in err and "gave up after 4" in err
    assert keycloak_realm.client_secret not in out + err
    assert "Traceback" not in err
    assert changes(config) == []
    assert state_in_keycloak(keycloak_realm) == before

    proxy.hang(None, seconds=3, match=admin_requests)  # or hanging past the timeout
    process = syncbot(config, "plan")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 5, err
    assert "did not answer within 1 s" in err
    assert state_in_keycloak(keycloak_realm) == before


# -- the API client on its own -------------------------------------------------------------


def settings_via(proxy: FaultProxy, realm: RealmHandle) -> KeycloakSettings:
    return KeycloakSettings(
        "keycloak", proxy.url, realm.name, realm.client_id, realm.client_secret, timeout=1
    )


def test_a_token_refresh_failing_transiently_is_retried(
    keycloak_realm: RealmHandle, proxy: FaultProxy
) -> None:
    keycloak_realm.admin.update_realm(keycloak_realm.name, {"accessTokenLifespan": 3})
    api = AdminApi(settings_via(proxy, keycloak_realm))
    assert api.get("users/count") == 0
    time.sleep(3)  # the session renews at 90 % of the lifespan
    proxy.fail(2, match=lambda method, path: TOKEN_PATH in path)
    assert api.get("users/count") == 0
    assert proxy.faults(Mode.FAIL) == 2
    assert proxy.passed(lambda method, path: TOKEN_PATH in path) == 2  # first, then renewed


def admin_posts(method: str, path: str) -> bool:
    return method == "POST" and admin_requests(method, path)


def test_a_post_that_is_not_idempotent_is_not_sent_twice(
    keycloak_realm: RealmHandle, proxy: FaultProxy
) -> None:
    """Creating a user: Keycloak did it, the answer was lost; a blind retry would not know."""
    api = AdminApi(settings_via(proxy, keycloak_realm))
    api.get("users/count")
    proxy.fail(1, match=admin_posts, forward=True)
    user = {"username": "moi", "enabled": True, "email": "moi@tinhmau.gov.vn",
            "firstName": "Mới", "lastName": "Người"}  # fmt: skip
    with pytest.raises(AdminError) as caught:
        api.post("users", user)
    assert caught.value.status == 503
    assert "not repeated" in str(caught.value)
    assert sum(admin_posts(s.method, s.path) for s in proxy.seen) == 1
    assert api.get("users/count") == 1  # created exactly once


def test_after_an_exhausted_budget_calls_fail_fast_until_the_cooldown_ends(
    keycloak_realm: RealmHandle, proxy: FaultProxy
) -> None:
    policy = RetryPolicy(attempts=3, first_delay=0.05, max_delay=0.2, window=10, cooldown=1.0)
    api = AdminApi(settings_via(proxy, keycloak_realm), policy)
    api.get("users/count")
    proxy.fail(None, match=admin_requests)
    with pytest.raises(
        AdminError, match="503 Service Unavailable; target keycloak gave up after 3"
    ):
        api.get("users/count")
    sent = len(proxy.seen)
    with pytest.raises(AdminError, match=r"not sent: Keycloak at .* has failed since"):
        api.get("users/count")
    assert len(proxy.seen) == sent  # refused without a request
    proxy.healthy()
    time.sleep(1.1)
    assert api.get("users/count") == 0  # the probe after the cooldown finds it back


# -- the policy (pure) ---------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_stays_capped() -> None:
    policy = RetryPolicy(first_delay=0.5, max_delay=8.0)
    assert [policy.delay(n, None, 0.0) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 2.0]
    assert [policy.delay(n, None, 0.999999) for n in (1, 2, 3)] == pytest.approx([0.5, 1, 2])
    assert policy.delay(10, None, 0.999999) == pytest.approx(8.0)
    assert policy.delay(1, 3.0, 0.0) == 3.0  # Retry-After honoured...
    assert policy.delay(1, 600.0, 0.0) == 8.0  # ...up to the cap
