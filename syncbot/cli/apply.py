"""`syncbot plan`, `apply` and `check-config`: the commands that read the roster and every
target, and (for `apply`) change them.

These are the only commands that need the target libraries, so they live apart from the
commands that read syncbot's own files (`status`, `audit`), which start without them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from syncbot.cli.confirm import confirmed, print_outcome
from syncbot.cli.plan_view import plan_json, render_plan
from syncbot.cli.progress import progress_bar
from syncbot.config import Config
from syncbot.errors import ConfigError
from syncbot.exit_codes import ExitCode
from syncbot.reconcile import (
    Prepared,
    RosterRule,
    load_inputs,
    opened_targets,
    prepare,
    violations,
)
from syncbot.sync import sync
from syncbot.targets.base import ReadRequest
from syncbot.targets.rights import ChecksRights
from syncbot.wording.cli import SAFETY_THRESHOLD
from syncbot.wording.pair import both


def plan(args: argparse.Namespace, config: Config) -> int:
    rule = RosterRule(export_changed=args.changed)
    today = args.today or date.today()
    with prepare(config, today, progress=progress_bar, rule=rule) as prepared:
        pass  # read whole, then the targets are closed before anything is printed
    if args.out:
        from syncbot.cli.plans import write_plan_file

        written = write_plan_file(args.out, prepared, violations(prepared))
        print(f"plan {written[:12]} → {args.out}", file=sys.stderr)
    if args.json:
        print(plan_json(prepared.plan))
    else:
        _print_plan(args, config, prepared)
        for problem in violations(prepared):
            print(f"! {both(SAFETY_THRESHOLD)}: {problem}")
    if args.detailed_exitcode and not prepared.plan.empty:
        return ExitCode.PLAN_HAS_CHANGES
    return ExitCode.OK


def _print_plan(args: argparse.Namespace, config: Config, prepared: Prepared) -> None:
    by = str(args.by or ("person" if len(config.targets) > 1 else "action"))
    for line in render_plan(prepared.plan, lang=args.lang, by=by):
        print(line)


def apply(args: argparse.Namespace, config: Config) -> int:
    if args.file:
        from syncbot.cli.plans import apply_file

        return apply_file(args, config)
    synced = sync(
        config,
        RosterRule(export_changed=args.changed),
        via="syncbot apply",
        force=args.force,
        show=lambda prepared: _print_plan(args, config, prepared),
        confirm=lambda prepared: args.yes or confirmed(len(prepared.plan.actions)),
        progress=progress_bar,
    )
    if synced.report is None:
        return ExitCode.NOT_CONFIRMED
    if synced.prepared.plan.empty:
        return ExitCode.OK
    return print_outcome(synced.report, "the next run continues")


def check_config(config: Config) -> int:
    """Validate, connect, count, and check each account's rights; `ConfigError` naming
    every missing right, after everything was printed."""
    print(f"config: {config.path} OK")
    mappings, roster = load_inputs(config)
    print(
        f"mappings: {len(mappings.positions)} positions, {len(mappings.roles)} roles, "
        f"{len(mappings.statuses)} status words, {len(mappings.units)} units "
        f"({config.mappings_dir})"
    )
    print(f"roster: {roster.path}: {len(roster.rows)} rows, sha256 {roster.sha256}")
    lacking: list[str] = []
    with opened_targets(config) as targets:
        for name, target in targets.items():
            for line in target.describe():
                print(f"{name}: {line}")
            mapping = mappings.for_target(name, target.entitlement_key)
            snapshot = target.read(ReadRequest(mapping.managed))
            with_id = sum(1 for a in snapshot.accounts if a.employee_id)
            print(f"{name}: {len(snapshot.accounts)} accounts, {with_id} with an employee id")
            missing = sorted(mapping.managed - snapshot.entitlements)
            found = f"{len(snapshot.entitlements)} of {len(mapping.managed)}"
            print(
                f"{name}: {found} mapped groups or roles exist"
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
            if isinstance(target, ChecksRights):
                rights = target.check_rights(mapping.managed)
                for line in rights.lines:
                    print(f"{name}: {line}")
                lacking.extend(f"{name}: {right}" for right in rights.missing)
    if lacking:
        raise ConfigError(
            "the accounts syncbot signs in as lack rights it needs:\n"
            + "\n".join(f"  - {right}" for right in lacking)
        )
    return ExitCode.OK
