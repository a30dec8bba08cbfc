"""The report's words in Vietnamese (the default) and English."""

from __future__ import annotations

LANGS = ("vi", "en")

_WORDS: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo thay đổi tài khoản", "Account changes report"),
    "period": ("Khoảng thời gian", "Period"),
    "generated": ("Thời điểm lập báo cáo", "Generated"),
    "timezone": ("Múi giờ hiển thị", "Times shown in"),
    "timezone_value": ("Giờ Việt Nam (UTC+7)", "Vietnam time (UTC+7)"),
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
    "no": ("STT", "No."),
    "time": ("Thời gian", "Time"),
    "account": ("Tài khoản", "Account"),
    "employee_id": ("Mã cán bộ", "Employee ID"),
    "system": ("Hệ thống", "System"),
    "change": ("Thay đổi", "Change"),
    "reason": ("Lý do", "Reason"),
    "evidence": ("Căn cứ", "Evidence"),
    "result": ("Kết quả", "Result"),
    "run": ("Lần chạy", "Run"),
    "ok": ("Thành công", "OK"),
    "failed": ("Lỗi", "Failed"),
    "total": ("Tổng", "Total"),
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
}


def say(key: str, lang: str) -> str:
    vi, en = _WORDS[key]
    return vi if lang == "vi" else en
