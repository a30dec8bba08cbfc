"""Entitlement references of a Keycloak target: what mappings say, and the keys snapshots use.

A mapping names a realm role, a client role or a group:

    realm:<role>                 -> realm-role:<role>
    client:<clientId>:<role>     -> client-role:<clientId>:<role>
    group:<path>                 -> group:/<path>

Keycloak compares role names, client ids and group names case-sensitively, so only the
prefix is case-insensitive and nothing else changes case. Text is composed to NFC, so a
mapping file saved with decomposed Vietnamese still names the group an administrator typed.
A client id may itself hold colons (SAML clients are named by URL); a role name may not,
so the role is what follows the last colon.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncbot.errors import ConfigError
from syncbot.match_keys import nfc

ACCEPTED_FORMS = "realm:<role>, client:<clientId>:<role> or group:<path>"


class EntitlementKind(StrEnum):
    """The three things Keycloak can grant a user; the value is the key prefix."""

    REALM_ROLE = "realm-role"
    CLIENT_ROLE = "client-role"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One realm role, client role or group, as syncbot names it.

    `name` is the role name, or the group's full path with its leading slash.
    """

    kind: EntitlementKind
    name: str
    client_id: str | None = None

    @property
    def key(self) -> str:
        if self.kind is EntitlementKind.CLIENT_ROLE:
            return f"{self.kind.value}:{self.client_id}:{self.name}"
        return f"{self.kind.value}:{self.name}"

    def __str__(self) -> str:
        if self.kind is EntitlementKind.REALM_ROLE:
            return f"realm role {self.name!r}"
        if self.kind is EntitlementKind.CLIENT_ROLE:
            return f"role {self.name!r} of client {self.client_id!r}"
        return f"group {self.name!r}"


def realm_role(name: str) -> Entitlement:
    return Entitlement(EntitlementKind.REALM_ROLE, name)


def client_role(client_id: str, name: str) -> Entitlement:
    return Entitlement(EntitlementKind.CLIENT_ROLE, name, client_id)


def group(path: str) -> Entitlement:
    return Entitlement(EntitlementKind.GROUP, "/" + path.strip("/"))


def parse_reference(ref: str, *, target: str) -> Entitlement:
    """A mapping reference as an entitlement; `ConfigError` naming the forms accepted."""
    prefix, sep, rest = nfc(ref).partition(":")
    prefix = prefix.strip().lower()
    rest = rest.strip()
    parsed: Entitlement | None = None
    if sep and prefix == "realm" and rest:
        parsed = realm_role(rest)
    elif sep and prefix == "client":
        client_id, sep, role = rest.rpartition(":")
        if sep and client_id.strip() and role.strip():
            parsed = client_role(client_id.strip(), role.strip())
    elif sep and prefix == "group" and rest.strip("/").strip():
        parsed = group(rest)
    if parsed is None:
        raise ConfigError(
            f"{ref!r} is not a Keycloak entitlement; use {ACCEPTED_FORMS}",
            source=f"targets.{target}",
        )
    return parsed


def parse_key(key: str) -> Entitlement | None:
    """The entitlement an entitlement key stands for, or None if it is not a Keycloak key."""
    prefix, _, rest = key.partition(":")
    if prefix == EntitlementKind.REALM_ROLE.value and rest:
        return realm_role(rest)
    if prefix == EntitlementKind.CLIENT_ROLE.value:
        client_id, sep, role = rest.rpartition(":")
        return client_role(client_id, role) if sep and client_id and role else None
    if prefix == EntitlementKind.GROUP.value and rest.startswith("/") and rest.strip("/"):
        return group(rest)
    return None


def entitlement_of(key: str, target: str) -> Entitlement:
    """The entitlement a managed key names; `ConfigError` for a key this target did not make."""
    parsed = parse_key(key)
    if parsed is None:
        raise ConfigError(
            f"{key!r} is not a Keycloak entitlement key "
            "(realm-role:R, client-role:C:R or group:/PATH)",
            source=f"targets.{target}",
        )
    return parsed
