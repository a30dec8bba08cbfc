"""Settings of one LDAP target, as the configuration file states them."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from syncbot.errors import ConfigError
from syncbot.targets.ldap.flavours import FLAVOURS


@dataclass(frozen=True)
class LdapSettings:
    """Where the directory is, how to bind, and where accounts and groups live.

    `bind_password` is already resolved (from a file or the environment) and is kept out
    of `repr`, so a settings object can be logged or shown in a traceback safely.
    """

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

    def __post_init__(self) -> None:
        source = f"targets.{self.name}"
        if self.flavour.strip().lower() not in FLAVOURS:
            known = ", ".join(FLAVOURS)
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
