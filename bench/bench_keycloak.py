"""Benchmark one whole reconcile of a Keycloak realm at provincial scale (10k-20k users).

    python bench/bench_keycloak.py --people 10000 --departures 500 --drift 200
    python bench/bench_keycloak.py --people 20000 --departures 1000 --drift 400

Starts a throwaway Keycloak (or uses the one `SYNCBOT_KEYCLOAK_URL` names), creates a realm
and imports N users through the partial-import API, each holding the `qoffice` client role
of their position; D of them departed yesterday in the roster, and R others drifted (half
hold a role too many, half miss theirs). Then, in a fresh process so that generating the
data does not count: syncbot's read split into the users list and the role members, the
planning, the rendering, the peak RSS, the admin requests; applying the plan (steps/s,
requests); and the second plan, which must be empty. Before and after it, the floor: plain
`requests` paging through the same users list, which is what Keycloak itself costs.

Keycloak's JVM gets `JAVA_OPTS_KC_HEAP` (default here -Xms256m -Xmx1g; `--heap` changes it)
and its resident memory is printed after the run.

Seeding 20,000 users takes minutes. To measure the plan again and again, attach to one
server (`SYNCBOT_KEYCLOAK_URL` and its admin, see localdev/keycloak.py) and name a realm
with `--realm`: it is seeded only when it does not exist yet and is kept afterwards, and the
plan is not applied, since that would leave a realm with nothing to do for the next run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import source_checkout  # noqa: F401  (puts the checkout on sys.path for localdev)
from bench_reconcile import UNITS, current_rss_kib, peak_rss_kib, print_plan, timed

from localdev.demo import REPO_MAPPINGS
from localdev.keycloak import (
    DOCUMENT_CLIENT,
    EMPLOYEE_NUMBER,
    ROLE_TITLES,
    KeycloakServer,
    RealmHandle,
)
from syncbot.logs import configure_logging
from syncbot.memory import pin_mmap_threshold

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
IMPORT_CHUNK = 100  # Keycloak's partial import slows down faster than linearly with size
HEAP = "-Xms256m -Xmx1g"

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]  # fmt: skip
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Thu", "Xuân"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hằng", "Hiếu", "Hoa", "Hùng",
         "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phong", "Phương",
         "Quân", "Quyên", "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Tuấn", "Yến"]  # fmt: skip
#: Positions in roughly the shares a provincial department has, and the role each maps to.
POSITIONS = [("Chuyên viên", "chuyen-vien")] * 14 + [
    ("Văn thư", "van-thu"),
    ("Văn thư", "van-thu"),
    ("Trưởng phòng", "lanh-dao"),
    ("Phó Trưởng phòng", "lanh-dao"),
    ("Kế toán", "chuyen-vien"),
    ("Quản trị hệ thống", "quan-tri"),
]


def full_name(i: int) -> tuple[str, str]:
    """(family and middle name, given name), varied but reproducible."""
    return f"{FAMILY[i % 16]} {MIDDLE[i // 16 % 10]}", GIVEN[i // 160 % 30]


def people(n: int, departures: int, drift: int) -> Iterator[dict[str, Any]]:
    """Every person: roster fields, the client roles they hold, and how they drifted.

    Departures and drift are spread evenly over the realm, not bunched at its start,
    so they fall on every page of the users list.
    """
    leave_every = n // departures if departures else 0
    drift_every = n // drift if drift else 0
    for i in range(n):
        position, role = POSITIONS[i % len(POSITIONS)]
        leaving = bool(leave_every) and i % leave_every == 0
        drifted = not leaving and bool(drift_every) and i % drift_every == 1
        held = [role]
        if drifted and i // drift_every % 2 == 0:
            held = [role, "lanh-dao"] if role != "lanh-dao" else [role, "quan-tri"]
        elif drifted:
            held = []  # the grant never made
        yield {
            "i": i,
            "username": f"u{i:06d}",
            "employee_id": f"E{i:06d}",
            "name": full_name(i),
            "unit": UNITS[i % len(UNITS)],
            "position": position,
            "leaving": leaving,
            "held": held,
        }


def import_users(realm: RealmHandle, everyone: list[dict[str, Any]]) -> None:
    """Partial import in chunks, each user with their `qoffice` client roles."""
    for start in range(0, len(everyone), IMPORT_CHUNK):
        users = [
            {
                "username": p["username"],
                "email": f"{p['username']}@tinhmau.gov.vn",
                "emailVerified": True,
                "firstName": p["name"][1],
                "lastName": p["name"][0],
                "enabled": True,
                "attributes": {EMPLOYEE_NUMBER: [p["employee_id"]]},
                "clientRoles": {DOCUMENT_CLIENT: p["held"]} if p["held"] else {},
            }
            for p in everyone[start : start + IMPORT_CHUNK]
        ]
        realm.admin.partial_import_realm(realm.name, {"ifResourceExists": "FAIL", "users": users})


def roster_csv(everyone: list[dict[str, Any]]) -> str:
    yesterday = (date.today() - timedelta(days=1)).strftime("%d/%m/%Y")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Mã cán bộ", "Họ và tên", "Email", "Đơn vị", "Chức vụ", "Trạng thái",
                     "Ngày hiệu lực"])  # fmt: skip
    for p in everyone:
        status, effective = ("Nghỉ việc", yesterday) if p["leaving"] else ("Đang công tác", "")
        writer.writerow([p["employee_id"], " ".join(p["name"]), f"{p['username']}@tinhmau.gov.vn",
                         p["unit"], p["position"], status, effective])  # fmt: skip
    return "\ufeff" + out.getvalue()


def write_config(workdir: Path, realm: RealmHandle, roster: str, page_size: int) -> Path:
    mappings = workdir / "mappings"
    mappings.mkdir()
    for name in ("positions", "statuses"):
        (mappings / f"{name}.toml").write_text((REPO_MAPPINGS / f"{name}.toml").read_text("utf-8"))
    roles = "".join(
        f'[roles."{title}"]\nkeycloak = ["client:{DOCUMENT_CLIENT}:{role}"]\n'
        for role, title in ROLE_TITLES.items()
    )
    (mappings / "roles.toml").write_text(roles, encoding="utf-8")
    units = "".join(f'[units."{unit}"]\n' for unit in UNITS)
    (mappings / "units.toml").write_text(units, encoding="utf-8")
    (workdir / "nhan-su.csv").write_text(roster, encoding="utf-8")
    (workdir / "keycloak-secret").write_text(realm.client_secret + "\n", encoding="utf-8")
    config = workdir / "syncbot.toml"
    config.write_text(
        '[roster]\npath = "nhan-su.csv"\n[mappings]\ndir = "mappings"\n'
        '[state]\ndir = "state"\n[audit]\npath = "audit.jsonl"\n'
        f'[targets.keycloak]\ntype = "keycloak"\nserver_url = "{realm.server_url}"\n'
        f'realm = "{realm.name}"\nclient_id = "{realm.client_id}"\n'
        f'client_secret_file = "keycloak-secret"\npage_size = {page_size}\n',
        encoding="utf-8",
    )
    return config


# -- measured in a fresh process ------------------------------------------------------------


def measure(config_path: Path, *, apply: bool = True) -> dict[str, Any]:
    """Plan, apply and plan again in this process, the phases timed where `prepare` calls
    them, so the path measured is the production one. Without `apply`, the plan only."""
    from syncbot import reconcile
    from syncbot.config import load_config
    from syncbot.targets.keycloak import read as keycloak_read

    spent: dict[str, float] = {"roster": 0.0, "users": 0.0, "members": 0.0, "plan": 0.0}
    requests: dict[str, int] = {"users": 0, "members": 0}

    def clocked(label: str, function: Callable[..., T]) -> Callable[..., T]:
        def run(*args: Any, **kwargs: Any) -> T:
            api = args[0] if label in requests else None  # the reads take the API first
            calls = api.calls if api is not None else 0
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - start
                if api is not None:
                    requests[label] += api.calls - calls

        return run

    module, reads = cast(Any, reconcile), cast(Any, keycloak_read)
    module.load_inputs = clocked("roster", module.load_inputs)
    module.plan = clocked("plan", module.plan)
    reads.read_users = clocked("users", reads.read_users)
    reads.read_members = clocked("members", reads.read_members)
    config = load_config(config_path)
    started_kib = current_rss_kib()
    code_kib = load_client_code(config.targets["keycloak"])
    start = time.perf_counter()
    prepared = reconcile.prepare(config, date.today())
    rendered = time.perf_counter()
    render_chars = print_plan(prepared.plan)  # a line at a time, as `syncbot plan` prints
    finished = time.perf_counter()
    peak_plan_kib = peak_rss_kib()
    first = dict(spent)  # the second plan below runs through the same clocks
    first_requests = dict(requests)
    target = prepared.targets["keycloak"]
    plan_requests = target.requests  # type: ignore[attr-defined]
    kinds: dict[str, int] = {}
    for action in prepared.plan.actions:
        kinds[action.kind.value] = kinds.get(action.kind.value, 0) + 1
    planned = {
        **first,
        "fetch": first["users"] + first["members"],
        "render": finished - rendered,
        "total": finished - start,
        "accounts": sum(len(s.accounts) for s in prepared.snapshots.values()),
        "actions": len(prepared.plan.actions),
        "kinds": kinds,
        "render_chars": render_chars,
        "plan_requests": plan_requests,
        "users_requests": first_requests["users"],
        "members_requests": first_requests["members"],
        "start_kib": started_kib,
        "code_kib": code_kib,
        "peak_plan_kib": peak_plan_kib,
    }
    if not apply:
        reconcile.close_targets(prepared.targets)
        return planned

    apply_start = time.perf_counter()
    done = reconcile.apply_prepared(prepared, run_id="bench", actor_name="bench", forced=["bench"])
    apply_seconds = time.perf_counter() - apply_start
    apply_requests = target.requests - plan_requests  # type: ignore[attr-defined]
    reconcile.close_targets(prepared.targets)

    again_start = time.perf_counter()
    again = reconcile.prepare(config, date.today())
    again_seconds = time.perf_counter() - again_start
    reconcile.close_targets(again.targets)
    return {
        **planned,
        "apply_seconds": apply_seconds,
        "steps": len(done.results),
        "failed": len(done.failed),
        "apply_requests": apply_requests,
        "again_seconds": again_seconds,
        "again_actions": len(again.plan.actions),
        "peak_kib": peak_rss_kib(),
    }


def load_client_code(settings: Any) -> int:
    """Load the Keycloak client's code as a first run does, and return the RSS after it.

    Set apart, it shows what the run costs per user. It was 5.6 MiB while syncbot went
    through python-keycloak, whose connections each build an httpx async client (pulling
    in httpcore, anyio and trio); on `requests` alone it is next to nothing. Either way
    it is paid once, by a long-running worker too. (python-keycloak itself is imported
    before start-up here, by localdev, which seeds the realm with it.)
    """
    from syncbot.targets.keycloak.api import AdminApi

    api = AdminApi(settings)
    api.connection()  # builds the clients without sending anything
    api.close()
    return current_rss_kib()


def measure_in_child(config_path: Path, *, apply: bool) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), str(ROOT / "bench"), env.get("PYTHONPATH")])
    )
    command = [sys.executable, __file__, "--measure", str(config_path)]
    if not apply:
        command.append("--plan-only")
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # The child's traceback is the only clue to what failed; it holds no secret.
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the measuring process failed with exit status {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(figures: dict[str, Any], people: int) -> None:
    timed("roster load", figures["roster"])
    timed("fetch: users list", figures["users"],
          f"{figures['accounts']:,} accounts, {figures['users_requests']} requests")  # fmt: skip
    timed("fetch: role members", figures["members"],
          f"4 client roles, {figures['members_requests']} requests")  # fmt: skip
    timed("fetch, whole", figures["fetch"], f"{figures['plan_requests']} admin requests")
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(figures["kinds"].items()))
    timed("plan", figures["plan"], f"{figures['actions']} actions ({kinds})")
    timed("render", figures["render"], f"{figures['render_chars']:,} characters")
    timed("syncbot plan, whole", figures["total"])
    beyond = (figures["peak_plan_kib"] - figures["start_kib"]) * 1024 / people
    code = figures["code_kib"] - figures["start_kib"]
    beyond_code = (figures["peak_plan_kib"] - figures["code_kib"]) * 1024 / people
    print(f"{'peak RSS after plan':<34} {figures['peak_plan_kib'] / 1024:8.1f} MiB  "
          f"(start-up {figures['start_kib'] / 1024:.1f} MiB; "
          f"{beyond:,.0f} bytes per user beyond start-up)")  # fmt: skip
    print(f"{'  beyond start-up and client code':<34} {beyond_code:8,.0f} B/user "
          f"(the Keycloak client's code: {code / 1024:.1f} MiB)")  # fmt: skip
    if "apply_seconds" not in figures:
        print("apply                              skipped: the realm is kept for the next run")
        return
    rate = figures["steps"] / figures["apply_seconds"] if figures["apply_seconds"] else 0
    timed("apply", figures["apply_seconds"],
          f"{figures['steps']} steps, {rate:,.0f} steps/s, {figures['failed']} failed, "
          f"{figures['apply_requests']} admin requests")  # fmt: skip
    timed("second plan (must be empty)", figures["again_seconds"],
          f"{figures['again_actions']} actions")  # fmt: skip
    print(f"{'peak RSS, whole run':<34} {figures['peak_kib'] / 1024:8.1f} MiB")


def floor(realm: RealmHandle, page_size: int) -> tuple[float, int]:
    """Seconds for plain `requests` to page through the users list as the fetch does, with
    nothing done to the answers: what Keycloak itself costs. Returns (seconds, users)."""
    import requests

    base = f"{realm.server_url}/realms/{realm.name}/protocol/openid-connect/token"
    token = requests.post(
        base,
        data={"grant_type": "client_credentials", "client_id": realm.client_id,
              "client_secret": realm.client_secret},
        timeout=60,
    ).json()["access_token"]  # fmt: skip
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = f"{realm.server_url}/admin/realms/{realm.name}/users"
    start = time.perf_counter()
    first = 0
    while True:
        params: dict[str, str | int] = {
            "briefRepresentation": "false",
            "first": first,
            "max": page_size,
        }
        page = session.get(url, params=params, timeout=600).json()
        first += len(page)
        if len(page) < page_size:
            return time.perf_counter() - start, first


def jvm_rss_mib(server: KeycloakServer) -> float | None:
    """Resident memory of Keycloak's java process (kc.sh's child), if it runs here."""
    if server.pid is None:
        return None
    found = subprocess.run(["ps", "-o", "rss=", "--ppid", str(server.pid)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    sizes = [int(x) for x in found.stdout.split()]
    return max(sizes) / 1024 if sizes else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--departures", type=int, default=500)
    parser.add_argument("--drift", type=int, default=200, help="people with role drift")
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--heap", default=HEAP, help="Keycloak's JAVA_OPTS_KC_HEAP")
    parser.add_argument("--workdir", type=Path, help="keep files here instead of a temp dir")
    parser.add_argument(
        "--realm",
        help="use this realm, seeded only if it does not exist yet, keep it and do not apply",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plan-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("console", "warning")
    if args.measure:
        pin_mmap_threshold()  # as `syncbot`'s entry point does first, before any work
        print(json.dumps(measure(args.measure, apply=not args.plan_only)))
        return
    os.environ.setdefault("JAVA_OPTS_KC_HEAP", args.heap)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="syncbot-bench-kc-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with KeycloakServer(workdir / "keycloak") as server:
            if args.realm:
                realm, seeded = kept_realm(server, args.realm, args.people)
                run(server, realm, workdir, args, seed=not seeded)
                return
            realm = server.create_realm(f"bench-{args.people}-{os.getpid()}")
            try:
                run(server, realm, workdir, args)
            finally:
                realm.delete()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def kept_realm(server: KeycloakServer, name: str, people: int) -> tuple[RealmHandle, bool]:
    """Realm `name` and whether it already holds the users; created when it does not exist."""
    if not any(r["realm"] == name for r in server.admin().get_realms()):
        return server.create_realm(name), False
    realm = RealmHandle(server.url, name, server._admin_for(name))
    realm.client_secret = str(
        realm.admin.get_client_secrets(realm.client_uuid(realm.client_id))["value"]
    )
    count = realm.admin.users_count()
    if count not in (people, people + 1):  # whether the service account counts varies
        raise SystemExit(f"realm {name} holds {count} users, not {people}")
    return realm, True


def run(
    server: KeycloakServer, realm: RealmHandle, workdir: Path, args: Any, *, seed: bool = True
) -> None:
    everyone = list(people(args.people, args.departures, args.drift))
    print(f"scale: {args.people:,} users, {args.departures} departures (disable, sign_out, "
          f"revoke), {args.drift} with role drift; page size {args.page_size}; "
          f"Keycloak heap {os.environ['JAVA_OPTS_KC_HEAP']!r}"
          + (" (attached: heap not ours)" if server.attached else ""))  # fmt: skip
    if seed:
        start = time.perf_counter()
        import_users(realm, everyone)
        seconds = time.perf_counter() - start
        timed("seed (partial import)", seconds, f"{args.people / seconds:,.0f} users/s, "
              f"chunks of {IMPORT_CHUNK}")  # fmt: skip
    config = write_config(workdir, realm, roster_csv(everyone), args.page_size)
    seconds, users = floor(realm, args.page_size)
    timed("floor: users list, plain requests", seconds, f"{users:,} users, before syncbot")
    figures = measure_in_child(config, apply=not args.realm)
    report(figures, args.people)
    seconds, users = floor(realm, args.page_size)
    timed("floor: users list, plain requests", seconds, f"{users:,} users, after syncbot")
    jvm = jvm_rss_mib(server)
    if jvm is not None:
        print(f"{'Keycloak JVM RSS':<34} {jvm:8.1f} MiB")


if __name__ == "__main__":
    main()
