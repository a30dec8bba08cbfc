"""`syncbot report changes|compliance|dormant|orphans`: the command-line side of `syncbot.report`.

Exit codes: OK when written; CHAIN_BROKEN when written, but the audit chain is broken (the
report says so at the top); USAGE when the period ends before it starts; for compliance,
dormant and orphans, which read every target afresh (changing nothing), the codes of
`syncbot plan` (invalid config or roster, a target that could not be read).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from syncbot.cli.parser import DUTY_REPORTS
from syncbot.cli.progress import progress_bar
from syncbot.config import Config
from syncbot.errors import ConfigError
from syncbot.exit_codes import ExitCode
from syncbot.reconcile import prepare
from syncbot.report import Period, Report, changes_report, format_for, write_report
from syncbot.report.compliance import compliance_report
from syncbot.report.dormant import dormant_report
from syncbot.report.orphans import orphans_report
from syncbot.state import StateDir

ReportBuilder = Callable[..., Report]

#: How each report that reads every target is built; its help and file name are the parser's.
DUTY_REPORT_BUILDERS: dict[str, ReportBuilder] = {
    "compliance": compliance_report,
    "dormant": dormant_report,
    "orphans": orphans_report,
}


def run(args: argparse.Namespace, config: Config | None) -> int:
    """Write the report and print its path; `config` may be None when --file is given."""
    if args.report_command in DUTY_REPORT_BUILDERS:
        if config is None:
            raise ValueError(f"report {args.report_command} needs a config")
        return run_duty_report(args, config)
    if args.since > args.until:
        print(f"syncbot: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return ExitCode.USAGE
    path, anchor = _audit_source(args, config)
    fmt = format_for(args.out, args.format)
    out = args.out or Path(f"bao-cao-thay-doi-{args.since}-{args.until}.{fmt}")
    report = changes_report(path, Period(args.since, args.until), lang=args.lang, anchor=anchor)
    write_report(report, fmt, out)
    print(out)
    if not report.intact:
        print(f"syncbot: {report.warning}", file=sys.stderr)
        return ExitCode.CHAIN_BROKEN
    return ExitCode.OK


def _audit_source(
    args: argparse.Namespace, config: Config | None
) -> tuple[Path, tuple[int, str] | None]:
    """The log to read, and the (seq, hash) the last run wrote, which catches a cut-off tail."""
    if args.file is not None:
        return args.file, None
    if config is None:
        raise ValueError("report changes needs a config or --file")
    return config.audit_path, StateDir(config.state_dir).audit_anchor()


def run_duty_report(args: argparse.Namespace, config: Config) -> int:
    """Read everything (changing nothing), build the named report, write it, print its path."""
    stem = DUTY_REPORTS[args.report_command][1]
    build = DUTY_REPORT_BUILDERS[args.report_command]
    if args.report_command == "dormant" and config.duties.dormancy is None:
        # Said before every target is read, not after.
        raise ConfigError(
            "no [dormancy] section: the dormant report needs days and recorded_since",
            source=str(config.path),
        )
    today = args.today or date.today()
    fmt = format_for(args.out, args.format)
    out = args.out or Path(f"{stem}-{today}.{fmt}")
    with prepare(config, today, progress=progress_bar) as prepared:
        report = build(prepared, lang=args.lang)
    write_report(report, fmt, out)
    print(out)
    return ExitCode.OK
