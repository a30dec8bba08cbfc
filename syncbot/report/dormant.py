"""`syncbot report dormant`: accounts nobody signed in to for the configured number of days.

Laid out as the Quảng Ninh appendix: accounts grouped by unit (a heading row per unit in
HTML; a Đơn vị column, sorted, in CSV and XLSX so the file still filters), STT and e-mail
first, then when the account was last used and when it will be locked. The plan decides
which accounts are dormant (it applies the exemptions and the lock rule); this module only
lays its answer out beside the people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from syncbot.duty_settings import Dormancy
from syncbot.errors import ConfigError
from syncbot.model import ActionKind, Duty, FindingKind, Status
from syncbot.reconcile import Prepared
from syncbot.report.document import Bar, Chart, ChartShape, Report
from syncbot.report.people import (
    Holder,
    account_holder,
    actions_by_account,
    by_unit_order,
    collate,
    common,
    findings_by_account,
    header,
    holders,
    local_day,
    show_day,
)
from syncbot.report.table import Cell, Table
from syncbot.wording.report import DORMANT, pick, require_lang

DORMANT_COLOUR = "#6a1b9a"

ACCOUNT_WIDTHS = (5, 30, 28, 30, 16, 10, 26, 12, 14)


def _say(key: str, lang: str) -> str:
    return pick(DORMANT, key, lang)


@dataclass(frozen=True, slots=True)
class Idle:
    """One dormant account: since when it counts as unused, and when it is locked."""

    holder: Holder
    since: date
    idle_days: int
    lock_on: date | None
    locks_now: bool  # the plan locks it: the next apply does


def dormant_report(prepared: Prepared, *, lang: str = "vi", now: datetime | None = None) -> Report:
    """Build the report from a fresh `prepare`; reads nothing else and changes nothing."""
    require_lang(lang)
    dormancy = prepared.config.duties.dormancy
    if dormancy is None:
        raise ConfigError(_say("no_dormancy", "en"))
    rows = dormant_accounts(prepared, lang)
    return Report(
        lang=lang,
        title=_say("title", lang),
        facts=header(prepared, now or datetime.now(UTC), lang, _policy_facts(dormancy, lang)),
        tables=(_accounts_table(rows, lang), _by_unit_table(rows, lang)),
        charts=(_chart(rows, lang),),
        note=None if rows else _say("empty", lang),
    )


def dormant_accounts(prepared: Prepared, lang: str) -> list[Idle]:
    """The plan's dormant accounts and dormancy locks, one row per account, unit by unit."""
    plan = prepared.plan
    dormancy = prepared.config.duties.dormancy
    findings = findings_by_account(plan.findings, FindingKind.DORMANT)
    locks = actions_by_account(plan.actions, ActionKind.DISABLE, Duty.DORMANT)
    known = {holder.ref: holder for holder in holders(prepared)}
    rows = []
    for ref in dict.fromkeys([*findings, *locks]):
        finding = findings.get(ref)
        named = finding.employee_id if finding else locks[ref].employee_id
        holder = known.get(ref) or account_holder(prepared, ref, named)
        if holder is None:
            continue
        since = finding.since if finding and finding.since else _reference(holder, dormancy)
        locks_now = ref in locks
        lock_on = plan.today if locks_now else (finding.due if finding else None)
        rows.append(Idle(holder, since, (plan.today - since).days, lock_on, locks_now))
    return sorted(rows, key=lambda r: _order(r, lang))


def _order(row: Idle, lang: str) -> tuple[tuple[bool, str, str], str, str, str]:
    holder = row.holder
    unit = by_unit_order(holder.unit(lang), lang)
    return (unit, collate(holder.full_name()), holder.account.username, holder.target)


def _reference(holder: Holder, dormancy: Dormancy | None) -> date:
    """When an account began to count as unused, for a lock the plan gave no finding for:
    its last sign-in, its creation or the start of recording, whichever is latest."""
    account = holder.account
    days = [local_day(m) for m in (account.last_sign_in, account.created) if m is not None]
    if dormancy is not None:
        days.append(dormancy.recorded_since)
    return max(days, default=date.min)


def _last_sign_in(row: Idle, lang: str) -> str:
    """The date, or since when none was recorded - never "never", which nobody can know.

    "Since" is the date the days are counted from, so the two columns agree.
    """
    moment = row.holder.account.last_sign_in
    if moment is not None:
        return show_day(local_day(moment), lang)
    return _say("none_since", lang).format(day=show_day(row.since, lang))


def _accounts_table(rows: Sequence[Idle], lang: str) -> Table:
    keys = (
        "no", "email", "name", "unit", "account", "system", "last_sign_in", "idle_days", "lock_on",
    )  # fmt: skip
    cells = tuple(
        (
            number,
            row.holder.email(),
            row.holder.full_name(),
            row.holder.unit(lang),
            row.holder.account.username,
            row.holder.target,
            _last_sign_in(row, lang),
            row.idle_days,
            show_day(row.lock_on, lang),
        )
        for number, row in enumerate(rows, start=1)
    )
    flagged = frozenset(n for n, row in enumerate(rows) if row.locks_now)
    columns = tuple(_say(k, lang) for k in keys)
    return Table(_say("accounts", lang), columns, cells, ACCOUNT_WIDTHS, flagged, group_column=3)


def _by_unit_table(rows: Sequence[Idle], lang: str) -> Table:
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        tally = counts.setdefault(row.holder.unit(lang), Counter())
        tally["lock_next" if row.locks_now else "lock_later" if row.lock_on else "report_only"] += 1
    body: list[tuple[Cell, ...]] = [_unit_row(unit, tally) for unit, tally in counts.items()]
    body.append(_unit_row(common("total", lang), sum(counts.values(), Counter())))
    columns = tuple(
        _say(k, lang) for k in ("unit", "dormant", "lock_next", "lock_later", "report_only")
    )
    return Table(_say("by_unit", lang), columns, tuple(body), (30, 16, 16, 16, 16))


def _unit_row(unit: str, tally: Counter[str]) -> tuple[Cell, ...]:
    return (
        unit,
        sum(tally.values()),
        tally["lock_next"],
        tally["lock_later"],
        tally["report_only"],
    )


def _chart(rows: Sequence[Idle], lang: str) -> Chart:
    per_unit = Counter(row.holder.unit(lang) for row in rows)  # insertion order: report order
    return Chart(
        _say("chart_unit", lang),
        ChartShape.BARS,
        tuple(Bar(unit, count, DORMANT_COLOUR) for unit, count in per_unit.items()),
    )


def _policy_facts(dormancy: Dormancy, lang: str) -> tuple[tuple[str, str], ...]:
    after = dormancy.disable_after_days
    exempt = ", ".join(_say(s, lang) for s in Status if s in dormancy.exempt_statuses)
    return (
        (_say("days", lang), str(dormancy.days)),
        (_say("recorded_since", lang), show_day(dormancy.recorded_since, lang)),
        (_say("disable_after", lang), str(after) if after is not None else _say("no_lock", lang)),
        (_say("exempt", lang), exempt or common("none", lang)),
    )
