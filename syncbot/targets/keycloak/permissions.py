"""The `realm-management` roles syncbot's service account needs, and why each one.

Measured against Keycloak 26.7 by taking each role away in turn:

- `manage-users` (always): disable and enable users, end their sessions, revoke consents
  and offline tokens, change group membership and role mappings. Keycloak lets whoever
  may manage users also list and read them, read group members, find a group by its path
  and read the user profile, so `view-users`, `query-users` and `query-groups` add nothing.
- `view-realm` (when mappings name `realm:` roles): read a realm role and who holds it
  (`roles/{role}` and `roles/{role}/users`); without it both answer 403.
- `view-clients` (when mappings name `client:` roles): find a client by its clientId and
  read its roles and who holds them. `query-clients` is not enough: with it alone Keycloak
  answers the client search with an empty list rather than 403, which would make every
  client look missing.

`manage-realm`, `manage-clients` and `realm-admin` would also do and are not asked for:
they let a leaked secret rewrite the realm or its clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Need:
    """One role syncbot needs; `also_by` are broader roles Keycloak accepts in its place."""

    role: str
    purpose: str
    when: str | None = None  # None: always needed
    also_by: tuple[str, ...] = ()

    def met_by(self, granted: Iterable[str]) -> bool:
        held = set(granted)
        return self.role in held or any(role in held for role in self.also_by)

    def explain(self) -> str:
        when = f", needed when mappings use {self.when}" if self.when else ""
        return f"{self.role} ({self.purpose}{when})"


MANAGE_USERS = Need(
    "manage-users",
    "read, disable, enable and sign out users, change their groups and role mappings",
)
VIEW_REALM = Need(
    "view-realm", "read realm roles and who holds them", "realm: references", ("manage-realm",)
)
VIEW_CLIENTS = Need(
    "view-clients",
    "find clients and read who holds their roles",
    "client: references",
    ("manage-clients",),
)
NEEDS = (MANAGE_USERS, VIEW_REALM, VIEW_CLIENTS)


def missing(granted: Iterable[str]) -> list[Need]:
    held = frozenset(granted)
    return [need for need in NEEDS if not need.met_by(held)]


def need_for(path: str) -> Need:
    """The role whose absence most likely explains a 403 on `path` (under the realm)."""
    if path.startswith("roles/"):
        return VIEW_REALM
    if path.startswith("clients"):
        return VIEW_CLIENTS
    return MANAGE_USERS
