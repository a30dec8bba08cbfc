"""`syncbot quarantine --list FILE`: leaked credentials, across every target, in one audited run.

The same path as `syncbot apply` (`syncbot.sync`) with the leak list as its planning rule:
lock, read every target once, plan, check thresholds, confirm, apply through the executor,
so the steps land in the audit log, the journal and the recovery path exactly like a
reconcile's, and it ends with the same exit codes.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from syncbot.cli.confirm import confirmed, print_outcome
from syncbot.cli.plan_view import plan_json, render_plan
from syncbot.cli.progress import progress_bar
from syncbot.config import Config
from syncbot.duty_settings import Observe
from syncbot.exit_codes import ExitCode
from syncbot.leak_list import LeakList, read_leak_list
from syncbot.mappings import Mappings
from syncbot.model import Plan, Roster
from syncbot.planning.focus import Focus
from syncbot.planning.planner import TargetState
from syncbot.planning.quarantine import not_found, plan_quarantine
from syncbot.reconcile import Prepared, Scope, prepare, violations
from syncbot.sync import sync
from syncbot.wording.cli import NOT_FOUND, ROW, SAFETY_THRESHOLD, leak_list_lines
from syncbot.wording.pair import both

_VIA = "syncbot quarantine"


@dataclass(frozen=True, slots=True)
class QuarantineRule:
    """The leak list's plan: each listed account signed out and made to change its password
    (or locked), in every target. It judges only the listed accounts."""

    leaks: LeakList
    disable: bool
    reviewed: str = "list"

    def focus(self, config: Config, roster: Roster) -> Focus | None:
        return None  # the listed accounts are found among every account, by any name

    def scope(self, focus: Focus | None) -> Scope:
        return Scope.LIST

    def observe(self, config: Config, today: date) -> Observe:
        return Observe()

    def plan(
        self,
        roster: Roster,
        mappings: Mappings,
        states: Sequence[TargetState],
        config: Config,
        today: date,
    ) -> Plan:
        return plan_quarantine(
            self.leaks, roster, states, today, disable=self.disable, fallback=config.fallback
        )


def run(args: argparse.Namespace, config: Config) -> int:
    """Show the quarantine plan and, unless --dry-run, apply it like `syncbot apply`."""
    leaks = read_leak_list(args.list_file)  # a bad list stops before any target is contacted
    rule = QuarantineRule(leaks, args.disable)
    if args.dry_run:
        with prepare(config, date.today(), rule=rule, progress=progress_bar) as prepared:
            pass  # read whole; the targets are closed before anything is printed
        _show(args, prepared, leaks)
        for problem in violations(prepared):
            print(f"! {both(SAFETY_THRESHOLD)}: {problem}")
        return ExitCode.OK
    synced = sync(
        config,
        rule,
        via=_VIA,
        force=args.force,
        show=lambda prepared: _show(args, prepared, leaks),
        confirm=lambda prepared: args.yes or confirmed(len(prepared.plan.actions)),
        progress=progress_bar,
    )
    if synced.report is None:
        return ExitCode.NOT_CONFIRMED
    if synced.prepared.plan.empty:
        return ExitCode.OK
    return print_outcome(synced.report, "run the quarantine again")


def _show(args: argparse.Namespace, prepared: Prepared, leaks: LeakList) -> None:
    if args.json:
        print(plan_json(prepared.plan))
        return
    for line in leak_list_lines(str(leaks.path), leaks.sha256, len(leaks.entries)):
        print(line)
    for line in render_plan(prepared.plan, lang=getattr(args, "lang", "vi"), by="person"):
        print(line)
    missing = not_found(leaks, prepared.plan)
    if missing:
        names = ", ".join(f"{entry.shown} ({ROW} {entry.line})" for entry in missing)
        print(f"{both(NOT_FOUND)}: {names}")
