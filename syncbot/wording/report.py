"""The reports' words and table headings in Vietnamese (the default) and English.

The words every report shares, then each report's own table, which starts from `SHARED`, so
a translator finds every heading of every report in this one file.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncbot.duty_settings import CharClass, Response
from syncbot.model import Status
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

#: The words of the changes report.
CHANGES: dict[str, Pair] = {
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


#: The words of the password compliance report.
COMPLIANCE: dict[str, Pair] = {
    **SHARED,
    "title": ("Báo cáo tuân thủ chính sách mật khẩu", "Password compliance report"),
    "accounts": ("Tình trạng mật khẩu từng tài khoản", "Password status of every account"),
    "changed": ("Đổi mật khẩu lần cuối", "Password last set"),
    "age": ("Tuổi mật khẩu (ngày)", "Password age (days)"),
    "standing": ("Tình trạng", "Status"),
    "due": ("Hạn", "Deadline"),
    # A password's standing (report.compliance.Standing, a StrEnum: its value finds it).
    "ok": ("Đạt", "Compliant"),
    "never_changed": ("Chưa đổi mật khẩu được cấp", "Issued password never changed"),
    "expired": ("Quá hạn đổi mật khẩu", "Password past its maximum age"),
    "waiting": ("Đã yêu cầu đổi, chờ người dùng", "Change required, waiting for the user"),
    "count": ("Số tài khoản", "Accounts"),
    "share": ("Tỷ lệ đạt (%)", "Compliant (%)"),
    "chart_unit": ("Tuân thủ theo đơn vị", "Compliance by unit"),
    "chart_standing": ("Số tài khoản theo tình trạng", "Accounts by status"),
    "series_ok": ("Đạt", "Compliant"),
    "series_bad": ("Chưa đạt", "Not compliant"),
    "series_waiting": ("Chờ người dùng đổi", "Waiting for the user"),
    "settings": (
        "Chính sách mật khẩu trên từng hệ thống: yêu cầu và đang áp dụng",
        "Each system's password policy: wanted and in force",
    ),
    "setting": ("Thiết lập", "Setting"),
    "wanted": ("Yêu cầu", "Wanted"),
    "in_force": ("Đang áp dụng", "In force"),
    "unset": ("(chưa đặt)", "(not set)"),
    "unread": ("(không đọc được)", "(could not be read)"),
    "matches": ("Khớp", "Matches"),
    "drift_planned": (
        "Lệch — lần áp dụng tới (syncbot apply) sẽ đặt lại",
        "Differs — the next apply (syncbot apply) sets it",
    ),
    "drift": ("Lệch", "Differs"),
    "unsupported": (
        "Hệ thống không tự thực thi được điều này",
        "The system cannot enforce this itself",
    ),
    "term": ("(điều khoản chính sách)", "(policy term)"),
    "min_length": ("Độ dài mật khẩu tối thiểu", "Minimum password length"),
    "classes": ("Loại ký tự bắt buộc", "Character classes required"),
    "not_username": ("Không được trùng tên đăng nhập", "Must differ from the username"),
    "history": ("Không dùng lại số mật khẩu gần nhất", "Recent passwords not reused"),
    "max_age": ("Thời hạn đổi mật khẩu (ngày)", "Maximum password age (days)"),
    "never_response": ("Xử lý mật khẩu được cấp chưa đổi", "Issued passwords never changed"),
    "expired_response": ("Xử lý mật khẩu quá hạn", "Passwords past the maximum age"),
    "deadline": ("Hạn chót tuân thủ", "Compliance deadline"),
    "issued_within": (
        "Mật khẩu đặt trong vòng (phút) sau khi tạo tài khoản được coi là mật khẩu được cấp",
        "A password set within (minutes) of the account's creation counts as issued",
    ),
    Response.OFF: ("không áp dụng", "off"),
    Response.REPORT: ("chỉ báo cáo", "report only"),
    Response.REQUIRE_CHANGE: ("buộc đổi ở lần đăng nhập tới", "change required at next sign-in"),
    CharClass.UPPER: ("chữ hoa", "upper case"),
    CharClass.LOWER: ("chữ thường", "lower case"),
    CharClass.DIGIT: ("chữ số", "digit"),
    CharClass.SPECIAL: ("ký tự đặc biệt", "special character"),
    "not_watching": (
        "Cấu hình chưa bật kiểm tra mật khẩu tài khoản ([password_policy] never_changed và "
        "expired đều là off): hệ thống nào chỉ đọc ngày đổi mật khẩu khi được yêu cầu "
        "(Keycloak) sẽ không có trong danh sách.",
        "The config does not watch account passwords ([password_policy] never_changed and "
        "expired are both off): systems that read password dates only when asked (Keycloak) "
        "are missing from the list.",
    ),
    "empty": (
        "Không có tài khoản nào có mật khẩu riêng để đánh giá.",
        "No account with a password of its own to assess.",
    ),
}

#: The words of the dormant accounts report.
DORMANT: dict[str, Pair] = {
    **SHARED,
    "title": ("Báo cáo tài khoản không sử dụng", "Dormant accounts report"),
    "accounts": (
        "Danh sách tài khoản không sử dụng, theo đơn vị",
        "Dormant accounts, by unit",
    ),
    "last_sign_in": ("Lần đăng nhập cuối", "Last sign-in"),
    "idle_days": ("Số ngày không sử dụng", "Days unused"),
    "none_since": ("chưa ghi nhận từ {day}", "none recorded since {day}"),
    "dormant": ("Số tài khoản không sử dụng", "Dormant accounts"),
    "lock_later": ("Sẽ khóa sau", "To be locked later"),
    "report_only": ("Chỉ báo cáo", "Reported only"),
    "chart_unit": ("Tài khoản không sử dụng theo đơn vị", "Dormant accounts by unit"),
    "days": ("Không sử dụng bao nhiêu ngày thì báo cáo", "Days unused before an account is listed"),
    "recorded_since": ("Ghi nhận đăng nhập từ ngày", "Sign-ins recorded since"),
    "disable_after": (
        "Khóa sau khi đã không sử dụng thêm (ngày)",
        "Locked this many days after becoming dormant",
    ),
    "no_lock": ("không khóa, chỉ báo cáo", "never locked, reported only"),
    "exempt": ("Không áp dụng cho cán bộ có trạng thái", "Not applied to staff whose status is"),
    Status.ACTIVE: ("đang công tác", "active"),
    Status.DEPARTED: ("nghỉ việc", "departed"),
    Status.TRANSFERRED: ("chuyển công tác", "transferred"),
    Status.ON_LEAVE: ("tạm nghỉ (nghỉ dài hạn, đi học, thai sản)", "on leave"),
    "empty": (
        "Không có tài khoản nào không sử dụng quá số ngày quy định.",
        "No account has gone unused for the configured number of days.",
    ),
    "no_dormancy": (
        "no [dormancy] section in the config: the dormant report needs days and recorded_since",
        "no [dormancy] section in the config: the dormant report needs days and recorded_since",
    ),
}

#: The words of the report of accounts with no HR record.
ORPHANS: dict[str, Pair] = {
    **SHARED,
    "title": ("Báo cáo tài khoản không có trong hồ sơ nhân sự", "Accounts with no HR record"),
    "accounts": ("Danh sách tài khoản không có hồ sơ nhân sự", "Accounts with no HR record"),
    "created": ("Ngày tạo", "Created"),
    "state": ("Trạng thái", "State"),
    "open": ("Đang mở", "Open"),
    "locked": ("Đã khóa", "Locked"),
    "by_system": ("Tổng hợp theo hệ thống", "Summary by system"),
    "chart_system": ("Tài khoản không có hồ sơ theo hệ thống", "Accounts with no HR record"),
    "disable": ("Khóa tài khoản không có hồ sơ nhân sự", "Lock accounts with no HR record"),
    "grace": (
        "Thời gian chờ trước khi khóa, tính từ ngày tạo (ngày)",
        "Days after creation before a lock",
    ),
    "left_out": ("Không liệt kê", "Not listed"),
    "left_out_value": (
        "tài khoản được bảo vệ (quản trị, dịch vụ) theo mục [protected] của cấu hình",
        "protected accounts (administrators, services) named in the config's [protected]",
    ),
    "empty": (
        "Mọi tài khoản đều khớp với một cán bộ trong hồ sơ nhân sự.",
        "Every account matches a person in the HR roster.",
    ),
}

#: What every duty report (compliance, dormant, orphans) says about where its figures come from.
DUTY_SHARED: dict[str, Pair] = {
    **{k: SHARED[k] for k in ("generated", "timezone", "timezone_value", "total")},
    "config": ("Tệp cấu hình", "Config file"),
    "as_of": ("Số liệu tính đến ngày", "Figures as of"),
    "roster": ("Tệp hồ sơ nhân sự", "HR roster file"),
    "roster_sha": ("Mã SHA-256 của tệp nhân sự", "SHA-256 of the roster file"),
    "roster_rows": ("Số cán bộ trong tệp", "People in the roster"),
    "systems": ("Hệ thống đã đọc", "Systems read"),
    "source": ("Nguồn số liệu", "Source"),
    "source_value": (
        "Đọc trực tiếp từ các hệ thống lúc lập báo cáo; không thay đổi gì",
        "Read from the systems when the report was made; nothing was changed",
    ),
    "no_record": ("(không có trong hồ sơ nhân sự)", "(no HR record)"),
    "none": ("—", "—"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "off": ("không áp dụng", "off"),
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
    return pick(CHANGES, key, lang)
