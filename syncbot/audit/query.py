"""Finding records in the log for `syncbot audit show`: one streaming pass, filters ANDed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from syncbot.audit.errors import AuditError
from syncbot.audit.reader import iter_raw_lines
from syncbot.audit.record import CHANGE, parse_time
from syncbot.match_keys import fold

Predicate = Callable[[Mapping[str, Any]], bool]


def iter_records(
    path: Path,
    *,
    employee_id: str | None = None,
    account: str | None = None,
    action: str | None = None,
    run_id: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_runs: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield the records matching every given filter, in file order.

    `account` is a case-insensitive substring of the record's account (a DN or id);
    `run_id` also accepts the 8-character prefix that `render_records` shows;
    `since`/`until` are inclusive and must be timezone-aware. Run events (start, finish,
    recovery) are yielded only with `include_runs`, and only when they match too: a
    filter on a change field (employee, account, action, target) leaves them out.

    Lines are not verified here (that is `verify_chain`'s job), but a line that is not
    a JSON object raises AuditError rather than being skipped silently; an incomplete
    last line, a write still being made or interrupted, is not a record and is skipped.
    """
    checks = _predicates(employee_id, account, action, run_id, target, since, until)
    for line in iter_raw_lines(path):
        if not line.complete and not line.too_long:
            return
        record = _load(path, line.number, line.data)
        if record.get("event") != CHANGE and not include_runs:
            continue
        if all(check(record) for check in checks):
            yield record


def _predicates(
    employee_id: str | None,
    account: str | None,
    action: str | None,
    run_id: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[Predicate]:
    checks: list[Predicate] = []
    if employee_id is not None:
        checks.append(lambda r: r.get("employee_id") == employee_id)
    if account is not None:
        needle = fold(account)
        checks.append(
            lambda r: any(
                isinstance(r.get(k), str) and needle in fold(r[k]) for k in ("account", "username")
            )
        )
    if action is not None:
        checks.append(lambda r: r.get("action") == action)
    if run_id is not None:
        checks.append(lambda r: str(r.get("run_id", "")).startswith(run_id))
    if target is not None:
        checks.append(lambda r: r.get("target") == target)
    if since is not None:
        start = _aware(since, "since")
        checks.append(lambda r: _time(r) >= start)
    if until is not None:
        end = _aware(until, "until")
        checks.append(lambda r: _time(r) <= end)
    return checks


def _load(path: Path, number: int, data: bytes) -> dict[str, Any]:
    try:
        record = json.loads(data)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise AuditError(f"{path}, line {number}: not an audit record; run `syncbot audit verify`")
    return record


def _time(record: Mapping[str, Any]) -> datetime:
    try:
        return parse_time(record["time"])
    except (KeyError, TypeError, ValueError):
        raise AuditError(
            f"record {record.get('seq')!r} has no valid time; run `syncbot audit verify`"
        ) from None


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")
    return moment
