"""What each kind of step and finding is called, in Vietnamese and English.

The plan a person reads on a terminal (`syncbot.cli.plan_view`) and the changes report
(`syncbot.report.changes`) head their sections with these, so both are spelt here, outside
the command layer the report does not otherwise need. The order of `ACTION_TITLES` is the
order a plan lists its sections in.
"""

from __future__ import annotations

from syncbot.model import ActionKind, FindingKind
from syncbot.wording.pair import Pair

ACTION_TITLES: dict[ActionKind, Pair] = {
    ActionKind.CONFIGURE: ("Cấu hình chính sách của hệ thống", "Configure target settings"),
    ActionKind.DISABLE: ("Khóa tài khoản", "Disable account"),
    ActionKind.SIGN_OUT: ("Đăng xuất, thu hồi token", "Sign out, revoke tokens"),
    ActionKind.REQUIRE_PASSWORD_CHANGE: ("Buộc đổi mật khẩu", "Require a password change"),
    ActionKind.REVOKE: ("Thu hồi vai trò / nhóm", "Revoke role or group"),
    ActionKind.CHANGE_UNIT: ("Chuyển nhóm đơn vị", "Change unit group"),
    ActionKind.ENABLE: ("Mở lại tài khoản", "Re-enable account"),
    ActionKind.GRANT: ("Cấp vai trò", "Grant role"),
}
FINDING_TITLES: dict[FindingKind, Pair] = {
    FindingKind.ORPHAN: ("Tài khoản không có trong hồ sơ nhân sự", "Orphan accounts"),
    FindingKind.NO_ACCOUNT: ("Cán bộ chưa có tài khoản", "Staff with no account"),
    FindingKind.FUTURE_DEPARTURE: ("Sắp nghỉ / chuyển công tác", "Departures due later"),
    FindingKind.FUTURE_CHANGE: ("Thay đổi chưa đến ngày hiệu lực", "Changes not yet in force"),
    FindingKind.AMBIGUOUS: ("Không xác định được tài khoản", "Ambiguous matches"),
    FindingKind.UNKNOWN_POSITION: ("Chức vụ chưa ánh xạ", "Unmapped positions"),
    FindingKind.UNKNOWN_UNIT: ("Đơn vị chưa ánh xạ", "Unmapped units"),
    FindingKind.MISSING_ENTITLEMENT: ("Nhóm được ánh xạ nhưng không tồn tại", "Missing groups"),
    FindingKind.LOCKED_BY_OTHERS: ("Tài khoản bị khóa thủ công", "Locked by someone else"),
    FindingKind.LEAKED_NOT_FOUND: ("Không tìm thấy / not found", "Leaked names not found"),
    FindingKind.LEAKED_PROTECTED: ("Tài khoản được bảo vệ, không xử lý", "Protected, left alone"),
    FindingKind.PASSWORD_NEVER_CHANGED: (
        "Mật khẩu được cấp chưa đổi lần nào",
        "Issued passwords never changed",
    ),
    FindingKind.PASSWORD_EXPIRED: ("Mật khẩu quá hạn chưa đổi", "Passwords past their maximum age"),
    FindingKind.DORMANT: ("Tài khoản không sử dụng", "Dormant accounts"),
    FindingKind.FAILED_SIGN_INS: ("Đăng nhập sai nhiều lần", "Repeated failed sign-ins"),
    FindingKind.SETTING_UNSUPPORTED: (
        "Yêu cầu chính sách chưa áp dụng được",
        "Policy terms the target cannot enforce",
    ),
}
