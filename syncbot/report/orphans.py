"""`syncbot report orphans`: accounts with no HR record, open or locked, in every system.

Locked ones are listed too: an inspector asks "which accounts belong to nobody", and a
locked one still holds a mailbox and its groups. Protected accounts (administrators,
service and break-glass accounts) are left out, as they are from every plan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from syncbot.duty_settings import Orphans
from syncbot.model import ActionKind, Duty, FindingKind
from syncbot.reconcile import Prepared
from syncbot.report.document import Bar, Chart, ChartShape, Report, Series
from syncbot.report.people import (
    Holder,
    account_holder,
    actions_by_account,
    collate,
    common,
    findings_by_account,
    header,
    holders,
    local_day,
    show_day,
    yes_no,
)
from syncbot.report.table import Cell, Table
from syncbot.wording.report import ORPHANS, pick, require_lang

OPEN_COLOUR, LOCKED_COLOUR = "#c62828", "#78909c"


def _say(key: str, lang: str) -> str:
    return pick(ORPHANS, key, lang)


@dataclass(frozen=True, slots=True)
class Orphan:
    holder: Holder
    lock_on: date | None
    locks_now: bool


def orphans_report(prepared: Prepared, *, lang: str = "vi", now: datetime | None = None) -> Report:
    """Build the report from a fresh `prepare`; reads nothing else and changes nothing."""
    require_lang(lang)
    policy = prepared.config.duties.orphans
    rows = orphan_accounts(prepared)
    return Report(
        lang=lang,
        title=_say("title", lang),
        facts=header(prepared, now or datetime.now(UTC), lang, _policy_facts(policy, lang)),
        tables=(_accounts_table(rows, policy, lang), _by_system_table(rows, policy, lang)),
        charts=(_chart(rows, lang),),
        note=None if rows else _say("empty", lang),
    )


def orphan_accounts(prepared: Prepared) -> list[Orphan]:
    """Every unprotected account no roster row claims, with the plan's lock date if any."""
    plan = prepared.plan
    policy = prepared.config.duties.orphans
    findings = findings_by_account(plan.findings, FindingKind.ORPHAN)
    locks = actions_by_account(plan.actions, ActionKind.DISABLE, Duty.ORPHAN)
    found = {h.ref: h for h in holders(prepared) if h.row is None}
    for ref in [*findings, *locks]:
        if ref not in found and (extra := account_holder(prepared, ref)) is not None:
            found[ref] = extra
    rows = []
    for ref, holder in found.items():
        finding = findings.get(ref)
        if ref in locks:
            lock_on: date | None = plan.today
        elif finding is not None and finding.due is not None:
            lock_on = finding.due
        else:
            lock_on = _grace_end(holder, policy)
        rows.append(Orphan(holder, lock_on, ref in locks))
    return sorted(rows, key=lambda r: (r.holder.target, collate(r.holder.account.username)))


def _grace_end(holder: Holder, policy: Orphans) -> date | None:
    """When an open orphan the plan gave no date for would be locked; None if it never is."""
    created = holder.account.created
    if not policy.disable or not holder.account.enabled or created is None:
        return None
    return local_day(created) + timedelta(days=policy.grace_days)


def _accounts_table(rows: Sequence[Orphan], policy: Orphans, lang: str) -> Table:
    keys = ["no", "account", "email", "system", "created", "state"]
    widths = [5, 24, 30, 12, 12, 12]
    if policy.disable:
        keys.append("lock_on")
        widths.append(14)
    cells = tuple(_row(number, row, lang)[: len(keys)] for number, row in enumerate(rows, start=1))
    flagged = frozenset(n for n, row in enumerate(rows) if row.locks_now)
    columns = tuple(_say(k, lang) for k in keys)
    return Table(_say("accounts", lang), columns, cells, tuple(widths), flagged)


def _row(number: int, row: Orphan, lang: str) -> tuple[Cell, ...]:
    account = row.holder.account
    created = local_day(account.created) if account.created is not None else None
    return (
        number,
        account.username,
        row.holder.email(),
        row.holder.target,
        show_day(created, lang),
        _say("open" if account.enabled else "locked", lang),
        show_day(row.lock_on, lang),
    )


def _by_system_table(rows: Sequence[Orphan], policy: Orphans, lang: str) -> Table:
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        tally = counts.setdefault(row.holder.target, Counter())
        tally["open" if row.holder.account.enabled else "locked"] += 1
        tally["lock_next"] += row.locks_now
    keys = ["open", "locked", "lock_next"] if policy.disable else ["open", "locked"]
    body: list[tuple[Cell, ...]] = [
        (system, *(tally[k] for k in keys), tally["open"] + tally["locked"])
        for system, tally in counts.items()
    ]
    total = sum(counts.values(), Counter())
    body.append((common("total", lang), *(total[k] for k in keys), total["open"] + total["locked"]))
    columns = (_say("system", lang), *(_say(k, lang) for k in keys), common("total", lang))
    return Table(_say("by_system", lang), columns, tuple(body), tuple(16 for _ in columns))


def _chart(rows: Sequence[Orphan], lang: str) -> Chart:
    counts: dict[str, Counter[bool]] = {}
    for row in rows:
        counts.setdefault(row.holder.target, Counter())[row.holder.account.enabled] += 1
    return Chart(
        _say("chart_system", lang),
        ChartShape.STACKED,
        tuple(
            Bar(system, sum(tally.values()), OPEN_COLOUR, (tally[True], tally[False]))
            for system, tally in counts.items()
        ),
        (Series(_say("open", lang), OPEN_COLOUR), Series(_say("locked", lang), LOCKED_COLOUR)),
    )


def _policy_facts(policy: Orphans, lang: str) -> tuple[tuple[str, str], ...]:
    facts = [(_say("disable", lang), yes_no(policy.disable, lang))]
    if policy.disable:
        facts.append((_say("grace", lang), str(policy.grace_days)))
    facts.append((_say("left_out", lang), _say("left_out_value", lang)))
    return tuple(facts)
