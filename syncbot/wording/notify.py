"""What the operator notifications say: subject lines and texts, Vietnamese or English.

One language per message (`[notify] language`), not both: a phone's notification shows the
first line only. The thresholds crossed are quoted as the safety check words them (English,
with the setting's name), so they match the log line and `syncbot plan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from syncbot.model import ActionKind
from syncbot.wording.pair import Pair, choose
from syncbot.wording.reasons import vn_date
from syncbot.wording.titles import ACTION_TITLES

#: (kind, state) -> subject line, after the "[syncbot HOST]" prefix.
SUBJECTS: dict[tuple[str, str], Pair] = {
    ("refused", "open"): (
        "Lần chạy bị từ chối do vượt ngưỡng an toàn, cần người duyệt",
        "Run refused by a safety threshold, approval needed",
    ),
    ("refused", "cleared"): (
        "Đã hết: lần chạy không còn bị ngưỡng an toàn chặn",
        "Cleared: runs are no longer refused by a safety threshold",
    ),
    ("target_down", "open"): (
        "Không kết nối được hệ thống đích",
        "Target unreachable",
    ),
    ("target_down", "cleared"): (
        "Đã hết: kết nối lại được hệ thống đích",
        "Cleared: targets reachable again",
    ),
    ("invalid", "open"): (
        "Lần chạy thất bại: hồ sơ nhân sự hoặc cấu hình không hợp lệ",
        "Run failed: invalid roster or config",
    ),
    ("invalid", "cleared"): (
        "Đã hết: hồ sơ nhân sự và cấu hình hợp lệ trở lại",
        "Cleared: roster and config valid again",
    ),
    ("run_failed", "open"): ("Lần chạy thất bại", "Run failed"),
    ("run_failed", "cleared"): (
        "Đã hết: lần chạy thành công trở lại",
        "Cleared: runs succeed again",
    ),
    ("steps_failed", "open"): ("Một số bước thay đổi thất bại", "Some steps failed"),
    ("steps_failed", "cleared"): (
        "Đã hết: không còn bước thay đổi thất bại",
        "Cleared: no steps fail any more",
    ),
    ("audit_broken", "open"): (
        "Nhật ký kiểm toán bị hỏng hoặc bị sửa",
        "Audit log chain broken",
    ),
    ("audit_broken", "cleared"): (
        "Đã hết: chuỗi nhật ký kiểm toán nguyên vẹn trở lại",
        "Cleared: the audit log chain is whole again",
    ),
    ("worker_recovered", "notice"): (
        "Tiến trình syncbot run đã khởi động lại sau khi dừng bất thường",
        "The worker started again after an unclean stop",
    ),
    ("departures_due", "notice"): (
        "Người sắp nghỉ việc / chuyển công tác",
        "Departures and transfers due soon",
    ),
    ("test", "notice"): ("Thư thử nghiệm thông báo", "Test notification"),
}

#: What started a run, by the trigger name the worker logs; another name is shown as it is.
TRIGGERS: dict[str, Pair] = {
    "startup": ("khởi động", "start-up"),
    "file": ("tệp xuất nhân sự mới", "a new HR export"),
    "push": ("HR đẩy thay đổi", "an HR push"),
    "schedule": ("lịch định kỳ", "the interval"),
    "daily": ("lịch hằng ngày", "the daily schedule"),
    "due": ("ngày hiệu lực", "a due date"),
    "retry": ("thử lại sau lỗi", "a retry"),
    "reload": ("nạp lại cấu hình", "a reload"),
    "approval": ("kế hoạch được duyệt", "an approval"),
}
RUN: Pair = ("Lần chạy", "Run")
TRIGGER: Pair = ("kích hoạt bởi", "triggered by")
SINCE: Pair = ("Bắt đầu từ", "Since")
CLEARED_AT: Pair = ("Kết thúc lúc", "Cleared at")
CLEARED_BY: Pair = ("Lần chạy kết thúc sự cố", "Cleared by run")
ERROR: Pair = ("Lỗi", "Error")
NOTHING_CHANGED: Pair = (
    "Chưa có thay đổi nào được áp dụng.",
    "Nothing was changed.",
)
THRESHOLDS: Pair = ("Ngưỡng bị vượt:", "Thresholds crossed:")
PLANNED: Pair = ("Kế hoạch bị từ chối gồm:", "The refused plan holds:")
PLAN_ID: Pair = ("Mã kế hoạch", "Plan id")
APPROVE: Pair = (
    "Sau khi xem xét, duyệt bằng lệnh:",
    "After review, approve it with:",
)
NO_PLAN_ID: Pair = (
    "Xem kế hoạch bằng `syncbot plan`; sau khi xem xét, áp dụng bằng `syncbot apply --force`.",
    "Review it with `syncbot plan`; after review, apply it with `syncbot apply --force`.",
)
ONCE: Pair = (
    "Các lần chạy lại có cùng kết quả sẽ không gửi thêm thông báo; khi sự cố hết sẽ có thông báo.",
    "Retries with the same result send nothing more; you will be told when this clears.",
)
FAILED_STEPS: Pair = ("Số bước thất bại", "Failed steps")
RETRIED: Pair = (
    "Các bước thất bại đã được ghi vào nhật ký kiểm toán; lần chạy sau sẽ thử lại.",
    "The failed steps are in the audit log; the next run retries them.",
)
RECOVERED: Pair = (
    "Lần trước tiến trình không dừng bình thường (bị kill, hết bộ nhớ, mất điện hoặc lỗi).",
    "The previous worker did not stop cleanly (killed, out of memory, power loss or a crash).",
)
PREVIOUS: Pair = (
    "Tiến trình trước: pid {pid}, khởi động lúc {started}",
    "Previous worker: pid {pid}, started {started}",
)
LAST_RUN: Pair = ("Lần chạy cuối được ghi nhận", "Last run recorded")
RECOVERY_HINT: Pair = (
    "Bước dở dang (nếu có) được kiểm tra lại ở lần chạy đầu tiên; xem `syncbot status` và "
    "`journalctl -u syncbot`.",
    "A step left half-done, if any, is checked again by the first run; see `syncbot status` "
    "and `journalctl -u syncbot`.",
)
AUDIT_HINT: Pair = (
    "Kiểm tra bằng `syncbot audit verify` và so với bản sao lưu.",
    "Check it with `syncbot audit verify` and compare with the backup.",
)
DIGEST_INTRO: Pair = (
    "{n} người có ngày nghỉ việc / chuyển công tác trong {days} ngày tới:",
    "{n} people leave or move within the next {days} days:",
)
TEST_BODY: Pair = (
    "Đây là thư thử nghiệm từ `syncbot notify test`. Kênh thông báo này hoạt động.",
    "This is a test message from `syncbot notify test`. This channel works.",
)
HOST: Pair = ("Máy chủ", "Host")


def subject(kind: str, state: str, details: Mapping[str, Any], lang: str, host: str) -> str:
    text = choose(SUBJECTS[(kind, state)], lang)
    if kind == "target_down" and state == "open":
        minutes = details.get("minutes", 0)
        text += f" ({minutes} phút)" if lang == "vi" else f" ({minutes} minutes)"
    if kind == "departures_due":
        text += f": {len(details.get('people', ()))}"
    return f"[syncbot {host}] {text}"


def body(kind: str, state: str, details: Mapping[str, Any], lang: str, host: str) -> str:
    """The message's text; every line a reader acts on, the host last."""
    lines: list[str]
    if state == "cleared":
        lines = _cleared(details, lang)
    elif kind == "refused":
        lines = _refused(details, lang)
    elif kind in ("target_down", "invalid", "run_failed", "steps_failed"):
        lines = _failed(kind, details, lang)
    elif kind == "audit_broken":
        lines = [f"{choose(ERROR, lang)}: {details.get('problem')}", choose(AUDIT_HINT, lang)]
    elif kind == "worker_recovered":
        lines = _recovered(details, lang)
    elif kind == "departures_due":
        lines = _digest(details, lang)
    else:
        lines = [choose(TEST_BODY, lang)]
    return "\n".join([*lines, "", f"{choose(HOST, lang)}: {host}"]) + "\n"


def _run_line(details: Mapping[str, Any], lang: str) -> str:
    run, trigger = details.get("run_id"), str(details.get("trigger"))
    trigger = choose(TRIGGERS[trigger], lang) if trigger in TRIGGERS else trigger
    return f"{choose(RUN, lang)} {run} ({choose(TRIGGER, lang)} {trigger})"


def _refused(details: Mapping[str, Any], lang: str) -> list[str]:
    lines = [f"{_run_line(details, lang)}. {choose(NOTHING_CHANGED, lang)}", ""]
    lines.append(choose(THRESHOLDS, lang))
    lines.extend(f"- {problem}" for problem in _problems(details.get("error")))
    actions = details.get("actions") or {}
    if actions:
        lines += ["", choose(PLANNED, lang)]
        lines.extend(f"- {_action_title(kind, lang)}: {count}" for kind, count in actions.items())
    lines.append("")
    plan_id = details.get("plan_id")
    if plan_id:
        lines.append(f"{choose(PLAN_ID, lang)}: {plan_id}")
        lines.append(f"{choose(APPROVE, lang)} syncbot approve {str(plan_id)[:12]}")
    else:
        lines.append(choose(NO_PLAN_ID, lang))
    lines += ["", choose(ONCE, lang)]
    return lines


def _failed(kind: str, details: Mapping[str, Any], lang: str) -> list[str]:
    lines = [_run_line(details, lang) + "."]
    if kind == "target_down":
        lines.append(f"{choose(SINCE, lang)}: {_when(details.get('since'))}")
    if kind == "steps_failed":
        lines.append(f"{choose(FAILED_STEPS, lang)}: {details.get('failed')}")
    lines.append(f"{choose(ERROR, lang)}: {details.get('error')}")
    if kind == "steps_failed":
        lines.append(choose(RETRIED, lang))
    lines += ["", choose(ONCE, lang)]
    return lines


def _cleared(details: Mapping[str, Any], lang: str) -> list[str]:
    lines = [
        f"{choose(SINCE, lang)}: {_when(details.get('since'))}",
        f"{choose(CLEARED_AT, lang)}: {_when(details.get('cleared'))}",
    ]
    if details.get("run_id"):
        lines.append(f"{choose(CLEARED_BY, lang)}: {details['run_id']}")
    return lines


def _recovered(details: Mapping[str, Any], lang: str) -> list[str]:
    lines = [choose(RECOVERED, lang)]
    if details.get("pid"):
        previous = choose(PREVIOUS, lang)
        lines.append(previous.format(pid=details["pid"], started=_when(details.get("started"))))
    last = details.get("last_run")
    if isinstance(last, Mapping):
        lines.append(
            f"{choose(LAST_RUN, lang)}: {last.get('id')}, {last.get('result')}, "
            f"{_when(last.get('finished'))}"
        )
    lines.append(choose(RECOVERY_HINT, lang))
    return lines


def _digest(details: Mapping[str, Any], lang: str) -> list[str]:
    people: Sequence[Mapping[str, Any]] = details.get("people", ())
    lines = [choose(DIGEST_INTRO, lang).format(n=len(people), days=details.get("days"))]
    for person in people:
        due = date.fromisoformat(person["due"])
        reason = person.get("reason_en" if lang == "en" else "reason_vi") or ""
        who = person.get("employee_id") or person.get("account") or "?"
        lines.append(f"- {vn_date(due)}  {who}: {reason}")
    return lines


def _problems(error: Any) -> list[str]:
    # The worker joins the thresholds crossed with "; " (syncbot.worker.loop).
    return [p for p in str(error or "").split("; ") if p]


def _action_title(kind: str, lang: str) -> str:
    try:
        return choose(ACTION_TITLES[ActionKind(kind)], lang)
    except ValueError:
        return kind


def _when(value: Any) -> str:
    """An ISO timestamp as the reader's local clock shows it: dd/mm/yyyy HH:MM."""
    if not value:
        return "?"
    try:
        return datetime.fromisoformat(str(value)).astimezone().strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return str(value)
