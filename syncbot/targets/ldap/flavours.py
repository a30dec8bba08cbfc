"""What differs between directory products: locking, lock detection, group shape.

Each `Flavour` is an immutable profile chosen by name in the configuration. The functions
that build modify requests are pure: they take the attributes just read from the entry
and return an ldap3 `changes` dict (empty when the entry is already in the wanted state),
so the exact requests every flavour sends are unit-tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

#: Attribute values as read from an entry: names to lists of string values.
Attributes = Mapping[str, Sequence[object]]
#: An ldap3 modify request: attribute -> [(operation, values), ...], applied in order.
Changes = dict[str, list[tuple[str, list[str]]]]

#: ppolicy's "locked until an administrator unlocks": a lock time with no expiry.
OPENLDAP_PERMANENT_LOCK = "000001010000Z"
#: userAccountControl ACCOUNTDISABLE bit.
AD_ACCOUNTDISABLE = 0x2
#: Zimbra statuses that mean "an administrator shut this account". `lockout` (too many
#: failed logins, lifts itself), `maintenance` and `pending` are passing states, not a
#: decision to close the account, so they count as enabled.
ZIMBRA_DISABLED_STATUSES = frozenset({"closed", "locked"})
#: 389 DS treats a password that expired at the epoch as "must be changed at next bind".
DS389_EXPIRED_AT_EPOCH = "19700101000000Z"


class FlavourError(ValueError):
    """The entry's attributes do not let the flavour decide (e.g. no userAccountControl)."""


class MemberKind(StrEnum):
    """What a group's member value names: the account's DN, its username or its mail."""

    DN = "dn"
    UID = "uid"
    MAIL = "mail"


@dataclass(frozen=True, slots=True)
class Flavour:
    """How one kind of directory represents a disabled account and a group membership."""

    name: str
    users_filter: str
    username_attribute: str
    lock_attributes: tuple[str, ...]  # read with every account; operational ones by name
    is_disabled: Callable[[Attributes], bool]
    disable_changes: Callable[[Attributes], Changes]
    enable_changes: Callable[[Attributes], Changes]
    #: The attribute that says "change the password at next sign-in" (leaked passwords).
    must_change_attribute: str
    must_change_changes: Callable[[Attributes], Changes]
    group_class: str
    member_attribute: str
    member_kind: MemberKind
    groups_may_be_empty: bool
    group_rdn_attribute: str = "cn"  # how a bare group name in a mapping becomes an RDN
    #: RDN of the placeholder member, placed under groups_base, for groups that must keep
    #: one member; None when groups may be empty.
    placeholder_rdn: str | None = None
    #: Result codes besides attributeOrValueExists (20) / noSuchAttribute (16) that a
    #: product returns for "already a member" / "not a member"; the target confirms the
    #: membership with a compare before treating them as success.
    member_exists_codes: frozenset[int] = frozenset()
    member_absent_codes: frozenset[int] = frozenset()
    #: AD: members come in windows of this many values (its MaxValRange); see `ranged`.
    member_range_step: int | None = None
    #: (entry, attribute, value) without which the server ignores `must_change_attribute`.
    must_change_switch: tuple[str, str, str] | None = None

    @property
    def group_filter(self) -> str:
        return f"(objectClass={self.group_class})"

    def add_member_changes(self, value: str) -> Changes:
        return {self.member_attribute: [(MODIFY_ADD, [value])]}

    def remove_member_changes(self, value: str) -> Changes:
        return {self.member_attribute: [(MODIFY_DELETE, [value])]}

    def remove_last_member_changes(self, value: str, placeholder: str) -> Changes:
        """Swap the last member for the placeholder in one atomic modify."""
        return {self.member_attribute: [(MODIFY_ADD, [placeholder]), (MODIFY_DELETE, [value])]}


class LoweredAttributes(dict[str, Any]):
    """Attributes whose names are already lower-case: a miss needs no case-blind scan."""


def _lookup(attributes: Attributes, name: str) -> Sequence[object] | None:
    if type(attributes) is LoweredAttributes:
        found = attributes.get(LOWER_NAMES.get(name) or lowered_name(name))
    else:
        found = attributes.get(name)
        if found is None:
            lowered = name.lower()
            found = attributes.get(lowered)
            if found is None and not all(key.islower() for key in attributes):
                found = next((v for k, v in attributes.items() if k.lower() == lowered), None)
    if found is None or isinstance(found, list | tuple):
        return found
    return [found]  # one value not in a list: text, or a time a schema-aware ldap3 converted


#: Attribute names as code and servers spell them -> lower case: a handful of names, looked
#: up for every entry of a large directory.
LOWER_NAMES: dict[str, str] = {}


def lowered_name(name: str) -> str:
    lowered = LOWER_NAMES[name] = name.lower()
    return lowered


def text_value(value: object) -> str:
    """A value as ldap3 or python-ldap hands it over, as text (bytes are UTF-8)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def values(attributes: Attributes, name: str) -> list[str]:
    """String values of `name`, matching the attribute name case-insensitively."""
    return [text_value(v) for v in _lookup(attributes, name) or ()]


def raw_first(attributes: Attributes, name: str) -> object | None:
    """The first value of `name` as the LDAP library handed it over, or None."""
    found = _lookup(attributes, name)
    return found[0] if found else None


def first(attributes: Attributes, name: str) -> str | None:
    """The first value of `name` as text, or None when the entry does not have it."""
    found = raw_first(attributes, name)
    return None if found is None else text_value(found)


# -- OpenLDAP: ppolicy ----------------------------------------------------------------------


def _openldap_is_disabled(attributes: Attributes) -> bool:
    # Any lock time counts, also a temporary lockout after failed binds: the account
    # cannot be used now, and ppolicy keeps no other trace of who locked it.
    return first(attributes, "pwdAccountLockedTime") is not None


def _openldap_disable(attributes: Attributes) -> Changes:
    # A lockout after failed binds expires by itself: make it permanent.
    if first(attributes, "pwdAccountLockedTime") == OPENLDAP_PERMANENT_LOCK:
        return {}
    return {"pwdAccountLockedTime": [(MODIFY_REPLACE, [OPENLDAP_PERMANENT_LOCK])]}


def _openldap_enable(attributes: Attributes) -> Changes:
    if first(attributes, "pwdAccountLockedTime") is None:
        return {}
    return {"pwdAccountLockedTime": [(MODIFY_DELETE, [])]}


# -- Active Directory: userAccountControl ---------------------------------------------------


def _ad_account_control(attributes: Attributes) -> int:
    raw = first(attributes, "userAccountControl")
    if raw is None:
        raise FlavourError("userAccountControl missing: cannot read or change the disabled bit")
    try:
        return int(raw)
    except ValueError:
        raise FlavourError(f"userAccountControl is not a number: {raw!r}") from None


def _ad_is_disabled(attributes: Attributes) -> bool:
    return bool(_ad_account_control(attributes) & AD_ACCOUNTDISABLE)


def _ad_disable(attributes: Attributes) -> Changes:
    current = _ad_account_control(attributes)
    if current & AD_ACCOUNTDISABLE:
        return {}
    return {"userAccountControl": [(MODIFY_REPLACE, [str(current | AD_ACCOUNTDISABLE)])]}


def _ad_enable(attributes: Attributes) -> Changes:
    current = _ad_account_control(attributes)
    if not current & AD_ACCOUNTDISABLE:
        return {}
    return {"userAccountControl": [(MODIFY_REPLACE, [str(current & ~AD_ACCOUNTDISABLE)])]}


# -- 389 Directory Server: nsAccountLock ----------------------------------------------------


def _389ds_is_disabled(attributes: Attributes) -> bool:
    return (first(attributes, "nsAccountLock") or "").strip().lower() == "true"


def _389ds_disable(attributes: Attributes) -> Changes:
    if _389ds_is_disabled(attributes):
        return {}
    return {"nsAccountLock": [(MODIFY_REPLACE, ["TRUE"])]}


def _389ds_enable(attributes: Attributes) -> Changes:
    # Delete rather than set FALSE: an absent attribute is how 389 DS marks "never locked".
    if not _389ds_is_disabled(attributes):
        return {}
    return {"nsAccountLock": [(MODIFY_DELETE, [])]}


# -- Zimbra: zimbraAccountStatus ------------------------------------------------------------


def _zimbra_status(attributes: Attributes) -> str:
    return (first(attributes, "zimbraAccountStatus") or "active").strip().lower()


def _zimbra_is_disabled(attributes: Attributes) -> bool:
    return _zimbra_status(attributes) in ZIMBRA_DISABLED_STATUSES


def _zimbra_disable(attributes: Attributes) -> Changes:
    # An account an administrator already locked stays as they left it.
    if _zimbra_is_disabled(attributes):
        return {}
    return {"zimbraAccountStatus": [(MODIFY_REPLACE, ["closed"])]}


def _zimbra_enable(attributes: Attributes) -> Changes:
    # A passing state (lockout, maintenance) is not a closed account: leave it alone.
    if not _zimbra_is_disabled(attributes):
        return {}
    return {"zimbraAccountStatus": [(MODIFY_REPLACE, ["active"])]}


# -- "change the password at next sign-in" --------------------------------------------------


def _set_flag(attribute: str, value: str) -> Callable[[Attributes], Changes]:
    """A builder that writes `attribute: value` unless the entry already has exactly that.

    The value is compared case-insensitively: LDAP booleans read back as TRUE or true.
    """

    def build(attributes: Attributes) -> Changes:
        if (first(attributes, attribute) or "").strip().upper() == value.upper():
            return {}
        return {attribute: [(MODIFY_REPLACE, [value])]}

    return build


# ppolicy honours pwdReset only when the policy says pwdMustChange: TRUE.
_openldap_password_change = _set_flag("pwdReset", "TRUE")
# AD: pwdLastSet 0 is the only value an administrator may write besides -1 ("now").
_ad_password_change = _set_flag("pwdLastSet", "0")
_389ds_password_change = _set_flag("passwordExpirationTime", DS389_EXPIRED_AT_EPOCH)
_zimbra_password_change = _set_flag("zimbraPasswordMustChange", "TRUE")


OPENLDAP = Flavour(
    name="openldap",
    users_filter="(objectClass=inetOrgPerson)",
    username_attribute="uid",
    lock_attributes=("pwdAccountLockedTime",),
    is_disabled=_openldap_is_disabled,
    disable_changes=_openldap_disable,
    enable_changes=_openldap_enable,
    must_change_attribute="pwdReset",
    must_change_changes=_openldap_password_change,
    group_class="groupOfNames",
    member_attribute="member",
    member_kind=MemberKind.DN,
    groups_may_be_empty=False,
    placeholder_rdn="cn=syncbot-empty-group-placeholder",
)

ACTIVE_DIRECTORY = Flavour(
    name="ad",
    users_filter="(&(objectCategory=person)(objectClass=user))",
    username_attribute="sAMAccountName",
    lock_attributes=("userAccountControl",),
    is_disabled=_ad_is_disabled,
    disable_changes=_ad_disable,
    enable_changes=_ad_enable,
    must_change_attribute="pwdLastSet",
    must_change_changes=_ad_password_change,
    group_class="group",
    member_attribute="member",
    member_kind=MemberKind.DN,
    groups_may_be_empty=True,
    # AD answers entryAlreadyExists for a duplicate member, unwillingToPerform for a
    # missing one.
    member_exists_codes=frozenset({68}),
    member_absent_codes=frozenset({53}),
    member_range_step=1500,
)

DS389 = Flavour(
    name="389ds",
    users_filter="(objectClass=inetOrgPerson)",
    username_attribute="uid",
    lock_attributes=("nsAccountLock",),
    is_disabled=_389ds_is_disabled,
    disable_changes=_389ds_disable,
    enable_changes=_389ds_enable,
    must_change_attribute="passwordExpirationTime",
    must_change_changes=_389ds_password_change,
    must_change_switch=("cn=config", "passwordMustChange", "on"),
    group_class="groupOfNames",
    member_attribute="member",
    member_kind=MemberKind.DN,
    groups_may_be_empty=False,
    placeholder_rdn="cn=syncbot-empty-group-placeholder",
)

#: Zimbra keeps distribution-list members as mail addresses on the list and caches LDAP:
#: a change made over LDAP shows in Zimbra once its cache expires (or `zmprov flushCache`).
ZIMBRA = Flavour(
    name="zimbra",
    users_filter="(objectClass=zimbraAccount)",
    username_attribute="uid",
    lock_attributes=("zimbraAccountStatus",),
    is_disabled=_zimbra_is_disabled,
    disable_changes=_zimbra_disable,
    enable_changes=_zimbra_enable,
    must_change_attribute="zimbraPasswordMustChange",
    must_change_changes=_zimbra_password_change,
    group_class="zimbraDistributionList",
    member_attribute="zimbraMailForwardingAddress",
    member_kind=MemberKind.MAIL,
    groups_may_be_empty=True,
    group_rdn_attribute="uid",  # Zimbra names lists uid=<list>,…
)

FLAVOURS: Mapping[str, Flavour] = {f.name: f for f in (OPENLDAP, ACTIVE_DIRECTORY, DS389, ZIMBRA)}


def get_flavour(name: str) -> Flavour:
    """The profile called `name`; KeyError names the known ones."""
    try:
        return FLAVOURS[name.strip().lower()]
    except KeyError:
        raise KeyError(f"unknown LDAP flavour {name!r}; known: {', '.join(FLAVOURS)}") from None
