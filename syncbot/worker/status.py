"""The worker's status file: written atomically after every run and trigger, read by
`syncbot status` (and monitoring) without talking to the worker.

It is written as a state file (0600) wherever `status_file` puts it: its error texts name
accounts and servers, and a status file any local user could write would let them tell
monitoring that runs succeed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from syncbot.durable import STATE_DIR_MODE, make_dirs
from syncbot.exit_codes import ExitCode
from syncbot.push_store import PushedState
from syncbot.state import read_json_file, write_json_atomic
from syncbot.wording import worker as words
from syncbot.wording.pair import both


def write_status(path: Path, data: Mapping[str, Any]) -> None:
    make_dirs(path.parent, STATE_DIR_MODE)
    write_json_atomic(path, dict(data))


def read_status(path: Path) -> dict[str, Any] | None:
    return read_json_file(path)


def exit_code(status: Mapping[str, Any] | None) -> int:
    if status is None:
        return ExitCode.NO_WORKER_STATUS
    last = status.get("last_run") or {}
    return ExitCode.OK if last.get("result") == "ok" else ExitCode.WORKER_LAST_RUN_FAILED


def render_status(status: Mapping[str, Any]) -> Iterator[str]:
    """Lines for a person at a terminal, Vietnamese then English labels."""
    pid, started = status.get("pid"), status.get("started")
    none = both(words.NONE)
    yield f"{both(words.WORKER)}: pid {pid}, {both(words.STARTED)} {started}"
    last = status.get("last_run")
    if not last:
        yield f"{both(words.LAST_RUN)}: {both(words.NONE_YET)}"
    else:
        result = str(last.get("result"))
        shown = both(words.RESULTS[result]) if result in words.RESULTS else result
        yield f"{both(words.LAST_RUN)}: {last.get('id')} ({last.get('trigger')}): {shown}"
        yield (
            f"  {both(words.RUN_STARTED)} {last.get('started')}, "
            f"{both(words.FINISHED)} {last.get('finished')}"
        )
        actions = last.get("actions") or {}
        done = ", ".join(f"{kind} {n}" for kind, n in sorted(actions.items())) or none
        yield f"  {both(words.CHANGES)}: {done}; {both(words.FAILED)}: {last.get('failed', 0)}"
        if last.get("error"):
            yield f"  {both(words.DETAIL)}: {last['error']}"
    yield f"{both(words.NEXT_RUN)}: {status.get('next_run') or both(words.NOT_SCHEDULED)}"
    due = status.get("pending_due_dates") or []
    yield f"{both(words.DUE_DATES)}: {', '.join(due) or none}"
    if status.get("retry_at"):
        yield f"{both(words.RETRY_AT)}: {status['retry_at']}"
    queued = status.get("queued")
    yield f"{both(words.QUEUED)}: {queued or none}"


def pushed_rows(state: PushedState) -> list[dict[str, Any]]:
    """The pushed rows still in force, each with its push, for `syncbot status --json`."""
    listed = []
    for entry in sorted(state.rows.values(), key=lambda e: e.row.employee_id):
        push = state.pushes.get(entry.source.sha256, {})
        listed.append(
            {
                "employee_id": entry.row.employee_id,
                "status": entry.row.status_word,
                "effective_date": entry.row.effective_date.isoformat()
                if entry.row.effective_date
                else None,
                "push_sha256": entry.source.sha256,
                "received": push.get("received"),
                "peer": push.get("peer"),
                "credential": push.get("credential"),
            }
        )
    return listed


def render_pushed(rows: list[dict[str, Any]]) -> Iterator[str]:
    """Lines for a person: who HR pushed, and which push says so."""
    if not rows:
        return
    yield (f"{both(words.PUSHED_IN_FORCE)}: {len(rows)} ({both(words.PUSHED_UNTIL)})")
    for row in rows:
        since = f" {both(words.FROM)} {row['effective_date']}" if row["effective_date"] else ""
        yield (
            f"  {row['employee_id']}: {row['status']}{since} — push {row['push_sha256'][:12]}, "
            f"{row['received']}, {row['peer']}"
        )
