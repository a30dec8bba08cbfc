"""Benchmark one whole reconcile at a given scale against a throwaway local slapd.

    python bench/bench_reconcile.py --people 10000 --departures 1000

Prints, for the scale given: roster load, directory fetch (next to the raw `ldapsearch`
floor on the same server), planning, applying the departures (steps/s, next to the
server's `ldapmodify` floor), the second, empty plan, and peak memory. The server runs
with olcDbNoSync (fsync off), as the figures say; syncbot's own audit, journal and ledger
writes are fsynced as in production.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from syncbot.config import load_config
from syncbot.localdev.demo import REPO_MAPPINGS, write_config
from syncbot.localdev.slapd import SlapdServer
from syncbot.logs import configure_logging
from syncbot.reconcile import apply_prepared, close_targets, load_inputs, prepare

UNITS = ["Văn phòng", "Phòng Tổ chức cán bộ", "Phòng Kế hoạch - Tài chính",
         "Phòng Công nghệ thông tin", "Thanh tra"]  # fmt: skip
UNIT_GROUPS = ["don-vi-van-phong", "don-vi-phong-to-chuc-can-bo", "don-vi-phong-ke-hoach-tai-chinh",
               "don-vi-phong-cong-nghe-thong-tin", "don-vi-thanh-tra"]  # fmt: skip


def build(server: SlapdServer, workdir: Path, people: int, departures: int) -> None:
    yesterday = (date.today() - timedelta(days=1)).strftime("%d/%m/%Y")
    groups: dict[str, list[str]] = {
        g: [] for g in ("chuyen-vien", "lanh-dao", "van-thu", "quan-tri", *UNIT_GROUPS)
    }
    entries = []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Mã cán bộ", "Họ và tên", "Email", "Đơn vị", "Chức vụ", "Trạng thái",
                     "Ngày hiệu lực"])  # fmt: skip
    for i in range(people):
        uid = f"u{i:06d}"
        dn = f"uid={uid},{server.people_base}"
        entries.append(
            f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Nguoi {i}\nsn: N\n"
            f"mail: {uid}@tinhmau.gov.vn\nemployeeNumber: E{i:06d}\n"
        )
        groups["chuyen-vien"].append(dn)
        groups[UNIT_GROUPS[i % 5]].append(dn)
        leaving = i < departures
        status = "Nghỉ việc" if leaving else "Đang công tác"
        effective = yesterday if leaving else ""
        writer.writerow([f"E{i:06d}", f"Người {i}", f"{uid}@tinhmau.gov.vn", UNITS[i % 5],
                         "Chuyên viên", status, effective])  # fmt: skip
    for group, members in groups.items():
        lines = [
            f"dn: cn={group},{server.groups_base}",
            "objectClass: groupOfNames",
            f"cn: {group}",
        ]
        lines += [f"member: {m}" for m in members] or [
            f"member: cn=placeholder,{server.groups_base}"
        ]
        entries.append("\n".join(lines) + "\n")
    server.bulk_load("\n".join(entries))
    (workdir / "nhan-su.csv").write_text("\ufeff" + out.getvalue(), encoding="utf-8")


def timed(label: str, seconds: float, extra: str = "") -> None:
    print(f"{label:<34} {seconds:8.3f} s  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--departures", type=int, default=1_000)
    args = parser.parse_args()
    configure_logging("console", "warning")
    workdir = Path(tempfile.mkdtemp(prefix="syncbot-bench-"))
    try:
        with SlapdServer(workdir / "slapd", nosync=True) as server:
            start = time.perf_counter()
            build(server, workdir, args.people, args.departures)
            print(f"scale: {args.people} people, {args.departures} departures "
                  f"(each: disable + 2 revokes); slapd fsync off")  # fmt: skip
            timed("seed (slapadd -q)", time.perf_counter() - start)
            config = load_config(write_config(workdir, server, REPO_MAPPINGS))

            start = time.perf_counter()
            subprocess.run(
                ["ldapsearch", "-x", "-LLL", "-H", server.url, "-D", server.service_dn,
                 "-w", server.service_password, "-b", server.people_base, "-E", "pr=500/noprompt",
                 "(objectClass=inetOrgPerson)", "uid", "mail", "employeeNumber",
                 "pwdAccountLockedTime"],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            timed("floor: ldapsearch people", time.perf_counter() - start)

            start = time.perf_counter()
            _, roster = load_inputs(config)
            timed("roster load (CSV)", time.perf_counter() - start, f"{len(roster.rows)} rows")

            start = time.perf_counter()
            prepared = prepare(config, date.today())
            total = time.perf_counter() - start
            timed("prepare (roster+fetch+plan)", total, f"{len(prepared.plan.actions)} actions")

            start = time.perf_counter()
            report = apply_prepared(prepared, run_id="bench", actor_name="bench", forced=["bench"])
            elapsed = time.perf_counter() - start
            steps = len(report.results)
            timed("apply", elapsed, f"{steps} steps, {steps / elapsed:,.0f} steps/s, "
                  f"{len(report.failed)} failed")  # fmt: skip
            close_targets(prepared.targets)

            start = time.perf_counter()
            again = prepare(config, date.today())
            timed("second prepare (must be empty)", time.perf_counter() - start,
                  f"{len(again.plan.actions)} actions")  # fmt: skip
            close_targets(again.targets)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{'peak RSS':<34} {peak:8.1f} MiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
