"""Who holds each account: the roster row beside the snapshot account, for the duty reports.

The compliance, dormant and orphans reports all start from one fresh `prepare` (which
changes nothing) and need the same join: a plan names accounts by target and key, an
inspector reads names and units. The pairing is redone here with the planner's own
matching over the same unprotected accounts, so a report shows exactly the people the
plan acted on, and also the accounts the plan had nothing to say about.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from syncbot.duty_settings import NO_SETTINGS, WantedSettings
from syncbot.match_keys import fold, id_key
from syncbot.matching import match
from syncbot.model import Account, Action, ActionKind, Duty, Finding, FindingKind, RosterRow
from syncbot.report.period import local, show_date, show_time
from syncbot.wording.report import DUTY_SHARED, pick

if TYPE_CHECKING:  # the reports' own modules import it; `changes` needs none of reconcile
    from syncbot.reconcile import Prepared

AccountRef = tuple[str, str]  # (target, account key): how plans name an account


def common(key: str, lang: str) -> str:
    return pick(DUTY_SHARED, key, lang)


@dataclass(frozen=True, slots=True)
class Holder:
    """One unprotected account in one target, and the roster row it belongs to (None: orphan)."""

    target: str
    account: Account
    row: RosterRow | None

    @property
    def ref(self) -> AccountRef:
        return (self.target, self.account.key)

    def full_name(self) -> str:
        """The roster's spelling; an orphan has only what the directory calls it."""
        if self.row is not None:
            return self.row.full_name
        return self.account.display_name or ""

    def unit(self, lang: str) -> str:
        return self.row.unit if self.row is not None else common("no_record", lang)

    def email(self) -> str:
        """The mailbox the account itself names; the roster's when the directory has none."""
        return self.account.email or (self.row.email if self.row and self.row.email else "")


def holders(prepared: Prepared) -> list[Holder]:
    """Every account the plan could act on, paired the way the planner pairs them.

    Protected accounts (administrators, service accounts) are left out, as from the plan;
    accounts in an ambiguous match belong to nobody yet and are left out too (the plan
    lists them as findings).
    """
    from syncbot.reconcile import protection_for  # reconcile imports the targets: only here

    config = prepared.config
    found: list[Holder] = []
    for name, snapshot in prepared.snapshots.items():
        protection = protection_for(config, name, prepared.targets[name])
        accounts, _ = protection.partition(snapshot.accounts)
        result = match(prepared.roster.rows, accounts, config.fallback)
        found.extend(Holder(name, account, row) for row, account in result.pairs)
        found.extend(Holder(name, account, None) for account in result.orphans)
    return found


def account_holder(
    prepared: Prepared, ref: AccountRef, employee_id: str | None = None
) -> Holder | None:
    """An account the plan names but the pairing above did not place (it never should):
    shown with the plan's employee id rather than dropped from an inspector's list."""
    snapshot = prepared.snapshots.get(ref[0])
    account = next((a for a in snapshot.accounts if a.key == ref[1]), None) if snapshot else None
    if account is None:
        return None
    wanted = id_key(employee_id)
    rows = prepared.roster.rows if wanted else ()
    row = next((r for r in rows if id_key(r.employee_id) == wanted), None)
    return Holder(ref[0], account, row)


def wanted_settings(prepared: Prepared, target: str) -> WantedSettings:
    """What the password policy asks of one target, in its own vocabulary."""
    opened = prepared.targets.get(target)
    return opened.wanted_settings(prepared.config.duties) if opened else NO_SETTINGS


def findings_by_account(
    findings: Iterable[Finding], *kinds: FindingKind
) -> dict[AccountRef, Finding]:
    return {
        (f.target, f.account): f
        for f in findings
        if f.kind in kinds and f.target is not None and f.account is not None
    }


def actions_by_account(
    actions: Iterable[Action], kind: ActionKind, duty: Duty
) -> dict[AccountRef, Action]:
    return {(a.target, a.account): a for a in actions if a.kind is kind and a.duty is duty}


def local_day(moment: datetime) -> date:
    """The calendar day in Vietnam: a password set at 23:30 UTC was set the next morning."""
    return local(moment).date()


def show_day(day: date | None, lang: str) -> str:
    return show_date(day, lang) if day is not None else common("none", lang)


def yes_no(value: bool, lang: str) -> str:
    return common("yes" if value else "no", lang)


def header(
    prepared: Prepared, now: datetime, lang: str, policy: Iterable[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """Facts that tie a report to its inputs: the config, the exact roster file, the
    systems read, and the policy values the figures were computed with."""
    plan = prepared.plan
    return (
        (common("config", lang), str(prepared.config.path)),
        (common("generated", lang), show_time(now, lang)),
        (common("as_of", lang), show_date(plan.today, lang)),
        (common("timezone", lang), common("timezone_value", lang)),
        (common("roster", lang), plan.roster_path),
        (common("roster_sha", lang), plan.roster_sha256),
        (common("roster_rows", lang), str(plan.roster_rows)),
        (common("systems", lang), ", ".join(prepared.snapshots) or common("none", lang)),
        (common("source", lang), common("source_value", lang)),
        *policy,
    )


def by_unit_order(unit: str, lang: str) -> tuple[bool, str, str]:
    """Units alphabetically, ignoring case and accents; accounts with no HR record last."""
    return (unit == common("no_record", lang), collate(unit), fold(unit))


def collate(text: str) -> str:
    """A sort key that files "Đ" with "D" and "Ủy" with "Uy", as a Vietnamese reader expects
    (code-point order would put every accented capital after "Z")."""
    bare = unicodedata.normalize("NFD", fold(text).replace("đ", "d"))
    return "".join(c for c in bare if not unicodedata.combining(c))
