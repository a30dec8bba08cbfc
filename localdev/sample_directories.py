"""The sample department in an Active Directory and a 389 DS, and the config pointing at them.

The same people and the same drift as `sample` (which writes OpenLDAP's LDIF), in each
product's own shapes: AD users are `user` objects named by `sAMAccountName`, locked with
`userAccountControl`, their passwords set through `unicodePwd`; 389 DS locks with
`nsAccountLock` and lets a `groupOfNames` be empty. The live tests, the benchmarks and
`syncbot demo --directory ad|389ds` all seed from here, so they read the same roster.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from localdev.ds389 import Ds389Server
from localdev.samba_ad import OrgUnit, SambaAdServer, add_group, add_user, user_attributes
from localdev.sample import (
    ROLE_GROUPS,
    SAMPLE_PASSWORD,
    UNITS,
    Person,
    groups_of,
    people,
    roster_csv,
)

#: Accounts no HR row explains and syncbot must never touch (see the demo's [protected]).
SPECIALS = (
    ("admin-sys", "Quản trị viên hệ thống", ("quan-tri",)),
    ("svc-qoffice", "Tài khoản dịch vụ Q-Office", ("chuyen-vien",)),
    ("breakglass", "Tài khoản khẩn cấp", ("quan-tri", "lanh-dao")),
)


@dataclass(frozen=True)
class SampleAccount:
    """One account of the sample directory, whatever the product."""

    uid: str
    full_name: str
    mail: str | None
    employee_number: str | None
    locked: bool
    groups: tuple[str, ...]


def sample_accounts(today: date) -> list[SampleAccount]:
    """Every account the sample directory holds, as `sample.directory_ldif` lays it out."""
    found = [SampleAccount(uid, name, None, None, False, groups) for uid, name, groups in SPECIALS]
    everyone = people(today)
    twin = everyone[5]  # a second account carrying a colleague's number: ambiguous
    found.append(SampleAccount(f"{twin.uid}-2", twin.full_name, None, twin.employee_id, False, ()))
    found += [_account(p) for p in everyone if p.account]
    return found


def _account(person: Person) -> SampleAccount:
    number = person.employee_id if person.employee_number == "same" else person.employee_number
    return SampleAccount(
        person.uid, person.full_name, person.email, number, person.locked, groups_of(person)
    )


def group_names() -> tuple[str, ...]:
    return (*ROLE_GROUPS.values(), *UNITS.values())


# -- Active Directory -----------------------------------------------------------------------


def ad_user_dn(unit: OrgUnit, uid: str) -> str:
    return f"CN={uid},{unit.people_base}"


def seed_ad(server: SambaAdServer, unit: OrgUnit, today: date) -> None:
    """The sample accounts (password `SAMPLE_PASSWORD`) and groups in `unit`."""
    accounts = sample_accounts(today)
    members: dict[str, list[str]] = {group: [] for group in group_names()}
    with server.admin_connection() as conn:
        for account in accounts:
            dn = ad_user_dn(unit, account.uid)
            add_user(conn, dn, user_attributes(
                account.uid, account.full_name, password=SAMPLE_PASSWORD, mail=account.mail,
                employee_number=account.employee_number, disabled=account.locked,
            ))  # fmt: skip
            for group in account.groups:
                members[group].append(dn)
        for group, dns in members.items():
            add_group(conn, f"CN={group},{unit.groups_base}", group, dns)


def ad_table(server: SambaAdServer, unit: OrgUnit, password_file: str) -> str:
    """The `[targets.ldap]` table of a config for the sample OU on the domain controller."""
    return (
        "[targets.ldap]\n"
        'type = "ldap"\n'
        'flavour = "ad"\n'
        f'url = "{server.url}"\n'
        f'ca_file = "{server.ca_file}"\n'
        f'bind_dn = "{server.admin_bind}"\n'
        f'bind_password_file = "{password_file}"\n'
        f'users_base = "{unit.people_base}"\n'
        f'groups_base = "{unit.groups_base}"\n'
    )


# -- 389 Directory Server -------------------------------------------------------------------


def ds389_user_dn(people_base: str, uid: str) -> str:
    return f"uid={uid},{people_base}"


def seed_389ds(server: Ds389Server, people_base: str, groups_base: str, today: date) -> None:
    """The sample accounts (password `SAMPLE_PASSWORD`) and groups below the two bases."""
    entries: list[tuple[str, dict[str, list[str]]]] = []
    members: dict[str, list[str]] = {group: [] for group in group_names()}
    for account in sample_accounts(today):
        dn = ds389_user_dn(people_base, account.uid)
        attributes = {
            "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
            "uid": [account.uid],
            "cn": [account.full_name],
            "sn": [account.full_name.split()[-1]],
            "displayName": [account.full_name],
            "userPassword": [SAMPLE_PASSWORD],
        }
        if account.mail:
            attributes["mail"] = [account.mail]
        if account.employee_number:
            attributes["employeeNumber"] = [account.employee_number]
        if account.locked:
            attributes["nsAccountLock"] = ["TRUE"]
        entries.append((dn, attributes))
        for group in account.groups:
            members[group].append(dn)
    for group, dns in members.items():
        attributes = {"objectClass": ["top", "groupOfNames"], "cn": [group]}
        if dns:  # 389 DS lets a groupOfNames be empty: no placeholder needed
            attributes["member"] = dns
        entries.append((f"cn={group},{groups_base}", attributes))
    server.add_ldif_entries(entries)


def ds389_table(server: Ds389Server, people_base: str, groups_base: str, password_file: str) -> str:
    """The `[targets.ldap]` table for the sample subtree (bound as Directory Manager,
    which may write the password policy in cn=config)."""
    return (
        "[targets.ldap]\n"
        'type = "ldap"\n'
        'flavour = "389ds"\n'
        f'url = "{server.url}"\n'
        f'bind_dn = "{server.admin_dn}"\n'
        f'bind_password_file = "{password_file}"\n'
        f'users_base = "{people_base}"\n'
        f'groups_base = "{groups_base}"\n'
    )


# -- the config and the demo ----------------------------------------------------------------


def write_sample_config(workdir: Path, table: str, password: str, mappings: Path,
                        extra: str = "") -> Path:  # fmt: skip
    """A config like the demo's, with `table` as its LDAP target and the roster beside it."""
    secret = workdir / "ldap-password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    config = workdir / "syncbot.toml"
    config.write_text(
        f"""# Generated by `syncbot demo` for a throwaway local directory.
[roster]
path = "nhan-su.csv"

[mappings]
dir = "{mappings}"

[matching]
fallback = "email"

[safety]
max_disable_share = 0.10
max_shrink_share = 0.20

[protected]
usernames = ["admin-sys", "breakglass"]
patterns = ["svc-*"]

[state]
dir = "state"

[audit]
path = "audit/audit.jsonl"

[log]
level = "warning"

{table}{extra}""",
        encoding="utf-8",
    )
    return config


def start_demo_directory(
    kind: str, workdir: Path, today: date, stack: contextlib.ExitStack
) -> tuple[str, str]:
    """Start a seeded `ad` or `389ds` sample directory for `syncbot demo --directory`.

    Writes the roster into `workdir`, registers the server's stop on `stack`, and returns
    the `[targets.ldap]` table (its password file is `ldap-password` in `workdir`) and the
    password to write there.
    """
    (workdir / "nhan-su.csv").write_text(roster_csv(today), encoding="utf-8")
    if kind == "ad":
        ad = SambaAdServer(workdir / "samba-ad")
        stack.enter_context(ad)
        unit = ad.new_ou("so-tttt")
        seed_ad(ad, unit, today)
        return ad_table(ad, unit, "ldap-password"), ad.admin_password
    if kind == "389ds":
        ds = Ds389Server(workdir / "389ds")
        stack.enter_context(ds)
        _, people_base, groups_base = ds.new_subtree("so-tttt")
        seed_389ds(ds, people_base, groups_base, today)
        return ds389_table(ds, people_base, groups_base, "ldap-password"), ds.admin_password
    raise ValueError(f"unknown sample directory {kind!r}: ad or 389ds")
