"""`syncbot audit verify|show`: read the audit log, and no target.

Nothing here imports a target library, so an administrator can check the chain quickly,
and on a machine whose python-ldap or python-keycloak is broken or missing; with --file,
not even the config is read.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from syncbot.audit import iter_records, render_records, verify_chain
from syncbot.exit_codes import ExitCode
from syncbot.state import StateDir

if TYPE_CHECKING:
    from syncbot.config import Config


def run_audit_from_config(args: argparse.Namespace, config: Config) -> int:
    """The configured log, checked against the (seq, hash) the last run wrote, which catches
    a cut-off tail the chain alone cannot show."""
    last = StateDir(config.state_dir).last_run()
    anchor = (last["audit_seq"], last["audit_hash"]) if last.get("audit_hash") else None
    return run_audit(args, config.audit_path, anchor=anchor)


def run_audit(args: argparse.Namespace, path: Path, anchor: tuple[int, str] | None) -> int:
    if args.audit_command == "verify":
        result = verify_chain(path, anchor=anchor)
        if result.ok:
            print(
                f"{path}: OK, {result.records} records, chain whole (last hash {result.last_hash})"
            )
            if result.interrupted_bytes:
                print(
                    f"{path}: note: line {result.records + 1} is an interrupted write of "
                    f"{result.interrupted_bytes} bytes, not a record (a process was killed while "
                    "writing); the next run moves it aside to a .torn- file and records that"
                )
            return ExitCode.OK
        print(f"{path}: BROKEN: {result.problem}", file=sys.stderr)
        return ExitCode.CHAIN_BROKEN
    since = datetime.combine(args.since, time.min, UTC) if args.since else None
    until = (
        datetime.combine(args.until + timedelta(days=1), time.min, UTC) - timedelta(microseconds=1)
        if args.until
        else None
    )
    records = iter_records(
        path,
        employee_id=args.employee,
        account=args.account,
        action=args.action,
        run_id=args.run,
        target=args.target,
        since=since,
        until=until,
        include_runs=args.runs,
    )
    for line in render_records(records, fmt="json" if args.json else "text"):
        print(line)
    return ExitCode.OK
