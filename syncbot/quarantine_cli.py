"""`syncbot quarantine --list FILE`: leaked credentials, across every target, in one audited run.

The same path as `syncbot apply`: lock, read every target once, plan, check thresholds,
confirm, apply through the executor, so the steps land in the audit log, the journal and
the recovery path exactly like a reconcile's. Exit codes are the documented ones.
"""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

from syncbot.config import Config
from syncbot.errors import SafetyError
from syncbot.executor import ApplyReport
from syncbot.progress import progress_bar
from syncbot.quarantine import LeakList, not_found, plan_quarantine, read_leak_list
from syncbot.reconcile import (
    Prepared,
    _fetch_state,
    actor,
    apply_prepared,
    close_targets,
    load_inputs,
    new_run_id,
    open_targets,
    violations,
)
from syncbot.render import plan_json, render_plan
from syncbot.state import StateDir

EXIT_OK, EXIT_STEPS_FAILED, EXIT_NOT_CONFIRMED = 0, 6, 7
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
        for name, target in targets.items():
            with progress_bar(f"Đọc {name}") as bar:
                states.append(_fetch_state(name, target, config, mappings, bar))
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
            if problems and not args.force:
                raise SafetyError(
                    "refused, nothing was changed / từ chối, không thay đổi gì:\n  - "
                    + "\n  - ".join(problems)
                    + "\nReview the list; if the plan is right, run again with --force."
                )
            if prepared.plan.empty:
                return EXIT_OK
            if not args.yes and not _confirmed(len(prepared.plan.actions)):
                return EXIT_NOT_CONFIRMED
            report = _apply(prepared, problems)
        finally:
            close_targets(prepared.targets)
    return _report(report)


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


class _StopFlag:
    """SIGTERM during apply finishes the current step, audits it, then stops cleanly."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.raised = True


def _confirmed(count: int) -> bool:
    if not sys.stdin.isatty():
        print("syncbot: not a terminal: pass --yes to apply without a question", file=sys.stderr)
        return False
    answer = input(f"Áp dụng {count} thay đổi? / Apply {count} changes? [y/N] ")
    return answer.strip().casefold() in {"y", "yes", "c", "có", "co"}


def _apply(prepared: Prepared, forced: list[str]) -> ApplyReport:
    stop = _StopFlag()
    previous: Any = signal.signal(signal.SIGTERM, stop)
    try:
        with progress_bar("Áp dụng") as bar:
            return apply_prepared(
                prepared,
                run_id=new_run_id(),
                actor_name=actor(_VIA),
                forced=forced,
                progress=bar,
                should_stop=lambda: stop.raised,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(report: ApplyReport) -> int:
    print(f"Đã áp dụng / applied: {report.succeeded} ok, {len(report.failed)} lỗi / failed.")
    for failed in report.failed:
        a = failed.action
        print(f"  ✗ {a.target} {a.username} {a.kind.value}: {failed.error}", file=sys.stderr)
    if report.interrupted:
        print("syncbot: stopped early on SIGTERM; run the quarantine again", file=sys.stderr)
    return EXIT_STEPS_FAILED if report.failed or report.interrupted else EXIT_OK
