"""What the command line prints around a plan, an apply and a quarantine, Vietnamese first.

The plan's own sections are titled in `syncbot.wording.titles` and explained in
`syncbot.wording.reasons`; these are the lines around them. Messages meant for logs and
scripts (usage errors on stderr) stay in English beside the code that raises them.
"""

from __future__ import annotations

from datetime import date

from syncbot.wording.pair import Pair, both

#: A plan line's roster row, as the roster's own reader (a Vietnamese clerk) says it.
ROW = "dòng"
SINCE: Pair = ("từ", "since")
DUE: Pair = ("hạn", "due")
FOR_REVIEW: Pair = (
    "Cần xem xét (không tự động thay đổi)",
    "For review (never changed automatically)",
)
NOTHING_TO_CHANGE: Pair = ("Không có thay đổi nào.", "Nothing to change.")
SAFETY_THRESHOLD: Pair = ("Vượt ngưỡng an toàn", "Safety threshold")
NOT_FOUND: Pair = ("Không tìm thấy", "not found")
#: What answers yes to the apply question, in either language, with or without diacritics.
YES = frozenset({"y", "yes", "c", "có", "co"})


def roster_lines(path: str, sha256: str, rows: int, today: date, matched: str) -> list[str]:
    """A plan's header: which roster, how many rows, what was matched on each target."""
    return [
        f"{both(('Hồ sơ nhân sự', 'Roster'))}: {path}",
        f"  sha256 {sha256}, {rows} {both(('dòng', 'rows'))}, ngày {today}",
        f"  {both(('Đã ghép', 'matched'))}: {matched or '—'}",
    ]


def plan_summary(changes: int, people: int, parts: str) -> str:
    return both(
        (
            f"Kế hoạch: {changes} thay đổi cho {people} người",
            f"Plan: {changes} changes for {people} people ({parts}).",
        )
    )


def apply_question(count: int) -> str:
    return both((f"Áp dụng {count} thay đổi?", f"Apply {count} changes?")) + " [y/N] "


def applied(succeeded: int, failed: int) -> str:
    return f"{both(('Đã áp dụng', 'applied'))}: {succeeded} ok, {failed} {both(('lỗi', 'failed'))}."


def leak_list_lines(path: str, sha256: str, names: int) -> list[str]:
    """A quarantine's header: which leak list, how many names."""
    return [
        f"{both(('Danh sách lộ lọt', 'Leak list'))}: {path}",
        f"  sha256 {sha256}, {names} {both(('tên', 'names'))}",
    ]


def no_worker_status(path: str) -> str:
    # English first: it goes to stderr, where scripts and logs read it.
    return f"syncbot: no worker status at {path} / chưa có trạng thái tiến trình"
