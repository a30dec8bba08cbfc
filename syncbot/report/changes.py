"""`syncbot report changes`: what changed, for whom, why and by which run, from the audit log.

The report is only as good as the log, so the chain is verified first; a broken chain
still gives a report (the inspector needs to see what is there) but says so at the top.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from syncbot.audit import AuditError, VerifyResult, iter_records, verify_chain
from syncbot.audit.reader import iter_raw_lines
from syncbot.audit.record import CHANGE, RESULT_OK, RUN_FINISHED, RUN_STARTED, parse_time
from syncbot.errors import ConfigError
from syncbot.model import ActionKind
from syncbot.report.document import Bar, Chart, ChartShape, Report
from syncbot.report.people import collate
from syncbot.report.period import Period, local, show_date, show_time
from syncbot.report.table import Cell, Table
from syncbot.wording.report import require_lang, say
from syncbot.wording.titles import ACTION_TITLES

OK_COLOUR, FAILED_COLOUR, KIND_COLOUR = "#2e7d32", "#c62828", "#1565c0"
SHORT_RUN = 8  # the prefix `syncbot audit show` prints and `--run` accepts
CHANGE_COLUMNS = (
    "no",
    "time",
    "account",
    "employee_id",
    "system",
    "change",
    "reason",
    "evidence",
    "result",
    "run",
)
CHANGE_WIDTHS = (5, 20, 18, 12, 10, 36, 50, 40, 24, 10)


@dataclass(slots=True)
class _Run:
    run_id: str
    started: datetime | None = None
    actor: str = ""
    forced: list[str] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)


def changes_report(
    path: Path,
    period: Period,
    *,
    lang: str = "vi",
    anchor: tuple[int, str] | None = None,
    now: datetime | None = None,
) -> Report:
    """Verify the log at `path`, read the period's records and build the report.

    `anchor` is the (seq, hash) the last run wrote, so a cut-off tail counts as damage.
    Raises ConfigError when there is no log at `path` at all: an empty report then would
    tell an inspector "nothing changed" about a log nobody read.
    """
    require_lang(lang)
    if not path.is_file():
        raise ConfigError(f"no audit log at {path}: check [audit] path in the config")
    verified = verify_chain(path, anchor=anchor)
    records = _read(path, period)
    changes = [r for r in records if r.get("event") == CHANGE]
    warning = None if verified.ok else _warning(verified, lang)
    return Report(
        lang=lang,
        title=say("title", lang),
        facts=_facts(path, period, verified, len(changes), lang, now or datetime.now(UTC)),
        tables=(
            _changes_table(changes, lang),
            _by_kind_table(changes, lang),
            _by_day_table(changes, lang),
            *_by_unit_tables(changes, lang),
            _runs_table(records, lang),
        ),
        charts=_charts(changes, period, lang) + _by_unit_charts(changes, lang),
        warning=warning,
        note=None if changes else say("empty", lang),
        intact=verified.ok,
    )


def _read(path: Path, period: Period) -> list[dict[str, Any]]:
    """The period's records; a damaged line ends the reading, the warning already says why."""
    start, end = period.bounds()
    records: list[dict[str, Any]] = []
    # Only raised for a line verify_chain has failed too, so the report carries the warning.
    with suppress(AuditError):
        records.extend(iter_records(path, since=start, until=end, include_runs=True))
    return records


def _line_count(path: Path) -> int:
    """Every line in the file: a failed verify stops counting at the first broken one."""
    return sum(1 for line in iter_raw_lines(path) if line.complete)


def _warning(verified: VerifyResult, lang: str) -> str:
    line = verified.first_bad_line if verified.first_bad_line is not None else "?"
    text = say("broken", lang).format(line=line)
    return f"{text}. {say('broken_detail', lang)}: {verified.problem}" if verified.problem else text


def _facts(
    path: Path, period: Period, verified: VerifyResult, changes: int, lang: str, now: datetime
) -> tuple[tuple[str, str], ...]:
    span = f"{show_date(period.since, lang)} – {show_date(period.until, lang)}"
    return (
        (say("period", lang), span),
        (say("generated", lang), show_time(now, lang)),
        (say("timezone", lang), say("timezone_value", lang)),
        (say("audit_file", lang), str(path)),
        (say("audit_records", lang), str(_line_count(path))),
        (say("audit_last_hash", lang), verified.last_hash or say("none", lang)),
        (say("chain_state", lang), say("chain_ok", lang) if verified.ok else str(verified.problem)),
        (say("changes_in_period", lang), str(changes)),
    )


def _changes_table(changes: Sequence[Mapping[str, Any]], lang: str) -> Table:
    columns = tuple(say(key, lang) for key in CHANGE_COLUMNS)
    rows = tuple(
        (
            number,
            show_time(_when(record), lang),
            _text(record.get("username") or record.get("account")),
            _text(record.get("employee_id")),
            _text(record.get("target")),
            change_title(record, lang),
            _reason(record, lang),
            _evidence(record.get("evidence"), lang),
            _result(record, lang),
            _text(record.get("run_id"))[:SHORT_RUN],
        )
        for number, record in enumerate(changes, start=1)
    )
    failed = frozenset(n for n, r in enumerate(changes) if r.get("result") != RESULT_OK)
    return Table(say("changes", lang), columns, rows, CHANGE_WIDTHS, failed)


def change_title(record: Mapping[str, Any], lang: str) -> str:
    """The kind of change in words, with the groups it touched (short names)."""
    action = _text(record.get("action"))
    title = _kind_title(action, lang)
    removed = _members(record.get("before"))
    added = _members(record.get("after"))
    if action == ActionKind.GRANT and added:
        return f"{title}: {', '.join(added)}"
    if action == ActionKind.REVOKE and removed:
        return f"{title}: {', '.join(removed)}"
    if action == ActionKind.CHANGE_UNIT and (added or removed):
        return f"{title}: {', '.join(removed) or '—'} → {', '.join(added) or '—'}"
    return title


def _members(state: Any) -> list[str]:
    if not isinstance(state, Mapping) or not isinstance(state.get("member_of"), list):
        return []
    return [_short_group(str(key)) for key in state["member_of"]]


def _short_group(key: str) -> str:
    """'cn=van-thu,ou=groups,…' reads as 'van-thu'; other keys are shown whole."""
    first = key.split(",", 1)[0]
    return first.split("=", 1)[1] if first.lower().startswith("cn=") and "=" in first else key


def _reason(record: Mapping[str, Any], lang: str) -> str:
    reason = record.get("reason")
    if not isinstance(reason, Mapping):
        return ""
    return _text(reason.get(lang) or reason.get("vi") or reason.get("en"))


def _evidence(evidence: Any, lang: str) -> str:
    if not isinstance(evidence, Mapping) or not evidence.get("roster_file"):
        return ""
    row = evidence.get("row")
    return (
        f"{evidence['roster_file']}, {say('row', lang)} {row}" if row else evidence["roster_file"]
    )


def _result(record: Mapping[str, Any], lang: str) -> str:
    if record.get("result") == RESULT_OK:
        return say("ok", lang)
    return f"{say('failed', lang)}: {record.get('error') or say('unknown_error', lang)}"


def _by_kind_table(changes: Sequence[Mapping[str, Any]], lang: str) -> Table:
    counts = _count(changes, lambda r: _text(r.get("action")))
    rows: list[tuple[Cell, ...]] = [
        (_kind_title(action, lang), ok, failed, ok + failed)
        for action, (ok, failed) in _in_kind_order(counts)
    ]
    rows.append(_total_row(say("total", lang), counts.values()))
    columns = (say("change", lang), say("ok", lang), say("failed", lang), say("total", lang))
    return Table(say("by_kind", lang), columns, tuple(rows), (36, 12, 12, 12))


def _by_day_table(changes: Sequence[Mapping[str, Any]], lang: str) -> Table:
    counts = _count(changes, lambda r: local(_when(r)).date().isoformat())
    rows: list[tuple[Cell, ...]] = [
        (show_date(date.fromisoformat(day), lang), ok, failed, ok + failed)
        for day, (ok, failed) in sorted(counts.items())
    ]
    rows.append(_total_row(say("total", lang), counts.values()))
    columns = (say("day", lang), say("ok", lang), say("failed", lang), say("total", lang))
    return Table(say("by_day", lang), columns, tuple(rows), (14, 12, 12, 12))


def _unit(record: Mapping[str, Any], lang: str) -> str:
    """The unit of the roster row behind the change (evidence.unit), as HR spells it."""
    evidence = record.get("evidence")
    unit = evidence.get("unit") if isinstance(evidence, Mapping) else None
    return str(unit) if unit else say("no_unit", lang)


def _has_units(changes: Sequence[Mapping[str, Any]]) -> bool:
    """Logs written before evidence carried the unit get no by-unit summary of blanks."""
    return any(
        isinstance(r.get("evidence"), Mapping) and r["evidence"].get("unit") for r in changes
    )


def _units_in_order(counts: Mapping[str, tuple[int, int]], lang: str) -> list[str]:
    """Units alphabetically (Đ with D), the changes with no unit last."""
    no_unit = say("no_unit", lang)
    return sorted(counts, key=lambda unit: (unit == no_unit, collate(unit), unit))


def _by_unit_tables(changes: Sequence[Mapping[str, Any]], lang: str) -> tuple[Table, ...]:
    if not _has_units(changes):
        return ()
    counts = _count(changes, lambda r: _unit(r, lang))
    rows: list[tuple[Cell, ...]] = [
        (unit, *counts[unit], sum(counts[unit])) for unit in _units_in_order(counts, lang)
    ]
    rows.append(_total_row(say("total", lang), counts.values()))
    columns = (say("unit", lang), say("ok", lang), say("failed", lang), say("total", lang))
    return (Table(say("by_unit", lang), columns, tuple(rows), (40, 12, 12, 12)),)


def _by_unit_charts(changes: Sequence[Mapping[str, Any]], lang: str) -> tuple[Chart, ...]:
    if not _has_units(changes):
        return ()
    counts = _count(changes, lambda r: _unit(r, lang))
    bars = tuple(
        Bar(unit, sum(counts[unit]), KIND_COLOUR) for unit in _units_in_order(counts, lang)
    )
    return (Chart(say("chart_unit", lang), ChartShape.BARS, bars),)


def _runs_table(records: Iterable[Mapping[str, Any]], lang: str) -> Table:
    runs: dict[str, _Run] = {}
    for record in records:
        run_id = _text(record.get("run_id"))
        run = runs.setdefault(run_id, _Run(run_id))
        event = record.get("event")
        if event == RUN_STARTED or (run.started is None and event != RUN_FINISHED):
            run.started = _when(record)
            run.actor = _text(record.get("actor"))
        if event == RUN_STARTED:
            details = record.get("details")
            forced = details.get("forced_past") if isinstance(details, Mapping) else None
            run.forced = [str(f) for f in forced] if isinstance(forced, list) else []
        elif event == CHANGE:
            run.results[RESULT_OK if record.get("result") == RESULT_OK else "failed"] += 1
    ordered = sorted(runs.values(), key=lambda r: r.started or datetime.max.replace(tzinfo=UTC))
    rows = tuple(
        (
            run.run_id,
            show_time(run.started, lang) if run.started else "",
            run.actor,
            run.results[RESULT_OK],
            run.results["failed"],
            ", ".join(run.forced) or "—",
        )
        for run in ordered
    )
    columns = tuple(say(k, lang) for k in ("run", "started", "actor", "ok", "failed", "forced"))
    return Table(say("runs", lang), columns, rows, (30, 20, 36, 12, 12, 30))


def _charts(changes: Sequence[Mapping[str, Any]], period: Period, lang: str) -> tuple[Chart, ...]:
    by_kind = _count(changes, lambda r: _text(r.get("action")))
    per_day = Counter(local(_when(r)).date() for r in changes)
    ok = sum(1 for r in changes if r.get("result") == RESULT_OK)
    return (
        Chart(
            say("chart_kind", lang),
            ChartShape.BARS,
            tuple(
                Bar(_kind_title(action, lang), ok_n + failed_n, KIND_COLOUR)
                for action, (ok_n, failed_n) in _in_kind_order(by_kind)
            ),
        ),
        Chart(
            say("chart_day", lang),
            ChartShape.COLUMNS,
            tuple(Bar(show_date(day, lang), per_day[day], KIND_COLOUR) for day in period.days()),
        ),
        Chart(
            say("chart_result", lang),
            ChartShape.BARS,
            (
                Bar(say("ok", lang), ok, OK_COLOUR),
                Bar(say("failed", lang), len(changes) - ok, FAILED_COLOUR),
            ),
        ),
    )


def _count(
    changes: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], str]
) -> dict[str, tuple[int, int]]:
    """(succeeded, failed) per key."""
    counts: dict[str, tuple[int, int]] = {}
    for record in changes:
        name = key(record)
        ok, failed = counts.get(name, (0, 0))
        if record.get("result") == RESULT_OK:
            ok += 1
        else:
            failed += 1
        counts[name] = (ok, failed)
    return counts


def _in_kind_order(counts: Mapping[str, tuple[int, int]]) -> list[tuple[str, tuple[int, int]]]:
    """Kinds in the order the plan shows them; unknown actions (newer versions) last."""
    order = {kind.value: n for n, kind in enumerate(ACTION_TITLES)}
    return sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


def _kind_title(action: str, lang: str) -> str:
    """The plan's title for a kind; a kind this version has no title for is shown as stored."""
    try:
        vi, en = ACTION_TITLES[ActionKind(action)]
    except (ValueError, KeyError):
        return action
    return vi if lang == "vi" else en


def _total_row(label: str, counts: Iterable[tuple[int, int]]) -> tuple[Cell, ...]:
    pairs = list(counts)
    ok = sum(p[0] for p in pairs)
    failed = sum(p[1] for p in pairs)
    return (label, ok, failed, ok + failed)


def _when(record: Mapping[str, Any]) -> datetime:
    # iter_records has already parsed every time while filtering by the period.
    return parse_time(record["time"])


def _text(value: Any) -> str:
    return "" if value is None else str(value)
