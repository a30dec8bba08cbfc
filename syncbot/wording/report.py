"""The reports' words and table headings in Vietnamese (the default) and English.

The words every report shares and the changes report's own; each duty report keeps its own
table beside it, keyed by its own enums, and starts from `SHARED`.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncbot.wording.pair import Pair

LANGS = ("vi", "en")

Words = Mapping[str, Pair]

#: Words more than one report uses, spelt once so an inspector reads the same heading and
#: the same header line in every document.
SHARED: dict[str, Pair] = {
    "no": ("STT", "No."),
    "name": ("Họ và tên", "Full name"),
    "unit": ("Đơn vị", "Unit"),
    "account": ("Tài khoản", "Account"),
    "email": ("Email", "Email"),
    "system": ("Hệ thống", "System"),
    "employee_id": ("Mã cán bộ", "Employee ID"),
    "total": ("Tổng", "Total"),
    "generated": ("Thời điểm lập báo cáo", "Generated"),
    "timezone": ("Múi giờ hiển thị", "Times shown in"),
    "timezone_value": ("Giờ Việt Nam (UTC+7)", "Vietnam time (UTC+7)"),
    "lock_on": ("Sẽ khóa từ ngày", "Locked from"),
    "lock_next": ("Khóa ở lần áp dụng tới", "Locked by the next apply"),
    "by_unit": ("Tổng hợp theo đơn vị", "Summary by unit"),
}

_WORDS: dict[str, Pair] = {
    **SHARED,
    "title": ("Báo cáo thay đổi tài khoản", "Account changes report"),
    "period": ("Khoảng thời gian", "Period"),
    "audit_file": ("Tệp nhật ký kiểm toán", "Audit log file"),
    "audit_records": ("Số bản ghi trong nhật ký", "Records in the log"),
    "audit_last_hash": ("Mã băm bản ghi cuối (còn nguyên vẹn)", "Hash of the last intact record"),
    "changes_in_period": ("Số thay đổi trong kỳ", "Changes in the period"),
    "chain_ok": ("Chuỗi băm nguyên vẹn", "Hash chain intact"),
    "chain_state": ("Kiểm tra chuỗi băm", "Hash chain check"),
    "broken": (
        "Nhật ký kiểm toán bị sửa đổi từ dòng {line} — số liệu có thể không đầy đủ",
        "The audit log was altered from line {line} — figures may be incomplete",
    ),
    "broken_detail": ("Chi tiết", "Detail"),
    "empty": (
        "Không có thay đổi nào trong khoảng thời gian này.",
        "No changes were made in this period.",
    ),
    "none": ("(không có)", "(none)"),
    "changes": ("Các thay đổi", "Changes"),
    "time": ("Thời gian", "Time"),
    "change": ("Thay đổi", "Change"),
    "reason": ("Lý do", "Reason"),
    "evidence": ("Căn cứ", "Evidence"),
    "result": ("Kết quả", "Result"),
    "run": ("Lần chạy", "Run"),
    "ok": ("Thành công", "OK"),
    "failed": ("Lỗi", "Failed"),
    "row": ("dòng", "row"),
    "unknown_error": ("không rõ", "unknown"),
    "by_kind": ("Tổng hợp theo loại thay đổi", "Summary by kind of change"),
    "by_day": ("Tổng hợp theo ngày", "Summary by day"),
    "day": ("Ngày", "Day"),
    "runs": ("Các lần chạy", "Runs"),
    "started": ("Bắt đầu", "Started"),
    "actor": ("Người chạy", "Run by"),
    "forced": ("Vượt ngưỡng an toàn (--force)", "Safety thresholds forced"),
    "chart_kind": ("Số thay đổi theo loại", "Changes by kind"),
    "chart_day": ("Số thay đổi theo ngày", "Changes per day"),
    "chart_result": ("Thành công và lỗi", "Succeeded and failed"),
    "no_unit": (
        "(không theo hồ sơ cán bộ: chính sách, tài khoản không có hồ sơ)",
        "(not about a rostered person: policy, accounts with no HR record)",
    ),
    "chart_unit": ("Số thay đổi theo đơn vị", "Changes by unit"),
}


def require_lang(lang: str) -> None:
    """Refuse an unknown language before a report is built, not halfway through it."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")


def pick(words: Words, key: str, lang: str) -> str:
    """One entry of a word list: Vietnamese first, English on request."""
    vi, en = words[key]
    return vi if lang == "vi" else en


def say(key: str, lang: str) -> str:
    """A word of the changes report (and the words every report shares)."""
    return pick(_WORDS, key, lang)
