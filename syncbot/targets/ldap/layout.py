"""One directory's settings with its flavour's defaults filled in, worked out once.

Reading and writing both need the same answers (which filter finds accounts, which
attribute is the username, which entry keeps an emptied group valid); deciding them in
one place keeps the two sides from drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncbot.targets.ldap.dn import child_dn, normalise_server_dn
from syncbot.targets.ldap.flavours import Flavour, get_flavour
from syncbot.targets.ldap.settings import LdapSettings


@dataclass(frozen=True, slots=True)
class Layout:
    """Where accounts and groups are in one directory, and how they are named."""

    settings: LdapSettings
    flavour: Flavour
    users_filter: str
    username_attribute: str
    placeholder: str | None  # the member that keeps an emptied group valid, if needed
    placeholder_key: str | None

    @classmethod
    def of(cls, settings: LdapSettings) -> Layout:
        flavour = get_flavour(settings.flavour)  # LdapSettings checked the name
        placeholder = _placeholder(settings, flavour)
        return cls(
            settings=settings,
            flavour=flavour,
            users_filter=settings.users_filter or flavour.users_filter,
            username_attribute=settings.username_attribute or flavour.username_attribute,
            placeholder=placeholder,
            placeholder_key=normalise_server_dn(placeholder) if placeholder else None,
        )

    @property
    def name(self) -> str:
        return self.settings.name

    def group_dn_for_name(self, name: str) -> str:
        return child_dn(self.flavour.group_rdn_attribute, name, self.settings.groups_base)


def _placeholder(settings: LdapSettings, flavour: Flavour) -> str | None:
    if settings.empty_group_member:
        return settings.empty_group_member
    if flavour.groups_may_be_empty or flavour.placeholder_rdn is None:
        return None
    return f"{flavour.placeholder_rdn},{settings.groups_base}"
