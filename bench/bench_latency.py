"""HR push or file drop → account locked and signed out: the worker's latency at province scale.

    python bench/bench_latency.py --people 2000 --keycloak-users 500 --trials 3
    python bench/bench_latency.py --people 100000 --trials 3 --json
    python bench/bench_latency.py --people 100000 --keycloak-users 20000 --trials 3

Seeds a throwaway slapd with N people (bench_reconcile's `build`, so the directory is the
one the full-reconcile benchmark reads) and, with --keycloak-users M, a Keycloak realm with
the first M of them as local users holding their `qoffice` role. Then runs `syncbot run` as a
real process, with its push endpoint on loopback, and per trial, each time with people who
have not departed before:

- an HR push of one departure (the time counts from just before the POST);
- file drops of 1, 10 and 100 departures: a new export written beside the roster and renamed
  over it, as HR tools do (the time counts from the rename);
- a SIGHUP (`systemctl reload`), after which the worker runs for everyone: that run's own
  duration, from the worker's log, is the full reconcile of the same data, printed beside
  the latencies. (Not an unchanged export dropped again: once file drops narrow their runs
  to the people the export changed, that run would read almost nothing.)

Before the trials, `--warmup` rounds (default 1) of one push and one file drop are run and
not counted: the first runs after start-up pay for Keycloak's JIT and cold caches.

For each departure it times until the person can no longer bind to LDAP and, with Keycloak,
until Keycloak refuses the refresh token of a session they opened before the trigger; with
10 or 100 departures, until all of them are. Prints median and p95 of each, with the median
duration of the worker run that did it (from the worker's log), or with --json one object:

    {"push": {"ldap_lock": {"p50": s, "p95": s}, "keycloak_signout": {...} or null},
     "file_drop": {"1": {...the same two...}, "10": {...}, "100": {...}},
     "full_reconcile_s": s}

Progress goes to stderr.

Probes are kept cheap so they do not slow what they measure: one bind at a time (every
`--ldap-poll` s, default 0.02) and one refresh at a time (every `--keycloak-poll` s, default
0.05), each on the first person not yet locked; once that one is locked, the next is probed
at once. slapd runs with fsync off (olcDbNoSync) and without last-bind recording, so the
probes' successful binds write nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import http.client
import io
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests
import source_checkout  # noqa: F401  (puts the checkout on sys.path for localdev)
from bench_keycloak import HEAP, IMPORT_CHUNK, full_name
from bench_reconcile import build

from localdev import probes
from localdev.demo import REPO_MAPPINGS, write_config
from localdev.keycloak import (
    DOCUMENT_CLIENT,
    EMPLOYEE_NUMBER,
    LOGIN_CLIENT,
    KeycloakServer,
    RealmHandle,
)
from localdev.ports import free_port
from localdev.sample import SAMPLE_PASSWORD
from localdev.sample_keycloak import keycloak_config
from localdev.slapd import SlapdServer, ssha

REPO = Path(__file__).resolve().parent.parent
#: Departures per file drop; a push names one person.
FILE_DROP_SIZES = (1, 10, 100)
PER_TRIAL = 1 + sum(FILE_DROP_SIZES)
#: A warm-up round, not counted: one push and one file drop of one departure each.
WARMUP_PEOPLE = 2
#: The role every seeded person holds: bench_reconcile's roster makes everyone a specialist.
ROLE = "chuyen-vien"
STATUS_COLUMN, DATE_COLUMN = 5, 6
#: The test people's passwords are hashed with PBKDF2 at this many rounds, not with
#: Keycloak 26's default (argon2), so that seeding and the sign-ins before each trial do
#: not take the machine's cores; a round count alone would mean argon2 passes.
PASSWORD_POLICY = "hashAlgorithm(pbkdf2-sha512) and hashIterations(1000)"
RUN_END_EVENTS = ("run_finished", "run_failed", "run_refused")


def note(message: str) -> None:
    """Progress, on stderr so that `--json` leaves stdout to the result alone."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Person:
    index: int

    @property
    def uid(self) -> str:
        return f"u{self.index:06d}"

    @property
    def employee_id(self) -> str:
        return f"E{self.index:06d}"


# -- seeding -------------------------------------------------------------------------------


def set_ldap_passwords(server: SlapdServer, people: Sequence[Person]) -> None:
    """Give the test people a password, so that a bind tells whether they are locked.

    bench_reconcile's entries have none (a full reconcile never binds as a person).
    """
    import ldap3

    host = ldap3.Server(server.url.rstrip("/"), get_info=ldap3.NONE)
    conn = ldap3.Connection(host, server.admin_dn, server.admin_password, raise_exceptions=True)
    conn.bind()
    try:
        hashed = ssha(SAMPLE_PASSWORD)
        for person in people:
            conn.modify(
                f"uid={person.uid},{server.people_base}",
                {"userPassword": [(ldap3.MODIFY_REPLACE, [hashed])]},
            )
    finally:
        conn.unbind()


def seed_keycloak(realm: RealmHandle, count: int, with_password: set[int]) -> None:
    """The first `count` people as local users holding their role, imported in chunks.

    Only the test people get a password: they are the ones who sign in. Their passwords go
    in plain and Keycloak hashes them by the realm's (cheap) policy.
    """
    realm.admin.update_realm(realm.name, {"passwordPolicy": PASSWORD_POLICY})
    for start in range(0, count, IMPORT_CHUNK):
        users = []
        for i in range(start, min(start + IMPORT_CHUNK, count)):
            last, first = full_name(i)
            user: dict[str, Any] = {
                "username": f"u{i:06d}",
                "email": f"u{i:06d}@tinhmau.gov.vn",
                "emailVerified": True,
                "firstName": first,
                "lastName": last,
                "enabled": True,
                "attributes": {EMPLOYEE_NUMBER: [f"E{i:06d}"]},
                "clientRoles": {DOCUMENT_CLIENT: [ROLE]},
            }
            if i in with_password:
                user["credentials"] = [
                    {"type": "password", "value": SAMPLE_PASSWORD, "temporary": False}
                ]
            users.append(user)
        realm.admin.partial_import_realm(realm.name, {"ifResourceExists": "FAIL", "users": users})


def test_people(pool: int, trials: int, warmup: int) -> list[Person]:
    """Everyone who departs during the run, spread evenly over the first `pool` people."""
    needed = warmup * WARMUP_PEOPLE + trials * PER_TRIAL
    if needed > pool:
        raise SystemExit(
            f"{trials} trials depart {needed} people, but only {pool} can take part "
            "(--people, or --keycloak-users when given): fewer trials or more people"
        )
    return [Person(k * pool // needed) for k in range(needed)]


# -- the roster and the push -----------------------------------------------------------------


class Roster:
    """The HR export the worker watches, rewritten the way HR tools replace it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = path.read_text("utf-8-sig")
        self.rows = list(csv.reader(io.StringIO(text)))
        self.row_of = {row[0]: row for row in self.rows[1:]}
        self.effective = (date.today() - timedelta(days=1)).strftime("%d/%m/%Y")

    def depart(self, people: Sequence[Person]) -> None:
        for person in people:
            row = self.row_of[person.employee_id]
            row[STATUS_COLUMN], row[DATE_COLUMN] = "Nghỉ việc", self.effective

    def staged(self) -> Path:
        """The next export, written in full beside the roster; `land` renames it over."""
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(self.rows)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("\ufeff" + out.getvalue(), encoding="utf-8")
        return tmp

    def push_rows(self, people: Sequence[Person]) -> list[dict[str, str]]:
        """These people's rows, as departed, keyed by the export's headers."""
        header = self.rows[0]
        rows = []
        for person in people:
            row = list(self.row_of[person.employee_id])
            row[STATUS_COLUMN], row[DATE_COLUMN] = "Nghỉ việc", self.effective
            rows.append(dict(zip(header, row, strict=True)))
        return rows


def push(port: int, token: str, rows: list[dict[str, str]]) -> float:
    """POST a departure as an HR system would; the time just before the request is sent."""
    body = json.dumps({"rows": rows}, ensure_ascii=False).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = time.perf_counter()
        connection.request(
            "POST",
            "/v1/roster-changes",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
    finally:
        connection.close()
    if answer.status != 202:
        raise SystemExit(f"the push was answered {answer.status}: {text}")
    return sent


# -- watching the worker ---------------------------------------------------------------------


@dataclass
class Run:
    run_id: str
    trigger: str
    order: int
    full: bool
    result: str | None = None
    seconds: float | None = None
    actions: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class WorkerLog:
    """Follows the worker's JSON log for its runs: when each starts, ends and how long it took.

    Used from both probing threads (to notice a failed run early), hence the lock.
    """

    def __init__(self, path: Path, process: subprocess.Popen[bytes]) -> None:
        self.path = path
        self.process = process
        self.runs: list[Run] = []
        self._by_id: dict[str, Run] = {}
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()
        self.changed_at = time.perf_counter()

    def read(self) -> None:
        with self._lock:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
            self._offset += len(data)
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                self._take(line)

    def _take(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return  # a traceback or other plain text: shown by `tail` when something fails
        name = event.get("event") if isinstance(event, dict) else None
        if name == "run_started":
            run = Run(
                str(event["run_id"]),
                str(event.get("trigger")),
                len(self.runs),
                full=event.get("people") is None,  # a narrowed run logs how many it is for
            )
            self.runs.append(run)
            self._by_id[run.run_id] = run
            self.changed_at = time.perf_counter()
        elif name in RUN_END_EVENTS and event.get("run_id") in self._by_id:
            run = self._by_id[event["run_id"]]
            run.result = str(event.get("result") or name.removeprefix("run_"))
            run.seconds = float(event.get("seconds", 0.0))
            run.actions = dict(event.get("actions") or {})
            run.error = str(event.get("error") or event.get("problems") or "") or None
            self.changed_at = time.perf_counter()

    def check(self, since: int = 0) -> None:
        """Stop the benchmark when the worker died or a run since `since` did not succeed:
        the accounts would never lock, and waiting for the timeout would hide why."""
        if self.process.poll() is not None:
            raise SystemExit(f"the worker exited with {self.process.returncode}:\n{self.tail()}")
        for run in self.runs[since:]:
            if run.result not in (None, "ok"):
                raise SystemExit(
                    f"worker run {run.run_id} ({run.trigger}) ended {run.result}: {run.error}"
                )

    def tail(self, lines: int = 30) -> str:
        text = self.path.read_text("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_idle(self, quiet: float, timeout: float) -> None:
        """Until every run has ended and none started for `quiet` s: one measurement at a time."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.read()
            self.check()
            busy = any(run.result is None for run in self.runs)
            if not busy and self.runs and time.perf_counter() - self.changed_at >= quiet:
                return
            time.sleep(0.05)
        raise SystemExit(f"the worker did not become idle within {timeout:.0f} s")

    def run_after(self, mark: int, timeout: float) -> Run:
        """The first run started after `mark` runs, once it has ended."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.read()
            self.check(mark)
            if len(self.runs) > mark and self.runs[mark].result is not None:
                return self.runs[mark]
            time.sleep(0.05)
        raise SystemExit(f"no run of the worker ended within {timeout:.0f} s")


# -- probing ---------------------------------------------------------------------------------


class KeycloakSessions:
    """Signs the test people in and asks, one refresh at a time, whether Keycloak still lets
    their session go on. One HTTP session per thread, so connections are kept and reused."""

    def __init__(self, realm: RealmHandle) -> None:
        self.url = f"{realm.server_url}/realms/{realm.name}/protocol/openid-connect/token"
        self.tokens: dict[Person, str] = {}
        self._local = threading.local()

    def _http(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def login(self, people: Sequence[Person]) -> None:
        for person in people:
            answer = self._http().post(
                self.url,
                data={"grant_type": "password", "client_id": LOGIN_CLIENT, "scope": "openid",
                      "username": person.uid, "password": SAMPLE_PASSWORD},
                timeout=60,
            )  # fmt: skip
            if answer.status_code != 200:
                raise SystemExit(f"{person.uid} cannot sign in to Keycloak: {answer.text}")
            self.tokens[person] = str(answer.json()["refresh_token"])

    def refused(self, person: Person) -> bool:
        """True once the refresh token is refused (400 invalid_grant: disabled or signed out).

        Any other answer, or none, counts as not yet: an overloaded server is not a lockout.
        """
        try:
            answer = self._http().post(
                self.url,
                data={"grant_type": "refresh_token", "client_id": LOGIN_CLIENT,
                      "refresh_token": self.tokens[person]},
                timeout=30,
            )  # fmt: skip
        except requests.RequestException:
            return False
        if answer.status_code == 200:
            # The newest token, so that a long wait never outlives the first one's lifetime.
            self.tokens[person] = str(answer.json()["refresh_token"])
        return answer.status_code == 400


def wait_all(
    people: Sequence[Person],
    done: Callable[[Person], bool],
    landed: float,
    poll: float,
    deadline: float,
    guard: Callable[[], None],
) -> float:
    """Seconds from `landed` until `done` holds for every person.

    Probes the first person not yet done, sleeping `poll` between probes of that person;
    one found done, the next is probed at once. So at most one probe is in flight, and the
    end is seen at most `poll` plus one probe per person still unconfirmed after it.
    """
    remaining = list(people)
    guarded = 0.0
    while remaining:
        if done(remaining[0]):
            remaining.pop(0)
            continue
        now = time.perf_counter()
        if now > deadline:
            raise SystemExit(f"{len(remaining)} of {len(people)} still not locked at the timeout")
        if now - guarded > 0.5:
            guard()
            guarded = now
        time.sleep(poll)
    return time.perf_counter() - landed


@dataclass
class Sample:
    ldap: float
    keycloak: float | None
    run: Run


# -- the benchmark ---------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    server: SlapdServer
    roster: Roster
    log: WorkerLog
    port: int
    token: str
    keycloak: KeycloakSessions | None

    def measure(self, people: Sequence[Person], trigger: Callable[[], float]) -> Sample:
        """Check the people can still sign in, wait for a quiet worker, trigger, time."""

        def locked(person: Person) -> bool:
            dn = f"uid={person.uid},{self.server.people_base}"
            return not probes.can_bind(self.server.url, dn, SAMPLE_PASSWORD)

        if self.keycloak is not None:
            self.keycloak.login(people)
        for person in people:
            if locked(person):
                raise SystemExit(f"{person.uid} cannot bind before the trigger")
            if self.keycloak is not None and self.keycloak.refused(person):
                raise SystemExit(f"{person.uid}'s refresh token is refused before the trigger")
        self.log.wait_idle(self.quiet, self.args.timeout)
        mark = len(self.log.runs)

        def guard() -> None:
            self.log.read()
            self.log.check(mark)

        landed = trigger()
        deadline = landed + self.args.timeout
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            ldap = pool.submit(wait_all, people, locked, landed, self.args.ldap_poll, deadline,
                               guard)  # fmt: skip
            kc = None
            if self.keycloak is not None:
                kc = pool.submit(wait_all, people, self.keycloak.refused, landed,
                                 self.args.keycloak_poll, deadline, guard)  # fmt: skip
            ldap_s, kc_s = ldap.result(), kc.result() if kc is not None else None
        run = self.log.run_after(mark, self.args.timeout)
        return Sample(ldap_s, kc_s, run)

    @property
    def quiet(self) -> float:
        """How long the worker must have started nothing to count as idle: past the debounce
        and the loop's own wake-up (0.5 s), so a late trigger of the last step shows first."""
        return float(self.args.debounce) + 1.0

    def by_push(self, person: Person) -> Sample:
        rows = self.roster.push_rows([person])
        sample = self.measure([person], lambda: push(self.port, self.token, rows))
        # HR's next export lists the departure too, which ends the pushed row.
        self.roster.depart([person])
        return sample

    def by_file(self, people: Sequence[Person]) -> Sample:
        self.roster.depart(people)
        return self.measure(people, self.land)

    def land(self) -> float:
        staged = self.roster.staged()
        staged.replace(self.roster.path)
        return time.perf_counter()

    def full_reconcile(self) -> Run:
        """A full run of the worker with nothing to do, started by a reload (SIGHUP)."""
        self.log.wait_idle(self.quiet, self.args.timeout)
        mark = len(self.log.runs)
        self.log.process.send_signal(signal.SIGHUP)
        run = self.log.run_after(mark, self.args.timeout)
        if not run.full:
            raise SystemExit(f"the run after SIGHUP ({run.trigger}) was not for everyone")
        return run


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p95": round(p95, 3)}


def run_trials(bench: Bench, people: list[Person], trials: int, warmup: int) -> dict[str, Any]:
    samples: dict[str, list[Sample]] = {"push": [], **{str(n): [] for n in FILE_DROP_SIZES}}
    full: list[Run] = []
    queue = iter(people)
    # The first runs after start-up are slower (Keycloak's JIT, cold caches on both sides);
    # a worker that has run for a day is warm.
    for _ in range(warmup):
        note(f"warm-up: push, 1 person: {describe(bench.by_push(next(queue)))}")
        note(f"warm-up: file drop, 1 departed: {describe(bench.by_file([next(queue)]))}")
    for trial in range(1, trials + 1):
        sample = bench.by_push(next(queue))
        samples["push"].append(sample)
        note(f"trial {trial}: push, 1 person: {describe(sample)}")
        for size in FILE_DROP_SIZES:
            sample = bench.by_file([next(queue) for _ in range(size)])
            samples[str(size)].append(sample)
            note(f"trial {trial}: file drop, {size} departed: {describe(sample)}")
        run = bench.full_reconcile()
        full.append(run)
        note(f"trial {trial}: reload, full run {run.seconds:.2f} s, "
             f"actions {run.actions or 'none'}")  # fmt: skip
    return {"samples": samples, "full": full}


def describe(sample: Sample) -> str:
    kc = f", Keycloak refused {sample.keycloak:.2f} s" if sample.keycloak is not None else ""
    return f"LDAP locked {sample.ldap:.2f} s{kc}; worker run {sample.run.seconds:.2f} s"


def summary(samples: list[Sample]) -> dict[str, Any]:
    keycloak = [s.keycloak for s in samples if s.keycloak is not None]
    return {
        "ldap_lock": percentiles([s.ldap for s in samples]),
        "keycloak_signout": percentiles(keycloak) if keycloak else None,
    }


def result_json(found: dict[str, Any]) -> dict[str, Any]:
    samples = found["samples"]
    return {
        "push": summary(samples["push"]),
        "file_drop": {str(n): summary(samples[str(n)]) for n in FILE_DROP_SIZES},
        "full_reconcile_s": round(
            statistics.median(run.seconds or 0.0 for run in found["full"]), 3
        ),
    }


def print_table(found: dict[str, Any], args: argparse.Namespace, startup: Run) -> None:
    samples = found["samples"]
    scale = f"{args.people:,} people in LDAP"
    if args.keycloak_users:
        scale += f", {args.keycloak_users:,} users in Keycloak"
    print(f"{scale}; {args.trials} trials, fresh people each; debounce {args.debounce} s")
    print(f"{'':<25}{'LDAP locked':^20}  {'Keycloak refused':^20}  {'worker run':>10}")
    print(f"{'':<25}{'p50':>10}{'p95':>10}  {'p50':>10}{'p95':>10}  {'p50':>10}")

    def cell(value: float | None) -> str:
        return f"{value:>8.2f} s" if value is not None else f"{'-':>10}"

    def row(label: str, chosen: list[Sample]) -> None:
        ldap = percentiles([s.ldap for s in chosen])
        kc_values = [s.keycloak for s in chosen if s.keycloak is not None]
        kc = percentiles(kc_values) if kc_values else {"p50": None, "p95": None}
        runs = statistics.median(s.run.seconds or 0.0 for s in chosen)
        print(f"{label:<25}{cell(ldap['p50'])}{cell(ldap['p95'])}  "
              f"{cell(kc['p50'])}{cell(kc['p95'])}  {cell(runs)}")  # fmt: skip

    row("push, 1 person", samples["push"])
    for n in FILE_DROP_SIZES:
        row(f"file drop, {n} departed", samples[str(n)])
    full = [run.seconds or 0.0 for run in found["full"]]
    print(f"full reconcile (worker run after SIGHUP): median "
          f"{statistics.median(full):.2f} s, max {max(full):.2f} s (n={len(full)}); "
          f"first run at start-up {startup.seconds:.2f} s")  # fmt: skip


def worker_config(
    workdir: Path, server: SlapdServer, realm: RealmHandle | None, port: int, debounce: float
) -> Path:
    extra = ""
    if realm is not None:
        secret = workdir / "keycloak-secret"
        secret.write_text(realm.client_secret + "\n", encoding="utf-8")
        secret.chmod(0o600)
        extra = keycloak_config(realm, secret.name)
    extra += (
        f"\n[worker]\ninterval_minutes = 0\ndebounce_seconds = {debounce}\n"
        f'[worker.push]\nlisten = "127.0.0.1:{port}"\ntoken_file = "push-token"\n'
    )
    config = write_config(workdir, server, REPO_MAPPINGS, extra)
    # Thresholds lifted: a trial departs up to 100 people, and pushes count until a full run.
    # The log is JSON at info level: the runs' durations are read from it.
    text = config.read_text("utf-8")
    for old, new in (
        ("max_disable_share = 0.10", "max_disable_share = 1.0"),
        ("max_shrink_share = 0.20", "max_shrink_share = 1.0"),
        ('level = "warning"', 'level = "info"\nformat = "json"'),
    ):
        if old not in text:
            raise SystemExit(f"the demo config no longer has {old!r}: update this benchmark")
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=2000, help="people in LDAP (and roster)")
    parser.add_argument("--keycloak-users", type=int, default=0,
                        help="the first M people, also in Keycloak (0: none)")  # fmt: skip
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--debounce", type=float, default=0.2, help="the worker's debounce, s")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed rounds before the trials: a push, a file drop")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for one lockout or one run")  # fmt: skip
    parser.add_argument("--ldap-poll", type=float, default=0.02)
    parser.add_argument("--keycloak-poll", type=float, default=0.05)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.keycloak_users > args.people:
        parser.error("--keycloak-users cannot exceed --people")
    people = test_people(args.keycloak_users or args.people, args.trials, args.warmup)
    workdir = Path(tempfile.mkdtemp(prefix="syncbot-latency-"))
    try:
        with contextlib.ExitStack() as stack:
            found, startup = run(stack, workdir, people, args)
    finally:
        if args.keep:
            note(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result_json(found)))
    else:
        print_table(found, args, startup)


def run(
    stack: contextlib.ExitStack, workdir: Path, people: list[Person], args: argparse.Namespace
) -> tuple[dict[str, Any], Run]:
    realm = None
    keycloak = None
    if args.keycloak_users:
        os.environ.setdefault("JAVA_OPTS_KC_HEAP", HEAP)
        keycloak = KeycloakServer(workdir / "keycloak")
        stack.callback(keycloak.stop)
        # Keycloak takes about a minute to start: it does so while slapd is being seeded.
        pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(1))
        starting = pool.submit(keycloak.start)
    server = stack.enter_context(SlapdServer(workdir / "slapd", record_last_bind=False))
    start = time.perf_counter()
    build(server, workdir, args.people, 0)
    set_ldap_passwords(server, people)
    note(f"slapd seeded with {args.people:,} people in {time.perf_counter() - start:.1f} s")
    if keycloak is not None:
        starting.result()
        realm = keycloak.create_realm(f"latency-{os.getpid()}")
        if keycloak.attached:
            stack.callback(realm.delete)
        start = time.perf_counter()
        seed_keycloak(realm, args.keycloak_users, {p.index for p in people})
        note(f"Keycloak seeded with {args.keycloak_users:,} users in "
             f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    token = secrets.token_hex(32)
    token_file = workdir / "push-token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    port = free_port()
    config = worker_config(workdir, server, realm, port, args.debounce)
    log_path = workdir / "worker.log"
    env = {**os.environ, "SYNCBOT_LOG_LEVEL": "info"}
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "syncbot", "--config", str(config), "run"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log_file,
        )  # fmt: skip
    stack.callback(stop_worker, worker)
    log = WorkerLog(log_path, worker)
    log.wait_idle(args.debounce + 1.0, args.timeout)
    startup = log.runs[0]
    note(f"worker up; its first run (full, at start-up) took {startup.seconds:.2f} s, "
         f"actions {startup.actions or 'none'}")  # fmt: skip
    sessions = KeycloakSessions(realm) if realm is not None else None
    bench = Bench(args, server, Roster(workdir / "nhan-su.csv"), log, port, token, sessions)
    return run_trials(bench, people, args.trials, args.warmup), startup


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the worker finish its step; a worker stuck past a minute is killed."""
    if worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


if __name__ == "__main__":
    main()
