"""Showing records to an inspector: readable text, or the stored JSON lines for tools."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from syncbot.audit.record import CHANGE, RESULT_OK, canonical_json, parse_time
from syncbot.wording import audit as words

FORMATS = ("text", "json")

_SUMMARY_VALUE_CHARS = 80


def render_records(records: Iterable[Mapping[str, Any]], *, fmt: str = "text") -> Iterator[str]:
    """One string per record, without a trailing newline.

    "json" gives each record exactly as stored (canonical JSON); "text" gives a line
    per change (with indented reason, change, evidence and error lines) and a "── run"
    line per run event.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    for record in records:
        if fmt == "json":
            yield canonical_json(record)
        elif record.get("event") == CHANGE:
            yield render_change(record)
        else:
            yield render_run_event(record)


def render_change(record: Mapping[str, Any]) -> str:
    ok = record.get("result") == RESULT_OK
    head = "  ".join(
        (
            _when(record),
            f"run {_short_run(record)}",
            "✓ ok    " if ok else "✗ failed",
            str(record.get("action", "?")),
            str(record.get("target", "?")),
            str(record.get("username") or record.get("account", "?")),
            f"{words.EMPLOYEE_ID} {record.get('employee_id') or '—'}",
        )
    )
    before, after = _compact(record.get("before")), _compact(record.get("after"))
    lines = [
        head,
        f"    {words.REASON}: {_reason_vi(record)}",
        f"    {words.CHANGE}: {before} → {after}",
    ]
    evidence = record.get("evidence")
    if isinstance(evidence, Mapping) and evidence.get("roster_file"):
        row = evidence.get("row", "?")
        lines.append(f"    {words.EVIDENCE}: {evidence['roster_file']}, {words.ROW} {row}")
    if not ok:
        lines.append(f"    {words.ERROR}: {record.get('error') or words.UNKNOWN_ERROR}")
    return "\n".join(lines)


def render_run_event(record: Mapping[str, Any]) -> str:
    event = str(record.get("event", "?"))
    verb = {"run_started": "started", "run_finished": "finished", "audit_sealed": "sealed"}.get(
        event, event
    )
    head = f"── run {_short_run(record)} {verb} {_when(record)}"
    if event == "run_started":
        head += f" by {record.get('actor', '?')}"
    summary = _summary(record.get("details"))
    return f"{head}: {summary}" if summary else head


def _when(record: Mapping[str, Any]) -> str:
    try:
        return parse_time(record["time"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (KeyError, TypeError, ValueError):
        return str(record.get("time", "?"))


def _short_run(record: Mapping[str, Any]) -> str:
    return str(record.get("run_id", "?"))[:8]


def _reason_vi(record: Mapping[str, Any]) -> str:
    reason = record.get("reason")
    if isinstance(reason, Mapping):
        return str(reason.get("vi") or reason.get("en") or "")
    return ""


def _summary(details: Any) -> str:
    if not isinstance(details, Mapping):
        return ""
    return ", ".join(f"{key}={_short(value)}" for key, value in sorted(details.items()))


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else _compact(value)
    if len(text) > _SUMMARY_VALUE_CHARS:
        return text[: _SUMMARY_VALUE_CHARS - 1] + "…"
    return text


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
