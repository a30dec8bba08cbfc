"""The `syncbot` command line: every command, its options and their help, and nothing else.

Building the parser imports no command: `syncbot --help` and a mistyped option are answered
before the target libraries (python-keycloak, python-ldap) or the spreadsheet writer
(openpyxl) are loaded, and each command imports what it needs only when it runs. The few
names the grammar shares with the rest of syncbot (report formats and languages) are spelt
here for that reason, and a test holds them equal to the report package's.
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path
from typing import Any

from syncbot import __version__
from syncbot.exit_codes import ExitCode, exit_code_table

#: Where the config is read from when neither --config nor $SYNCBOT_CONFIG says otherwise.
DEFAULT_CONFIG = Path("/etc/syncbot/syncbot.toml")

#: `syncbot.report.FORMATS` and `syncbot.wording.report.LANGS`, without importing the writers.
REPORT_FORMATS = ("html", "csv", "xlsx")
REPORT_LANGS = ("vi", "en")

#: The reports that read every target now: name -> (help, default file name stem).
DUTY_REPORTS: dict[str, tuple[str, str]] = {
    "compliance": (
        "every account's password against the password policy, by unit; each system's policy",
        "bao-cao-tuan-thu-mat-khau",
    ),
    "dormant": (
        "accounts unused for [dormancy] days, grouped by unit, with their lock dates",
        "bao-cao-tai-khoan-khong-su-dung",
    ),
    "orphans": (
        "accounts with no HR record, open or locked, in every system",
        "bao-cao-tai-khoan-khong-co-ho-so",
    ),
}

_EPILOG = "\n".join(
    [
        "exit codes:",
        *(f"  {line}" for line in exit_code_table()),
        "",
        f"`syncbot run` exits {int(ExitCode.OK)} after SIGTERM "
        "(the step in flight is finished and audited).",
    ]
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syncbot",
        description="Giữ tài khoản LDAP/Keycloak khớp với hồ sơ nhân sự.\n"
        "Keeps directory accounts in step with the HR roster.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"syncbot {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("SYNCBOT_CONFIG", DEFAULT_CONFIG)),
        help=f"config file (default: $SYNCBOT_CONFIG or {DEFAULT_CONFIG})",
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
    _add_reconcile_parsers(commands)
    commands.add_parser(
        "run", help="long-running worker: reconcile on HR file changes, pushes and a schedule"
    )
    status = commands.add_parser("status", help="show the worker's last run and what is next")
    status.add_argument("--json", action="store_true", help="the status file as JSON")
    _add_audit_parser(commands)
    _add_approval_parsers(commands)
    add_report_parser(commands)
    add_quarantine_parser(commands)
    _add_notify_parser(commands)
    _add_demo_parser(commands)
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _add_reconcile_parsers(commands: Any) -> None:
    plan = commands.add_parser("plan", help="show what would change and why; changes nothing")
    plan.add_argument("--json", action="store_true", help="machine-readable plan on stdout")
    plan.add_argument("--today", type=_date, help="plan as if today were this date (what-if)")
    plan.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="also write the plan to FILE in the saved format, for `syncbot apply FILE`",
    )
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {int(ExitCode.PLAN_HAS_CHANGES)} when the plan has changes",
    )

    apply = commands.add_parser("apply", help="show the plan, confirm, apply it and audit it")
    apply.add_argument(
        "file",
        nargs="?",
        type=Path,
        metavar="FILE",
        help="apply exactly this saved plan (`plan --out`), each step checked first",
    )
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    apply.add_argument(
        "--force",
        action="store_true",
        help="apply even past the safety thresholds (after human review)",
    )
    for command in (plan, apply):
        command.add_argument(
            "--changed",
            action="store_true",
            help="only the people whose roster rows changed since the last roster applied "
            "whole, read by lookup (what the worker does on a file drop)",
        )

    commands.add_parser("check-config", help="validate config, mappings, roster; try targets")


def _add_approval_parsers(commands: Any) -> None:
    plans = commands.add_parser("plans", help="plans refused by a threshold, saved for approval")
    plans_commands = plans.add_subparsers(dest="plans_command", required=True, metavar="ACTION")
    listing = plans_commands.add_parser("list", help="every saved plan and its status")
    listing.add_argument("--json", action="store_true", help="machine-readable list on stdout")
    show = plans_commands.add_parser("show", help="a saved plan, its preconditions, decisions")
    show.add_argument("id", metavar="ID", help="the plan's id (its first 12 characters do)")
    approve = commands.add_parser(
        "approve", help="approve a saved plan; applied once enough people approved it"
    )
    reject = commands.add_parser("reject", help="reject a saved plan: it is never applied")
    for command in (approve, reject):
        command.add_argument("id", metavar="ID", help="the plan's id (its first 12 characters do)")
        command.add_argument("--note", help="why, for the audit log")
    approve.add_argument("--yes", action="store_true", help="do not ask before applying it")


def _add_audit_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="read and verify the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser("verify", help="check the hash chain, and the seals")
    verify.add_argument("--file", type=Path, help="audit file (default: from the config)")
    verify.add_argument(
        "--key", type=Path, help="the inspector's verification key file: check every seal"
    )
    verify.add_argument(
        "--heads",
        type=Path,
        help="heads the journal witnessed (journalctl -o json, or syncbot's JSON log lines)",
    )
    setup = audit_commands.add_parser(
        "setup-keys", help="start sealing the log; print the inspector's verification key once"
    )
    setup.add_argument(
        "--verify-key-out", type=Path, help="also write the verification key to this new file"
    )
    setup.add_argument(
        "--epoch-minutes",
        type=int,
        help="how long one seal key lives (default: [audit] seal_epoch_minutes, 15)",
    )
    setup.set_defaults(file=None)  # always the configured log and state folder
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


def add_report_parser(commands: Any) -> None:
    """Add `report changes|compliance|dormant|orphans` to the top-level subcommands."""
    report = commands.add_parser(
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
        "--format", choices=REPORT_FORMATS, help="default: from the --out extension, else html"
    )
    changes.add_argument(
        "--out", type=Path, help="file to write (default: bao-cao-thay-doi-SINCE-UNTIL.EXT)"
    )
    changes.add_argument(
        "--lang", choices=REPORT_LANGS, default="vi", help="language (default: vi)"
    )
    changes.add_argument("--file", type=Path, help="audit file (default: from the config)")
    for name, (help_text, stem) in DUTY_REPORTS.items():
        _add_duty_report(kinds, name, help_text, stem)


def _add_duty_report(kinds: Any, name: str, help_text: str, stem: str) -> None:
    parser = kinds.add_parser(
        name,
        help=f"{help_text} (HTML, CSV or XLSX)",
        description="Reads the roster and every target now, as `syncbot plan` does; "
        "changes nothing.",
    )
    parser.add_argument(
        "--format", choices=REPORT_FORMATS, help="default: from the --out extension, else html"
    )
    parser.add_argument("--out", type=Path, help=f"file to write (default: {stem}-TODAY.EXT)")
    parser.add_argument("--lang", choices=REPORT_LANGS, default="vi", help="language (default: vi)")
    parser.add_argument(
        "--today", type=_date, help="report as if today were this date (what-if, as in plan)"
    )
    # The main command reads the audit file without a config when --file is given.
    parser.set_defaults(file=None)


def add_quarantine_parser(commands: Any) -> None:
    """Register the `quarantine` command on the main parser's subcommands."""
    parser = commands.add_parser(
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


def _add_notify_parser(commands: Any) -> None:
    notify = commands.add_parser("notify", help="operator notifications by e-mail and webhooks")
    actions = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    actions.add_parser(
        "test", help="send a test message through every configured channel now; show each result"
    )


def _add_demo_parser(commands: Any) -> None:
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
