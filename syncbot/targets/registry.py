"""The kinds of target a config may name (`type = "ldap"`, `type = "keycloak"`).

Each kind pairs the parser of its `[targets.NAME]` table with a way to open the target.
The target classes are imported only when a target is opened: their libraries (ldap3,
python-ldap, python-keycloak) are slow to load, and a config is read by commands that
never talk to a directory (`syncbot status`, `syncbot audit verify`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from syncbot.config_table import Table
from syncbot.targets.base import Target
from syncbot.targets.keycloak.settings import KeycloakSettings, parse_keycloak_settings
from syncbot.targets.ldap.settings import LdapSettings, parse_ldap_settings

TargetSettings = LdapSettings | KeycloakSettings


@dataclass(frozen=True, slots=True)
class TargetKind:
    """One kind of target: how its table is read, and how a target of it is opened."""

    parse: Callable[[str, Table], TargetSettings]
    open: Callable[[Any], Target]


def _open_ldap(settings: LdapSettings) -> Target:
    from syncbot.targets.ldap.target import LdapTarget

    return LdapTarget(settings)


def _open_keycloak(settings: KeycloakSettings) -> Target:
    from syncbot.targets.keycloak.target import KeycloakTarget

    return KeycloakTarget(settings)


#: By the name `type` takes in the config; the first is the default.
KINDS: Mapping[str, TargetKind] = {
    LdapSettings.kind: TargetKind(parse_ldap_settings, _open_ldap),
    KeycloakSettings.kind: TargetKind(parse_keycloak_settings, _open_keycloak),
}


def parse_target(name: str, table: Table) -> TargetSettings:
    """`[targets.NAME]`: its `type` picks the kind, which reads the rest."""
    kind = table.choice("type", tuple(KINDS), next(iter(KINDS)))
    return KINDS[kind].parse(name, table)


def open_target(settings: TargetSettings) -> Target:
    """A connection-ready target for settings a config gave; nothing is read yet."""
    return KINDS[settings.kind].open(settings)
