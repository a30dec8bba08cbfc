"""Every sentence syncbot tells a person about a change, in Vietnamese first and in English.

One place for the wording keeps plans, audit records and reports saying the same thing.
"""

from __future__ import annotations

from datetime import date

from syncbot.model import Reason, RosterRow, Status


def vn_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "?"


def _left(row: RosterRow) -> tuple[str, str]:
    if row.status is Status.TRANSFERRED:
        return "chuyển công tác", "transferred out"
    return "nghỉ việc", "departed"


def disable(row: RosterRow) -> Reason:
    vi, en = _left(row)
    return Reason(
        vi=f"Cán bộ đã {vi} từ ngày {vn_date(row.effective_date)} "
        f"(trạng thái: {row.status_word}); khóa tài khoản.",
        en=f"Staff member {en} on {row.effective_date}; account locked "
        f"(status: {row.status_word}).",
    )


def sign_out(row: RosterRow) -> Reason:
    vi, en = _left(row)
    return Reason(
        vi=f"Cán bộ đã {vi} từ ngày {vn_date(row.effective_date)}; đăng xuất mọi phiên, "
        "thu hồi token ngoại tuyến và ủy quyền.",
        en=f"Staff member {en} on {row.effective_date}; every session ended, offline tokens "
        "and consents revoked.",
    )


def federated(reason: Reason) -> Reason:
    """Say which side acts for an account Keycloak imports from LDAP."""
    return Reason(
        vi=reason.vi + " (Tài khoản liên kết LDAP: vai trò realm và nhóm do phía LDAP xử lý.)",
        en=reason.en + " (LDAP-federated account: realm roles and groups are the LDAP side's.)",
    )


def offboard_revoke(row: RosterRow, what_vi: str, what_en: str) -> Reason:
    vi, en = _left(row)
    return Reason(
        vi=f"Cán bộ đã {vi} từ ngày {vn_date(row.effective_date)}; thu hồi {what_vi}.",
        en=f"Staff member {en} on {row.effective_date}; {what_en} removed.",
    )


def enable(row: RosterRow, disabled_on: str | None) -> Reason:
    since = f" (syncbot đã khóa ngày {disabled_on})" if disabled_on else ""
    since_en = f" (locked by syncbot on {disabled_on})" if disabled_on else ""
    return Reason(
        vi=f"Cán bộ đang công tác trở lại theo hồ sơ nhân sự{since}; mở lại tài khoản.",
        en=f"HR lists the person as active again{since_en}; account re-enabled.",
    )


def grant(row: RosterRow, role: str, explicit: bool, restored: bool) -> Reason:
    if restored:
        return Reason(
            vi=f"Khôi phục vai trò {role} đã có trước khi nghỉ.",
            en=f"Role {role} restored as held before the departure.",
        )
    source_vi = "vai trò ghi trong hồ sơ" if explicit else f"chức vụ {row.position}"
    source_en = "role stated in the roster" if explicit else f"position {row.position}"
    return Reason(
        vi=f"Cấp vai trò {role} theo {source_vi}.",
        en=f"Role {role} granted per {source_en}.",
    )


def revoke_drift(row: RosterRow, role: str, expected: str | None) -> Reason:
    should = f"; vai trò đúng: {expected}" if expected else ""
    should_en = f"; expected role: {expected}" if expected else ""
    return Reason(
        vi=f"Vai trò {role} không phù hợp với chức vụ {row.position} theo hồ sơ nhân sự{should}.",
        en=f"Role {role} is not justified by HR position {row.position}{should_en}.",
    )


def change_unit(row: RosterRow, old: list[str], new: str | None) -> Reason:
    if old and new:
        return Reason(
            vi=f"Điều động nội bộ từ {', '.join(old)} sang {new}.",
            en=f"Internal transfer from {', '.join(old)} to {new}.",
        )
    if new:
        return Reason(vi=f"Bổ sung vào nhóm đơn vị {new}.", en=f"Added to unit group {new}.")
    return Reason(
        vi=f"Rời nhóm đơn vị {', '.join(old)}: không khớp đơn vị {row.unit}.",
        en=f"Removed from unit group {', '.join(old)}: does not match unit {row.unit}.",
    )


def orphan(username: str) -> Reason:
    return Reason(
        vi=f"Tài khoản {username} đang hoạt động nhưng không có trong hồ sơ nhân sự.",
        en=f"Account {username} is enabled but has no HR record.",
    )


def no_account(row: RosterRow) -> Reason:
    return Reason(
        vi=f"{row.full_name} ({row.employee_id}) đang công tác nhưng chưa có tài khoản.",
        en=f"{row.full_name} ({row.employee_id}) is active but has no account.",
    )


def future_departure(row: RosterRow) -> Reason:
    vi, en = _left(row)
    return Reason(
        vi=f"{row.full_name} sẽ {vi} từ ngày {vn_date(row.effective_date)}; "
        "tài khoản sẽ bị khóa vào ngày đó.",
        en=f"{row.full_name} will have {en} on {row.effective_date}; "
        "the account will be locked then.",
    )


def future_change(row: RosterRow) -> Reason:
    return Reason(
        vi=f"Thay đổi của {row.full_name} có hiệu lực từ ngày {vn_date(row.effective_date)}; "
        "chưa áp dụng.",
        en=f"Change for {row.full_name} takes effect on {row.effective_date}; not applied yet.",
    )


def ambiguous(ids: list[str], accounts: list[str]) -> Reason:
    return Reason(
        vi=f"Không xác định được tài khoản: mã cán bộ {', '.join(ids)} ↔ tài khoản "
        f"{', '.join(accounts)}; không thay đổi gì, cần kiểm tra thủ công.",
        en=f"Ambiguous match: employee ids {', '.join(ids)} ↔ accounts {', '.join(accounts)}; "
        "left untouched, needs a human.",
    )


def unknown_position(position: str, rows: list[int]) -> Reason:
    shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
    label = position or "(trống)"
    return Reason(
        vi=f"Chức vụ '{label}' chưa có trong bảng ánh xạ (dòng {shown}); không thay đổi vai trò.",
        en=f"Position '{position or '(empty)'}' is not in the mappings (rows {shown}); "
        "roles left unchanged.",
    )


def unknown_unit(unit: str, rows: list[int]) -> Reason:
    shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
    return Reason(
        vi=f"Đơn vị '{unit}' chưa có trong bảng ánh xạ (dòng {shown}); không thay đổi nhóm đơn vị.",
        en=f"Unit '{unit}' is not in the mappings (rows {shown}); unit groups left unchanged.",
    )


def missing_entitlement(entitlement: str) -> Reason:
    return Reason(
        vi=f"Nhóm/vai trò {entitlement} trong bảng ánh xạ không tồn tại trên hệ thống đích.",
        en=f"Mapped group or role {entitlement} does not exist in the target.",
    )


def locked_by_others(row: RosterRow, username: str) -> Reason:
    return Reason(
        vi=f"Tài khoản {username} của cán bộ đang công tác bị khóa nhưng không phải do syncbot; "
        "giữ nguyên, cần quản trị viên xem xét.",
        en=f"Account {username} of an active person was locked, not by syncbot; left locked "
        "for an administrator to review.",
    )


def _listed(file: str, line: int) -> tuple[str, str]:
    return (
        f"Tài khoản nằm trong danh sách lộ lọt ({file}, dòng {line})",
        f"Account is on the leaked-credentials list ({file}, line {line})",
    )


def leaked_disable(file: str, line: int) -> Reason:
    vi, en = _listed(file, line)
    return Reason(vi=f"{vi}; khóa tài khoản.", en=f"{en}; account locked.")


def leaked_sign_out(file: str, line: int) -> Reason:
    vi, en = _listed(file, line)
    return Reason(
        vi=f"{vi}; đăng xuất mọi phiên, thu hồi token ngoại tuyến và ủy quyền.",
        en=f"{en}; every session ended, offline tokens and consents revoked.",
    )


def leaked_password_change(file: str, line: int) -> Reason:
    vi, en = _listed(file, line)
    return Reason(
        vi=f"{vi}; buộc đổi mật khẩu ở lần đăng nhập tới.",
        en=f"{en}; a new password is required at next sign-in.",
    )


def leaked_not_found(name: str, file: str, line: int) -> Reason:
    return Reason(
        vi=f"Không tìm thấy tài khoản nào khớp '{name}' ({file}, dòng {line}); "
        "cần kiểm tra thủ công.",
        en=f"No account matches '{name}' ({file}, line {line}); check it by hand.",
    )


def leaked_protected(username: str, file: str, line: int) -> Reason:
    return Reason(
        vi=f"Tài khoản {username} nằm trong danh sách lộ lọt ({file}, dòng {line}) nhưng được "
        "bảo vệ; syncbot không thay đổi, quản trị viên cần xử lý thủ công.",
        en=f"Account {username} is on the leaked-credentials list ({file}, line {line}) but is "
        "protected; syncbot leaves it alone, an administrator must act by hand.",
    )
