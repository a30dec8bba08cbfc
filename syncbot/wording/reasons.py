"""Every sentence syncbot tells a person about a change, in Vietnamese first and in English.

One place for the wording keeps plans, audit records and reports saying the same thing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date

from syncbot.duty_settings import CharClass, PasswordPolicy
from syncbot.model import Reason, RosterRow, Setting, Status
from syncbot.wording.pair import Pair

#: Sentences that many people share (a mass departure on one date, a role drift on one
#: position) are built once and handed out again: they are frozen, and at 10k people with
#: 1,000 departures the plan otherwise holds a megabyte of equal strings.
_shared = functools.lru_cache(maxsize=256)


def vn_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "?"


def _left(row: RosterRow) -> tuple[str, str]:
    if row.status is Status.TRANSFERRED:
        return "chuyển công tác", "transferred out"
    return "nghỉ việc", "departed"


def disable(row: RosterRow) -> Reason:
    return _disable(_left(row), row.effective_date, row.status_word)


@_shared
def _disable(left: tuple[str, str], on: date | None, status_word: str) -> Reason:
    vi, en = left
    return Reason(
        vi=f"Cán bộ đã {vi} từ ngày {vn_date(on)} (trạng thái: {status_word}); khóa tài khoản.",
        en=f"Staff member {en} on {on}; account locked (status: {status_word}).",
    )


def sign_out(row: RosterRow) -> Reason:
    return _sign_out(_left(row), row.effective_date)


@_shared
def _sign_out(left: tuple[str, str], on: date | None) -> Reason:
    vi, en = left
    return Reason(
        vi=f"Cán bộ đã {vi} từ ngày {vn_date(on)}; đăng xuất mọi phiên, "
        "thu hồi token ngoại tuyến và ủy quyền.",
        en=f"Staff member {en} on {on}; every session ended, offline tokens and consents revoked.",
    )


@_shared
def federated(reason: Reason) -> Reason:
    """Say which side acts for an account Keycloak imports from LDAP."""
    return Reason(
        vi=reason.vi + " (Tài khoản liên kết LDAP: vai trò realm và nhóm do phía LDAP xử lý.)",
        en=reason.en + " (LDAP-federated account: realm roles and groups are the LDAP side's.)",
    )


def role_held(role: str) -> Pair:
    """What a departure takes away when it is a role."""
    return f"vai trò {role}", f"role {role}"


def unit_group_held(unit: str) -> Pair:
    """What a departure takes away when it is a unit's group (English names no unit)."""
    return f"nhóm đơn vị {unit}", "unit group"


def offboard_revoke(row: RosterRow, what: Pair) -> Reason:
    return _offboard_revoke(_left(row), row.effective_date, *what)


@_shared
def _offboard_revoke(left: tuple[str, str], on: date | None, what_vi: str, what_en: str) -> Reason:
    vi, en = left
    return Reason(
        vi=f"Cán bộ đã {vi} từ ngày {vn_date(on)}; thu hồi {what_vi}.",
        en=f"Staff member {en} on {on}; {what_en} removed.",
    )


def enable(row: RosterRow, disabled_on: str | None) -> Reason:
    return _enable(disabled_on)


@_shared
def _enable(disabled_on: str | None) -> Reason:
    since = f" (syncbot đã khóa ngày {disabled_on})" if disabled_on else ""
    since_en = f" (locked by syncbot on {disabled_on})" if disabled_on else ""
    return Reason(
        vi=f"Cán bộ đang công tác trở lại theo hồ sơ nhân sự{since}; mở lại tài khoản.",
        en=f"HR lists the person as active again{since_en}; account re-enabled.",
    )


def grant(row: RosterRow, role: str, explicit: bool, restored: bool) -> Reason:
    return _grant(role, None if explicit else row.position, restored)


@_shared
def _grant(role: str, position: str | None, restored: bool) -> Reason:
    """`position` None: the roster names the role itself."""
    if restored:
        return Reason(
            vi=f"Khôi phục vai trò {role} đã có trước khi nghỉ.",
            en=f"Role {role} restored as held before the departure.",
        )
    source_vi = "vai trò ghi trong hồ sơ" if position is None else f"chức vụ {position}"
    source_en = "role stated in the roster" if position is None else f"position {position}"
    return Reason(
        vi=f"Cấp vai trò {role} theo {source_vi}.",
        en=f"Role {role} granted per {source_en}.",
    )


def revoke_drift(row: RosterRow, role: str, expected: str | None) -> Reason:
    return _revoke_drift(role, row.position, expected)


@_shared
def _revoke_drift(role: str, position: str, expected: str | None) -> Reason:
    should = f"; vai trò đúng: {expected}" if expected else ""
    should_en = f"; expected role: {expected}" if expected else ""
    return Reason(
        vi=f"Vai trò {role} không phù hợp với chức vụ {position} theo hồ sơ nhân sự{should}.",
        en=f"Role {role} is not justified by HR position {position}{should_en}.",
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


def orphan(username: str, lock_on: date | None = None) -> Reason:
    later_vi = f" Sẽ khóa ngày {vn_date(lock_on)} nếu vẫn không có hồ sơ." if lock_on else ""
    later_en = f" It will be locked on {lock_on} if it still has none." if lock_on else ""
    return Reason(
        vi=f"Tài khoản {username} đang hoạt động nhưng không có trong hồ sơ nhân sự.{later_vi}",
        en=f"Account {username} is enabled but has no HR record.{later_en}",
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


# --- the circulars' duties ------------------------------------------------------------------

_CLASS_WORDS = {
    CharClass.UPPER: ("chữ hoa", "an upper-case letter"),
    CharClass.LOWER: ("chữ thường", "a lower-case letter"),
    CharClass.DIGIT: ("chữ số", "a digit"),
    CharClass.SPECIAL: ("ký tự đặc biệt", "a special character"),
}
#: How a target names the terms it cannot enforce, in words an administrator reads.
_TERM_WORDS = {
    **{c.value: words for c, words in _CLASS_WORDS.items()},
    "min_length": ("độ dài tối thiểu", "minimum length"),
    "not_username": ("không trùng tên đăng nhập", "not the username"),
    "history": ("không dùng lại mật khẩu cũ", "no reuse of old passwords"),
    "max_age_days": ("thời hạn đổi mật khẩu", "maximum password age"),
}


def policy_terms(policy: PasswordPolicy) -> tuple[str, str]:
    """The configured rules in one phrase each language, so a reason states the numbers."""
    vi: list[str] = []
    en: list[str] = []
    if policy.min_length is not None:
        vi.append(f"tối thiểu {policy.min_length} ký tự")
        en.append(f"at least {policy.min_length} characters")
    if policy.classes:
        ordered = [c for c in CharClass if c in policy.classes]
        vi.append("có " + ", ".join(_CLASS_WORDS[c][0] for c in ordered))
        en.append("with " + ", ".join(_CLASS_WORDS[c][1] for c in ordered))
    if policy.not_username:
        vi.append("không trùng tên đăng nhập")
        en.append("not the username")
    if policy.history is not None:
        vi.append(f"không dùng lại {policy.history} mật khẩu gần nhất")
        en.append(f"none of the last {policy.history} passwords")
    if policy.max_age_days is not None:
        vi.append(f"đổi ít nhất {policy.max_age_days} ngày một lần")
        en.append(f"changed at least every {policy.max_age_days} days")
    return "; ".join(vi), "; ".join(en)


def configure(target: str, key: str, policy: PasswordPolicy, settings: Sequence[Setting]) -> Reason:
    rules_vi, rules_en = policy_terms(policy)
    changes = ", ".join(f"{name}: {now or '∅'} → {wanted or '∅'}" for name, now, wanted in settings)
    return Reason(
        vi=f"Chính sách mật khẩu của {target} ({key}) chưa đúng quy định ({rules_vi}); "
        f"cập nhật {len(settings)} thiết lập: {changes}.",
        en=f"The password policy of {target} ({key}) differs from the configured rules "
        f"({rules_en}); {len(settings)} settings updated: {changes}.",
    )


def settings_unreadable(target: str, key: str) -> Reason:
    where = f" ({key})" if key else ""
    return Reason(
        vi=f"Không đọc được cấu hình chính sách mật khẩu của {target}{where}; chưa kiểm tra "
        "được, cần quản trị viên xem xét quyền đọc.",
        en=f"The password-policy settings of {target}{where} could not be read; not checked, "
        "an administrator should look at read permissions.",
    )


def setting_unsupported(target: str, term: str) -> Reason:
    vi, en = _TERM_WORDS.get(term, (term, term))
    return Reason(
        vi=f"{target} không tự áp dụng được yêu cầu '{vi}' của chính sách mật khẩu; cần "
        "biện pháp khác (mô-đun kiểm tra mật khẩu, hướng dẫn người dùng).",
        en=f"{target} cannot enforce the password rule '{en}' itself; it needs another means "
        "(a password-check module, user guidance).",
    )


def password_never_changed(username: str, created: date) -> tuple[str, str]:
    return (
        f"Tài khoản {username} vẫn dùng mật khẩu được cấp khi tạo ngày {vn_date(created)}, "
        "chưa đổi lần nào",
        f"Account {username} still uses the password issued when it was created on {created}",
    )


def password_expired(username: str, changed: date, age: int, max_age: int) -> tuple[str, str]:
    return (
        f"Mật khẩu của tài khoản {username} đã {age} ngày chưa đổi (đổi lần cuối ngày "
        f"{vn_date(changed)}), quá thời hạn {max_age} ngày",
        f"The password of account {username} is {age} days old (last changed on {changed}), "
        f"beyond the {max_age}-day maximum",
    )


def password_waiting(fact: tuple[str, str]) -> Reason:
    return Reason(
        vi=f"{fact[0]}; đã yêu cầu đổi mật khẩu, đang chờ người dùng đổi.",
        en=f"{fact[1]}; a change is already required, waiting for the owner.",
    )


def password_report(fact: tuple[str, str], deadline: date | None) -> Reason:
    if deadline is not None:
        return Reason(
            vi=f"{fact[0]}; từ ngày {vn_date(deadline)} phải đổi mật khẩu mới dùng được tài khoản.",
            en=f"{fact[1]}; from {deadline} the password must be changed before the account "
            "can be used.",
        )
    return Reason(
        vi=f"{fact[0]}; cần nhắc người dùng đổi mật khẩu.",
        en=f"{fact[1]}; the owner should be asked to change it.",
    )


def password_require(fact: tuple[str, str], deadline: date | None) -> Reason:
    if deadline is not None:
        return Reason(
            vi=f"{fact[0]}; đã đến hạn {vn_date(deadline)}: buộc đổi mật khẩu, chưa đổi thì "
            "không dùng được tài khoản.",
            en=f"{fact[1]}; the deadline {deadline} has come: a new password is required "
            "before the account can be used.",
        )
    return Reason(
        vi=f"{fact[0]}; buộc đổi mật khẩu ở lần đăng nhập tới.",
        en=f"{fact[1]}; a new password is required at next sign-in.",
    )


def password_sign_out(fact: tuple[str, str], deadline: date) -> Reason:
    return Reason(
        vi=f"{fact[0]}; đã đến hạn {vn_date(deadline)}: đăng xuất mọi phiên để chủ tài khoản "
        "phải đặt mật khẩu mới.",
        en=f"{fact[1]}; the deadline {deadline} has come: every session ended so the owner "
        "must set a new password.",
    )


def idle(username: str, days: int, source: str, reference: date) -> tuple[str, str]:
    """How long an account has gone unused, and counted from what."""
    since_vi, since_en = {
        "sign_in": (
            f"đăng nhập lần cuối ngày {vn_date(reference)}",
            f"last sign-in on {reference}",
        ),
        "locked": (
            f"tính lại từ ngày syncbot khóa vì không sử dụng, {vn_date(reference)}",
            f"counted from syncbot's lock for disuse on {reference}",
        ),
        "reopened": (
            f"tính lại từ ngày syncbot mở lại tài khoản, {vn_date(reference)}",
            f"counted from syncbot re-enabling it on {reference}",
        ),
        "created": (
            f"tạo ngày {vn_date(reference)}, chưa ghi nhận lần đăng nhập nào",
            f"created on {reference}, no sign-in recorded",
        ),
        "recorded": (
            f"không có lần đăng nhập nào từ khi bắt đầu ghi nhận ngày {vn_date(reference)}",
            f"no sign-in since recording began on {reference}",
        ),
    }[source]
    return (
        f"Tài khoản {username} không được sử dụng {days} ngày ({since_vi})",
        f"Account {username} has not been used for {days} days ({since_en})",
    )


def dormant(fact: tuple[str, str], threshold: int, lock_on: date | None) -> Reason:
    if lock_on is not None:
        return Reason(
            vi=f"{fact[0]}, quá ngưỡng {threshold} ngày; sẽ khóa ngày {vn_date(lock_on)} nếu "
            "vẫn không đăng nhập.",
            en=f"{fact[1]}, beyond the {threshold}-day limit; it will be locked on {lock_on} "
            "unless it is used.",
        )
    return Reason(
        vi=f"{fact[0]}, quá ngưỡng {threshold} ngày; cần xác minh còn nhu cầu sử dụng.",
        en=f"{fact[1]}, beyond the {threshold}-day limit; check whether it is still needed.",
    )


def _lock_words(sign_out: bool) -> tuple[str, str]:
    """What a duty's lock does: where sessions outlive a lock, it is a sign-out."""
    if sign_out:
        return "đăng xuất mọi phiên, thu hồi token", "every session ended, tokens revoked"
    return "khóa tài khoản", "account locked"


def dormant_lock(fact: tuple[str, str], threshold: int, warning: int, sign_out: bool) -> Reason:
    what_vi, what_en = _lock_words(sign_out)
    return Reason(
        vi=f"{fact[0]}, quá {threshold + warning} ngày ({threshold} ngày và {warning} ngày "
        f"cảnh báo); {what_vi}.",
        en=f"{fact[1]}, beyond {threshold + warning} days ({threshold} days and a {warning}-day "
        f"warning); {what_en}.",
    )


def orphan_lock(username: str, created: date, grace: int, sign_out: bool) -> Reason:
    what_vi, what_en = _lock_words(sign_out)
    return Reason(
        vi=f"Tài khoản {username} không có trong hồ sơ nhân sự, tạo ngày {vn_date(created)}, "
        f"quá {grace} ngày chờ; {what_vi}.",
        en=f"Account {username} has no HR record and was created on {created}, more than "
        f"{grace} days ago; {what_en}.",
    )


def failed_sign_ins(username: str, count: int, days: int, threshold: int) -> Reason:
    return Reason(
        vi=f"Tài khoản {username} có {count} lần đăng nhập sai trong {days} ngày qua (ngưỡng "
        f"{threshold}); cần hỏi chủ tài khoản có phải họ không.",
        en=f"Account {username} had {count} failed sign-ins in the last {days} days (threshold "
        f"{threshold}); ask its owner whether that was them.",
    )


def locked_dormant(username: str, locked_on: date, relock_on: date | None) -> Reason:
    """A lock for disuse stays until an administrator lifts it, whatever HR says."""
    again_vi = (
        f"; nếu chủ tài khoản vẫn không đăng nhập, sẽ bị khóa lại từ ngày {vn_date(relock_on)}"
        if relock_on
        else ""
    )
    again_en = (
        f"; unless its owner signs in it is locked again from {relock_on}" if relock_on else ""
    )
    return Reason(
        vi=f"Tài khoản {username} bị syncbot khóa ngày {vn_date(locked_on)} vì không sử dụng; "
        "hồ sơ nhân sự không tự mở lại. Để mở lại, quản trị viên mở khóa tài khoản; thời gian "
        f"không sử dụng được tính lại từ ngày khóa nên lần chạy sau không khóa lại ngay{again_vi}.",
        en=f"Account {username} was locked by syncbot on {locked_on} for disuse; the roster does "
        "not reopen it. To reopen it an administrator enables the account; disuse is counted "
        f"again from the lock date, so the next run does not lock it at once{again_en}.",
    )
