"""The Keycloak target: users, realm roles, client roles and groups of one realm."""

from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind, parse_key, parse_reference
from syncbot.targets.keycloak.settings import KeycloakSettings
from syncbot.targets.keycloak.target import KeycloakTarget

__all__ = [
    "Entitlement",
    "EntitlementKind",
    "KeycloakSettings",
    "KeycloakTarget",
    "parse_key",
    "parse_reference",
]
