"""Benchmark applying a plan: syncbot's executor beside `ldapmodify` and bare ldap3.

    python bench/bench_apply.py --people 10000 --departures 1000
    python bench/bench_apply.py --people 2000 --departures 1000    # small groups
    (--rounds 3: run every variant three times, interleaved, and keep each one's best)

The directory is bench_reconcile's synthetic department: every person in one role group of
`people` members and one of five unit groups of `people`/5, and `departures` people who left
yesterday (each: a lock and two group removals, so 3 × departures steps). Every variant gets
its own freshly loaded, identical slapd (fsync off: `olcDbNoSync`) and applies the same
changes:

- `ldapmodify -f changes.ldif`: one file, one connection, one change at a time: the floor;
- bare ldap3, one modify at a time, and with a window of asynchronous modifies, no audit;
- syncbot's executor (`apply_prepared`, as `syncbot apply` runs it) with its audit log,
  step journal and ledger in a folder on a real disk, fsync on. It sends the same changes
  in fewer modifies: one window's removals from one group go in one modify.

Prints operations per second, the ratio to ldapmodify, and syncbot's fsyncs per step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import ldap3
import source_checkout  # noqa: F401  (puts the checkout on sys.path for localdev)
from bench_reconcile import build

from localdev.demo import REPO_MAPPINGS, write_config
from localdev.slapd import SlapdServer
from syncbot.config import load_config
from syncbot.logs import configure_logging
from syncbot.model import Action, ActionKind
from syncbot.reconcile import Prepared, apply_prepared, close_targets, prepare
from syncbot.targets.ldap.flavours import OPENLDAP_PERMANENT_LOCK

# (dn, ldap3 changes) of one LDAP modify operation
Change = tuple[str, dict[str, list[tuple[str, list[str]]]]]


def changes_of(actions: tuple[Action, ...]) -> list[Change]:
    """The LDAP modifies a plan of locks and revokes stands for, one per operation."""
    found: list[Change] = []
    for action in actions:
        if action.kind is ActionKind.DISABLE:
            lock = [(ldap3.MODIFY_REPLACE, [OPENLDAP_PERMANENT_LOCK])]
            found.append((action.account, {"pwdAccountLockedTime": lock}))
        elif action.kind is ActionKind.REVOKE:
            for group in action.remove:
                found.append((group, {"member": [(ldap3.MODIFY_DELETE, [action.account])]}))
        else:
            raise SystemExit(f"the bench plans only locks and revokes, not {action.kind}")
    return found


def ldif_of(changes: list[Change]) -> str:
    blocks = []
    for dn, change in changes:
        attribute, [(operation, values)] = next(iter(change.items()))
        verb = "replace" if operation == ldap3.MODIFY_REPLACE else "delete"
        lines = [f"dn: {dn}", "changetype: modify", f"{verb}: {attribute}"]
        lines += [f"{attribute}: {v}" for v in values]
        blocks.append("\n".join(lines) + "\n-\n")
    return "\n".join(blocks)


@contextmanager
def fresh_server(root: Path, name: str, people: int, departures: int) -> Iterator[SlapdServer]:
    """A slapd of its own for one variant, loaded with the same synthetic department."""
    folder = root / name
    folder.mkdir()
    with SlapdServer(folder / "slapd", nosync=True) as server:
        build(server, folder, people, departures)
        yield server


def connection(server: SlapdServer, strategy: str) -> ldap3.Connection:
    return ldap3.Connection(
        ldap3.Server(server.url.rstrip("/"), get_info=ldap3.NONE),
        server.service_dn,
        server.service_password,
        client_strategy=strategy,
        auto_bind=True,
        raise_exceptions=False,
    )


def ldap3_sequential(server: SlapdServer, changes: list[Change]) -> None:
    conn = connection(server, ldap3.SYNC)
    for dn, change in changes:
        if not conn.modify(dn, change):
            raise SystemExit(f"ldap3: {dn}: {conn.result}")
    conn.unbind()


def ldap3_window(server: SlapdServer, changes: list[Change], window: int) -> None:
    conn = connection(server, ldap3.ASYNC)
    for start in range(0, len(changes), window):
        ids = [conn.modify(dn, change) for dn, change in changes[start : start + window]]
        for message_id in ids:
            _, result = conn.get_response(message_id)
            if result["result"] != 0:
                raise SystemExit(f"ldap3 async: {result}")
    conn.unbind()


def ldapmodify(server: SlapdServer, ldif: Path) -> None:
    subprocess.run(
        ["ldapmodify", "-x", "-H", server.url, "-D", server.service_dn,
         "-w", server.service_password, "-f", str(ldif)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


@contextmanager
def counting_fsyncs() -> Iterator[list[int]]:
    """Count os.fsync and os.fdatasync calls made while the block runs."""
    count = [0]
    originals = os.fsync, os.fdatasync

    def wrap(real: Callable[[Any], None]) -> Callable[[Any], None]:
        def counted(fd: Any) -> None:
            count[0] += 1
            real(fd)

        return counted

    os.fsync, os.fdatasync = wrap(originals[0]), wrap(originals[1])
    try:
        yield count
    finally:
        os.fsync, os.fdatasync = originals


def syncbot_apply(prepared: Prepared) -> tuple[int, int, int]:
    """(steps, failed, fsyncs) of the executor applying the prepared plan."""
    with counting_fsyncs() as fsyncs:
        report = apply_prepared(prepared, run_id="bench", actor_name="bench", forced=["bench"])
    return len(report.results), len(report.failed), fsyncs[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--departures", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=64, help="bare ldap3's async window")
    parser.add_argument("--rounds", type=int, default=1, help="repeat all; keep each's best")
    parser.add_argument("--workdir", type=Path, help="a folder on the disk to measure")
    args = parser.parse_args()
    configure_logging("console", "warning")
    root = Path(tempfile.mkdtemp(prefix="syncbot-bench-apply-", dir=args.workdir))
    print(f"{args.people} people, {args.departures} departures; groups of {args.people} and "
          f"{args.people // 5} members; slapd fsync off; syncbot's files in {root}")  # fmt: skip
    best: dict[str, float] = {}
    try:
        for number in range(args.rounds):
            folder = root / f"round-{number}"
            folder.mkdir()
            for label, seconds in one_round(folder, args.people, args.departures, args.window):
                best[label] = min(seconds, best.get(label, seconds))
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    floor = best["ldapmodify -f (floor)"]
    for label, seconds in best.items():
        ratio = f"{floor / seconds:5.2f}× ldapmodify" if label != "ldapmodify -f (floor)" else ""
        print(f"{label:<34} {seconds:7.2f} s {OPS[0] / seconds:8,.0f} ops/s  {ratio}")
    print(f"syncbot: {OPS[1]} steps, {OPS[0]} LDAP modifies, {OPS[2]:.2f} fsyncs per step")


OPS = [0, 0, 0.0]  # LDAP modifies, steps, fsyncs per step: the same in every round


def one_round(root: Path, people: int, departures: int, window: int) -> list[tuple[str, float]]:
    """Each variant once, each on its own fresh server; (label, seconds) of each."""
    timings = []
    with fresh_server(root, "syncbot", people, departures) as server:
        config = load_config(write_config(root / "syncbot", server, REPO_MAPPINGS))
        prepared = prepare(config, date.today())
        changes = changes_of(prepared.plan.actions)
        start = time.perf_counter()
        steps, failed, fsyncs = syncbot_apply(prepared)
        timings.append(("syncbot apply (audit, fsync on)", time.perf_counter() - start))
        close_targets(prepared.targets)
    if failed:
        raise SystemExit(f"syncbot: {failed} of {steps} steps failed")
    OPS[:] = [len(changes), steps, fsyncs / steps]
    ldif = root / "changes.ldif"
    ldif.write_text(ldif_of(changes), encoding="utf-8")
    with fresh_server(root, "ldapmodify", people, departures) as server:
        start = time.perf_counter()
        ldapmodify(server, ldif)
        timings.append(("ldapmodify -f (floor)", time.perf_counter() - start))
    with fresh_server(root, "ldap3", people, departures) as server:
        start = time.perf_counter()
        ldap3_sequential(server, changes)
        timings.append(("ldap3 one at a time, no audit", time.perf_counter() - start))
    with fresh_server(root, "ldap3-async", people, departures) as server:
        start = time.perf_counter()
        ldap3_window(server, changes, window)
        timings.append((f"ldap3 window {window}, no audit", time.perf_counter() - start))
    return timings


if __name__ == "__main__":
    main()
