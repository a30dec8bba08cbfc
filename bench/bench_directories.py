"""Benchmark syncbot's whole-directory fetch on Active Directory (Samba 4) and 389 DS.

    python bench/bench_directories.py --people 10000 [--directory ad|389ds|both] [--runs 3]

Builds a synthetic department in a throwaway server (N accounts, one role group of N members
and five unit groups of N/5, as bench_reconcile.py does on OpenLDAP), then times, on the
same server: `ldapsearch` reading the same people and groups with the same attributes and
page size (the floor), and `LdapTarget.fetch` with python-ldap and with ldap3. Prints every
run; the figures are wall clock.

AD notes: everything goes over LDAPS (a simple bind needs encryption); syncbot asks for
`member;range=0-1499` and follows the windows (as Windows caps a list at 1,500 values
unasked), while the floor asks for plain `member`, which Samba hands over whole: the floor
is what Samba alone costs. Building 10,000 AD accounts takes a few minutes (Samba's own
cost per add), so the build is timed apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import source_checkout  # noqa: F401  (puts the checkout on sys.path for localdev)

from localdev.ds389 import Ds389Server
from localdev.samba_ad import (
    SambaAdServer,
    add_group,
    add_user,
    user_attributes,
)
from syncbot.logs import configure_logging
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.ldap.target import LdapTarget

UNIT_GROUPS = ["don-vi-van-phong", "don-vi-phong-to-chuc-can-bo", "don-vi-phong-ke-hoach-tai-chinh",
               "don-vi-phong-cong-nghe-thong-tin", "don-vi-thanh-tra"]  # fmt: skip
ROLE = "chuyen-vien"
PAGE_SIZE = 1000  # AD's MaxPageSize; the same for 389 DS so both floors read alike


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _groups_of(i: int) -> tuple[str, str]:
    return ROLE, UNIT_GROUPS[i % 5]


# -- Active Directory -----------------------------------------------------------------------


def build_ad(server: SambaAdServer, people: int) -> tuple[LdapSettings, list[list[str]]]:
    unit = server.new_ou("bench")
    members: dict[str, list[str]] = {g: [] for g in (ROLE, *UNIT_GROUPS)}
    with server.admin_connection(timeout=600) as conn:
        for i in range(people):
            uid = f"u{i:06d}"
            dn = f"CN={uid},{unit.people_base}"
            add_user(conn, dn, user_attributes(
                uid, f"Nguoi {i}", password=None, mail=f"{uid}@tinhmau.gov.vn",
                employee_number=f"E{i:06d}",
            ))  # fmt: skip
            for group in _groups_of(i):
                members[group].append(dn)
            if i and i % 2000 == 0:
                print(f"  ad: {i} accounts added", flush=True)
        for group, dns in members.items():
            add_group(conn, f"CN={group},{unit.groups_base}", group, dns)
    settings = LdapSettings(
        name="ldap", flavour="ad", url=server.url, ca_file=str(server.ca_file),
        bind_dn=server.admin_bind, bind_password=server.admin_password,
        users_base=unit.people_base, groups_base=unit.groups_base, page_size=PAGE_SIZE,
    )  # fmt: skip
    base = ["ldapsearch", "-x", "-LLL", "-H", server.url, "-D", server.admin_bind,
            "-w", server.admin_password, "-E", f"pr={PAGE_SIZE}/noprompt"]  # fmt: skip
    floor = [
        [*base, "-b", unit.people_base, "(&(objectCategory=person)(objectClass=user))",
         "sAMAccountName", "employeeNumber", "mail", "displayName", "cn",
         "userAccountControl", "whenCreated"],
        [*base, "-b", unit.groups_base, "(objectClass=group)", "member"],
    ]  # fmt: skip
    return settings, floor


# -- 389 Directory Server -------------------------------------------------------------------


def build_389ds(server: Ds389Server, people: int) -> tuple[LdapSettings, list[list[str]]]:
    _, people_base, groups_base = server.new_subtree("bench")
    entries: list[tuple[str, dict[str, list[str]]]] = []
    members: dict[str, list[str]] = {g: [] for g in (ROLE, *UNIT_GROUPS)}
    for i in range(people):
        uid = f"u{i:06d}"
        dn = f"uid={uid},{people_base}"
        entries.append((dn, {
            "objectClass": ["inetOrgPerson"], "uid": [uid], "cn": [f"Nguoi {i}"], "sn": ["N"],
            "mail": [f"{uid}@tinhmau.gov.vn"], "employeeNumber": [f"E{i:06d}"],
        }))  # fmt: skip
        for group in _groups_of(i):
            members[group].append(dn)
    for group, dns in members.items():
        group_entry = {"objectClass": ["groupOfNames"], "cn": [group], "member": dns}
        entries.append((f"cn={group},{groups_base}", group_entry))
    server.add_ldif_entries(entries)
    settings = LdapSettings(
        name="ldap", flavour="389ds", url=server.url, bind_dn=server.admin_dn,
        bind_password=server.admin_password, users_base=people_base, groups_base=groups_base,
        page_size=PAGE_SIZE,
    )  # fmt: skip
    base = ["ldapsearch", "-x", "-LLL", "-H", server.url, "-D", server.admin_dn,
            "-w", server.admin_password, "-E", f"pr={PAGE_SIZE}/noprompt"]  # fmt: skip
    floor = [
        [*base, "-b", people_base, "(objectClass=inetOrgPerson)", "uid", "employeeNumber",
         "mail", "displayName", "cn", "nsAccountLock", "createTimestamp"],
        [*base, "-b", groups_base, "(objectClass=groupOfNames)", "member"],
    ]  # fmt: skip
    return settings, floor


# -- measuring ------------------------------------------------------------------------------


def floor_seconds(commands: list[list[str]], env: dict[str, str]) -> float:
    def both() -> None:
        for command in commands:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)

    return timed(both)


def fetch_seconds(settings: LdapSettings, library: str, people: int) -> float:
    target = LdapTarget(dataclasses.replace(settings, search_library=library))
    managed = frozenset(target.entitlement_key(g) for g in (ROLE, *UNIT_GROUPS))
    try:
        start = time.perf_counter()
        snapshot = target.read(ReadRequest(managed))
        seconds = time.perf_counter() - start
    finally:
        target.close()
    role = target.entitlement_key(ROLE)
    holders = sum(1 for account in snapshot.accounts if role in account.entitlements)
    if len(snapshot.accounts) != people or holders != people:
        raise SystemExit(f"fetch read {len(snapshot.accounts)} accounts, {holders} in {ROLE}")
    return seconds


def report(name: str, settings: LdapSettings, floor: list[list[str]], env: dict[str, str],
           people: int, runs: int) -> None:  # fmt: skip
    floors = [floor_seconds(floor, env) for _ in range(runs)]
    print(f"{name}: floor (ldapsearch people + groups, pr={PAGE_SIZE}): "
          + ", ".join(f"{s:.2f} s" for s in floors))  # fmt: skip
    best_floor = min(floors)
    for library in ("python-ldap", "ldap3"):
        times = [fetch_seconds(settings, library, people) for _ in range(runs)]
        print(f"{name}: syncbot fetch, {library}: " + ", ".join(f"{s:.2f} s" for s in times)
              + f"; median {statistics.median(times):.2f} s, "
              f"{min(times) / best_floor:.1f}x the best floor")  # fmt: skip


def machine_state() -> str:
    """The load and the busiest processes over the last second (top's second sample)."""
    load = Path("/proc/loadavg").read_text().split()[:3]
    command = ["top", "-b", "-n", "2", "-d", "1", "-w", "200"]
    listed = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    last = listed.rsplit("PID USER", 1)[-1].splitlines()[1:6]
    busiest = [f"{fields[11]} {fields[8]}%" for fields in (line.split() for line in last)
               if len(fields) >= 12]  # fmt: skip
    return f"load {' '.join(load)}; busiest now: " + ", ".join(busiest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--directory", choices=("ad", "389ds", "both"), default="both")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    configure_logging("console", "warning")
    with tempfile.TemporaryDirectory(prefix="bench-directories-") as folder:
        work = Path(folder)
        if args.directory in ("389ds", "both"):
            with Ds389Server(work / "389ds") as ds:
                seconds = timed(lambda: built.append(build_389ds(ds, args.people)))
                print(f"389ds: built {args.people} accounts in {seconds:.0f} s")
                print(f"389ds: {machine_state()}")
                settings, floor = built.pop()
                report("389ds", settings, floor, dict(os.environ), args.people, args.runs)
        if args.directory in ("ad", "both"):
            with SambaAdServer(work / "ad") as ad:
                seconds = timed(lambda: built.append(build_ad(ad, args.people)))
                print(f"ad: built {args.people} accounts in {seconds:.0f} s")
                print(f"ad: {machine_state()}")
                settings, floor = built.pop()
                env = {**os.environ, "LDAPTLS_CACERT": str(ad.ca_file)}
                report("ad", settings, floor, env, args.people, args.runs)
    return 0


built: list[tuple[LdapSettings, list[list[str]]]] = []

if __name__ == "__main__":
    raise SystemExit(main())
