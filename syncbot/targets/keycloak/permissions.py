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

- `view-events` (when dormancy or failed sign-ins are watched): read the realm's stored
  LOGIN and LOGIN_ERROR events, and its event settings.
- `manage-realm` (when `[password_policy]` sets rules): write the realm's password policy.
  It lets a leaked secret rewrite the whole realm, so a realm whose policy is kept by hand
  (no rules in the config) need not grant it.
- `manage-events` (when the target has `store_events = true`): turn event storage on and
  set how long events are kept.

`manage-clients` and `realm-admin` would also do and are not asked for: they let a leaked
secret rewrite the realm's clients.
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
        when = f", needed when {self.when}" if self.when else ""
        return f"{self.role} ({self.purpose}{when})"


MANAGE_USERS = Need(
    "manage-users",
    "read, disable, enable and sign out users, change their groups and role mappings",
)
VIEW_REALM = Need(
    "view-realm",
    "read realm roles and who holds them, and the password policy",
    "mappings use realm: references or [password_policy] sets rules",
    ("manage-realm",),
)
VIEW_CLIENTS = Need(
    "view-clients",
    "find clients and read who holds their roles",
    "mappings use client: references",
    ("manage-clients",),
)
VIEW_EVENTS = Need(
    "view-events",
    "read sign-in and failed sign-in events and the event settings",
    "[dormancy] or [failed_sign_ins] is configured",
    ("manage-events",),
)
MANAGE_REALM = Need(
    "manage-realm", "set the realm's password policy", "[password_policy] sets rules"
)
MANAGE_EVENTS = Need(
    "manage-events", "turn on event storage and set its expiration", "store_events = true"
)
#: Needed by every configuration that maps roles or units.
NEEDS = (MANAGE_USERS, VIEW_REALM, VIEW_CLIENTS)
#: Needed only by the circulars' duties that read or set realm-wide things.
DUTY_NEEDS = (VIEW_EVENTS, MANAGE_REALM, MANAGE_EVENTS)


def missing(granted: Iterable[str], needs: tuple[Need, ...] = NEEDS) -> list[Need]:
    held = frozenset(granted)
    return [need for need in needs if not need.met_by(held)]


def need_for(path: str) -> Need:
    """The role whose absence most likely explains a 403 on `path` (under the realm).

    "" is the realm itself, which syncbot only writes (reading it takes the view-realm
    every fetch of realm roles already needs); `events/config` likewise.
    """
    if path == "":
        return MANAGE_REALM
    if path == "events/config":
        return MANAGE_EVENTS
    if path.startswith("events"):
        return VIEW_EVENTS
    if path.startswith("roles/"):
        return VIEW_REALM
    if path.startswith("clients"):
        return VIEW_CLIENTS
    return MANAGE_USERS
