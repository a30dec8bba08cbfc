"""`syncbot quarantine --list FILE`: leaked credentials, across every target, in one audited run.

The same path as `syncbot apply`: lock, read every target once, plan, check thresholds,
confirm, apply through the executor, so the steps land in the audit log, the journal and
the recovery path exactly like a reconcile's. Exit codes are the documented ones.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from syncbot.config import Config
from syncbot.duties import Observe
from syncbot.human_apply import (
    EXIT_NOT_CONFIRMED,
    EXIT_OK,
    apply_until_sigterm,
    confirmed,
    print_outcome,
    refuse_unless_forced,
)
from syncbot.known_people import KnownPeople
from syncbot.progress import progress_bar
from syncbot.quarantine import LeakList, not_found, plan_quarantine, read_leak_list
from syncbot.reconcile import (
    Prepared,
    _fetch_state,
    close_targets,
    load_inputs,
    open_targets,
    violations,
)
from syncbot.render import plan_json, render_plan
from syncbot.state import StateDir

_VIA = "syncbot quarantine"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `quarantine` command on the main parser's subcommands."""
    parser = subparsers.add_parser(
        "quarantine",
        help="leaked accounts: force a password change and sign out (or lock) everywhere",
        description="Tài khoản bị lộ lọt: buộc đổi mật khẩu và đăng xuất (hoặc khóa) trên mọi "
        "hệ thống. Leaked accounts: require a new password and sign out (or lock) everywhere.",
    )
    parser.add_argument(
        "--list",
        dest="list_file",
        type=Path,
        required=True,
        metavar="FILE",
        help="UTF-8 file, one username or e-mail a line (# comments), or a CSV whose header "
        "has an email / username / tài khoản column",
    )
    parser.add_argument(
        "--disable", action="store_true", help="lock the accounts too (and sign them out)"
    )
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.add_argument("--json", action="store_true", help="the plan as JSON on stdout")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--force",
        action="store_true",
        help="apply even past the safety thresholds (after human review)",
    )


def prepare_quarantine(config: Config, leaks: LeakList, today: date, *, disable: bool) -> Prepared:
    """Read the roster and one fresh snapshot per target, and plan; changes nothing."""
    mappings, roster = load_inputs(config)
    targets = open_targets(config)
    try:
        states = []
        known = KnownPeople(roster.rows)
        for name, target in targets.items():
            with progress_bar(f"Đọc {name}") as bar:
                states.append(_fetch_state(name, target, config, mappings, bar, Observe(), known))
        plan = plan_quarantine(
            leaks, roster, states, today, disable=disable, fallback=config.fallback
        )
    except BaseException:
        close_targets(targets)
        raise
    snapshots = {state.name: state.snapshot for state in states}
    return Prepared(config, mappings, roster, targets, snapshots, plan)


def run(args: argparse.Namespace, config: Config) -> int:
    """Show the quarantine plan and, unless --dry-run, apply it like `syncbot apply`."""
    leaks = read_leak_list(args.list_file)  # a bad list stops before any target is contacted
    if args.dry_run:
        prepared = prepare_quarantine(config, leaks, date.today(), disable=args.disable)
        close_targets(prepared.targets)
        _show(args, prepared, leaks)
        for problem in violations(prepared):
            print(f"! Vượt ngưỡng an toàn / Safety threshold: {problem}")
        return EXIT_OK
    with StateDir(config.state_dir).lock():
        prepared = prepare_quarantine(config, leaks, date.today(), disable=args.disable)
        try:
            _show(args, prepared, leaks)
            problems = violations(prepared)
            refuse_unless_forced(problems, args.force, "list")
            if prepared.plan.empty:
                return EXIT_OK
            if not args.yes and not confirmed(len(prepared.plan.actions)):
                return EXIT_NOT_CONFIRMED
            report = apply_until_sigterm(prepared, problems, _VIA)
        finally:
            close_targets(prepared.targets)
    return print_outcome(report, "run the quarantine again")


def _show(args: argparse.Namespace, prepared: Prepared, leaks: LeakList) -> None:
    if args.json:
        print(plan_json(prepared.plan))
        return
    print(f"Danh sách lộ lọt / Leak list: {leaks.path}")
    print(f"  sha256 {leaks.sha256}, {len(leaks.entries)} tên / names")
    for line in render_plan(prepared.plan, lang=getattr(args, "lang", "vi"), by="person"):
        print(line)
    missing = not_found(leaks, prepared.plan)
    if missing:
        names = ", ".join(f"{entry.shown} (dòng {entry.line})" for entry in missing)
        print(f"Không tìm thấy / not found: {names}")
