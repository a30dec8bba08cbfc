"""`syncbot report compliance`: every account's password against the circulars' rules.

One row per managed account with a password of its own (enabled, not protected; Keycloak
users whose password lives in LDAP are counted on the LDAP side), by unit, with how old the
password is and whether it is still the one the administrator issued; a summary and a chart
by unit; and each system's own password-policy settings, wanted against in force, so an
inspector sees whether the directory itself enforces the rules or only syncbot does.

The plan's findings and steps decide an account's standing where it has any; the same
rules applied to the account's dates decide the rest, so an account is not called
compliant merely because a response is switched off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from syncbot.duty_settings import CharClass, PasswordPolicy
from syncbot.model import ActionKind, Duty, Finding, FindingKind, Snapshot
from syncbot.reconcile import Prepared
from syncbot.report.document import Bar, Chart, ChartShape, Report, Series
from syncbot.report.people import (
    Holder,
    actions_by_account,
    by_unit_order,
    collate,
    common,
    findings_by_account,
    header,
    holders,
    local_day,
    show_day,
    wanted_settings,
    yes_no,
)
from syncbot.report.table import Cell, Table
from syncbot.wording.report import COMPLIANCE, pick, require_lang

OK_COLOUR, BAD_COLOUR, WAITING_COLOUR = "#2e7d32", "#c62828", "#ef8f00"


class Standing(StrEnum):
    OK = "ok"
    NEVER_CHANGED = "never_changed"
    EXPIRED = "expired"
    WAITING = "waiting"  # a change is already required; the owner has not made it yet


ACCOUNT_WIDTHS = (5, 28, 30, 16, 28, 10, 14, 10, 32, 12)
STANDING_ORDER = (Standing.OK, Standing.NEVER_CHANGED, Standing.EXPIRED, Standing.WAITING)


def _say(key: str, lang: str) -> str:
    return pick(COMPLIANCE, key, lang)


@dataclass(frozen=True, slots=True)
class Assessed:
    """One account's password, judged."""

    holder: Holder
    changed: date
    age: int
    standing: Standing
    due: date | None


def compliance_report(
    prepared: Prepared, *, lang: str = "vi", now: datetime | None = None
) -> Report:
    """Build the report from a fresh `prepare`; reads nothing else and changes nothing."""
    require_lang(lang)
    policy = prepared.config.duties.password
    rows = assess(prepared, lang)
    return Report(
        lang=lang,
        title=_say("title", lang),
        facts=header(prepared, now or datetime.now(UTC), lang, _policy_facts(policy, lang)),
        tables=(
            _accounts_table(rows, lang),
            _by_unit_table(rows, lang),
            _settings_table(prepared, lang),
        ),
        charts=_charts(rows, lang),
        warning=None if policy.watches_accounts else _say("not_watching", lang),
        note=None if rows else _say("empty", lang),
    )


def assess(prepared: Prepared, lang: str) -> list[Assessed]:
    """Every enabled account with a password of its own, in unit, then name order."""
    plan = prepared.plan
    policy = prepared.config.duties.password
    findings = findings_by_account(
        plan.findings, FindingKind.PASSWORD_NEVER_CHANGED, FindingKind.PASSWORD_EXPIRED
    )
    forced = actions_by_account(plan.actions, ActionKind.REQUIRE_PASSWORD_CHANGE, Duty.PASSWORD)
    assessed = []
    for holder in holders(prepared):
        account = holder.account
        if not account.enabled or account.password_changed is None:
            continue
        finding = findings.get(holder.ref)
        standing = _standing(holder, finding, holder.ref in forced, policy, plan.today)
        changed = local_day(account.password_changed)
        due = _due(standing, finding, changed, policy)
        # `today` is the server's date; a password set this evening in Vietnam can already
        # be tomorrow there when the server keeps UTC: that is age 0, not -1.
        age = max(0, (plan.today - changed).days)
        assessed.append(Assessed(holder, changed, age, standing, due))
    return sorted(assessed, key=lambda a: _order(a, lang))


def _order(row: Assessed, lang: str) -> tuple[object, ...]:
    holder = row.holder
    return (
        by_unit_order(holder.unit(lang), lang),
        collate(holder.full_name()),
        holder.account.username,
        holder.target,
    )


def _standing(
    holder: Holder, finding: Finding | None, forced: bool, policy: PasswordPolicy, today: date
) -> Standing:
    """The plan's word first; the account's own dates when the plan had nothing to say."""
    account = holder.account
    if account.must_change_password:
        return Standing.WAITING
    if finding is not None:
        if finding.kind is FindingKind.PASSWORD_NEVER_CHANGED:
            return Standing.NEVER_CHANGED
        return Standing.EXPIRED
    if _issued(holder, policy):
        return Standing.NEVER_CHANGED
    if forced or _past_max_age(account.password_changed, policy, today):
        # A planned forced change that is not about an issued password is about its age.
        return Standing.EXPIRED
    return Standing.OK


def _past_max_age(changed: datetime | None, policy: PasswordPolicy, today: date) -> bool:
    if policy.max_age_days is None or changed is None:
        return False
    return local_day(changed) < today - timedelta(days=policy.max_age_days)


def _issued(holder: Holder, policy: PasswordPolicy) -> bool:
    """Still the password set when the account was made (semantics: within a few minutes)."""
    changed, created = holder.account.password_changed, holder.account.created
    if changed is None or created is None:
        return False
    return changed <= created + timedelta(minutes=policy.issued_within_minutes)


def _due(
    standing: Standing, finding: Finding | None, changed: date, policy: PasswordPolicy
) -> date | None:
    """By when the password must be (or had to be) changed."""
    if finding is not None and finding.due is not None:
        return finding.due
    rotation = changed + timedelta(days=policy.max_age_days) if policy.max_age_days else None
    if standing is Standing.OK:
        return rotation
    if policy.deadline is not None:
        return policy.deadline
    return rotation if standing is Standing.EXPIRED else None


def _accounts_table(rows: Sequence[Assessed], lang: str) -> Table:
    columns = tuple(
        _say(k, lang)
        for k in (
            "no", "name", "unit", "account", "email", "system", "changed", "age", "standing", "due",
        )
    )  # fmt: skip
    cells = tuple(
        (
            number,
            row.holder.full_name(),
            row.holder.unit(lang),
            row.holder.account.username,
            row.holder.email(),
            row.holder.target,
            show_day(row.changed, lang),
            row.age,
            _say(row.standing, lang),
            show_day(row.due, lang),
        )
        for number, row in enumerate(rows, start=1)
    )
    flagged = frozenset(
        n
        for n, row in enumerate(rows)
        if row.standing in (Standing.NEVER_CHANGED, Standing.EXPIRED)
    )
    return Table(_say("accounts", lang), columns, cells, ACCOUNT_WIDTHS, flagged, group_column=2)


def _by_unit_table(rows: Sequence[Assessed], lang: str) -> Table:
    counts = _per_unit(rows, lang)
    body: list[tuple[Cell, ...]] = [_unit_row(unit, tally) for unit, tally in counts.items()]
    body.append(_unit_row(common("total", lang), sum(counts.values(), Counter())))
    columns = (
        _say("unit", lang),
        _say("count", lang),
        *(_say(s, lang) for s in STANDING_ORDER),
        _say("share", lang),
    )
    return Table(_say("by_unit", lang), columns, tuple(body), (30, 12, 12, 16, 16, 16, 12))


def _per_unit(rows: Iterable[Assessed], lang: str) -> dict[str, Counter[Standing]]:
    """Standings counted per unit, units in report order (rows are already sorted)."""
    counts: dict[str, Counter[Standing]] = {}
    for row in rows:
        counts.setdefault(row.holder.unit(lang), Counter())[row.standing] += 1
    return counts


def _unit_row(unit: str, tally: Counter[Standing]) -> tuple[Cell, ...]:
    total = sum(tally.values())
    share = round(100 * tally[Standing.OK] / total) if total else 0
    return (unit, total, *(tally[s] for s in STANDING_ORDER), share)


def _charts(rows: Sequence[Assessed], lang: str) -> tuple[Chart, ...]:
    counts = _per_unit(rows, lang)
    overall = Counter(row.standing for row in rows)
    bad = (Standing.NEVER_CHANGED, Standing.EXPIRED)
    colours = {
        Standing.OK: OK_COLOUR,
        Standing.NEVER_CHANGED: BAD_COLOUR,
        Standing.EXPIRED: BAD_COLOUR,
        Standing.WAITING: WAITING_COLOUR,
    }
    return (
        Chart(
            _say("chart_unit", lang),
            ChartShape.STACKED,
            tuple(
                Bar(
                    unit,
                    sum(tally.values()),
                    OK_COLOUR,
                    (tally[Standing.OK], sum(tally[s] for s in bad), tally[Standing.WAITING]),
                )
                for unit, tally in counts.items()
            ),
            (
                Series(_say("series_ok", lang), OK_COLOUR),
                Series(_say("series_bad", lang), BAD_COLOUR),
                Series(_say("series_waiting", lang), WAITING_COLOUR),
            ),
        ),
        Chart(
            _say("chart_standing", lang),
            ChartShape.BARS,
            tuple(Bar(_say(s, lang), overall[s], colours[s]) for s in STANDING_ORDER),
        ),
    )


def _settings_table(prepared: Prepared, lang: str) -> Table:
    columns = tuple(_say(k, lang) for k in ("system", "setting", "wanted", "in_force", "standing"))
    rows: list[tuple[Cell, ...]] = []
    for name, snapshot in prepared.snapshots.items():
        rows.extend(_settings_rows(prepared, name, snapshot, lang))
    return Table(_say("settings", lang), columns, tuple(rows), (12, 30, 24, 24, 48))


def _settings_rows(
    prepared: Prepared, target: str, snapshot: Snapshot, lang: str
) -> list[tuple[Cell, ...]]:
    wanted = dict(wanted_settings(prepared, target).values)
    planned: dict[str, str | None] = {}
    for action in prepared.plan.actions:
        if action.kind is ActionKind.CONFIGURE and action.target == target:
            for setting, _, value in action.settings:
                planned[setting] = value
                wanted.setdefault(setting, value or "")
    rows: list[tuple[Cell, ...]] = [
        (
            target,
            setting,
            value or _say("unset", lang),
            _in_force(snapshot.settings, setting, lang),
            _setting_standing(snapshot.settings, setting, value, setting in planned, lang),
        )
        for setting, value in sorted(wanted.items())
    ]
    rows.extend(_unsupported_rows(prepared, target, lang))
    return rows


def _in_force(settings: Mapping[str, str] | None, name: str, lang: str) -> str:
    if settings is None:
        return _say("unread", lang)
    value = settings.get(name)
    return value if value is not None else _say("unset", lang)


def _setting_standing(
    settings: Mapping[str, str] | None, name: str, wanted: str, planned: bool, lang: str
) -> str:
    if settings is not None and settings.get(name) == wanted and not planned:
        return _say("matches", lang)
    return _say("drift_planned" if planned else "drift", lang)


def _unsupported_rows(prepared: Prepared, target: str, lang: str) -> list[tuple[Cell, ...]]:
    """Terms the system cannot enforce: the plan's own explanation where it gave one."""
    findings = [
        f
        for f in prepared.plan.findings
        if f.kind is FindingKind.SETTING_UNSUPPORTED and f.target == target
    ]
    if findings:
        return [
            (target, _say("term", lang), "—", "—", f.reason.vi if lang == "vi" else f.reason.en)
            for f in findings
        ]
    terms = wanted_settings(prepared, target).unsupported
    return [(target, term, "—", "—", _say("unsupported", lang)) for term in terms]


def _policy_facts(policy: PasswordPolicy, lang: str) -> tuple[tuple[str, str], ...]:
    off = common("off", lang)
    classes = ", ".join(_say(c, lang) for c in CharClass if c in policy.classes)
    return (
        (_say("min_length", lang), str(policy.min_length) if policy.min_length else off),
        (_say("classes", lang), classes or off),
        (_say("not_username", lang), yes_no(policy.not_username, lang)),
        (_say("history", lang), str(policy.history) if policy.history else off),
        (_say("max_age", lang), str(policy.max_age_days) if policy.max_age_days else off),
        (_say("never_response", lang), _say(policy.never_changed, lang)),
        (_say("expired_response", lang), _say(policy.expired, lang)),
        (_say("deadline", lang), show_day(policy.deadline, lang)),
        (_say("issued_within", lang), str(policy.issued_within_minutes)),
    )
