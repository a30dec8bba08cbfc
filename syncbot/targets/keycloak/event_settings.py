"""The realm's event storage as syncbot judges it: the names, the wanted values, the reading.

Shared by the read (which reports the settings), the write (which changes them) and the
target (which says what the duties want), so all three use the same words and the same
"at least" comparison.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncbot.targets.keycloak import observed
from syncbot.targets.keycloak.api import AdminError

#: Where the realm's target-wide settings live, as plans name it.
SETTINGS_KEY = "realm"
#: Event-store settings, beside the policy terms in `Snapshot.settings`.
EVENTS_ENABLED = "events.enabled"
EVENTS_EXPIRATION = "events.expiration"  # seconds, as Keycloak keeps it
EVENTS_TYPES = "events.types"  # the stored event types, sorted, comma-separated
#: The event types the dormancy and failed sign-in duties read.
REQUIRED_EVENT_TYPES = frozenset({observed.LOGIN, observed.LOGIN_ERROR})
_DAY_SECONDS = 86_400


def wanted_events(expiration_days: int) -> dict[str, str]:
    """Storage on, the required types stored, kept for `expiration_days` at least."""
    return {
        EVENTS_ENABLED: "true",
        EVENTS_TYPES: ",".join(sorted(REQUIRED_EVENT_TYPES)),
        EVENTS_EXPIRATION: str(expiration_days * _DAY_SECONDS),
    }


def as_judged(now: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """Event settings as compared with `wanted`: more than asked for is what was asked."""
    judged = dict(now)
    held = set(filter(None, now.get(EVENTS_TYPES, "").split(",")))
    judged[EVENTS_TYPES] = ",".join(sorted(held & REQUIRED_EVENT_TYPES))
    current, enough = now.get(EVENTS_EXPIRATION), int(wanted[EVENTS_EXPIRATION])
    unlimited = current is None and now.get(EVENTS_ENABLED) == "true"
    if unlimited or (current is not None and current.isdigit() and int(current) >= enough):
        judged[EVENTS_EXPIRATION] = wanted[EVENTS_EXPIRATION]
    return judged


def events_settings(config: object) -> dict[str, str]:
    """The event settings syncbot compares, from `GET events/config`."""
    if not isinstance(config, dict):
        raise AdminError("GET events/config: expected an object")
    settings = {
        EVENTS_ENABLED: "true" if config.get("eventsEnabled") else "false",
        EVENTS_TYPES: ",".join(sorted(str(t) for t in config.get("enabledEventTypes") or ())),
    }
    expiration = config.get("eventsExpiration")
    if isinstance(expiration, int) and not isinstance(expiration, bool) and expiration > 0:
        settings[EVENTS_EXPIRATION] = str(expiration)
    return settings
