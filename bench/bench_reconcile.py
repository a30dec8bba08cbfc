"""Benchmark one whole reconcile at a given scale against a throwaway local slapd.

    python bench/bench_reconcile.py --people 10000 --departures 1000
    python bench/bench_reconcile.py --people 100000 --departures 1000 --no-apply

Prints, for the scale given: the raw `ldapsearch` floor (people and groups, the same
entries and attributes the fetch reads, same page size), then one `syncbot plan` split into
roster load, directory fetch, planning and rendering, with its peak memory beyond start-up,
measured in a fresh process so that generating the data set does not count; then applying
the departures (steps/s) and the second, empty plan. The server runs with olcDbNoSync
(fsync off), as the figures say; syncbot's own audit, journal and ledger writes are fsynced
as in production.

`--search-library ldap3|python-ldap` forces the fetch path (SYNCBOT_LDAP_SEARCH);
`--profile FILE` writes a cProfile of the measured plan; `--runs N` measures the floor and
the plan N times against the same directory, each plan in a fresh process (on a shared
machine one run says little).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import source_checkout  # noqa: F401  (puts the checkout on sys.path for localdev)

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.slapd import SlapdServer
from syncbot.config import load_config
from syncbot.logs import configure_logging
from syncbot.memory import pin_mmap_threshold
from syncbot.model import Plan
from syncbot.reconcile import apply_prepared, close_targets, prepare

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

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


def current_rss_kib() -> int:
    """Resident memory now."""
    return _status_kib("VmRSS")


def peak_rss_kib() -> int:
    """The highest resident memory of this program so far.

    Not `ru_maxrss`: Linux carries it over from the parent through fork and exec, so a
    child started by a parent that had just generated 100,000 entries reported the
    parent's peak, not its own. VmHWM belongs to this program's own address space.
    """
    return _status_kib("VmHWM")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def floor(server: SlapdServer, page_size: int) -> tuple[float, float]:
    """`ldapsearch` reading what the fetch reads: people, then groups with their members."""
    base = ["ldapsearch", "-x", "-LLL", "-H", server.url, "-D", server.service_dn,
            "-w", server.service_password, "-E", f"pr={page_size}/noprompt"]  # fmt: skip
    searches = (
        [*base, "-b", server.people_base, "(objectClass=inetOrgPerson)", "uid", "employeeNumber",
         "mail", "displayName", "cn", "pwdAccountLockedTime"],
        [*base, "-b", server.groups_base, "(objectClass=groupOfNames)", "member"],
    )  # fmt: skip
    seconds = []
    for command in searches:
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1]


def measure(config_path: Path, profile: str | None) -> dict[str, Any]:
    """One `syncbot plan` in this (fresh) process, split into its phases.

    The phases are timed by wrapping the functions `prepare` calls, so the path measured
    is the production one.
    """
    from syncbot import reconcile
    from syncbot.planning import planner
    from syncbot.targets.ldap import LdapTarget

    # Wall time, and this process's CPU time: on a shared machine the second says what
    # syncbot itself costs when other work (or slapd) holds the cores.
    spent: dict[str, float] = {"roster": 0.0, "fetch": 0.0, "plan": 0.0}
    cpu: dict[str, float] = dict.fromkeys(spent, 0.0)
    # Resident memory and its peak so far when each phase ends: where the peak comes from.
    memory: dict[str, tuple[int, int]] = {}

    def clocked(label: str, function: Callable[..., T]) -> Callable[..., T]:
        def run(*args: Any, **kwargs: Any) -> T:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - start
                cpu[label] += time.process_time() - start_cpu
                memory[label] = (current_rss_kib(), peak_rss_kib())

        return run

    pin_mmap_threshold()  # as the syncbot command does first
    reconcile.load_inputs = clocked("roster", reconcile.load_inputs)
    setattr(reconcile, "plan", clocked("plan", planner.plan))  # noqa: B010 - a module global
    LdapTarget.read = clocked("fetch", LdapTarget.read)  # type: ignore[method-assign]
    config = load_config(config_path)
    started_kib = current_rss_kib()
    profiler = cProfile.Profile() if profile else None
    start, start_cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    prepared = reconcile.prepare(config, date.today())
    rendered, rendered_cpu = time.perf_counter(), time.process_time()
    render_chars = print_plan(prepared.plan)
    finished, finished_cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    reconcile.close_targets(prepared.targets)
    peak_kib = peak_rss_kib()
    # Which search path the LDAP target took ("ldap3" before the python-ldap path existed).
    library = getattr(next(iter(prepared.targets.values())), "search_library", "ldap3")
    cpu["render"] = finished_cpu - rendered_cpu
    cpu["total"] = finished_cpu - start_cpu
    return {
        **spent,
        "render": finished - rendered,
        "total": finished - start,
        "cpu": cpu,
        "memory": memory,
        "actions": len(prepared.plan.actions),
        "render_chars": render_chars,
        "accounts": sum(len(s.accounts) for s in prepared.snapshots.values()),
        "start_kib": started_kib,
        "peak_kib": peak_kib,
        "library": library,
    }


def print_plan(plan: Plan) -> int:
    """Print the plan as `syncbot plan` does, a line at a time, to nowhere; its length."""
    from syncbot.cli.plan_view import render_plan

    written = 0
    with Path(os.devnull).open("w", encoding="utf-8") as sink:
        for line in render_plan(plan):
            print(line, file=sink)
            written += len(line) + 1
    return written


def measure_in_child(config_path: Path, library: str | None, profile: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if library:
        env["SYNCBOT_LDAP_SEARCH"] = library
    command = [sys.executable, __file__, "--measure", str(config_path)]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(figures: dict[str, Any], floor_seconds: float, people: int) -> None:
    cpu = figures["cpu"]

    start_kib = figures["start_kib"]

    def phase(label: str, key: str, extra: str = "") -> None:
        memory = figures["memory"].get(key)
        if memory is not None:
            now, peak = ((kib - start_kib) * 1024 / people for kib in memory)
            extra = f"{extra}; after it {now:,.0f} B/entry, peak so far {peak:,.0f}"
        timed(label, figures[key], f"cpu {cpu[key]:6.3f} s  {extra}")

    phase("roster load", "roster")
    phase("fetch", "fetch", f"{figures['accounts']} accounts, {figures['library']}")
    phase("plan", "plan", f"{figures['actions']} actions")
    phase("render", "render", f"{figures['render_chars']:,} characters")
    ratio = figures["total"] / floor_seconds
    phase("syncbot plan, whole", "total", f"{ratio:.1f}x the ldapsearch floor")
    beyond = (figures["peak_kib"] - figures["start_kib"]) * 1024 / people
    print(f"{'peak RSS':<34} {figures['peak_kib'] / 1024:8.1f} MiB  "
          f"(start-up {figures['start_kib'] / 1024:.1f} MiB; "
          f"{beyond:,.0f} bytes per entry beyond start-up)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--departures", type=int, default=1_000)
    parser.add_argument("--page-size", type=int, default=1_000)
    parser.add_argument("--search-library", choices=["auto", "ldap3", "python-ldap"])
    parser.add_argument("--profile", help="write a cProfile of the measured plan here")
    parser.add_argument("--no-apply", action="store_true", help="stop after the plan")
    parser.add_argument(
        "--runs", type=int, default=1, help="measure the plan (and its floor) this many times"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("console", "warning")
    if args.measure:
        print(json.dumps(measure(args.measure, args.profile)))
        return
    workdir = Path(tempfile.mkdtemp(prefix="syncbot-bench-"))
    try:
        with SlapdServer(workdir / "slapd", nosync=True) as server:
            start = time.perf_counter()
            build(server, workdir, args.people, args.departures)
            print(f"scale: {args.people} people, {args.departures} departures "
                  f"(each: disable + 2 revokes); page size {args.page_size}; "
                  "slapd fsync off")  # fmt: skip
            timed("seed (slapadd -q)", time.perf_counter() - start)
            config_path = write_config(
                workdir, server, REPO_MAPPINGS, f"page_size = {args.page_size}\n"
            )
            config = load_config(config_path)

            for run in range(args.runs):
                if args.runs > 1:
                    print(f"-- run {run + 1} of {args.runs}")
                people_s, groups_s = floor(server, args.page_size)
                timed("floor: ldapsearch people", people_s)
                timed("floor: ldapsearch groups", groups_s)
                figures = measure_in_child(config_path, args.search_library, args.profile)
                report(figures, people_s + groups_s, args.people)
            if args.no_apply:
                return

            prepared = prepare(config, date.today())
            start = time.perf_counter()
            done = apply_prepared(prepared, run_id="bench", actor_name="bench", forced=["bench"])
            elapsed = time.perf_counter() - start
            steps = len(done.results)
            timed("apply", elapsed, f"{steps} steps, {steps / elapsed:,.0f} steps/s, "
                  f"{len(done.failed)} failed")  # fmt: skip
            close_targets(prepared.targets)

            start = time.perf_counter()
            again = prepare(config, date.today())
            timed("second prepare (must be empty)", time.perf_counter() - start,
                  f"{len(again.plan.actions)} actions")  # fmt: skip
            close_targets(again.targets)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
