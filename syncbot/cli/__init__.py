"""The `syncbot` command: plan, apply, run, status, check-config, quarantine, plans, approve,
reject, audit, report, notify, demo.

`main` parses the command line first and imports the command's module only in its dispatch,
so `--help`, `status` and `audit verify` start in a fraction of the time a reconcile needs
and never load the target or spreadsheet libraries. Exit codes are `syncbot.exit_codes`'s
(printed by `syncbot --help`, and in the README).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from syncbot.cli.parser import build_parser
from syncbot.errors import SyncbotError
from syncbot.exit_codes import ExitCode


def main(argv: Sequence[str] | None = None) -> int:
    args = _absolute_paths(build_parser().parse_args(argv))
    # Imported after parsing: `--help` and usage errors exit above without paying for them.
    from syncbot.logs import configure_logging
    from syncbot.memory import pin_mmap_threshold

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
        return ExitCode.INTERRUPTED


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
        from syncbot.cli.audit import run_audit

        return run_audit(args, args.file, anchor=None)
    if args.command == "report" and args.file:
        from syncbot.cli.report import run as run_report

        return run_report(args, None)
    if args.command in ("plans", "approve", "reject"):
        # Without the targets' secrets: an approver does not hold them.
        from syncbot.cli.plans import run as run_plans

        return run_plans(args)
    from syncbot.config import load_config
    from syncbot.logs import configure_logging

    config = load_config(args.config)
    # An unattended apply (the timer, the worker) logs at the configured level; commands a
    # person reads on a terminal only warn, so their output stays readable.
    level = config.log_level if args.command in ("apply", "run", "quarantine") else "warning"
    configure_logging(config.log_format, os.environ.get("SYNCBOT_LOG_LEVEL", level))
    if args.command == "report":
        from syncbot.cli.report import run as run_report

        return run_report(args, config)
    if args.command == "quarantine":
        from syncbot.cli.quarantine import run as run_quarantine

        return run_quarantine(args, config)
    if args.command == "plan":
        from syncbot.cli.apply import plan

        return plan(args, config)
    if args.command == "apply":
        from syncbot.cli.apply import apply

        return apply(args, config)
    if args.command == "check-config":
        from syncbot.cli.apply import check_config

        return check_config(config)
    if args.command == "run":
        from syncbot.configured_worker import run_worker

        return run_worker(config)
    if args.command == "notify":
        from syncbot.notify.cli import run as run_notify

        return run_notify(config)
    if args.command == "status":
        from syncbot.cli.status import status

        return status(args, config)
    from syncbot.cli.audit import run_audit_from_config

    return run_audit_from_config(args, config)
