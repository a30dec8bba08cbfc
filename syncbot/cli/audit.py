"""`syncbot audit verify|show|setup-keys`: read, verify and seal the audit log, and no target.

Nothing `verify` and `show` import touches a target library, so an administrator can
check the chain quickly, and on a machine whose python-ldap or python-keycloak is broken
or missing; with --file, not even the config is read — which is how an inspector checks
a copy with `--key` (their verification key) and `--heads` (heads exported from the
journal) on a machine of their own.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from syncbot.audit import iter_records, render_records, verify_chain
from syncbot.audit.heads import Head, HeadsCheck, read_heads
from syncbot.audit.seal import VerificationKey
from syncbot.audit.seal_check import SealCheck
from syncbot.audit.verify import Anchor, LineCheck
from syncbot.durable import create_exclusive, write_all
from syncbot.errors import ConfigError
from syncbot.exit_codes import ExitCode
from syncbot.state import StateDir

if TYPE_CHECKING:
    from syncbot.config import Config


def run_audit_from_config(args: argparse.Namespace, config: Config) -> int:
    """The configured log, checked also against what the state folder says was written:
    the anchor (the last record when syncbot last wrote) and the last seal, which catch a
    cut-off tail, or an emptied log, the chain alone cannot show."""
    if args.audit_command == "setup-keys":
        return setup_keys(args, config)
    checks = StateDir(config.state_dir).audit_checks()
    return run_audit(args, config.audit_path, anchor=None, checks=checks)


def run_audit(
    args: argparse.Namespace,
    path: Path,
    anchor: tuple[int, str] | None,
    *,
    checks: list[LineCheck] | None = None,
    now: datetime | None = None,
) -> int:
    if args.audit_command == "verify":
        return _verify(args, path, [*(checks or []), *([Anchor(*anchor)] if anchor else [])], now)
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


def _verify(
    args: argparse.Namespace, path: Path, checks: list[LineCheck], now: datetime | None
) -> int:
    key_path: Path | None = getattr(args, "key", None)
    heads_path: Path | None = getattr(args, "heads", None)
    if key_path is not None:
        checks.append(SealCheck(read_verification_key(key_path), now or datetime.now(UTC)))
    if heads_path is not None:
        heads = _read_heads(heads_path)
        if not heads:
            print(
                f"{heads_path}: no audit_head events in it, nothing to compare (export with "
                "`journalctl -u syncbot -o json`) / không có sự kiện audit_head nào",
                file=sys.stderr,
            )
            return ExitCode.USAGE
        checks.append(HeadsCheck(heads, str(heads_path)))
    result = verify_chain(path, checks=checks)
    if not result.ok:
        print(f"{path}: BROKEN: {result.problem}", file=sys.stderr)
        return ExitCode.CHAIN_BROKEN
    print(f"{path}: OK, {result.records} records, chain whole (last hash {result.last_hash})")
    if result.interrupted_bytes:
        print(
            f"{path}: note: line {result.records + 1} is an interrupted write of "
            f"{result.interrupted_bytes} bytes, not a record (a process was killed while "
            "writing); the next run moves it aside to a .torn- file and records that"
        )
    for note in result.notes:
        print(f"{path}: {note}")
    if key_path is None:
        print(
            f"{path}: seals not checked (no --key) / chưa kiểm tra niêm phong (không có --key): "
            "the chain alone does not show a log re-chained by someone with the service's rights"
        )
    return ExitCode.OK


def read_verification_key(path: Path) -> VerificationKey:
    """The inspector's key file; ConfigError (never showing the key) when it is not one."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the verification key: {exc}", source=str(path)) from None
    try:
        return VerificationKey.parse(text.strip())
    except ValueError as exc:
        raise ConfigError(str(exc), source=str(path)) from None


def _read_heads(path: Path) -> list[Head]:
    try:
        return read_heads(path)
    except OSError as exc:
        raise ConfigError(f"cannot read the heads: {exc}", source=str(path)) from None


def setup_keys(args: argparse.Namespace, config: Config) -> int:
    """Start sealing: the first seal in the log, the sealing state, and the key printed once."""
    from syncbot.audit import AuditLog
    from syncbot.reconcile import actor, new_run_id

    minutes = args.epoch_minutes or config.audit_seal_epoch_minutes
    if minutes < 1:
        raise ConfigError("--epoch-minutes must be at least 1")
    out: Path | None = args.verify_key_out
    if out is not None and os.path.lexists(out):
        raise ConfigError(
            "already exists; name a new file for the verification key", source=str(out)
        )
    state = StateDir(config.state_dir)
    state.prepare()
    with AuditLog(
        config.audit_path,
        run_id=new_run_id(),
        actor=actor("syncbot audit setup-keys"),
        keeping=state.audit_keeping(),
    ) as log:
        key = log.start_sealing(minutes)
    text = key.to_text() + "\n"
    if out is not None:
        fd = create_exclusive(out, 0o600)
        try:
            write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    print(
        "Sealing started: the log is sealed every "
        f"{minutes} min and after every run; first seal at line {key.setup_seq}.\n"
        "Đã bắt đầu niêm phong nhật ký kiểm toán.\n\n"
        "VERIFICATION KEY / KHÓA KIỂM TRA — give it to the inspector, keep it OFF this server;\n"
        "it is shown only this once and syncbot keeps no copy:\n"
    )
    print(text, end="")
    if out is not None:
        print(f"\n(also written to {out}: move it off this server, then delete it here)")
    return ExitCode.OK
