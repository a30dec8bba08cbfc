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

_RESULTS = {
    "ok": "thành công / succeeded",
    "failed": "lỗi / failed",
    "refused": "bị từ chối (vượt ngưỡng an toàn) / refused (safety threshold)",
    "invalid": "dữ liệu không hợp lệ / invalid input",
    "interrupted": "bị dừng giữa chừng / interrupted",
}


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
    yield f"Tiến trình / worker: pid {pid}, khởi động / started {started}"
    last = status.get("last_run")
    if not last:
        yield "Lần chạy gần nhất / last run: chưa có / none yet"
    else:
        result = _RESULTS.get(str(last.get("result")), str(last.get("result")))
        yield f"Lần chạy gần nhất / last run: {last.get('id')} ({last.get('trigger')}): {result}"
        yield f"  bắt đầu / started {last.get('started')}, xong / finished {last.get('finished')}"
        actions = last.get("actions") or {}
        done = ", ".join(f"{kind} {n}" for kind, n in sorted(actions.items())) or "không / none"
        yield f"  thay đổi / changes: {done}; lỗi / failed: {last.get('failed', 0)}"
        if last.get("error"):
            yield f"  chi tiết / detail: {last['error']}"
    yield f"Lần chạy kế tiếp / next run: {status.get('next_run') or 'chưa lên lịch / none'}"
    due = status.get("pending_due_dates") or []
    yield f"Ngày hiệu lực sắp tới / pending due dates: {', '.join(due) or 'không / none'}"
    if status.get("retry_at"):
        yield f"Thử lại lúc / retry at: {status['retry_at']}"
    queued = status.get("queued")
    yield f"Đang chờ / queued: {queued or 'không / none'}"


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
    yield (
        f"Dòng HR đẩy sang đang có hiệu lực / pushed rows in force: {len(rows)} "
        "(đến khi tệp xuất mới thay đổi dòng của người đó / until an export changes that person)"
    )
    for row in rows:
        since = f" từ / from {row['effective_date']}" if row["effective_date"] else ""
        yield (
            f"  {row['employee_id']}: {row['status']}{since} — push {row['push_sha256'][:12]}, "
            f"{row['received']}, {row['peer']}"
        )
