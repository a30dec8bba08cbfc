"""Settings of one LDAP target, as the configuration file states them, and their parser.

Kept free of the LDAP libraries: loading a config must not import them (`syncbot status`
and `syncbot --help` never talk to a directory), so the flavour names are listed here and
`flavours.py` holds their behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from syncbot.config_table import Table
from syncbot.errors import ConfigError
from syncbot.targets.insecure import ALLOW_KEY, Reason, is_loopback, refuse_unless_allowed

#: The directory products syncbot knows, in the order error messages list them.
FLAVOUR_NAMES = ("openldap", "ad", "389ds", "zimbra")


@dataclass(frozen=True)
class LdapSettings:
    """Where the directory is, how to bind, and where accounts and groups live.

    `bind_password` is already resolved (from a file or the environment) and is kept out
    of `repr`, so a settings object can be logged or shown in a traceback safely.
    """

    kind: ClassVar[str] = "ldap"

    name: str
    flavour: str
    url: str
    bind_dn: str
    bind_password: str = field(repr=False)
    users_base: str
    groups_base: str
    users_filter: str | None = None
    match_attribute: str = "employeeNumber"
    username_attribute: str | None = None
    email_attribute: str = "mail"
    start_tls: bool = False
    ca_file: str | None = None
    tls_verify: bool = True
    page_size: int = 500
    timeout: float = 30.0
    empty_group_member: str | None = None
    #: The entry holding the directory's password policy: ppolicy's default policy
    #: (OpenLDAP, required for [password_policy]), a class of service (Zimbra, required),
    #: the domain object (AD: defaults to defaultNamingContext), cn=config (389 DS).
    password_policy_dn: str | None = None
    #: Which library reads the directory: "auto" (python-ldap when installed: libldap
    #: decodes ~10x faster than ldap3), "python-ldap" or "ldap3".
    search_library: str = "auto"
    #: Accept what `insecure_reasons` lists (a lab, a migration); every run warns then.
    allow_insecure: bool = False

    def __post_init__(self) -> None:
        source = f"targets.{self.name}"
        if self.flavour.strip().lower() not in FLAVOUR_NAMES:
            known = ", ".join(FLAVOUR_NAMES)
            raise ConfigError(
                f"unknown flavour {self.flavour!r}; known: {known}", source=source, key="flavour"
            )
        scheme = urlsplit(self.url).scheme.lower()
        if scheme not in ("ldap", "ldaps"):
            raise ConfigError(
                f"must start with ldap:// or ldaps://, got {self.url!r}", source=source, key="url"
            )
        if scheme == "ldaps" and self.start_tls:
            raise ConfigError(
                "StartTLS cannot be used on an ldaps:// URL", source=source, key="start_tls"
            )
        if not 1 <= self.page_size <= 10_000:
            raise ConfigError("must be between 1 and 10000", source=source, key="page_size")
        if self.timeout <= 0:
            raise ConfigError("must be a positive number of seconds", source=source, key="timeout")
        for key in ("bind_dn", "users_base", "groups_base"):
            if not getattr(self, key).strip():
                raise ConfigError("must not be empty", source=source, key=key)
        if self.password_policy_dn is not None and "=" not in self.password_policy_dn:
            raise ConfigError(
                f"must be a DN, got {self.password_policy_dn!r}",
                source=source,
                key="password_policy_dn",
            )

    @property
    def uses_tls(self) -> bool:
        return self.start_tls or urlsplit(self.url).scheme.lower() == "ldaps"

    @property
    def insecure_reasons(self) -> list[Reason]:
        """What a third party could read or fake on this connection, by setting."""
        reasons: list[Reason] = []
        host = urlsplit(self.url).hostname
        if not self.uses_tls and not is_loopback(host):
            reasons.append(
                (
                    "url",
                    f"plain ldap:// to {host or 'the default host'} without StartTLS "
                    "sends the bind password and every change readable on the network",
                )
            )
        if self.uses_tls and not self.tls_verify:
            reasons.append(
                (
                    "tls_verify",
                    "tls_verify = false: the server's certificate is not checked, "
                    "so anyone on the path can pose as the directory",
                )
            )
        return reasons

    @property
    def lacks_policy_entry(self) -> bool:
        """Whether a password policy would have nowhere to live: OpenLDAP and Zimbra keep
        it in an entry that must be named, and guessing it would write a policy slapd never
        reads while the plan says the rules are enforced."""
        return self.flavour in ("openldap", "zimbra") and self.password_policy_dn is None


def parse_ldap_settings(name: str, table: Table) -> LdapSettings:
    """`[targets.NAME]` with `type = "ldap"` (the default)."""
    defaults = LdapSettings.__dataclass_fields__
    ca_file = table.get("ca_file", str)
    settings = LdapSettings(
        name=name,
        flavour=table.choice("flavour", FLAVOUR_NAMES, "openldap"),
        url=_url(table),
        bind_dn=table.require("bind_dn", str),
        bind_password=table.secret("bind_password"),
        users_base=table.require("users_base", str),
        groups_base=table.require("groups_base", str),
        users_filter=table.get("users_filter", str),
        match_attribute=table.get("match_attribute", str, defaults["match_attribute"].default),
        username_attribute=table.get("username_attribute", str),
        email_attribute=table.get("email_attribute", str, defaults["email_attribute"].default),
        start_tls=table.get("start_tls", bool, False),
        ca_file=str(table.path(ca_file)) if ca_file else None,
        tls_verify=table.get("tls_verify", bool, True),
        page_size=table.positive("page_size", int, defaults["page_size"].default),
        timeout=table.positive("timeout", float, defaults["timeout"].default),
        empty_group_member=table.get("empty_group_member", str),
        password_policy_dn=table.get("password_policy_dn", str),
        search_library=table.choice("search_library", ("auto", "python-ldap", "ldap3"), "auto"),
        allow_insecure=table.get(ALLOW_KEY, bool, False),
    )
    refuse_unless_allowed(table, settings.insecure_reasons, settings.allow_insecure)
    table.done()
    return settings


def _url(table: Table) -> str:
    url: str = table.require("url", str)
    if not url.startswith(("ldap://", "ldaps://")):
        raise table.error("url", f"must start with ldap:// or ldaps://, got {url!r}")
    return url
