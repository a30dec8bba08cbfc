"""What Keycloak remembers about how accounts are used: sign-ins, failures, password dates.

Sign-ins and failures come from the realm's stored events, read as one paged list per
event type for the whole realm: a person's newest LOGIN is their last sign-in, their
LOGIN_ERRORs in the window are their failures. Keycloak stores events only while the
realm's event storage is on (`store_events` turns it on), and keeps them for the realm's
expiration, so "no event" means "no sign-in recorded", not "never signed in".

Password dates are the one thing Keycloak gives only per person (the credentials of a
user), so they are read only when asked, and only for the users that can have one.

A targeted read asks the same questions about a few users only (`last_sign_in_of`,
`failed_sign_ins_of`, `password_set_of`): the event list filtered by user, so its answer
for a user is the one the realm-wide list gives for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

from syncbot.targets.keycloak.api import HTTP_NOT_FOUND, AdminApi, AdminError, segment

LOGIN = "LOGIN"
LOGIN_ERROR = "LOGIN_ERROR"
#: Events are small; a page this size costs about as much as one of 200 users.
EVENTS_PAGE = 1000
PASSWORD = "password"  # noqa: S105 - Keycloak's credential type, not a password


def from_millis(value: object) -> datetime | None:
    """Keycloak's epoch milliseconds as an aware UTC datetime; None if absent or garbled."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def last_sign_ins(api: AdminApi, since: date) -> dict[str, datetime]:
    """User id -> time of the newest LOGIN event since `since` (UTC midnight)."""
    newest: dict[str, datetime] = {}
    for user_id, at in _events(api, LOGIN, since):
        if user_id not in newest or at > newest[user_id]:
            newest[user_id] = at
    return newest


def failed_sign_ins(api: AdminApi, since: date) -> dict[str, int]:
    """User id -> LOGIN_ERROR events since `since`, or the brute-force detector's count of
    consecutive failures when that is larger (it also counts failures whose events were
    not stored). Failures for unknown usernames carry no user id and are not counted."""
    counts: dict[str, int] = {}
    for user_id, _ in _events(api, LOGIN_ERROR, since):
        counts[user_id] = counts.get(user_id, 0) + 1
    for user_id, count in counts.items():
        counts[user_id] = max(count, _brute_force_failures(api, user_id))
    return counts


def last_sign_in_of(api: AdminApi, user_id: str, since: date) -> datetime | None:
    """The time of one user's newest LOGIN event since `since`, as `last_sign_ins` has it."""
    return max((at for _, at in _events(api, LOGIN, since, user=user_id)), default=None)


def failed_sign_ins_of(api: AdminApi, user_id: str, since: date) -> int:
    """One user's failures since `since`, counted as `failed_sign_ins` counts them."""
    count = sum(1 for _ in _events(api, LOGIN_ERROR, since, user=user_id))
    return max(count, _brute_force_failures(api, user_id)) if count else 0


def password_set_on(
    api: AdminApi, user_ids: Iterable[str], progress: Callable[[int], None]
) -> dict[str, datetime]:
    """User id -> when their current password credential was created (a reset replaces
    the credential, so this is the last time anyone set it). Users without a password
    credential are absent. One request per user: callers pass only those that need it."""
    found: dict[str, datetime] = {}
    for done, user_id in enumerate(user_ids, start=1):
        at = password_set_of(api, user_id)
        if at is not None:
            found[user_id] = at
        progress(done)
    return found


def password_set_of(api: AdminApi, user_id: str) -> datetime | None:
    """When one user's current password credential was created; None without one."""
    try:
        credentials = api.get(f"users/{segment(user_id)}/credentials")
    except AdminError as error:
        if error.status != HTTP_NOT_FOUND:  # deleted since the users were listed
            raise
        credentials = []
    dates = [
        at
        for credential in credentials or ()
        if isinstance(credential, dict) and credential.get("type") == PASSWORD
        if (at := from_millis(credential.get("createdDate"))) is not None
    ]
    return max(dates, default=None)


def _events(
    api: AdminApi, kind: str, since: date, *, user: str | None = None
) -> Iterator[tuple[str, datetime]]:
    """(user id, time) of each stored event of `kind` from `since` on, each event once;
    only `user`'s when given.

    Keycloak lists newest first, so an event stored during the read pushes older ones to
    the next page and one may be listed twice: events are told apart by their id.
    Keycloak reads `dateFrom` in its own time zone; the exact bound is applied here.
    """
    start = datetime.combine(since, time(), tzinfo=UTC)
    seen: set[str] = set()
    first = 0
    query: dict[str, Any] = {"type": kind, "dateFrom": since.isoformat()}
    if user is not None:
        query["user"] = user
    while True:
        page = api.get("events", **query, first=first, max=EVENTS_PAGE)
        if not isinstance(page, list):
            raise AdminError(f"GET events: expected a list, got {type(page).__name__}")
        for event in page:
            found = _event(event, start, seen)
            if found is not None:
                yield found
        if len(page) < EVENTS_PAGE:
            return
        first += len(page)


def _event(event: Any, start: datetime, seen: set[str]) -> tuple[str, datetime] | None:
    if not isinstance(event, dict):
        return None
    user_id = event.get("userId")
    at = from_millis(event.get("time"))
    if not user_id or at is None or at < start:
        return None
    identity = str(event.get("id") or f"{user_id}@{event.get('time')}")
    if identity in seen:
        return None
    seen.add(identity)
    return str(user_id), at


def _brute_force_failures(api: AdminApi, user_id: str) -> int:
    """Failures Keycloak's brute-force detection counts now; 0 when it is off or forgot."""
    try:
        status = api.get(f"attack-detection/brute-force/users/{segment(user_id)}")
    except AdminError as error:
        if error.status == HTTP_NOT_FOUND:
            return 0
        raise
    count = status.get("numFailures") if isinstance(status, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else 0
