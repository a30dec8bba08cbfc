"""The `389ds` flavour against a real 389 Directory Server.

The sample department lives in a subtree of its own; the roster, config and audit log in
the test's folder. Checked live: `nsAccountLock` (and that a locked account cannot bind),
the password policy in `cn=config` enforced by the server once syncbot sets it, an expired
password forcing a change, `lastLoginTime` written by the account policy plugin.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap3
import pytest
from directory_fixtures import TODAY, DsSample, DsSubtree, ds389_sample_config
from targeted_checks import check_targeted_read_and_apply

from localdev.ds389 import HOST, Ds389Server
from localdev.sample import SAMPLE_PASSWORD
from localdev.sample_directories import ds389_user_dn
from syncbot.cli import main
from syncbot.duty_settings import Observe
from syncbot.model import Account, Action, ActionKind, Reason
from syncbot.report.people import local_day
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap.dn import normalise_dn
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.ldap.target import LdapTarget

pytestmark = pytest.mark.ds389

#: The plan of the sample department: the same people and drift as on OpenLDAP and AD.
EXPECTED = {
    ("disable", "hattt", ""),
    ("revoke", "hattt", "cn=chuyen-vien"),
    ("revoke", "hattt", "cn=don-vi-phong-ke-hoach-tai-chinh"),
    ("disable", "hunglv", ""),
    ("revoke", "hunglv", "cn=lanh-dao"),
    ("revoke", "hunglv", "cn=don-vi-thanh-tra"),
    ("disable", "tuanpm", ""),
    ("revoke", "tuanpm", "cn=quan-tri"),
    ("revoke", "tuanpm", "cn=don-vi-phong-cong-nghe-thong-tin"),
    ("change_unit", "trangdt", "cn=don-vi-thanh-tra,cn=don-vi-van-phong"),
    ("revoke", "sonbq", "cn=lanh-dao"),
    ("revoke", "phonght", "cn=chuyen-vien"),
    ("grant", "phonght", "cn=lanh-dao"),
    ("change_unit", "yennk", "cn=don-vi-van-phong"),
    ("grant", "yennk", "cn=van-thu"),
}
INACTIVATED = "Account inactivated"


def run(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(config, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def summary(plan: dict) -> set[tuple[str, str, str]]:
    return {
        (a["action"], a["username"], ",".join(x.split(",")[0] for x in a["add"] + a["remove"]))
        for a in plan["actions"]
    }


def dn_of(sample: DsSample, uid: str) -> str:
    return ds389_user_dn(sample.subtree.people_base, uid)


def bind(sample: DsSample, uid: str, password: str = SAMPLE_PASSWORD) -> tuple[bool, str]:
    return sample.server.bind(dn_of(sample, uid), password)


def members(sample: DsSample, group: str) -> set[str]:
    found = sample.server.read(f"cn={group},{sample.subtree.groups_base}", ["member"])
    return {dn.split(",")[0].removeprefix("uid=") for dn in found.get("member", [])}


def target_settings(server: Ds389Server, subtree: DsSubtree, **changes: object) -> LdapSettings:
    settings = LdapSettings(
        name="ldap",
        flavour="389ds",
        url=server.url,
        bind_dn=server.admin_dn,
        bind_password=server.admin_password,
        users_base=subtree.people_base,
        groups_base=subtree.groups_base,
    )
    return dataclasses.replace(settings, **changes)


def fetch(sample: DsSample, observe: Observe, **changes: object) -> dict[str, Account]:
    target = LdapTarget(target_settings(sample.server, sample.subtree, **changes))
    try:
        return {
            a.username: a for a in target.read(ReadRequest(frozenset(), observe=observe)).accounts
        }
    finally:
        target.close()


def as_user(sample: DsSample, uid: str, password: str = SAMPLE_PASSWORD) -> ldap3.Connection:
    server = ldap3.Server(HOST, port=sample.server.port, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, dn_of(sample, uid), password, raise_exceptions=False)
    assert conn.bind(), conn.result
    return conn


def change_own_password(sample: DsSample, uid: str, new: str) -> dict[str, object]:
    """The user replaces their own password, as a self-service page would."""
    conn = as_user(sample, uid)
    try:
        conn.modify(dn_of(sample, uid), {"userPassword": [(ldap3.MODIFY_REPLACE, [new])]})
        return dict(conn.result)
    finally:
        conn.unbind()


# -- the sample department ------------------------------------------------------------------


def test_sample_plan_apply_converges_and_departed_cannot_bind(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = ds389_sample
    plan = plan_json(sample.config, capsys)
    assert summary(plan) == EXPECTED
    assert {f["finding"] for f in plan["findings"]} == {
        "orphan_account", "no_account", "future_departure", "ambiguous_match",
        "unknown_position", "locked_by_others",
    }  # fmt: skip
    assert bind(sample, "hattt") == (True, "")

    assert run(sample.config, "apply", "--yes") == 0
    for departed in ("hattt", "hunglv", "tuanpm"):
        ok, message = bind(sample, departed)
        assert not ok and INACTIVATED in message
    assert bind(sample, "sonbq")[0]
    assert "phonght" in members(sample, "lanh-dao")
    assert "sonbq" not in members(sample, "lanh-dao")
    assert "trangdt" in members(sample, "don-vi-thanh-tra")
    assert "trangdt" not in members(sample, "don-vi-van-phong")
    assert {"admin-sys", "breakglass"} <= members(sample, "quan-tri")

    assert plan_json(sample.config, capsys)["actions"] == []
    capsys.readouterr()
    assert run(sample.config, "audit", "verify") == 0
    assert "OK" in capsys.readouterr().out
    audit = (sample.config.parent / "audit" / "audit.jsonl").read_text("utf-8")
    changes = [r for r in map(json.loads, audit.splitlines()) if r["event"] == "change"]
    assert len(changes) == len(EXPECTED) and all(r["result"] == "ok" for r in changes)


def test_lock_is_ns_account_lock_and_unlock_deletes_it(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = ds389_sample
    assert run(sample.config, "apply", "--yes") == 0
    assert sample.server.read(dn_of(sample, "hunglv"), ["nsAccountLock"])["nsAccountLock"] == [
        "TRUE"
    ]
    roster = sample.config.parent / "nhan-su.csv"
    text = roster.read_text("utf-8")
    roster.write_text(text.replace("Chánh Thanh tra,Nghỉ hưu", "Chánh Thanh tra,Đang công tác"))
    plan = plan_json(sample.config, capsys)
    assert {a for a in summary(plan) if a[1] == "hunglv"} == {
        ("enable", "hunglv", ""),
        ("grant", "hunglv", "cn=lanh-dao"),
        ("change_unit", "hunglv", "cn=don-vi-thanh-tra"),
    }
    # maiht was locked by an administrator, not by syncbot: left locked.
    assert not any(a["username"] == "maiht" for a in plan["actions"])
    assert run(sample.config, "apply", "--yes") == 0
    assert bind(sample, "hunglv") == (True, "")
    assert "nsAccountLock" not in sample.server.read(dn_of(sample, "hunglv"), ["nsAccountLock"])
    ok, message = bind(sample, "maiht")
    assert not ok and INACTIVATED in message
    assert plan_json(sample.config, capsys)["actions"] == []


def test_check_config_finds_the_policy_in_cn_config(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = ds389_sample
    capsys.readouterr()
    assert run(sample.config, "check-config") == 0
    out = capsys.readouterr().out
    assert f"{sample.server.url} bound as cn=Directory Manager (flavour 389ds)" in out
    assert f"accounts under {sample.subtree.people_base}: 76" in out
    assert f"groups under {sample.subtree.groups_base}: 9" in out
    assert "9 of 9 mapped groups or roles exist" in out
    assert "password policy entry: cn=config (found)" in out


def test_wrong_password_is_a_target_error_without_the_secret(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "Khong-dung-mat-khau-9"
    (ds389_sample.config.parent / "ldap-password").write_text(wrong + "\n", encoding="utf-8")
    capsys.readouterr()
    assert run(ds389_sample.config, "plan") == 5
    captured = capsys.readouterr()
    assert wrong not in captured.out + captured.err
    assert "invalidCredentials" in captured.err


def test_both_search_libraries_read_the_same_accounts(ds389_sample: DsSample) -> None:
    observe = Observe(passwords=True, sign_ins_since=TODAY)
    fast = fetch(ds389_sample, observe, search_library="python-ldap")
    slow = fetch(ds389_sample, observe, search_library="ldap3")
    assert len(fast) == 76
    assert fast == slow
    assert not fast["maiht"].enabled and fast["hattt"].enabled


# -- the password policy in cn=config -------------------------------------------------------

POLICY = """
[password_policy]
min_length = 12
require = ["upper", "lower", "digit", "special"]
history = 3
max_age_days = 90
"""


def test_cn_config_policy_is_set_then_enforced_by_the_server(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = ds389_sample
    config = ds389_sample_config(sample.server, sample.subtree, sample.config.parent, POLICY)
    plan = plan_json(config, capsys)
    configure = [a for a in plan["actions"] if a["action"] == "configure"]
    assert len(configure) == 1 and configure[0]["account"] == "cn=config"
    assert run(config, "apply", "--yes") == 0
    names = ["passwordMinLength", "passwordCheckSyntax", "passwordExp", "passwordMaxAge",
             "passwordHistory", "passwordInHistory", "passwordMinUppers", "passwordMinDigits",
             "passwordMinSpecials"]  # fmt: skip
    found = {k: v[0] for k, v in sample.server.read("cn=config", names).items()}
    assert found == {
        "passwordMinLength": "12", "passwordCheckSyntax": "on", "passwordExp": "on",
        "passwordMaxAge": str(90 * 86_400), "passwordHistory": "on", "passwordInHistory": "3",
        "passwordMinUppers": "1", "passwordMinDigits": "1", "passwordMinSpecials": "1",
    }  # fmt: skip
    assert not [a for a in plan_json(config, capsys)["actions"] if a["action"] == "configure"]

    too_short = change_own_password(sample, "sonbq", "Ng4n!qua")
    assert too_short["result"] == 19 and "at least 12" in str(too_short["message"])
    no_digit = change_own_password(sample, "sonbq", "Khong-co-chu-so!")
    assert no_digit["result"] == 19
    good = change_own_password(sample, "sonbq", "Xq7!mZ2#pL9@wK")
    assert good["result"] == 0, good
    assert bind(sample, "sonbq", "Xq7!mZ2#pL9@wK")[0]
    assert not bind(sample, "sonbq")[0]  # the old one is gone


PASSWORD_EXPIRED = "2.16.840.1.113730.3.4.4"  # 389 DS's "password expired" bind control


def signed_in_state(
    sample: DsSample, uid: str, password: str = SAMPLE_PASSWORD
) -> tuple[bool, str]:
    """(the bind told the user the password expired, what a search then answers)."""
    conn = as_user(sample, uid, password)
    try:
        expired = PASSWORD_EXPIRED in (conn.result.get("controls") or {})
        conn.search(dn_of(sample, uid), "(objectClass=*)", ldap3.BASE, attributes=["cn"])
        return expired, str(conn.result["description"])
    finally:
        conn.unbind()


def quarantine_sonbq(sample: DsSample, capsys: pytest.CaptureFixture[str]) -> int:
    listed = sample.config.parent / "lo-lot.txt"
    listed.write_text("sonbq\n", encoding="utf-8")
    capsys.readouterr()
    return run(sample.config, "quarantine", "--list", str(listed), "--yes")


def test_must_change_is_refused_while_389ds_would_ignore_it(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    """passwordMustChange off (389 DS's default): an expired-at-the-epoch password still
    works in full, so the step fails and says why instead of being reported done."""
    sample = ds389_sample
    assert quarantine_sonbq(sample, capsys) == 6
    audit = (sample.config.parent / "audit" / "audit.jsonl").read_text("utf-8")
    (change,) = [r for r in map(json.loads, audit.splitlines()) if r["event"] == "change"]
    assert change["result"] == "failed" and "passwordMustChange: on" in change["error"]
    assert "passwordExpirationTime" not in sample.server.read(
        dn_of(sample, "sonbq"), ["passwordExpirationTime"]
    )
    assert signed_in_state(sample, "sonbq") == (False, "success")


MUST_CHANGE = """
[password_policy]
max_age_days = 3650
expired = "require_change"
"""


def test_must_change_expires_the_password_and_the_old_one_can_only_change_it(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = ds389_sample
    config = ds389_sample_config(sample.server, sample.subtree, sample.config.parent, MUST_CHANGE)
    assert run(config, "apply", "--yes") == 0
    assert sample.server.read("cn=config", ["passwordMustChange"])["passwordMustChange"] == ["on"]
    assert quarantine_sonbq(sample, capsys) == 0
    found = sample.server.read(dn_of(sample, "sonbq"), ["passwordExpirationTime"])
    assert found["passwordExpirationTime"] == ["19700101000000Z"]
    # The old password still binds, but only to change itself.
    assert signed_in_state(sample, "sonbq") == (True, "unwillingToPerform")
    assert signed_in_state(sample, "phonght") == (False, "success")  # not listed
    accounts = fetch(sample, Observe(passwords=True))
    assert accounts["sonbq"].must_change_password
    assert not accounts["phonght"].must_change_password
    assert change_own_password(sample, "sonbq", "Mat-khau-moi-2026")["result"] == 0
    assert signed_in_state(sample, "sonbq", "Mat-khau-moi-2026") == (False, "success")


# -- last sign-in (account policy plugin) ---------------------------------------------------


def test_last_login_time_is_recorded_by_a_real_bind(ds389_sample: DsSample) -> None:
    assert bind(ds389_sample, "phonght")[0]
    accounts = fetch(ds389_sample, Observe(sign_ins_since=TODAY))
    last = accounts["phonght"].last_sign_in
    assert last is not None and abs((datetime.now(UTC) - last).total_seconds()) < 120
    assert accounts["sonbq"].last_sign_in is None


def test_dormant_report_reads_last_login_time(
    ds389_sample: DsSample, capsys: pytest.CaptureFixture[str]
) -> None:
    """A year on, everyone is unused; only phonght's row has a last sign-in."""
    sample = ds389_sample
    bound_from = datetime.now(UTC)
    assert bind(sample, "phonght")[0]
    bound_by = datetime.now(UTC)
    extra = f"\n[dormancy]\ndays = 365\nrecorded_since = {TODAY.isoformat()}\n"
    config = ds389_sample_config(sample.server, sample.subtree, sample.config.parent, extra)
    out = sample.config.parent / "dormant.csv"
    later = TODAY + timedelta(days=400)
    capsys.readouterr()
    code = run(config, "report", "dormant", "--format", "csv", "--out", str(out),
               "--today", later.isoformat())  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = [r for r in csv.reader(out.read_text("utf-8-sig").splitlines()) if len(r) == 9]
    last_sign_in = {row[4]: row[6] for row in rows if row[0].isdigit()}
    assert len(last_sign_in) > 60
    # Reports show days in Vietnam's time, which is a day ahead of the host's after 17:00 UTC.
    bind_days = {f"{local_day(moment):%d/%m/%Y}" for moment in (bound_from, bound_by)}
    assert last_sign_in.pop("phonght") in bind_days
    assert all(text.startswith("chưa ghi nhận") for text in last_sign_in.values())


# -- groups ---------------------------------------------------------------------------------


def test_the_last_member_leaves_an_empty_group_without_a_placeholder(
    ds389: Ds389Server, ds389_subtree: DsSubtree
) -> None:
    """389 DS lets a groupOfNames be empty: no placeholder member is written."""
    people, groups = ds389_subtree.people_base, ds389_subtree.groups_base
    ds389.add_ldif_entries([
        (f"uid=solo,{people}", {"objectClass": ["inetOrgPerson"], "uid": ["solo"],
                                "cn": ["Solo"], "sn": ["Solo"]}),
        (f"cn=van-thu,{groups}", {"objectClass": ["groupOfNames"], "cn": ["van-thu"],
                                  "member": [f"uid=solo,{people}"]}),
    ])  # fmt: skip
    target = LdapTarget(target_settings(ds389, ds389_subtree))
    role = target.entitlement_key("van-thu")
    try:
        snapshot = target.read(ReadRequest(frozenset({role})))
        revoke = Action(
            target="ldap", kind=ActionKind.REVOKE, account=normalise_dn(f"uid=solo,{people}"),
            username="solo", employee_id=None, reason=Reason(vi="Kiểm thử", en="test"),
            evidence=None, remove=(role,),
        )  # fmt: skip
        assert target.apply([revoke], snapshot) == [None]
        assert ds389.read(f"cn=van-thu,{groups}", ["member"]).get("member", []) == []
        again = target.read(ReadRequest(frozenset({role})))
        assert role in again.entitlements
        assert all(role not in a.entitlements for a in again.accounts)
    finally:
        target.close()


def test_the_demo_runs_on_389ds_and_stops_its_server(tmp_path: Path) -> None:
    """`syncbot demo --directory 389ds`, as a user types it: plan, apply, an empty second plan."""
    done = subprocess.run(
        [sys.executable, "-m", "syncbot", "demo", "--directory", "389ds", "--workdir", "demo"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Keycloak is shown with the OpenLDAP sample only: skipped for 389ds." in done.stdout
    again = done.stdout.split("=== syncbot plan  (again: nothing left to do) ===")[1]
    assert "Nothing to change." in again.split("=== syncbot audit verify ===")[0]
    records = [
        json.loads(line)
        for line in (tmp_path / "demo" / "audit" / "audit.jsonl").read_text("utf-8").splitlines()
    ]
    locked = {r["account"] for r in records if r.get("action") == "disable"}
    people = "ou=people,ou=so-tttt,dc=example,dc=gov,dc=vn"
    assert locked == {f"uid={uid},{people}" for uid in ("hattt", "hunglv", "tuanpm")}
    assert all(r["result"] == "ok" for r in records if r["event"] == "change")
    still_running = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "demo" / "389ds")], capture_output=True, check=False
    )
    assert still_running.returncode == 1, "the demo left its 389 DS running"


# -- targeted reads -------------------------------------------------------------------------


@pytest.mark.parametrize("library", ["python-ldap", "ldap3"])
def test_a_targeted_read_is_the_full_read_narrowed_and_its_steps_apply(
    ds389_sample: DsSample, library: str
) -> None:
    sample = ds389_sample
    target = LdapTarget(target_settings(sample.server, sample.subtree, search_library=library))
    try:
        check_targeted_read_and_apply(target, TODAY)
    finally:
        target.close()
