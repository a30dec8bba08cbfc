"""`syncbot report changes`: the command-line side of `syncbot.report`.

Exit codes: 0 written; 9 written, but the audit chain is broken (the report says so at
the top); 2 usage error (the period ends before it starts).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from syncbot.config import Config
from syncbot.report import FORMATS, Period, changes_report, format_for, write_report
from syncbot.report.words import LANGS
from syncbot.state import StateDir

EXIT_OK, EXIT_USAGE, EXIT_CHAIN_BROKEN = 0, 2, 9


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(subparsers: Any) -> None:
    """Add `report changes` to the top-level subcommands (`subparsers` from add_subparsers)."""
    report = subparsers.add_parser("report", help="reports for inspectors, from the audit log")
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


def run(args: argparse.Namespace, config: Config | None) -> int:
    """Write the report and print its path; `config` may be None when --file is given."""
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
