"""HR file landing → account locked: latency of the worker, end to end.

    python bench/bench_latency.py --trials 20            # LDAP only
    python bench/bench_latency.py --trials 20 --keycloak # and signed out in Keycloak

Starts a throwaway slapd with the sample department (and, with --keycloak, a Keycloak
realm federated from it), runs `syncbot run` as a real process, then for each trial
replaces the roster file the way HR tools do (write a temporary file, rename it over) with
one more person departed, and times until that person can no longer bind to LDAP (and
until Keycloak refuses their refresh token). Prints median, p95 and max.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import source_checkout  # noqa: F401  (puts the checkout on sys.path for localdev)

from localdev import probes
from localdev.demo import REPO_MAPPINGS, write_config
from localdev.sample import SAMPLE_PASSWORD, directory_ldif, people, roster_csv
from localdev.slapd import SlapdServer

REPO = Path(__file__).resolve().parent.parent


def can_bind(server: SlapdServer, uid: str) -> bool:
    return probes.can_bind(server.url, f"uid={uid},{server.people_base}", SAMPLE_PASSWORD)


def depart(roster: Path, employee_ids: set[str]) -> None:
    """Rewrite the roster with these people departed yesterday, atomically."""
    rows = list(csv.reader(io.StringIO(roster.read_text("utf-8-sig"))))
    yesterday = (date.today() - timedelta(days=1)).strftime("%d/%m/%Y")
    for row in rows[1:]:
        if row[0] in employee_ids:
            row[5], row[6] = "Nghỉ việc", yesterday
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    tmp = roster.with_name(".nhan-su.csv.tmp")
    tmp.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
    tmp.replace(roster)


def wait(check: Any, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if check():
            return time.perf_counter() - start
        time.sleep(0.02)
    raise SystemExit(f"timed out after {timeout} s")


def summary(label: str, values: list[float]) -> None:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    print(
        f"{label:<34} median {statistics.median(values):6.2f} s   p95 {p95:6.2f} s   "
        f"max {values[-1]:6.2f} s   (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--debounce", type=float, default=1.0)
    parser.add_argument("--keycloak", action="store_true")
    args = parser.parse_args()
    today = date.today()
    workdir = Path(tempfile.mkdtemp(prefix="syncbot-latency-"))
    stack: list[Any] = []
    with SlapdServer(workdir / "slapd") as server:
        server.add_ldif(directory_ldif(today, server.people_base, server.groups_base))
        roster = workdir / "nhan-su.csv"
        roster.write_text(roster_csv(today), encoding="utf-8")
        extra, realm = "", None
        if args.keycloak:
            from localdev.demo import start_keycloak

            kc, realm, extra = start_keycloak(workdir, server, today)
            stack.append(kc)
        extra += f"\n[worker]\ninterval_minutes = 0\ndebounce_seconds = {args.debounce}\n"
        config = write_config(workdir, server, REPO_MAPPINGS, extra)
        # Safety thresholds are lifted: the benchmark departs many people one by one.
        text = config.read_text("utf-8")
        text = text.replace("max_disable_share = 0.10", "max_disable_share = 1.0")
        config.write_text(text.replace("max_shrink_share = 0.20", "max_shrink_share = 1.0"))
        env = {**os.environ, "SYNCBOT_LOG_LEVEL": "warning"}
        log = (workdir / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "syncbot", "--config", str(config), "run"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            status = workdir / "state" / "worker.json"
            wait(lambda: status.exists() and b'"finished"' in status.read_bytes(), 120)
            active = [
                p for p in people(today)
                if p.account and p.in_roster and p.status == "Đang công tác" and not p.locked
                and p.employee_id.startswith("CB1") and p.employee_id != "CB1005"
            ][: args.trials]  # fmt: skip
            departed: set[str] = set()
            ldap_times: list[float] = []
            kc_times: list[float] = []
            for person in active:
                session = realm.login(person.uid, SAMPLE_PASSWORD) if realm else None
                departed.add(person.employee_id)
                depart(roster, departed)
                landed = time.perf_counter()
                wait(lambda p=person: not can_bind(server, p.uid))  # type: ignore[misc]
                ldap_times.append(time.perf_counter() - landed)
                if realm is not None and session is not None:

                    def refused(token: str = session["refresh_token"]) -> bool:
                        try:
                            realm.refresh(token)
                        except Exception:
                            return True
                        return False

                    wait(refused)
                    kc_times.append(time.perf_counter() - landed)
            size = len(people(today))
            print(f"{len(active)} departures, one per roster replacement, debounce "
                  f"{args.debounce} s, sample department of {size} people")  # fmt: skip
            summary("HR file → locked in LDAP", ldap_times)
            if kc_times:
                summary("HR file → signed out in Keycloak", kc_times)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            log.close()
            for item in stack:
                item.stop()


if __name__ == "__main__":
    main()
