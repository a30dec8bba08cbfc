"""The directory's own password policy: what `[password_policy]` becomes in each product.

Each product keeps its policy in one entry, in its own attribute names and units:

- OpenLDAP ppolicy: the default policy entry the overlay's `olcPPolicyDefault` names
  (`pwdMinLength`, `pwdMaxAge` in seconds, `pwdInHistory`, ...). Its DN is configuration,
  `password_policy_dn`: a policy written to an entry slapd does not use would enforce
  nothing while the plan says it does, so the DN is never guessed.
- Active Directory: the domain object (`minPwdLength`, `maxPwdAge` as a negative count of
  100-ns intervals, `pwdHistoryLength`, `pwdProperties` whose bit 1 is "complexity").
- 389 DS: the global policy in `cn=config` (`passwordMinLength`, `passwordMaxAge` in
  seconds, `passwordCheckSyntax`, `passwordMinUppers`, ...).
- Zimbra: a class of service (`zimbraPasswordMinLength`, `zimbraPasswordMaxAge` in days,
  `zimbraPasswordEnforceHistory`, `zimbraPasswordMin*Chars`). Accounts may override their
  COS, and Zimbra caches LDAP: a change shows once the cache expires.

Values are compared as text in the product's own spelling; what is read is normalised to
that spelling (booleans' case, AD's complexity bit), so a value the server returns in
another case is not called drift. The functions that build modify requests are pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ldap3 import MODIFY_DELETE, MODIFY_REPLACE

from syncbot.duty_settings import CharClass, PasswordPolicy, Response, WantedSettings
from syncbot.model import Setting
from syncbot.targets.ldap.dn import first_rdn_value
from syncbot.targets.ldap.flavours import Attributes, Changes, first

#: The configuration key naming the policy entry, as messages must spell it.
POLICY_DN_KEY = "password_policy_dn"
#: AD's complexity switch, exposed as its own setting: the rest of pwdProperties is not ours.
AD_COMPLEXITY = "pwdProperties.complex"
_AD_COMPLEX_BIT = 0x1
_SECONDS_PER_DAY = 86_400
_FILETIME_TICKS_PER_DAY = _SECONDS_PER_DAY * 10_000_000
#: A structural class to hold the auxiliary pwdPolicy when syncbot creates the entry;
#: `device` (core schema, MUST cn) is what OpenLDAP's own ppolicy examples use.
OPENLDAP_POLICY_CLASSES = ("device", "pwdPolicy")


class PolicyError(ValueError):
    """The policy entry cannot be written as asked (no entry, or an entry of another shape)."""


def _requires_change(policy: PasswordPolicy) -> bool:
    return Response.REQUIRE_CHANGE in (policy.never_changed, policy.expired)


@dataclass(frozen=True, slots=True)
class PolicyProfile:
    """Where one product keeps its password policy and how the config maps onto it."""

    flavour: str
    attributes: tuple[str, ...]  # read from the policy entry
    translate: Callable[[PasswordPolicy], WantedSettings]
    #: Where the policy lives when the config does not say; None: the config must say.
    default_dn: str | None = None
    #: AD: the domain object, named by the root DSE's defaultNamingContext.
    dn_from_root_dse: bool = False
    #: Read values -> settings in the profile's vocabulary.
    normalise: Callable[[Attributes], dict[str, str]] | None = None
    #: Setting name -> the attribute a CONFIGURE writes, when they differ (AD's bit).
    derived: Mapping[str, str] | None = None
    #: Whether a missing entry may be created (OpenLDAP only: the others always have one).
    can_create: bool = False

    def wanted(self, policy: PasswordPolicy, *, dn_known: bool) -> WantedSettings:
        """The settings `policy` calls for; all unsupported when the entry is not named."""
        wanted = self.translate(policy)
        if not wanted.values or dn_known:
            return wanted
        missing = (
            f"{POLICY_DN_KEY}: chưa khai báo trong cấu hình đích {self.flavour} nên không áp "
            f"được chính sách mật khẩu ({', '.join(sorted(wanted.values))}); "
            "ghi DN của mục chính sách mà máy chủ thực sự dùng."
        )
        return WantedSettings(values={}, unsupported=(missing, *wanted.unsupported))

    def current(self, attributes: Attributes) -> dict[str, str]:
        """The settings in force, as read from the entry (absent attributes are "not set")."""
        if self.normalise is not None:
            return self.normalise(attributes)
        return _plain(attributes, self.attributes)

    def changes(self, settings: Iterable[Setting], attributes: Attributes) -> Changes:
        """The modify that sets exactly `settings` on an entry currently holding `attributes`.

        A wanted None deletes the attribute (if present); derived settings (AD's complexity
        bit) are folded into their attribute, keeping its other bits as read.
        """
        changes: Changes = {}
        for attribute, _now, wanted in settings:
            derived = (self.derived or {}).get(attribute)
            if derived is not None:
                changes[derived] = [(MODIFY_REPLACE, [_with_bit(attributes, wanted)])]
            elif wanted is None:
                if first(attributes, attribute) is not None:
                    changes[attribute] = [(MODIFY_DELETE, [])]
            else:
                changes[attribute] = [(MODIFY_REPLACE, [wanted])]
        return changes

    def creation(self, dn: str, settings: Iterable[Setting]) -> dict[str, list[str]]:
        """The attributes of a new policy entry at `dn` holding `settings` (OpenLDAP)."""
        if not self.can_create:
            raise PolicyError(f"{dn} does not exist; {self.flavour} keeps its policy elsewhere")
        rdn_type = dn.split("=", 1)[0].strip().lower()
        if rdn_type != "cn":
            raise PolicyError(
                f"{dn} does not exist and syncbot creates policy entries named cn=…; "
                "create it by hand or point password_policy_dn at a cn= entry"
            )
        attributes: dict[str, list[str]] = {
            "objectClass": list(OPENLDAP_POLICY_CLASSES),
            "cn": [first_rdn_value(dn)],
            "pwdAttribute": ["userPassword"],  # pwdPolicy's one required attribute
        }
        for name, _now, wanted in settings:
            if wanted is not None:
                attributes[name] = [wanted]
        return attributes


def _plain(attributes: Attributes, names: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        value = first(attributes, name)
        if value is not None:
            found[name] = value.strip()
    return found


# -- OpenLDAP ppolicy -----------------------------------------------------------------------

_OPENLDAP_ATTRIBUTES = (
    "pwdAttribute",
    "pwdMinLength",
    "pwdMaxAge",
    "pwdInHistory",
    "pwdCheckQuality",
    "pwdMustChange",
)
_USER_PASSWORD_OID = "2.5.4.35"  # noqa: S105 - an attribute type, not a password


def _openldap_translate(policy: PasswordPolicy) -> WantedSettings:
    values: dict[str, str] = {}
    if policy.min_length is not None:
        values["pwdMinLength"] = str(policy.min_length)
        # 2: check what slapd can check and refuse what it cannot (a hashed password sent
        # by a client); 1 would accept a pre-hashed password of any length.
        values["pwdCheckQuality"] = "2"
    if policy.max_age_days is not None:
        values["pwdMaxAge"] = str(policy.max_age_days * _SECONDS_PER_DAY)
    if policy.history is not None:
        values["pwdInHistory"] = str(policy.history)
    if _requires_change(policy):
        # Without it slapd ignores pwdReset: the "must change" flag would restrict nothing.
        values["pwdMustChange"] = "TRUE"
    if values:
        values["pwdAttribute"] = "userPassword"
    unsupported: list[str] = []
    if policy.classes:
        classes = ", ".join(sorted(c.value for c in policy.classes))
        unsupported.append(
            f"require = [{classes}]: ppolicy của OpenLDAP chỉ kiểm tra độ dài; kiểm tra loại "
            "ký tự cần một mô-đun kiểm tra chất lượng (pwdCheckModule, ví dụ ppm) cài trên "
            "máy chủ."
        )
    if policy.not_username:
        unsupported.append(
            "not_username: ppolicy của OpenLDAP không so mật khẩu với tên tài khoản; cần một "
            "mô-đun kiểm tra chất lượng (pwdCheckModule) cài trên máy chủ."
        )
    return WantedSettings(values=values, unsupported=tuple(unsupported))


def _openldap_normalise(attributes: Attributes) -> dict[str, str]:
    found = _plain(attributes, _OPENLDAP_ATTRIBUTES)
    if found.get("pwdAttribute", "").lower() in ("userpassword", _USER_PASSWORD_OID):
        found["pwdAttribute"] = "userPassword"
    if "pwdMustChange" in found:
        found["pwdMustChange"] = found["pwdMustChange"].upper()
    return found


OPENLDAP_POLICY = PolicyProfile(
    flavour="openldap",
    attributes=_OPENLDAP_ATTRIBUTES,
    translate=_openldap_translate,
    normalise=_openldap_normalise,
    can_create=True,
)


# -- Active Directory: the domain object ----------------------------------------------------

_AD_ATTRIBUTES = ("minPwdLength", "maxPwdAge", "pwdHistoryLength", "pwdProperties")


def _ad_translate(policy: PasswordPolicy) -> WantedSettings:
    values: dict[str, str] = {}
    if policy.min_length is not None:
        values["minPwdLength"] = str(policy.min_length)
    if policy.max_age_days is not None:
        values["maxPwdAge"] = str(-policy.max_age_days * _FILETIME_TICKS_PER_DAY)
    if policy.history is not None:
        values["pwdHistoryLength"] = str(policy.history)
    unsupported: list[str] = []
    if policy.classes or policy.not_username:
        values[AD_COMPLEXITY] = "1"
    if policy.classes:
        unsupported.append(
            "require: độ phức tạp của AD đòi 3 trong 5 nhóm ký tự, không đòi từng nhóm đã "
            "cấu hình; muốn đúng từng nhóm cần bộ lọc mật khẩu (password filter) trên DC."
        )
    return WantedSettings(values=values, unsupported=tuple(unsupported))


def _ad_normalise(attributes: Attributes) -> dict[str, str]:
    found = _plain(attributes, _AD_ATTRIBUTES[:3])
    properties = first(attributes, "pwdProperties")
    if properties is not None:
        found[AD_COMPLEXITY] = "1" if _flags(properties) & _AD_COMPLEX_BIT else "0"
    return found


def _flags(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise PolicyError(f"pwdProperties is not a number: {text!r}") from None


def _with_bit(attributes: Attributes, wanted: str | None) -> str:
    current = _flags(first(attributes, "pwdProperties") or "0")
    if wanted == "1":
        return str(current | _AD_COMPLEX_BIT)
    return str(current & ~_AD_COMPLEX_BIT)


AD_POLICY = PolicyProfile(
    flavour="ad",
    attributes=_AD_ATTRIBUTES,
    translate=_ad_translate,
    dn_from_root_dse=True,
    normalise=_ad_normalise,
    derived={AD_COMPLEXITY: "pwdProperties"},
)


# -- 389 Directory Server: the global policy in cn=config -----------------------------------

_DS389_CLASSES = {
    CharClass.UPPER: "passwordMinUppers",
    CharClass.LOWER: "passwordMinLowers",
    CharClass.DIGIT: "passwordMinDigits",
    CharClass.SPECIAL: "passwordMinSpecials",
}
_DS389_SWITCHES = (
    "passwordCheckSyntax",
    "passwordExp",
    "passwordHistory",
    "passwordMustChange",
    "passwordTrackUpdateTime",
)
_DS389_ATTRIBUTES = (
    "passwordMinLength",
    "passwordMaxAge",
    "passwordInHistory",
    *_DS389_CLASSES.values(),
    *_DS389_SWITCHES,
)


def _389ds_translate(policy: PasswordPolicy) -> WantedSettings:
    values: dict[str, str] = {}
    if policy.min_length is not None:
        values["passwordMinLength"] = str(policy.min_length)
    for char_class in sorted(policy.classes):
        values[_DS389_CLASSES[char_class]] = "1"
    # Length, classes and "not the user's own names" (uid, cn, sn, mail, ...) are all
    # checked only with syntax checking on.
    if policy.min_length is not None or policy.classes or policy.not_username:
        values["passwordCheckSyntax"] = "on"
    if policy.max_age_days is not None:
        values["passwordExp"] = "on"  # passwordMaxAge means nothing without it
        values["passwordMaxAge"] = str(policy.max_age_days * _SECONDS_PER_DAY)
    if policy.history is not None:
        values["passwordHistory"] = "on"
        values["passwordInHistory"] = str(policy.history)
    if policy.watches_accounts:
        values["passwordTrackUpdateTime"] = "on"  # records pwdUpdateTime: the change date
    if _requires_change(policy):
        values["passwordMustChange"] = "on"
    return WantedSettings(values=values)


def _389ds_normalise(attributes: Attributes) -> dict[str, str]:
    found = _plain(attributes, _DS389_ATTRIBUTES)
    for name in _DS389_SWITCHES:
        if name in found:
            found[name] = found[name].lower()
    return found


DS389_POLICY = PolicyProfile(
    flavour="389ds",
    attributes=_DS389_ATTRIBUTES,
    translate=_389ds_translate,
    default_dn="cn=config",
    normalise=_389ds_normalise,
)


# -- Zimbra: a class of service -------------------------------------------------------------

_ZIMBRA_CLASSES = {
    CharClass.UPPER: "zimbraPasswordMinUpperCaseChars",
    CharClass.LOWER: "zimbraPasswordMinLowerCaseChars",
    CharClass.DIGIT: "zimbraPasswordMinNumericChars",
    CharClass.SPECIAL: "zimbraPasswordMinPunctuationChars",
}
_ZIMBRA_ATTRIBUTES = (
    "zimbraPasswordMinLength",
    "zimbraPasswordMaxAge",
    "zimbraPasswordEnforceHistory",
    *_ZIMBRA_CLASSES.values(),
)


def _zimbra_translate(policy: PasswordPolicy) -> WantedSettings:
    values: dict[str, str] = {}
    if policy.min_length is not None:
        values["zimbraPasswordMinLength"] = str(policy.min_length)
    if policy.max_age_days is not None:
        values["zimbraPasswordMaxAge"] = str(policy.max_age_days)  # days, not seconds
    if policy.history is not None:
        values["zimbraPasswordEnforceHistory"] = str(policy.history)
    for char_class in sorted(policy.classes):
        values[_ZIMBRA_CLASSES[char_class]] = "1"
    unsupported: tuple[str, ...] = ()
    if policy.not_username:
        unsupported = (
            "not_username: Zimbra không có thuộc tính chính sách nào cấm mật khẩu chứa tên "
            "tài khoản.",
        )
    return WantedSettings(values=values, unsupported=unsupported)


ZIMBRA_POLICY = PolicyProfile(
    flavour="zimbra",
    attributes=_ZIMBRA_ATTRIBUTES,
    translate=_zimbra_translate,
)


POLICIES: Mapping[str, PolicyProfile] = {
    p.flavour: p for p in (OPENLDAP_POLICY, AD_POLICY, DS389_POLICY, ZIMBRA_POLICY)
}


def policy_profile(flavour: str) -> PolicyProfile:
    return POLICIES[flavour]
