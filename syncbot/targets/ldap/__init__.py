"""The LDAP target: OpenLDAP, Active Directory, 389 Directory Server and Zimbra.

The target and the flavours are loaded on first use, so importing the settings (as
loading a config does) does not load the LDAP libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syncbot.targets.ldap.settings import LdapSettings

if TYPE_CHECKING:
    from syncbot.targets.ldap.flavours import FLAVOURS, Flavour, MemberKind, get_flavour
    from syncbot.targets.ldap.locator import LdapLocator
    from syncbot.targets.ldap.target import LdapTarget

__all__ = [
    "FLAVOURS",
    "Flavour",
    "LdapLocator",
    "LdapSettings",
    "LdapTarget",
    "MemberKind",
    "get_flavour",
]

_LAZY = {
    "FLAVOURS": "flavours",
    "Flavour": "flavours",
    "MemberKind": "flavours",
    "get_flavour": "flavours",
    "LdapLocator": "locator",
    "LdapTarget": "target",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
