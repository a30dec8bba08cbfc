"""What `syncbot check-config` says about a Keycloak target: who it is, and what is wrong.

Roles are read off a fresh access token, which lists the service account's effective
realm-management roles (the ones Keycloak decides admin permissions on): no request and
no permission of its own. `syncbot.targets.keycloak.permissions` says which roles are
needed and why.
"""

from __future__ import annotations

from typing import Any

from syncbot.targets.keycloak.api import AdminApi, AdminError, roles_in
from syncbot.targets.keycloak.permissions import (
    DUTY_NEEDS,
    MANAGE_USERS,
    NEEDS,
    VIEW_CLIENTS,
    VIEW_REALM,
    Need,
    missing,
)
from syncbot.targets.keycloak.refs import EntitlementKind, parse_key
from syncbot.targets.rights import RightsReport

#: Policies under which Keycloak keeps an attribute the user profile does not declare.
_KEEPS_UNMANAGED = ("ENABLED", "ADMIN_EDIT")


def describe_realm(api: AdminApi) -> list[str]:
    """Sign in, count users, check roles and the user profile; `AdminError` if unreachable."""
    settings = api.settings
    claims = api.sign_in()
    return [
        f"{settings.server_url} realm {settings.realm} as service account of client "
        f"{settings.client_id}",
        users_line(api),
        roles_line(claims, settings.client_id),
        roles_line(claims, settings.client_id, DUTY_NEEDS, "for the duties"),
        profile_line(api, settings.match_attribute),
    ]


def check_roles(api: AdminApi, managed: frozenset[str]) -> RightsReport:
    """The roles this configuration cannot work without, read off a fresh token: always
    manage-users, view-realm for realm roles and view-clients for client roles in
    `managed`. The duties' roles are reported by `describe_realm` only."""
    kinds = {parsed.kind for key in managed if (parsed := parse_key(key)) is not None}
    needs = [MANAGE_USERS]
    needs += [VIEW_REALM] if EntitlementKind.REALM_ROLE in kinds else []
    needs += [VIEW_CLIENTS] if EntitlementKind.CLIENT_ROLE in kinds else []
    client_id = api.settings.client_id
    granted = roles_in(api.sign_in())
    if granted is None:
        return RightsReport(
            [f"rights: not checked, the access token lists no roles (client {client_id})"]
        )
    lacking = missing(granted, tuple(needs))
    report = RightsReport(
        [f"rights: {need.role}: {'MISSING' if need in lacking else 'yes'}" for need in needs]
    )
    report.missing.extend(
        f"the service account of client {client_id} lacks realm-management role "
        f"{need.explain()}; assign it in Clients → {client_id} → Service accounts roles"
        for need in lacking
    )
    return report


def users_line(api: AdminApi) -> str:
    """How many users the realm holds (service accounts not counted, as Keycloak counts)."""
    try:
        return f"users: {api.get('users/count')}"
    except AdminError as error:
        if error.status is None:  # unreachable after signing in: not a finding, a failure
            raise
        return f"users: cannot count them ({error})"


def roles_line(
    claims: dict[str, Any], client_id: str, needs: tuple[Need, ...] = NEEDS, scope: str = ""
) -> str:
    """One line on `needs`; `scope` ("for the duties") says which set it is about."""
    label = f"realm-management roles {scope}".rstrip()
    wanted = ", ".join(need.role for need in needs)
    granted = roles_in(claims)
    if granted is None:
        return (
            f"{label}: cannot tell, the access token lists no roles (does client {client_id} "
            f"issue lightweight access tokens?); syncbot needs {wanted}"
        )
    lacking = missing(granted, needs)
    if not lacking:
        return f"{label}: all present ({wanted})"
    return (
        f"{label} MISSING: {'; '.join(need.explain() for need in lacking)}. "
        f"Assign them in Clients → {client_id} → Service accounts roles"
    )


def profile_line(api: AdminApi, attribute: str) -> str:
    """Whether the user profile declares the attribute holding the HR employee id."""
    try:
        profile = api.get("users/profile")
    except AdminError as error:
        return f"user profile: cannot read it ({error})"
    profile = profile if isinstance(profile, dict) else {}
    declared = {
        entry.get("name") for entry in profile.get("attributes") or () if isinstance(entry, dict)
    }
    if attribute in declared:
        return f"user profile declares {attribute}"
    policy = str(profile.get("unmanagedAttributePolicy") or "DISABLED")
    kept = (
        f" (kept for now only because unmanaged attributes are {policy})"
        if policy in _KEEPS_UNMANAGED
        else ""
    )
    return (
        f"user profile does NOT declare {attribute}: declare it in Realm settings → "
        f"User profile, or it is dropped silently{kept}"
    )
