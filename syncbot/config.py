"""The one TOML configuration file, validated on load with errors that name the key.

Relative paths are taken from the config file's folder, so a deployment folder
(/etc/syncbot with its mappings/) can be moved or copied whole.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from syncbot.duties import (
    CharClass,
    Dormancy,
    Duties,
    FailedSignIns,
    Orphans,
    PasswordPolicy,
    Response,
)
from syncbot.errors import ConfigError
from syncbot.mappings import MAPPING_FILES
from syncbot.matching import Fallback
from syncbot.model import Status
from syncbot.secrets import resolve_secret, secret_keys
from syncbot.targets.keycloak.settings import KeycloakSettings
from syncbot.targets.ldap.settings import LdapSettings
from syncbot.worker.settings import (
    ListenerLimits,
    MetricsSettings,
    PushSettings,
    SettingsProblem,
    WorkerSettings,
    check_push_settings,
)

TargetSettings = LdapSettings | KeycloakSettings

DEFAULT_PATH = Path("/etc/syncbot/syncbot.toml")
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


class _Table:
    """A config table that remembers which keys were read, so typos are reported, not ignored."""

    def __init__(self, data: Any, name: str, source: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError("must be a table", source=source, key=name)
        self.data: dict[str, Any] = data
        self.name = name
        self.source = source
        self.used: set[str] = set()

    def key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, key=self.key(key))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # A TOML date-time is a `datetime`, which Python counts as a `date`: a day is meant.
        wrong_date = kind is date and isinstance(value, datetime)
        if (
            wrong_date
            or not isinstance(value, kind)
            or (isinstance(value, bool) and kind in (int, float))
        ):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.error(key, f"must be a {names}, got {type(value).__name__}")
        return value

    def require(self, key: str, kind: type) -> Any:
        value = self.get(key, kind)
        if value is None or value == "":
            raise self.error(key, "is required")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value: str = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(key, "must be a list of non-empty strings")
        return tuple(value)

    def table(self, key: str) -> _Table:
        self.used.add(key)
        return _Table(self.data.get(key, {}), self.key(key), self.source)

    def share(self, key: str, default: float) -> float:
        value: float = self.get(key, float, default)
        if not 0.0 <= value <= 1.0:
            raise self.error(key, f"must be a share between 0 and 1 (0.1 = 10 %), got {value}")
        return value

    def done(self) -> None:
        unknown = set(self.data) - self.used
        if unknown:
            raise self.error(sorted(unknown)[0], "unknown setting (misspelt?)")


def load_config(path: Path) -> Config:
    """Read and validate the config; secrets are read now so a bad reference fails early."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config file not found (use --config PATH)", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    base = path.resolve().parent
    top = _Table(raw, "", source)

    def resolve(value: str) -> Path:
        return (base / Path(value).expanduser()).resolve()

    sections = ("mappings", "matching", "state", "audit", "log")
    mappings, matching, state, audit, log = (top.table(n) for n in sections)
    config = Config(
        path=path,
        roster=_roster(top.table("roster"), resolve),
        mappings_dir=resolve(mappings.get("dir", str, "mappings")),
        mapping_overrides=_mapping_overrides(mappings, resolve),
        fallback=Fallback(matching.choice("fallback", tuple(f.value for f in Fallback), "none")),
        safety=_safety(top.table("safety")),
        protected=_protected(top.table("protected")),
        state_dir=resolve(state.get("dir", str, "/var/lib/syncbot")),
        audit_path=resolve(audit.get("path", str, "/var/log/syncbot/audit.jsonl")),
        log_format=log.choice("format", ("auto", "console", "json"), "auto"),
        log_level=log.choice("level", ("debug", "info", "warning", "error"), "info"),
        targets=_targets(top.table("targets"), resolve),
        worker=_worker(top.table("worker"), resolve),
        duties=_duties(top),
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


def _roster(table: _Table, resolve: Any) -> RosterConfig:
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
        path=resolve(table.require("path", str)),
        format=table.choice("format", ("auto", "csv", "xlsx", "json"), "auto"),
        sheet=table.get("sheet", str),
        delimiter=table.choice("delimiter", ("auto", ",", ";", "\t"), "auto"),
        encoding=table.choice("encoding", ("auto", "utf-8", "utf-8-sig", "utf-16"), "auto"),
        headers=headers,
    )
    table.done()
    return config


def _mapping_overrides(table: _Table, resolve: Any) -> dict[str, Path]:
    overrides = {
        name: resolve(table.get(name, str)) for name in MAPPING_FILES if table.get(name, str)
    }
    return overrides


def _safety(table: _Table) -> SafetyConfig:
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


def _protected(table: _Table) -> ProtectedConfig:
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


def _targets(table: _Table, resolve: Any) -> dict[str, TargetSettings]:
    if not table.data:
        raise table.error("", "at least one [targets.NAME] table is required")
    targets: dict[str, TargetSettings] = {}
    for name in table.data:
        target = table.table(name)
        kind = target.choice("type", ("ldap", "keycloak"), "ldap")
        targets[name] = (_ldap if kind == "ldap" else _keycloak)(name, target, resolve)
    return targets


def _keycloak(name: str, table: _Table, resolve: Any) -> KeycloakSettings:
    defaults = KeycloakSettings.__dataclass_fields__
    url: str = table.require("server_url", str)
    if not url.startswith(("https://", "http://")):
        raise table.error("server_url", f"must start with https:// or http://, got {url!r}")
    ca_file = table.get("ca_file", str)
    settings = KeycloakSettings(
        name=name,
        server_url=url.rstrip("/"),
        realm=table.require("realm", str),
        client_id=table.require("client_id", str),
        client_secret=resolve_secret(
            table.data,
            "client_secret",
            source=table.source,
            section=table.name,
            base=resolve("."),
        ),
        match_attribute=table.get("match_attribute", str, defaults["match_attribute"].default),
        verify=table.get("tls_verify", bool, True),
        ca_file=str(resolve(ca_file)) if ca_file else None,
        page_size=_positive(table, "page_size", int, defaults["page_size"].default),
        timeout=_positive(table, "timeout", float, defaults["timeout"].default),
        store_events=table.get("store_events", bool, defaults["store_events"].default),
        events_expiration_days=_positive(
            table, "events_expiration_days", int, defaults["events_expiration_days"].default
        ),
    )
    table.used |= secret_keys("client_secret")
    table.done()
    return settings


def _ldap(name: str, table: _Table, resolve: Any) -> LdapSettings:
    defaults = LdapSettings.__dataclass_fields__
    ca_file = table.get("ca_file", str)
    settings = LdapSettings(
        name=name,
        flavour=table.choice("flavour", ("openldap", "ad", "389ds", "zimbra"), "openldap"),
        url=_ldap_url(table),
        bind_dn=table.require("bind_dn", str),
        bind_password=resolve_secret(
            table.data,
            "bind_password",
            source=table.source,
            section=table.name,
            base=resolve("."),
        ),
        users_base=table.require("users_base", str),
        groups_base=table.require("groups_base", str),
        users_filter=table.get("users_filter", str),
        match_attribute=table.get("match_attribute", str, defaults["match_attribute"].default),
        username_attribute=table.get("username_attribute", str),
        email_attribute=table.get("email_attribute", str, defaults["email_attribute"].default),
        start_tls=table.get("start_tls", bool, False),
        ca_file=str(resolve(ca_file)) if ca_file else None,
        tls_verify=table.get("tls_verify", bool, True),
        page_size=_positive(table, "page_size", int, defaults["page_size"].default),
        timeout=_positive(table, "timeout", float, defaults["timeout"].default),
        empty_group_member=table.get("empty_group_member", str),
        password_policy_dn=table.get("password_policy_dn", str),
        search_library=table.choice("search_library", ("auto", "python-ldap", "ldap3"), "auto"),
    )
    table.used |= secret_keys("bind_password")
    table.done()
    return settings


def _ldap_url(table: _Table) -> str:
    url: str = table.require("url", str)
    if not url.startswith(("ldap://", "ldaps://")):
        raise table.error("url", f"must start with ldap:// or ldaps://, got {url!r}")
    return url


def _worker(table: _Table, resolve: Any) -> WorkerSettings:
    from syncbot.worker.timing import parse_clock

    defaults = WorkerSettings()
    interval = table.get("interval_minutes", float, defaults.interval_minutes)
    if interval < 0:
        raise table.error("interval_minutes", "must not be negative (0 turns the interval off)")
    daily = []
    for text in table.strings("daily_at"):
        try:
            daily.append(parse_clock(text))
        except ValueError as exc:
            raise table.error("daily_at", str(exc)) from None
    watch = table.get("watch", str)
    status_file = table.get("status_file", str)
    debounce = table.get("debounce_seconds", float, defaults.debounce_seconds)
    if debounce < 0:
        raise table.error("debounce_seconds", "must not be negative")
    settings = WorkerSettings(
        interval_minutes=interval,
        daily_at=tuple(daily),
        watch=resolve(watch) if watch else None,
        debounce_seconds=debounce,
        status_file=resolve(status_file) if status_file else None,
        push=_push(table.table("push"), resolve) if "push" in table.data else None,
        metrics=_metrics(table.table("metrics")) if "metrics" in table.data else None,
    )
    table.done()
    return settings


def _listen(table: _Table) -> tuple[str, int]:
    text: str = table.require("listen", str)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise table.error("listen", f"must be HOST:PORT, e.g. 127.0.0.1:8765, got {text!r}")
    return host.strip("[]"), int(port)


def _optional_secret(table: _Table, name: str, resolve: Any) -> str | None:
    table.used |= secret_keys(name)
    if not secret_keys(name) & set(table.data):
        return None
    return resolve_secret(
        table.data, name, source=table.source, section=table.name, base=resolve(".")
    )


def _push(table: _Table, resolve: Any) -> PushSettings:
    host, port = _listen(table)
    token = _optional_secret(table, "token", resolve)
    hmac_secret = _optional_secret(table, "hmac_secret", resolve)
    if token is None and hmac_secret is None:
        raise table.error("token_file", "a push endpoint needs a token or an hmac_secret")
    cert, key = table.get("cert_file", str), table.get("key_file", str)
    if bool(cert) != bool(key):
        raise table.error(
            "cert_file" if key else "key_file", "TLS needs both cert_file and key_file"
        )
    settings = PushSettings(
        host=host,
        port=port,
        token=token,
        hmac_secret=hmac_secret,
        max_body_bytes=_positive(table, "max_body_bytes", int, 1_048_576),
        cert_file=resolve(cert) if cert else None,
        key_file=resolve(key) if key else None,
        allow_plaintext=table.get("allow_plaintext", bool, False),
        limits=_listener_limits(table),
    )
    try:
        check_push_settings(settings)
    except SettingsProblem as problem:
        # The token's rule is reported on the key it was given by (token_file, token_env...).
        given = sorted(secret_keys(problem.setting) & set(table.data)) or [problem.setting]
        raise table.error(given[0], problem.message) from None
    table.done()
    return settings


def _metrics(table: _Table) -> MetricsSettings:
    host, port = _listen(table)
    settings = MetricsSettings(host=host, port=port, limits=_listener_limits(table))
    table.done()
    return settings


def _listener_limits(table: _Table) -> ListenerLimits:
    defaults = ListenerLimits()
    total = _positive(table, "max_connections", int, defaults.max_connections)
    per_peer = _positive(table, "max_connections_per_peer", int, defaults.max_connections_per_peer)
    if per_peer > total:
        raise table.error("max_connections_per_peer", f"must not exceed max_connections ({total})")
    return ListenerLimits(
        max_connections=total,
        max_connections_per_peer=per_peer,
        header_timeout_seconds=_positive(
            table, "header_timeout_seconds", float, defaults.header_timeout_seconds
        ),
    )


def _positive(table: _Table, key: str, kind: type, default: Any) -> Any:
    value = table.get(key, kind, default)
    if value <= 0:
        raise table.error(key, "must be positive")
    return value


def _duties(top: _Table) -> Duties:
    failed = top.table("failed_sign_ins")
    duties = Duties(
        password=_password_policy(top.table("password_policy")),
        dormancy=_dormancy(top.table("dormancy")) if "dormancy" in top.data else None,
        orphans=_orphans(top.table("orphans")),
        failed_sign_ins=FailedSignIns(
            threshold=_positive(failed, "threshold", int, FailedSignIns().threshold),
            days=_positive(failed, "days", int, FailedSignIns().days),
        )
        if "failed_sign_ins" in top.data
        else None,
    )
    failed.done()
    return duties


def _password_policy(table: _Table) -> PasswordPolicy:
    classes = table.strings("require")
    for name in classes:
        if name not in tuple(CharClass):
            allowed = ", ".join(c.value for c in CharClass)
            raise table.error("require", f"{name!r} is not a character class; use {allowed}")
    responses = tuple(r.value for r in Response)
    policy = PasswordPolicy(
        min_length=_optional_positive(table, "min_length"),
        classes=frozenset(CharClass(c) for c in classes),
        not_username=table.get("not_username", bool, False),
        history=_optional_positive(table, "history"),
        max_age_days=_optional_positive(table, "max_age_days"),
        never_changed=Response(table.choice("never_changed", responses, "off")),
        expired=Response(table.choice("expired", responses, "off")),
        deadline=table.get("deadline", date),
        issued_within_minutes=_positive(
            table, "issued_within_minutes", int, PasswordPolicy().issued_within_minutes
        ),
    )
    if policy.expired is not Response.OFF and policy.max_age_days is None:
        raise table.error("expired", "needs max_age_days: the age a password expires at")
    if policy.deadline is not None and not policy.watches_accounts:
        raise table.error(
            "deadline", "needs never_changed or expired set to report or require_change"
        )
    table.done()
    return policy


def _dormancy(table: _Table) -> Dormancy:
    statuses = table.get("exempt_statuses", list, ["on_leave"])
    allowed = tuple(s.value for s in Status)
    if not all(isinstance(s, str) and s in allowed for s in statuses):
        raise table.error("exempt_statuses", f"must list statuses among {', '.join(allowed)}")
    dormancy = Dormancy(
        days=_required_positive(table, "days"),
        recorded_since=table.require("recorded_since", date),
        disable_after_days=_optional_positive(table, "disable_after_days"),
        exempt_statuses=frozenset(Status(s) for s in statuses),
    )
    table.done()
    return dormancy


def _orphans(table: _Table) -> Orphans:
    orphans = Orphans(
        disable=table.get("disable", bool, False),
        grace_days=table.get("grace_days", int, Orphans().grace_days),
    )
    if orphans.grace_days < 0:
        raise table.error("grace_days", "must not be negative")
    table.done()
    return orphans


def _optional_positive(table: _Table, key: str) -> int | None:
    return _positive(table, key, int, None) if key in table.data else None


def _required_positive(table: _Table, key: str) -> int:
    table.require(key, int)
    value: int = _positive(table, key, int, None)
    return value


def _check_policy_entries(config: Config) -> None:
    """A password policy for OpenLDAP or Zimbra needs the entry it lives in: guessing it
    would write a policy slapd never reads while the plan says the rules are enforced."""
    if not (config.duties.password.enforces_settings or config.duties.password.watches_accounts):
        return
    for name, settings in config.targets.items():
        if (
            isinstance(settings, LdapSettings)
            and settings.flavour in ("openldap", "zimbra")
            and settings.password_policy_dn is None
        ):
            raise ConfigError(
                "[password_policy] needs the DN of this directory's policy entry "
                "(OpenLDAP: the one olcPPolicyDefault names; Zimbra: the class of service)",
                source=str(config.path),
                key=f"targets.{name}.password_policy_dn",
            )
