"""`syncbot report changes|compliance|dormant|orphans`: the command-line side of `syncbot.report`.

Exit codes: 0 written; 9 written, but the audit chain is broken (the report says so at
the top); 2 usage error (the period ends before it starts); for compliance, dormant and
orphans, which read every target afresh (changing nothing): 3 invalid config or roster, 5 a
target could not be read - the documented codes of `syncbot plan`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from syncbot.cli.progress import progress_bar
from syncbot.config import Config
from syncbot.errors import ConfigError
from syncbot.reconcile import prepare
from syncbot.report import FORMATS, Period, Report, changes_report, format_for, write_report
from syncbot.report.compliance import compliance_report
from syncbot.report.dormant import dormant_report
from syncbot.report.orphans import orphans_report
from syncbot.report.words import LANGS
from syncbot.state import StateDir

EXIT_OK, EXIT_USAGE, EXIT_CHAIN_BROKEN = 0, 2, 9

ReportBuilder = Callable[..., Report]

#: name -> (help, default file name stem, builder): each reads every target afresh.
DUTY_REPORTS: dict[str, tuple[str, str, ReportBuilder]] = {
    "compliance": (
        "every account's password against the password policy, by unit; each system's policy",
        "bao-cao-tuan-thu-mat-khau",
        compliance_report,
    ),
    "dormant": (
        "accounts unused for [dormancy] days, grouped by unit, with their lock dates",
        "bao-cao-tai-khoan-khong-su-dung",
        dormant_report,
    ),
    "orphans": (
        "accounts with no HR record, open or locked, in every system",
        "bao-cao-tai-khoan-khong-co-ho-so",
        orphans_report,
    ),
}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers: Any) -> None:
    """Add `report changes|compliance|dormant|orphans` to the top-level subcommands."""
    report = subparsers.add_parser(
        "report",
        help="reports for inspectors: changes (audit log); compliance, dormant, orphans (now)",
    )
    kinds = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    changes = kinds.add_parser(
        "changes",
        help="what changed, for whom, why and by which run (HTML, CSV or XLSX)",
        description="Days are whole days in Vietnam time (UTC+7), both ends included.",
    )
    changes.add_argument("--since", type=_date, required=True, help="first day (YYYY-MM-DD)")
    changes.add_argument("--until", type=_date, required=True, help="last day (YYYY-MM-DD)")
    changes.add_argument(
        "--format", choices=FORMATS, help="default: from the --out extension, else html"
    )
    changes.add_argument(
        "--out", type=Path, help="file to write (default: bao-cao-thay-doi-SINCE-UNTIL.EXT)"
    )
    changes.add_argument("--lang", choices=LANGS, default="vi", help="language (default: vi)")
    changes.add_argument("--file", type=Path, help="audit file (default: from the config)")
    for name, (help_text, _, _) in DUTY_REPORTS.items():
        _add_duty_report(kinds, name, help_text)


def _add_duty_report(kinds: Any, name: str, help_text: str) -> None:
    parser = kinds.add_parser(
        name,
        help=f"{help_text} (HTML, CSV or XLSX)",
        description="Reads the roster and every target now, as `syncbot plan` does; "
        "changes nothing.",
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="default: from the --out extension, else html"
    )
    parser.add_argument(
        "--out", type=Path, help=f"file to write (default: {DUTY_REPORTS[name][1]}-TODAY.EXT)"
    )
    parser.add_argument("--lang", choices=LANGS, default="vi", help="language (default: vi)")
    parser.add_argument(
        "--today", type=_date, help="report as if today were this date (what-if, as in plan)"
    )
    # The main command reads the audit file without a config when --file is given.
    parser.set_defaults(file=None)


def run(args: argparse.Namespace, config: Config | None) -> int:
    """Write the report and print its path; `config` may be None when --file is given."""
    if args.report_command in DUTY_REPORTS:
        if config is None:
            raise ValueError(f"report {args.report_command} needs a config")
        return run_duty_report(args, config)
    if args.since > args.until:
        print(f"syncbot: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return EXIT_USAGE
    path, anchor = _audit_source(args, config)
    fmt = format_for(args.out, args.format)
    out = args.out or Path(f"bao-cao-thay-doi-{args.since}-{args.until}.{fmt}")
    report = changes_report(path, Period(args.since, args.until), lang=args.lang, anchor=anchor)
    write_report(report, fmt, out)
    print(out)
    if not report.intact:
        print(f"syncbot: {report.warning}", file=sys.stderr)
        return EXIT_CHAIN_BROKEN
    return EXIT_OK


def _audit_source(
    args: argparse.Namespace, config: Config | None
) -> tuple[Path, tuple[int, str] | None]:
    """The log to read, and the (seq, hash) the last run wrote, which catches a cut-off tail."""
    if args.file is not None:
        return args.file, None
    if config is None:
        raise ValueError("report changes needs a config or --file")
    last = StateDir(config.state_dir).last_run()
    anchor = (last["audit_seq"], last["audit_hash"]) if last.get("audit_hash") else None
    return config.audit_path, anchor


def run_duty_report(args: argparse.Namespace, config: Config) -> int:
    """Read everything (changing nothing), build the named report, write it, print its path."""
    _, stem, build = DUTY_REPORTS[args.report_command]
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
    return EXIT_OK
