"""Settings of one Keycloak target, as the configuration file states them, and their parser.

Kept free of the HTTP client (`requests`): loading a config must not import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from syncbot.config_table import Table
from syncbot.errors import ConfigError
from syncbot.targets.insecure import ALLOW_KEY, Reason, is_loopback, refuse_unless_allowed


@dataclass(frozen=True)
class KeycloakSettings:
    """Which realm syncbot manages and the confidential client it signs in as.

    `client_secret` is already resolved (from a file, the environment or a credential) and
    is kept out of `repr`, so a settings object can be logged or shown in a traceback.
    """

    kind: ClassVar[str] = "keycloak"

    name: str
    server_url: str
    realm: str
    client_id: str
    client_secret: str = field(repr=False)
    match_attribute: str = "employeeNumber"
    verify: bool = True
    ca_file: str | None = None
    # Users per page of the users list. Keycloak builds each user's full representation,
    # and a page's cost grows faster than its size when the users are not in its cache:
    # 200 was the quickest at 10k and 20k users. Role and group members come whole, one
    # request per role or group.
    page_size: int = 200
    timeout: float = 30.0
    # Whether syncbot turns on and keeps the realm's login event storage, which the
    # dormancy and failed sign-in duties read; off, the realm's own event settings stand.
    store_events: bool = False
    # Dormancy looks a year back, and Keycloak deletes stored events older than this.
    events_expiration_days: int = 400
    #: Accept what `insecure_reasons` lists (a lab, a migration); every run warns then.
    allow_insecure: bool = False

    def __post_init__(self) -> None:
        source = f"targets.{self.name}"
        parts = urlsplit(self.server_url.strip())
        if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
            raise ConfigError(
                f"must be an https:// (or http://) URL, got {self.server_url!r}",
                source=source,
                key="server_url",
            )
        for key in ("realm", "client_id", "client_secret", "match_attribute"):
            if not getattr(self, key).strip():
                raise ConfigError("must not be empty", source=source, key=key)
        if not 1 <= self.page_size <= 10_000:
            raise ConfigError("must be between 1 and 10000", source=source, key="page_size")
        if self.events_expiration_days < 1:
            raise ConfigError(
                "must be a positive number of days", source=source, key="events_expiration_days"
            )
        if self.timeout <= 0:
            raise ConfigError("must be a positive number of seconds", source=source, key="timeout")

    @property
    def insecure_reasons(self) -> list[Reason]:
        """What a third party could read or fake on this connection, by setting."""
        parts = urlsplit(self.server_url.strip())
        if parts.scheme.lower() == "http":
            if is_loopback(parts.hostname):
                return []
            return [
                (
                    "server_url",
                    f"plain http:// to {parts.hostname} sends the client secret, "
                    "the access tokens and every change readable on the network",
                )
            ]
        if self.tls is False:
            return [
                (
                    "tls_verify",
                    "tls_verify = false: the server's certificate is not checked, "
                    "so anyone on the path can pose as Keycloak",
                )
            ]
        return []

    @property
    def tls(self) -> bool | str:
        """What requests' `verify` takes: a CA bundle path when given, else the flag."""
        return self.ca_file or self.verify


def parse_keycloak_settings(name: str, table: Table) -> KeycloakSettings:
    """`[targets.NAME]` with `type = "keycloak"`."""
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
        client_secret=table.secret("client_secret"),
        match_attribute=table.get("match_attribute", str, defaults["match_attribute"].default),
        verify=table.get("tls_verify", bool, True),
        ca_file=str(table.path(ca_file)) if ca_file else None,
        page_size=table.positive("page_size", int, defaults["page_size"].default),
        timeout=table.positive("timeout", float, defaults["timeout"].default),
        store_events=table.get("store_events", bool, defaults["store_events"].default),
        events_expiration_days=table.positive(
            "events_expiration_days", int, defaults["events_expiration_days"].default
        ),
        allow_insecure=table.get(ALLOW_KEY, bool, False),
    )
    refuse_unless_allowed(table, settings.insecure_reasons, settings.allow_insecure)
    table.done()
    return settings
