"""One Keycloak user representation as an `Account`, the same way for every kind of read.

The full read and the targeted read must give equal accounts for the same user, so the
rule that turns Keycloak's JSON into an `Account` (which attribute value is the employee
id, how the e-mail and display name are cleaned, what counts as a person) lives here once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncbot.model import Account
from syncbot.roster_strings import RosterStrings
from syncbot.targets.keycloak import observed
from syncbot.targets.keycloak.settings import KeycloakSettings

User = dict[str, Any]
#: Keycloak's required action that makes the next sign-in set a new password.
UPDATE_PASSWORD = "UPDATE_PASSWORD"  # noqa: S105 - the action's name, not a password
NOTHING_HELD: frozenset[str] = frozenset()


def is_person(user: User) -> bool:
    """Service-account users belong to clients, not to anyone on the roster."""
    return not user.get("serviceAccountClientId")


def needs_password_date(account: Account) -> bool:
    """Federated users' passwords live in LDAP; a disabled account's password is of no use
    to anyone, and each user asked about is one more request."""
    return account.enabled and not account.federated


def account_of(
    settings: KeycloakSettings,
    user: User,
    known: RosterStrings,
    *,
    held: frozenset[str] = NOTHING_HELD,
    password_changed: datetime | None = None,
    last_sign_in: datetime | None = None,
    failed_sign_ins: int = 0,
    names: dict[str, str] | None = None,
) -> Account:
    """The account a user representation (the full one, attributes included) stands for.

    `held` are the managed entitlements the user holds directly; values equal to the
    roster's are kept as the roster's strings (`RosterStrings.shared`). A display name
    that is not the roster's is kept as the equal one in `names`, if any (and added to
    it): a realm whose profile puts the given name first (Keycloak's "firstName
    lastName") never matches a Vietnamese roster's "family middle given", and Vietnamese
    names repeat - a 20,000-user realm has a few thousand distinct ones, each a string of
    about 100 bytes.
    """
    attributes = user.get("attributes") or {}
    raw_ids = attributes.get(settings.match_attribute) or ()
    parts = (str(user.get(k) or "").strip() for k in ("firstName", "lastName"))
    employee_id, email, display_name = known.shared(
        next((v.strip() for v in raw_ids if isinstance(v, str) and v.strip()), None),
        str(user.get("email") or "").strip().lower() or None,
        " ".join(n for n in parts if n) or None,
    )
    if display_name is not None and names is not None:
        display_name = names.setdefault(display_name, display_name)
    return Account(
        target=settings.name,
        key=str(user["id"]),
        username=str(user.get("username") or ""),
        employee_id=employee_id,
        email=email,
        enabled=bool(user.get("enabled", True)),
        entitlements=held,
        display_name=display_name,
        groups=held,
        federated=bool(user.get("federationLink")),
        created=observed.from_millis(user.get("createdTimestamp")),
        password_changed=password_changed,
        must_change_password=UPDATE_PASSWORD in (user.get("requiredActions") or ()),
        last_sign_in=last_sign_in,
        failed_sign_ins=failed_sign_ins,
    )
