"""The Keycloak target: users, realm roles, client roles and groups of one realm.

The target is loaded on first use, so importing the settings (as loading a config does)
does not load its HTTP client (`requests`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syncbot.targets.keycloak.refs import Entitlement, EntitlementKind, parse_key, parse_reference
from syncbot.targets.keycloak.settings import KeycloakSettings

if TYPE_CHECKING:
    from syncbot.targets.keycloak.target import KeycloakTarget

__all__ = [
    "Entitlement",
    "EntitlementKind",
    "KeycloakSettings",
    "KeycloakTarget",
    "parse_key",
    "parse_reference",
]


def __getattr__(name: str) -> Any:
    if name == "KeycloakTarget":
        return importlib.import_module(f"{__name__}.target").KeycloakTarget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
