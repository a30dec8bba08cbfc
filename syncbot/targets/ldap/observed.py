"""What the duties read from a user entry: creation, password and sign-in dates, failures.

Every product keeps these in its own operational attributes, which a search for "*" does
not return: they are requested by name in the same paged user search, so observing them
costs bytes, never an extra request per person.

Time formats:
- generalized time, `YYYYmmddHHMMSSZ`, possibly with a fraction (`.611269Z`) or an offset
  (`+0700`): OpenLDAP, 389 DS, Zimbra, and AD's `whenCreated`;
- Windows FILETIME, 100-nanosecond intervals since 1601-01-01 UTC, as a decimal string:
  AD's `pwdLastSet`, `lastLogonTimestamp`, `badPasswordTime`. 0 means "never" and
  0x7FFFFFFFFFFFFFFF "not applicable".

Product notes that change what the numbers mean:
- OpenLDAP 2.5 (ppolicy): a password change deletes `pwdLastSuccess`. The change itself
  proves a sign-in when the user made it (the entry's `modifiersName` is the entry), so that
  modification time counts as a sign-in; an administrator's reset does not.
- AD's `lastLogonTimestamp` is replicated but lags by design (up to ~14 days), and
  `badPwdCount` is kept per domain controller: read from one DC, it is that DC's count.
- Zimbra writes `zimbraLastLogonTimestamp` at most once per
  `zimbraLastLogonTimestampFrequency` (7 days by default).
- 389 DS records `lastLoginTime` only with the account policy plugin's
  `alwaysRecordLogin`, and `pwdUpdateTime` only with `passwordTrackUpdateTime: on`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from syncbot.duty_settings import Observe
from syncbot.targets.ldap.dn import normalise_server_dn
from syncbot.targets.ldap.flavours import Attributes, first, raw_first, text_value, values

_GENERALIZED = re.compile(
    r"(\d{4})(\d{2})(\d{2})(\d{2})(?:(\d{2})(\d{2})?)?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)?"
)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF
_TRUE = "TRUE"


class TimeFormatError(ValueError):
    """A time attribute holds something that is not a time in the product's format."""


def parse_generalized_time(text: str) -> datetime:
    """`20241026083000Z`, `20261123233512.611269Z`, `20240101120000.0Z`, `202401011200+0700`
    as an aware UTC datetime; raise `TimeFormatError` otherwise."""
    global _last_parsed
    if _last_parsed[0] == text:
        # Entries created by one import share their creation time: read it once.
        return _last_parsed[1]
    if len(text) == 15 and text[14] == "Z" and text[:14].isdigit():
        # The form servers write nearly always, without the general pattern.
        try:
            moment = datetime(
                int(text[:4]), int(text[4:6]), int(text[6:8]),
                int(text[8:10]), int(text[10:12]), int(text[12:14]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            raise TimeFormatError(f"not a valid date and time: {text!r}") from None
        _last_parsed = (text, moment)
        return moment
    return _parse_general(text)


#: The last text parsed and its value (text, datetime are immutable: sharing is safe).
_last_parsed: tuple[str, datetime] = ("", datetime.min.replace(tzinfo=UTC))


def _parse_general(text: str) -> datetime:
    match = _GENERALIZED.fullmatch(text.strip())
    if match is None:
        raise TimeFormatError(f"not a generalized time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0)
        )
    except ValueError:
        raise TimeFormatError(f"not a valid date and time: {text!r}") from None
    if fraction:
        # RFC 4517: the fraction belongs to the last unit given (seconds, minutes or hours).
        unit = timedelta(seconds=1) if second else timedelta(minutes=1) if minute else None
        unit = unit or timedelta(hours=1)
        moment += unit * (int(fraction) / 10 ** len(fraction))
    return moment.replace(tzinfo=UTC) - _offset(zone)


def _offset(zone: str | None) -> timedelta:
    if zone is None or zone == "Z":
        return timedelta(0)  # no zone: RFC 4517 calls it local time; servers mean UTC
    sign = -1 if zone[0] == "-" else 1
    return sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5] or 0))


def parse_filetime(text: str) -> datetime | None:
    """An AD FILETIME as an aware UTC datetime; None for 0 ("never") and the maximum value."""
    try:
        ticks = int(text.strip())
    except ValueError:
        raise TimeFormatError(f"not a FILETIME number: {text!r}") from None
    if ticks <= 0 or ticks >= _FILETIME_NEVER:
        return None
    return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)


def _time(
    attributes: Attributes, name: str, parse: Callable[[str], datetime | None]
) -> datetime | None:
    raw = raw_first(attributes, name)
    if raw is None:
        return None
    if isinstance(raw, datetime):  # a connection with schema loaded converts times itself
        return raw.astimezone(UTC)
    return parse(text_value(raw))


def _generalized(attributes: Attributes, name: str) -> datetime | None:
    return _time(attributes, name, parse_generalized_time)


def _filetime(attributes: Attributes, name: str) -> datetime | None:
    return _time(attributes, name, parse_filetime)


def _is_true(attributes: Attributes, name: str) -> bool:
    return (first(attributes, name) or "").strip().upper() == _TRUE


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _since(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _count_since(times: Iterable[str], since: date) -> int:
    start = _since(since)
    return sum(1 for text in times if parse_generalized_time(text) >= start)


@dataclass(frozen=True, slots=True)
class Observed:
    """The duty fields of `syncbot.model.Account`, as read from one entry."""

    created: datetime | None = None
    password_changed: datetime | None = None
    must_change_password: bool = False
    last_sign_in: datetime | None = None
    failed_sign_ins: int = 0


#: What a fetch that observes nothing reports.
NOTHING_OBSERVED = Observed()
#: (entry attributes, entry DN key, what to observe, now) -> the fields read.
Reader = Callable[[Attributes, str, Observe, datetime], Observed]


@dataclass(frozen=True, slots=True)
class AccountDuties:
    """Which attributes one product keeps the duty facts in, and how to read them."""

    created: tuple[str, ...]
    passwords: tuple[str, ...]
    sign_ins: tuple[str, ...]
    failures: tuple[str, ...]
    read: Reader

    def attributes(self, observe: Observe) -> tuple[str, ...]:
        """The attributes to request by name. Creation is always read: the orphan and
        dormancy rules need it and it is one short value."""
        wanted = list(self.created)
        if observe.passwords:
            wanted += self.passwords
        if observe.sign_ins_since is not None:
            wanted += self.sign_ins
        if observe.failures_since is not None:
            wanted += self.failures
        return tuple(dict.fromkeys(wanted))

    def reader(self, observe: Observe, now: datetime) -> Callable[[Attributes, str], Observed]:
        """What to call per entry: with no duty watching accounts, only the creation time,
        without the full reader's checks (the usual case, at 100,000 entries)."""
        if observe.watches_accounts:
            return lambda attributes, key: self.read(attributes, key, observe, now)
        name = self.created[0]
        return lambda attributes, key: Observed(_generalized(attributes, name))


# -- OpenLDAP: ppolicy and the core lastbind option -----------------------------------------


def _openldap(attributes: Attributes, key: str, observe: Observe, now: datetime) -> Observed:
    created = _generalized(attributes, "createTimestamp")
    changed = must_change = None
    if observe.passwords:
        # No pwdChangedTime: set by slapadd, or before ppolicy ran; never changed since.
        changed = _generalized(attributes, "pwdChangedTime") or created
        must_change = _is_true(attributes, "pwdReset")
    last = None
    if observe.sign_ins_since is not None:
        last = _latest(_generalized(attributes, "pwdLastSuccess"), _self_modified(attributes, key))
    failures = 0
    if observe.failures_since is not None:
        failures = _count_since(values(attributes, "pwdFailureTime"), observe.failures_since)
    return Observed(created, changed, bool(must_change), last, failures)


def _self_modified(attributes: Attributes, key: str) -> datetime | None:
    """When the account last changed its own entry: it was signed in then."""
    modifier = first(attributes, "modifiersName")
    if modifier is None or normalise_server_dn(modifier) != key:
        return None
    return _generalized(attributes, "modifyTimestamp")


OPENLDAP_DUTIES = AccountDuties(
    created=("createTimestamp",),
    passwords=("pwdChangedTime", "pwdReset"),
    sign_ins=("pwdLastSuccess", "modifiersName", "modifyTimestamp"),
    failures=("pwdFailureTime",),
    read=_openldap,
)


# -- Active Directory -----------------------------------------------------------------------


def _ad(attributes: Attributes, key: str, observe: Observe, now: datetime) -> Observed:
    created = _generalized(attributes, "whenCreated")
    changed, must_change = None, False
    if observe.passwords:
        raw = first(attributes, "pwdLastSet")
        # 0: "must change at next logon", set by an administrator; the date is gone.
        must_change = raw is not None and raw.strip() == "0"
        changed = _filetime(attributes, "pwdLastSet")
    last = _filetime(attributes, "lastLogonTimestamp") if observe.sign_ins_since else None
    failures = 0
    if observe.failures_since is not None:
        failures = _ad_failures(attributes, observe.failures_since)
    return Observed(created, changed, must_change, last, failures)


def _ad_failures(attributes: Attributes, since: date) -> int:
    """badPwdCount, unless the newest bad password is older than the window."""
    latest = _filetime(attributes, "badPasswordTime")
    if latest is None or latest < _since(since):
        return 0
    return _integer(first(attributes, "badPwdCount"))


def _integer(text: str | None) -> int:
    try:
        return max(0, int((text or "0").strip()))
    except ValueError:
        raise TimeFormatError(f"not a count: {text!r}") from None


AD_DUTIES = AccountDuties(
    created=("whenCreated",),
    passwords=("pwdLastSet",),
    sign_ins=("lastLogonTimestamp",),
    failures=("badPwdCount", "badPasswordTime"),
    read=_ad,
)


# -- 389 Directory Server -------------------------------------------------------------------


def _389ds(attributes: Attributes, key: str, observe: Observe, now: datetime) -> Observed:
    created = _generalized(attributes, "createTimestamp")
    changed, must_change = None, False
    if observe.passwords:
        changed = _generalized(attributes, "pwdUpdateTime") or created
        expires = _generalized(attributes, "passwordExpirationTime")
        # An expiry in the past (the epoch, as an administrator's reset writes it) means
        # the next bind must change the password.
        must_change = expires is not None and expires <= now
    last = _generalized(attributes, "lastLoginTime") if observe.sign_ins_since else None
    failures = 0
    if observe.failures_since is not None:
        resets = _generalized(attributes, "retryCountResetTime")
        # Past its reset time, the server zeroes the count at the next attempt.
        if resets is None or resets > now:
            failures = _integer(first(attributes, "passwordRetryCount"))
    return Observed(created, changed, must_change, last, failures)


DS389_DUTIES = AccountDuties(
    created=("createTimestamp",),
    passwords=("pwdUpdateTime", "passwordExpirationTime"),
    sign_ins=("lastLoginTime",),
    failures=("passwordRetryCount", "retryCountResetTime"),
    read=_389ds,
)


# -- Zimbra ---------------------------------------------------------------------------------


def _zimbra(attributes: Attributes, key: str, observe: Observe, now: datetime) -> Observed:
    created = _generalized(attributes, "createTimestamp")
    changed, must_change = None, False
    if observe.passwords:
        changed = _generalized(attributes, "zimbraPasswordModifiedTime") or created
        must_change = _is_true(attributes, "zimbraPasswordMustChange")
    last = None
    if observe.sign_ins_since is not None:
        last = _generalized(attributes, "zimbraLastLogonTimestamp")
    failures = 0
    if observe.failures_since is not None:
        times = values(attributes, "zimbraPasswordLockoutFailureTime")
        failures = _count_since(times, observe.failures_since)
    return Observed(created, changed, must_change, last, failures)


ZIMBRA_DUTIES = AccountDuties(
    created=("createTimestamp",),
    passwords=("zimbraPasswordModifiedTime", "zimbraPasswordMustChange"),
    sign_ins=("zimbraLastLogonTimestamp",),
    failures=("zimbraPasswordLockoutFailureTime",),
    read=_zimbra,
)


ACCOUNT_DUTIES: Mapping[str, AccountDuties] = {
    "openldap": OPENLDAP_DUTIES,
    "ad": AD_DUTIES,
    "389ds": DS389_DUTIES,
    "zimbra": ZIMBRA_DUTIES,
}


def account_duties(flavour: str) -> AccountDuties:
    return ACCOUNT_DUTIES[flavour]
