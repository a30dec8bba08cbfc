"""The `syncbot` command: plan, apply, run, status, check-config, quarantine, audit, report,
demo.

Exit codes (also in the README):
  0  success (for `plan`: computed; for `audit verify`: the chain is whole)
  1  unexpected internal error
  2  command-line usage error
  3  invalid config, mapping or roster: nothing was changed
  4  refused by a safety threshold: nothing was changed (use --force after review)
  5  a target could not be reached or read: nothing was changed
  6  apply finished, but some steps failed (they are in the audit log; the next run retries)
  7  apply not confirmed (answered no, or no terminal and no --yes)
  8  another syncbot run holds the lock (for `run`: another worker runs on this config)
  9  audit verify: the chain is broken (the message names the first bad line)
 10  plan --detailed-exitcode: the plan has changes
 11  status: the worker's last run failed or was refused
 12  status: no worker status file exists (the worker never ran with this config)
 13  a state file is unreadable (the message names it and the fix): nothing was changed
 14  something this machine must provide is missing or busy: a port in use; for `demo`,
     slapd or Keycloak not installed, or no Java 21+ (the message says how to fix it)

`syncbot run` exits 0 after SIGTERM (the step in flight is finished and audited).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import structlog

from syncbot import __version__
from syncbot.allocator import pin_mmap_threshold
from syncbot.cli import quarantine as quarantine_cli
from syncbot.cli import report as report_cli
from syncbot.cli.confirm import EXIT_NOT_CONFIRMED, EXIT_OK, confirmed, print_outcome
from syncbot.cli.progress import progress_bar
from syncbot.cli.render import plan_json, render_plan
from syncbot.config import DEFAULT_PATH, Config, load_config
from syncbot.errors import SyncbotError
from syncbot.logs import configure_logging
from syncbot.reconcile import (
    Prepared,
    RosterRule,
    load_inputs,
    opened_targets,
    prepare,
    violations,
)
from syncbot.state import StateDir
from syncbot.sync import sync

EXIT_CHAIN_BROKEN, EXIT_CHANGES = 9, 10
log = structlog.get_logger("syncbot.cli")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syncbot",
        description="Giữ tài khoản LDAP/Keycloak khớp với hồ sơ nhân sự. "
        "Keeps directory accounts in step with the HR roster.",
    )
    parser.add_argument("--version", action="version", version=f"syncbot {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("SYNCBOT_CONFIG", DEFAULT_PATH)),
        help=f"config file (default: $SYNCBOT_CONFIG or {DEFAULT_PATH})",
    )
    parser.add_argument(
        "--lang",
        choices=("vi", "en", "both"),
        default="vi",
        help="language of reasons in plans and reports (default vi)",
    )
    parser.add_argument(
        "--by",
        choices=("person", "action"),
        help="group the plan by person or by kind of action "
        "(default: by person when several targets are configured)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser("plan", help="show what would change and why; changes nothing")
    plan.add_argument("--json", action="store_true", help="machine-readable plan on stdout")
    plan.add_argument("--today", type=_date, help="plan as if today were this date (what-if)")
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {EXIT_CHANGES} when the plan has changes",
    )

    apply = commands.add_parser("apply", help="show the plan, confirm, apply it and audit it")
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    apply.add_argument(
        "--force",
        action="store_true",
        help="apply even past the safety thresholds (after human review)",
    )

    commands.add_parser("check-config", help="validate config, mappings, roster; try targets")

    commands.add_parser(
        "run", help="long-running worker: reconcile on HR file changes, pushes and a schedule"
    )
    status = commands.add_parser("status", help="show the worker's last run and what is next")
    status.add_argument("--json", action="store_true", help="the status file as JSON")

    audit = commands.add_parser("audit", help="read and verify the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser("verify", help="check the hash chain")
    verify.add_argument("--file", type=Path, help="audit file (default: from the config)")
    show = audit_commands.add_parser("show", help="list audit records, filtered")
    show.add_argument("--file", type=Path, help="audit file (default: from the config)")
    show.add_argument("--employee", help="employee id")
    show.add_argument("--account", help="account (substring of DN or id, case-insensitive)")
    show.add_argument("--action", help="disable, enable, grant, revoke, change_unit")
    show.add_argument("--run", help="run id")
    show.add_argument("--target", help="target name")
    show.add_argument("--since", type=_date, help="from this date (UTC, inclusive)")
    show.add_argument("--until", type=_date, help="to this date (UTC, inclusive)")
    show.add_argument("--runs", action="store_true", help="include run start/finish records")
    show.add_argument("--json", action="store_true", help="JSON lines as stored")

    report_cli.add_parser(commands)
    quarantine_cli.add_parser(commands)

    demo = commands.add_parser(
        "demo", help="start a throwaway local directory with sample data and reconcile it"
    )
    demo.add_argument(
        "--workdir",
        type=Path,
        default=Path(".demo"),
        help="folder for the demo's server, config and logs (default .demo)",
    )
    demo.add_argument(
        "--no-keycloak", action="store_true", help="LDAP only: skip starting Keycloak"
    )
    demo.add_argument(
        "--directory",
        choices=["openldap", "ad", "389ds"],
        default="openldap",
        help="the directory server to start: OpenLDAP slapd (default), a Samba AD domain "
        "controller, or 389 Directory Server (these two without Keycloak)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _absolute_paths(_parser().parse_args(argv))
    pin_mmap_threshold()
    configure_logging(
        os.environ.get("SYNCBOT_LOG_FORMAT", "auto"), os.environ.get("SYNCBOT_LOG_LEVEL", "warning")
    )
    try:
        return _dispatch(args)
    except SyncbotError as exc:
        print(f"syncbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("syncbot: interrupted", file=sys.stderr)
        return 130


def _absolute_paths(args: argparse.Namespace) -> argparse.Namespace:
    """Every path on the command line, made absolute once, against the directory it was typed in.

    Relative paths then mean the same to every server and process syncbot hands them to
    (Keycloak's build cannot use a relative folder at all), whatever directory those run in.
    """
    for name, value in vars(args).items():
        if isinstance(value, Path):
            setattr(args, name, value.expanduser().absolute())
    return args


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from syncbot.cli.demo import run as run_demo

        return run_demo(args)
    if args.command == "audit" and args.file:
        return _audit(args, args.file, anchor=None)
    if args.command == "report" and args.file:
        return report_cli.run(args, None)
    config = load_config(args.config)
    # An unattended apply (the timer, the worker) logs at the configured level; commands a
    # person reads on a terminal only warn, so their output stays readable.
    level = config.log_level if args.command in ("apply", "run", "quarantine") else "warning"
    configure_logging(config.log_format, os.environ.get("SYNCBOT_LOG_LEVEL", level))
    if args.command == "report":
        return report_cli.run(args, config)
    if args.command == "quarantine":
        return quarantine_cli.run(args, config)
    if args.command == "plan":
        return _plan(args, config)
    if args.command == "apply":
        return _apply(args, config)
    if args.command == "check-config":
        return _check_config(config)
    if args.command == "run":
        from syncbot.worker.loop import run_worker

        return run_worker(config)
    if args.command == "status":
        return _status(args, config)
    last = StateDir(config.state_dir).last_run()
    anchor = (last["audit_seq"], last["audit_hash"]) if last.get("audit_hash") else None
    return _audit(args, config.audit_path, anchor=anchor)


def _plan(args: argparse.Namespace, config: Config) -> int:
    with prepare(config, args.today or date.today(), progress=progress_bar) as prepared:
        pass  # read whole, then the targets are closed before anything is printed
    if args.json:
        print(plan_json(prepared.plan))
    else:
        _print_plan(args, config, prepared)
        for problem in violations(prepared):
            print(f"! Vượt ngưỡng an toàn / Safety threshold: {problem}")
    return EXIT_CHANGES if args.detailed_exitcode and not prepared.plan.empty else EXIT_OK


def _print_plan(args: argparse.Namespace, config: Config, prepared: Prepared) -> None:
    by = str(args.by or ("person" if len(config.targets) > 1 else "action"))
    for line in render_plan(prepared.plan, lang=args.lang, by=by):
        print(line)


def _apply(args: argparse.Namespace, config: Config) -> int:
    synced = sync(
        config,
        RosterRule(),
        via="syncbot apply",
        force=args.force,
        show=lambda prepared: _print_plan(args, config, prepared),
        confirm=lambda prepared: args.yes or confirmed(len(prepared.plan.actions)),
        progress=progress_bar,
    )
    if synced.report is None:
        return EXIT_NOT_CONFIRMED
    if synced.prepared.plan.empty:
        return EXIT_OK
    return print_outcome(synced.report, "the next run continues")


def _check_config(config: Config) -> int:
    print(f"config: {config.path} OK")
    mappings, roster = load_inputs(config)
    print(
        f"mappings: {len(mappings.positions)} positions, {len(mappings.roles)} roles, "
        f"{len(mappings.statuses)} status words, {len(mappings.units)} units "
        f"({config.mappings_dir})"
    )
    print(f"roster: {roster.path}: {len(roster.rows)} rows, sha256 {roster.sha256}")
    with opened_targets(config) as targets:
        for name, target in targets.items():
            for line in target.describe():
                print(f"{name}: {line}")
            mapping = mappings.for_target(name, target.entitlement_key)
            snapshot = target.fetch(mapping.managed)
            with_id = sum(1 for a in snapshot.accounts if a.employee_id)
            print(f"{name}: {len(snapshot.accounts)} accounts, {with_id} with an employee id")
            missing = sorted(mapping.managed - snapshot.entitlements)
            found = f"{len(snapshot.entitlements)} of {len(mapping.managed)}"
            print(
                f"{name}: {found} mapped groups or roles exist"
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
    return EXIT_OK


def _status(args: argparse.Namespace, config: Config) -> int:
    import json

    from syncbot.push_store import PushStore
    from syncbot.worker.loop import status_path
    from syncbot.worker.status import (
        exit_code,
        pushed_rows,
        read_status,
        render_pushed,
        render_status,
    )

    path = status_path(config)
    status = read_status(path)
    pushed = pushed_rows(PushStore(config.state_dir).read())
    if status is None:
        print(
            f"syncbot: no worker status at {path} / chưa có trạng thái tiến trình", file=sys.stderr
        )
    if args.json:
        if status is not None:
            print(json.dumps({**status, "pushed_rows": pushed}, ensure_ascii=False, indent=2,
                             sort_keys=True))  # fmt: skip
    else:
        for line in [*(render_status(status) if status else ()), *render_pushed(pushed)]:
            print(line)
    return exit_code(status)


def _audit(args: argparse.Namespace, path: Path, anchor: tuple[int, str] | None) -> int:
    from syncbot.audit import iter_records, render_records, verify_chain

    if args.audit_command == "verify":
        result = verify_chain(path, anchor=anchor)
        if result.ok:
            print(
                f"{path}: OK, {result.records} records, chain whole (last hash {result.last_hash})"
            )
            return EXIT_OK
        print(f"{path}: BROKEN: {result.problem}", file=sys.stderr)
        return EXIT_CHAIN_BROKEN
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
    return EXIT_OK
