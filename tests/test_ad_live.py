"""The `ad` flavour against a real Active Directory domain controller (Samba 4).

The sample department lives in an OU of its own; the roster, config and audit log in the
test's folder. What only a real DC shows is checked here: `userAccountControl` read and
written bit by bit, ranged member lists of a 2,000-member group, paged reads at AD's page
limit, `lastLogonTimestamp` written by a real bind, `pwdLastSet = 0` refusing the old
password, and the domain password policy enforced by the server after syncbot sets it.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap3
import pytest
from directory_fixtures import TODAY, AdSample, ad_sample_config
from targeted_checks import check_targeted_read_and_apply

from localdev.samba_ad import (
    UF_ACCOUNTDISABLE,
    OrgUnit,
    SambaAdServer,
    add_group,
    add_user,
    encoded_password,
    user_attributes,
)
from localdev.sample import SAMPLE_PASSWORD
from localdev.sample_directories import ad_user_dn
from syncbot.cli import main
from syncbot.duty_settings import Observe
from syncbot.model import Action, ActionKind, Reason
from syncbot.report.people import local_day
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap.dn import normalise_dn
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.ldap.target import LdapTarget

pytestmark = pytest.mark.ad

#: The plan of the sample department: the same people and drift as on OpenLDAP.
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


def run(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def plan_json(config: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    assert run(config, "plan", "--json", *argv) == 0
    return json.loads(capsys.readouterr().out)


def summary(plan: dict) -> set[tuple[str, str, str]]:
    return {
        (a["action"], a["username"], ",".join(x.split(",")[0] for x in a["add"] + a["remove"]))
        for a in plan["actions"]
    }


def bind(sample: AdSample, uid: str, password: str = SAMPLE_PASSWORD) -> str | None:
    """None when the person can sign in, else AD's reason code (533: disabled, ...)."""
    result = sample.server.bind(ad_user_dn(sample.unit, uid), password)
    assert result.ok or result.data is not None, result.message
    return None if result.ok else result.data


def account_control(sample: AdSample, uid: str) -> int:
    found = sample.server.read(ad_user_dn(sample.unit, uid), ["userAccountControl"])
    return int(found["userAccountControl"][0])


def members(server: SambaAdServer, group_dn: str) -> set[str]:
    """Member CNs, read unranged (Samba hands a whole list over when no range is asked)."""
    found = server.read(group_dn, ["member"]).get("member", [])
    return {dn.split(",")[0].removeprefix("CN=") for dn in found}


def group_dn(sample: AdSample, name: str) -> str:
    return f"CN={name},{sample.unit.groups_base}"


def target_settings(server: SambaAdServer, unit: OrgUnit, **changes: object) -> LdapSettings:
    settings = LdapSettings(
        name="ldap",
        flavour="ad",
        url=server.url,
        ca_file=str(server.ca_file),
        bind_dn=server.admin_bind,
        bind_password=server.admin_password,
        users_base=unit.people_base,
        groups_base=unit.groups_base,
    )
    return dataclasses.replace(settings, **changes)


# -- the sample department ------------------------------------------------------------------


def test_sample_plan_apply_converges_and_departed_cannot_bind(
    ad_sample: AdSample, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_json(ad_sample.config, capsys)
    assert summary(plan) == EXPECTED
    assert {f["finding"] for f in plan["findings"]} == {
        "orphan_account", "no_account", "future_departure", "ambiguous_match",
        "unknown_position", "locked_by_others",
    }  # fmt: skip
    assert bind(ad_sample, "hattt") is None

    assert run(ad_sample.config, "apply", "--yes") == 0
    for departed in ("hattt", "hunglv", "tuanpm"):
        assert bind(ad_sample, departed) == "533"  # AD: "account disabled"
        assert account_control(ad_sample, departed) & UF_ACCOUNTDISABLE
    assert bind(ad_sample, "sonbq") is None
    assert "phonght" in members(ad_sample.server, group_dn(ad_sample, "lanh-dao"))
    assert "sonbq" not in members(ad_sample.server, group_dn(ad_sample, "lanh-dao"))
    assert "trangdt" in members(ad_sample.server, group_dn(ad_sample, "don-vi-thanh-tra"))
    assert "trangdt" not in members(ad_sample.server, group_dn(ad_sample, "don-vi-van-phong"))
    assert {"admin-sys", "breakglass"} <= members(ad_sample.server, group_dn(ad_sample, "quan-tri"))

    assert plan_json(ad_sample.config, capsys)["actions"] == []
    capsys.readouterr()
    assert run(ad_sample.config, "audit", "verify") == 0
    assert "OK" in capsys.readouterr().out
    audit = (ad_sample.config.parent / "audit" / "audit.jsonl").read_text("utf-8")
    changes = [r for r in map(json.loads, audit.splitlines()) if r["event"] == "change"]
    assert len(changes) == len(EXPECTED) and all(r["result"] == "ok" for r in changes)


def test_rehire_enables_only_what_syncbot_locked(
    ad_sample: AdSample, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ad_sample.config, "apply", "--yes") == 0
    assert bind(ad_sample, "hunglv") == "533"
    roster = ad_sample.config.parent / "nhan-su.csv"
    text = roster.read_text("utf-8")
    text = text.replace("Chánh Thanh tra,Nghỉ hưu", "Chánh Thanh tra,Đang công tác")
    # maiht was locked by an administrator (a leaked password): still employed.
    roster.write_text(text, encoding="utf-8")
    plan = plan_json(ad_sample.config, capsys)
    assert {a for a in summary(plan) if a[1] == "hunglv"} == {
        ("enable", "hunglv", ""),
        ("grant", "hunglv", "cn=lanh-dao"),
        ("change_unit", "hunglv", "cn=don-vi-thanh-tra"),
    }
    assert not any(a["username"] == "maiht" for a in plan["actions"])
    assert run(ad_sample.config, "apply", "--yes") == 0
    assert bind(ad_sample, "hunglv") is None
    assert bind(ad_sample, "maiht") == "533"
    assert plan_json(ad_sample.config, capsys)["actions"] == []


def test_lock_and_unlock_keep_the_other_account_control_bits(
    ad_sample: AdSample, capsys: pytest.CaptureFixture[str]
) -> None:
    dont_expire = 0x10000  # DONT_EXPIRE_PASSWD: an administrator's choice syncbot must keep
    with ad_sample.server.admin_connection() as conn:
        for uid in ("hattt", "hunglv"):
            control = str(0x200 | dont_expire)
            changes = {"userAccountControl": [(ldap3.MODIFY_REPLACE, [control])]}
            assert conn.modify(ad_user_dn(ad_sample.unit, uid), changes), conn.result
    assert run(ad_sample.config, "apply", "--yes") == 0
    assert account_control(ad_sample, "hattt") == 0x200 | dont_expire | UF_ACCOUNTDISABLE
    roster = ad_sample.config.parent / "nhan-su.csv"
    text = roster.read_text("utf-8")
    roster.write_text(text.replace("Chánh Thanh tra,Nghỉ hưu", "Chánh Thanh tra,Đang công tác"))
    assert run(ad_sample.config, "apply", "--yes") == 0
    assert account_control(ad_sample, "hunglv") == 0x200 | dont_expire


def test_check_config_binds_over_ldaps_and_finds_the_domain_policy(
    ad_sample: AdSample, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run(ad_sample.config, "check-config") == 0
    out = capsys.readouterr().out
    server = ad_sample.server
    assert f"{server.url} bound as {server.admin_bind}" in out
    assert "(flavour ad)" in out
    assert f"accounts under {ad_sample.unit.people_base}: 76" in out
    assert f"groups under {ad_sample.unit.groups_base}: 9" in out
    assert "9 of 9 mapped groups or roles exist" in out
    assert f"password policy entry: {server.base_dn} (found)" in out


def test_wrong_password_is_a_target_error_without_the_secret(
    ad_sample: AdSample, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "Khong-dung-mat-khau-9"
    (ad_sample.config.parent / "ldap-password").write_text(wrong + "\n", encoding="utf-8")
    capsys.readouterr()
    assert run(ad_sample.config, "plan") == 5
    captured = capsys.readouterr()
    assert wrong not in captured.out + captured.err
    assert "invalidCredentials" in captured.err


# -- the domain password policy and pwdLastSet ----------------------------------------------

POLICY = """
[password_policy]
min_length = 12
require = ["upper", "lower", "digit", "special"]
history = 5
max_age_days = 90
"""


def test_domain_password_policy_is_set_then_enforced_by_the_server(
    samba_ad: SambaAdServer, ad_sample: AdSample, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = ad_sample_config(samba_ad, ad_sample.unit, ad_sample.config.parent, POLICY)
    plan = plan_json(config, capsys)
    configure = [a for a in plan["actions"] if a["action"] == "configure"]
    assert len(configure) == 1 and configure[0]["account"] == samba_ad.base_dn
    assert run(config, "apply", "--yes") == 0
    policy = samba_ad.domain_policy(
        ("minPwdLength", "pwdHistoryLength", "maxPwdAge", "pwdProperties")
    )
    assert policy["minPwdLength"] == "12"
    assert policy["pwdHistoryLength"] == "5"
    assert policy["maxPwdAge"] == str(-90 * 86_400 * 10_000_000)
    assert int(policy["pwdProperties"]) & 1  # complexity on
    assert not [a for a in plan_json(config, capsys)["actions"] if a["action"] == "configure"]

    dn = ad_user_dn(ad_sample.unit, "sonbq")
    with samba_ad.admin_connection() as conn:
        short = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [encoded_password("Ng4n!qua")])]}
        assert not conn.modify(dn, short)
        assert conn.result["result"] == 19  # constraintViolation
        assert "too short" in conn.result["message"]
        simple = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [encoded_password("chimotloaikytu")])]}
        assert not conn.modify(dn, simple)  # long enough, but one class of characters
        assert conn.result["result"] == 19
        good = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [encoded_password("Xq7!mZ2#pL9@wK")])]}
        assert conn.modify(dn, good), conn.result
    assert bind(ad_sample, "sonbq", "Xq7!mZ2#pL9@wK") is None


def test_pwd_last_set_zero_makes_the_old_password_must_change(
    ad_sample: AdSample, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "lo-lot.txt"
    listed.write_text("sonbq\n", encoding="utf-8")
    capsys.readouterr()
    assert run(ad_sample.config, "quarantine", "--list", str(listed), "--yes") == 0
    found = ad_sample.server.read(ad_user_dn(ad_sample.unit, "sonbq"), ["pwdLastSet"])
    assert found["pwdLastSet"] == ["0"]
    assert bind(ad_sample, "sonbq") == "773"  # "the user must reset the password"
    assert bind(ad_sample, "phonght") is None  # not listed: untouched

    settings = target_settings(ad_sample.server, ad_sample.unit)
    target = LdapTarget(settings)
    try:
        accounts = {
            a.username: a
            for a in target.read(ReadRequest(frozenset(), observe=_PASSWORDS)).accounts
        }
    finally:
        target.close()
    assert accounts["sonbq"].must_change_password
    assert accounts["sonbq"].password_changed is None  # AD forgets the date
    assert not accounts["phonght"].must_change_password
    assert accounts["phonght"].password_changed is not None


_PASSWORDS = Observe(passwords=True)


def test_last_logon_timestamp_is_written_by_a_real_bind(ad_sample: AdSample) -> None:
    """Samba records `lastLogonTimestamp` on a simple bind (it was empty before)."""
    assert bind(ad_sample, "phonght") is None
    observe = Observe(sign_ins_since=TODAY)
    target = LdapTarget(target_settings(ad_sample.server, ad_sample.unit))
    try:
        accounts = {
            a.username: a for a in target.read(ReadRequest(frozenset(), observe=observe)).accounts
        }
    finally:
        target.close()
    last = accounts["phonght"].last_sign_in
    assert last is not None and abs((datetime.now(UTC) - last).total_seconds()) < 120
    assert accounts["sonbq"].last_sign_in is None


def test_dormant_report_reads_the_sign_in_a_real_bind_recorded(
    ad_sample: AdSample, capsys: pytest.CaptureFixture[str]
) -> None:
    """Samba writes lastLogonTimestamp on a simple bind: no fixture writes it here. A year
    on, everyone is unused; only phonght's row has a last sign-in, the day of that bind."""
    bound_from = datetime.now(UTC)
    assert bind(ad_sample, "phonght") is None
    bound_by = datetime.now(UTC)
    extra = f"\n[dormancy]\ndays = 365\nrecorded_since = {TODAY.isoformat()}\n"
    config = ad_sample_config(ad_sample.server, ad_sample.unit, ad_sample.config.parent, extra)
    out = ad_sample.config.parent / "dormant.csv"
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


# -- targeted reads -------------------------------------------------------------------------


@pytest.mark.parametrize("library", ["python-ldap", "ldap3"])
def test_a_targeted_read_is_the_full_read_narrowed_and_its_steps_apply(
    ad_sample: AdSample, library: str
) -> None:
    sample = ad_sample
    target = LdapTarget(target_settings(sample.server, sample.unit, search_library=library))
    try:
        check_targeted_read_and_apply(target, TODAY)
    finally:
        target.close()


# -- a role group of 2,000: ranged members, paged reads -------------------------------------
# Last in the file: the unit lives until the module ends, and AD's account names are
# unique in the whole domain, so no test with the sample department may follow it.

BIG = 2000


@pytest.fixture(scope="module")
def big_unit(samba_ad: SambaAdServer) -> Iterator[OrgUnit]:
    """2,000 accounts (no passwords: quicker to make) all in one role group."""
    unit = samba_ad.new_ou(f"big-{TODAY:%m%d}")
    dns = [ad_user_dn(unit, f"cv{i:04d}") for i in range(BIG)]
    with samba_ad.admin_connection(timeout=120) as conn:
        for i, dn in enumerate(dns):
            add_user(conn, dn, user_attributes(
                f"cv{i:04d}", f"Chuyên Viên {i:04d}", password=None,
                employee_number=f"CV{i:04d}",
            ))  # fmt: skip
        add_group(conn, f"CN=chuyen-vien,{unit.groups_base}", "chuyen-vien", dns)
        add_group(conn, f"CN=lanh-dao,{unit.groups_base}", "lanh-dao", dns[:3])
    try:
        yield unit
    finally:
        samba_ad.delete_ou(unit)


def _role_action(target: LdapTarget, unit: OrgUnit, uid: str, kind: ActionKind,
                 group: str) -> Action:  # fmt: skip
    key = target.entitlement_key(group)
    return Action(
        target=target.name,
        kind=kind,
        account=normalise_dn(ad_user_dn(unit, uid)),
        username=uid,
        employee_id=None,
        reason=Reason(vi="Kiểm thử", en="test"),
        evidence=None,
        add=(key,) if kind is ActionKind.GRANT else (),
        remove=(key,) if kind is ActionKind.REVOKE else (),
    )


@pytest.mark.parametrize("library", ["python-ldap", "ldap3"])
def test_a_role_group_of_2000_is_read_whole_through_ranges_and_changed(
    samba_ad: SambaAdServer, big_unit: OrgUnit, library: str
) -> None:
    settings = target_settings(samba_ad, big_unit, search_library=library)
    target = LdapTarget(settings)
    role = target.entitlement_key("chuyen-vien")
    managed = frozenset({role, target.entitlement_key("lanh-dao")})
    try:
        snapshot = target.read(ReadRequest(managed))
        holders = {a.username for a in snapshot.accounts if role in a.entitlements}
        assert len(snapshot.accounts) == BIG
        assert len(holders) == BIG  # not 1,500, nor 0
        errors = target.apply([
            _role_action(target, big_unit, "cv0007", ActionKind.REVOKE, "chuyen-vien"),
            _role_action(target, big_unit, "cv1999", ActionKind.REVOKE, "chuyen-vien"),
            _role_action(target, big_unit, "cv1500", ActionKind.GRANT, "lanh-dao"),
        ], snapshot)  # fmt: skip
        assert errors == [None, None, None]
        again = target.read(ReadRequest(managed))
        holders = {a.username for a in again.accounts if role in a.entitlements}
        assert holders == {f"cv{i:04d}" for i in range(BIG)} - {"cv0007", "cv1999"}
        lanh_dao = target.entitlement_key("lanh-dao")
        assert {a.username for a in again.accounts if lanh_dao in a.entitlements} == {
            "cv0000", "cv0001", "cv0002", "cv1500"
        }  # fmt: skip
        # Put back for the other library's turn.
        errors = target.apply([
            _role_action(target, big_unit, "cv0007", ActionKind.GRANT, "chuyen-vien"),
            _role_action(target, big_unit, "cv1999", ActionKind.GRANT, "chuyen-vien"),
            _role_action(target, big_unit, "cv1500", ActionKind.REVOKE, "lanh-dao"),
        ], again)  # fmt: skip
        assert errors == [None, None, None]
    finally:
        target.close()


def test_the_first_answer_really_is_ranged(samba_ad: SambaAdServer, big_unit: OrgUnit) -> None:
    """What syncbot asks for comes back as a window, as Windows sends it unasked."""
    with samba_ad.admin_connection() as conn:
        conn.search(big_unit.groups_base, "(cn=chuyen-vien)",
                    attributes=["member;range=0-1499"])  # fmt: skip
        entry = next(e for e in conn.response if e["type"] == "searchResEntry")
    # ldap3 follows ranges itself and files them under `member`; the raw answer says more.
    names = {name.lower() for name in entry["raw_attributes"]}
    assert "member;range=0-1499" in names
    assert len(entry["raw_attributes"]["member"]) == BIG


@pytest.mark.parametrize("library", ["python-ldap", "ldap3"])
def test_paged_reads_at_ad_page_limit(
    samba_ad: SambaAdServer, big_unit: OrgUnit, library: str
) -> None:
    """AD's MaxPageSize is 1,000: 2,000 accounts come in pages of at most that."""
    settings = target_settings(samba_ad, big_unit, search_library=library, page_size=1000)
    target = LdapTarget(settings)
    seen: list[int] = []
    try:
        snapshot = target.read(
            ReadRequest(frozenset(), progress=lambda done, total: seen.append(done))
        )
    finally:
        target.close()
    assert len(snapshot.accounts) == BIG
    steps = [b - a for a, b in zip([0, *seen], seen, strict=False)]
    assert max(steps) <= 1000
    assert sum(1 for step in steps if step == 1000) >= 2  # the users came in full pages
