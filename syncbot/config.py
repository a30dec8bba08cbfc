"""The one TOML configuration file, validated on load with errors that name the key.

Relative paths are taken from the config file's folder, so a deployment folder
(/etc/syncbot with its mappings/) can be moved or copied whole. This module reads the
tables that belong to no one part (roster, mappings, safety, protected, state, audit,
log) and composes the rest from the parsers beside their settings: targets through the
registry of target kinds, the worker, the duties.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from syncbot.approval.settings import ApprovalSettings, parse_approval
from syncbot.config_table import Table
from syncbot.duty_settings import Duties, parse_duties
from syncbot.errors import ConfigError
from syncbot.file_perms import check_protected
from syncbot.mappings import MAPPING_FILES
from syncbot.matching import Fallback
from syncbot.notify.settings import NotifySettings, parse_notify_settings
from syncbot.roster.limits import DEFAULT_LIMITS, RosterLimits
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.targets.registry import TargetSettings, parse_target
from syncbot.worker.settings import WorkerSettings, parse_worker_settings

ROSTER_FIELDS = (
    "employee_id", "full_name", "email", "unit", "position", "status", "effective_date",
    "username", "role",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RosterConfig:
    path: Path
    format: str = "auto"
    sheet: str | None = None
    delimiter: str = "auto"
    encoding: str = "auto"
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limits: RosterLimits = DEFAULT_LIMITS


@dataclass(frozen=True, slots=True)
class SafetyConfig:
    """octoDNS-style brakes: a roster that would lock out many people needs a human."""

    max_disable_share: float = 0.10
    min_roster_rows: int = 1
    max_shrink_share: float = 0.20
    # Below this many people losing access the share rule does not apply: in an office of
    # twelve, one retirement is already 8 %.
    min_people_for_share: int = 3
    # An export in which most people match no account is another office's, or a wrong
    # column: applying it would also make it the baseline for the shrink rule.
    min_matched_share: float = 0.5


@dataclass(frozen=True, slots=True)
class ProtectedConfig:
    usernames: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # references valid in every target
    target_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def groups_for(self, target: str) -> tuple[str, ...]:
        """Group references shielding accounts of one target: a group means a different
        thing in LDAP and in Keycloak, so each target can name its own."""
        return self.groups + self.target_groups.get(target, ())


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    roster: RosterConfig
    mappings_dir: Path
    mapping_overrides: Mapping[str, Path]
    fallback: Fallback
    safety: SafetyConfig
    protected: ProtectedConfig
    state_dir: Path
    audit_path: Path
    log_format: str
    log_level: str
    targets: Mapping[str, TargetSettings]
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    duties: Duties = field(default_factory=Duties)
    approval: ApprovalSettings = field(default_factory=ApprovalSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    #: `[audit] seal_epoch_minutes`: how long one seal key lives, for `audit setup-keys`.
    audit_seal_epoch_minutes: int = 15


#: Where the state folder and the audit log are when the config does not say.
DEFAULT_STATE_DIR = "/var/lib/syncbot"
DEFAULT_AUDIT_PATH = "/var/log/syncbot/audit.jsonl"


def read_top(path: Path) -> Table:
    """The config file's top table, once the file is known safe to trust and valid TOML."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            check_protected(handle.fileno(), source, what="config file")
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config file not found (use --config PATH)", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    return Table(raw, "", source, path.resolve().parent)


def load_config(path: Path) -> Config:
    """Read and validate the config; secrets are read now so a bad reference fails early."""
    source = str(path)
    top = read_top(path)
    sections = ("mappings", "matching", "state", "audit", "log")
    mappings, matching, state, audit, log = (top.table(n) for n in sections)
    config = Config(
        path=path,
        roster=_roster(top.table("roster")),
        mappings_dir=mappings.path(mappings.get("dir", str, "mappings")),
        mapping_overrides=_mapping_overrides(mappings),
        fallback=Fallback(matching.choice("fallback", tuple(f.value for f in Fallback), "none")),
        safety=_safety(top.table("safety")),
        protected=_protected(top.table("protected")),
        state_dir=state.path(state.get("dir", str, DEFAULT_STATE_DIR)),
        audit_path=audit.path(audit.get("path", str, DEFAULT_AUDIT_PATH)),
        log_format=log.choice("format", ("auto", "console", "json"), "auto"),
        log_level=log.choice("level", ("debug", "info", "warning", "error"), "info"),
        targets=_targets(top.table("targets")),
        worker=parse_worker_settings(top.table("worker")),
        duties=parse_duties(top),
        approval=parse_approval(top.table("approval")),
        notify=parse_notify_settings(top.table("notify")),
        audit_seal_epoch_minutes=audit.positive("seal_epoch_minutes", int, 15),
    )
    unknown = set(config.protected.target_groups) - set(config.targets)
    if unknown:
        raise ConfigError(
            "not a target name", source=source, key=f"protected.groups.{sorted(unknown)[0]}"
        )
    _check_policy_entries(config)
    for table in (mappings, matching, state, audit, log):
        table.done()
    top.done()
    return config


def _roster(table: Table) -> RosterConfig:
    headers_table = table.table("headers")
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in headers_table.data.items():
        if name not in ROSTER_FIELDS:
            raise headers_table.error(
                name, f"unknown roster field; fields: {', '.join(ROSTER_FIELDS)}"
            )
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise headers_table.error(name, "must be a header name or a list of header names")
        headers[name] = tuple(values)
    config = RosterConfig(
        path=table.path(table.require("path", str)),
        format=table.choice("format", ("auto", "csv", "xlsx", "json"), "auto"),
        sheet=table.get("sheet", str),
        delimiter=table.choice("delimiter", ("auto", ",", ";", "\t"), "auto"),
        encoding=table.choice("encoding", ("auto", "utf-8", "utf-8-sig", "utf-16"), "auto"),
        headers=headers,
        limits=RosterLimits(
            **{
                name: table.positive(name, int, default)
                for name, default in asdict(DEFAULT_LIMITS).items()
            }
        ),
    )
    table.done()
    return config


def _mapping_overrides(table: Table) -> dict[str, Path]:
    overrides = {
        name: table.path(table.get(name, str)) for name in MAPPING_FILES if table.get(name, str)
    }
    return overrides


def _safety(table: Table) -> SafetyConfig:
    defaults = SafetyConfig()
    min_rows = table.get("min_roster_rows", int, defaults.min_roster_rows)
    min_people = table.get("min_people_for_share", int, defaults.min_people_for_share)
    if min_rows < 0 or min_people < 0:
        key = "min_roster_rows" if min_rows < 0 else "min_people_for_share"
        raise table.error(key, "must not be negative")
    safety = SafetyConfig(
        max_disable_share=table.share("max_disable_share", defaults.max_disable_share),
        min_roster_rows=min_rows,
        max_shrink_share=table.share("max_shrink_share", defaults.max_shrink_share),
        min_people_for_share=min_people,
        min_matched_share=table.share("min_matched_share", defaults.min_matched_share),
    )
    table.done()
    return safety


def _protected(table: Table) -> ProtectedConfig:
    groups: tuple[str, ...] = ()
    target_groups: dict[str, tuple[str, ...]] = {}
    if isinstance(table.data.get("groups"), dict):
        by_target = table.table("groups")
        target_groups = {name: by_target.strings(name) for name in by_target.data}
    else:
        groups = table.strings("groups")
    protected = ProtectedConfig(
        usernames=table.strings("usernames"),
        patterns=table.strings("patterns"),
        groups=groups,
        target_groups=target_groups,
    )
    table.done()
    return protected


def _targets(table: Table) -> dict[str, TargetSettings]:
    if not table.data:
        raise table.error("", "at least one [targets.NAME] table is required")
    return {name: parse_target(name, table.table(name)) for name in table.data}


def _check_policy_entries(config: Config) -> None:
    """A password policy needs somewhere to live in every directory it is set in."""
    if not (config.duties.password.enforces_settings or config.duties.password.watches_accounts):
        return
    for name, settings in config.targets.items():
        if isinstance(settings, LdapSettings) and settings.lacks_policy_entry:
            raise ConfigError(
                "[password_policy] needs the DN of this directory's policy entry "
                "(OpenLDAP: the one olcPPolicyDefault names; Zimbra: the class of service)",
                source=str(config.path),
                key=f"targets.{name}.password_policy_dn",
            )
