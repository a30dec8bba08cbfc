"""A sample organisation: an HR roster and a directory that has drifted from it.

Dates are relative to the day the sample is built, so "departed last month" stays true
whenever the demo runs. Every kind of drift the planner knows appears at least once.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

ORG = "Sở Thông tin và Truyền thông tỉnh Mẫu"
UNITS = {
    "Văn phòng": "don-vi-van-phong",
    "Phòng Tổ chức cán bộ": "don-vi-phong-to-chuc-can-bo",
    "Phòng Kế hoạch - Tài chính": "don-vi-phong-ke-hoach-tai-chinh",
    "Phòng Công nghệ thông tin": "don-vi-phong-cong-nghe-thong-tin",
    "Thanh tra": "don-vi-thanh-tra",
}
ROLE_GROUPS = {
    "Văn thư": "van-thu",
    "Chuyên viên": "chuyen-vien",
    "Lãnh đạo": "lanh-dao",
    "Quản trị": "quan-tri",
}
POSITION_ROLE = {
    "Giám đốc": "Lãnh đạo",
    "Phó Giám đốc": "Lãnh đạo",
    "Chánh Văn phòng": "Lãnh đạo",
    "Trưởng phòng": "Lãnh đạo",
    "Phó Trưởng phòng": "Lãnh đạo",
    "Chánh Thanh tra": "Lãnh đạo",
    "Văn thư": "Văn thư",
    "Chuyên viên": "Chuyên viên",
    "Chuyên viên chính": "Chuyên viên",
    "Cán sự": "Chuyên viên",
    "Quản trị hệ thống": "Quản trị",
}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]  # fmt: skip
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thu", "Quang", "Thanh", "Hữu", "Kim"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Hương", "Khánh",
         "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phong", "Phúc", "Quân", "Sơn", "Tâm",
         "Thảo", "Trang", "Tuấn", "Vy", "Yến"]  # fmt: skip
HEADERS = ["Mã cán bộ", "Họ và tên", "Email", "Đơn vị", "Chức vụ", "Trạng thái", "Ngày hiệu lực"]
DOMAIN = "tinhmau.gov.vn"
# Every sample account's password: throwaway data for a throwaway local directory.
SAMPLE_PASSWORD = "Doi-mat-khau-ngay-2026"  # noqa: S105


@dataclass
class Person:
    employee_id: str
    full_name: str
    unit: str
    position: str
    status: str = "Đang công tác"
    effective: date | None = None
    uid: str = ""
    # Directory side: None = no account; groups held and lock state as drifted.
    account: bool = True
    groups: tuple[str, ...] | None = None  # None = exactly what HR implies
    employee_number: str | None = "same"
    locked: bool = False
    in_roster: bool = True

    @property
    def email(self) -> str:
        return f"{self.uid}@{DOMAIN}"


def _ascii(text: str) -> str:
    import unicodedata

    text = text.replace("Đ", "D").replace("đ", "d")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _uid(full_name: str, taken: set[str]) -> str:
    parts = _ascii(full_name).split()
    base = parts[-1] + "".join(p[0] for p in parts[:-1])
    uid, n = base, 1
    while uid in taken:
        n += 1
        uid = f"{base}{n}"
    taken.add(uid)
    return uid


def people(today: date) -> list[Person]:
    """About 60 staff in step with the directory, then one person for each kind of drift."""
    taken: set[str] = set()
    staff: list[Person] = []
    positions = ["Chuyên viên", "Chuyên viên chính", "Chuyên viên", "Cán sự", "Văn thư",
                 "Chuyên viên", "Phó Trưởng phòng", "Chuyên viên"]  # fmt: skip
    units = list(UNITS)
    for i in range(60):
        name = f"{FAMILY[i % 16]} {MIDDLE[(i * 3) % 10]} {GIVEN[(i * 7) % 27]}"
        position = "Giám đốc" if i == 0 else positions[i % len(positions)]
        staff.append(Person(f"CB{1000 + i}", name, units[i % 5], position))
    month_ago, next_month = today - timedelta(days=30), today + timedelta(days=30)
    drift = [
        # departed last month, account still open with its role and unit groups
        Person(
            "CB2001",
            "Trần Thị Thu Hà",
            "Phòng Kế hoạch - Tài chính",
            "Chuyên viên",
            "Nghỉ việc",
            month_ago,
        ),
        # retired leader still holding "Lãnh đạo"
        Person("CB2002", "Lê Văn Hùng", "Thanh tra", "Chánh Thanh tra", "Nghỉ hưu", month_ago),
        # transferred out to another province
        Person(
            "CB2003",
            "Phạm Minh Tuấn",
            "Phòng Công nghệ thông tin",
            "Quản trị hệ thống",
            "Chuyển công tác",
            today - timedelta(days=3),
        ),
        # leaving next month: reported, not yet locked
        Person("CB2004", "Vũ Ngọc Lan", "Văn phòng", "Văn thư", "Thôi việc", next_month),
        # internal transfer: HR moved her to Thanh tra, the directory still says Văn phòng
        Person(
            "CB2005",
            "Đỗ Thu Trang",
            "Thanh tra",
            "Chuyên viên",
            "Đang công tác",
            month_ago,
            groups=("chuyen-vien", "don-vi-van-phong"),
        ),
        # drift: a specialist who was given "Lãnh đạo" by hand
        Person(
            "CB2006",
            "Bùi Quang Sơn",
            "Văn phòng",
            "Chuyên viên",
            groups=("chuyen-vien", "lanh-dao", "don-vi-van-phong"),
        ),
        # promotion: now deputy head, directory still has the specialist role
        Person(
            "CB2007",
            "Hồ Thanh Phong",
            "Phòng Tổ chức cán bộ",
            "Phó Trưởng phòng",
            "Đang công tác",
            month_ago,
            groups=("chuyen-vien", "don-vi-phong-to-chuc-can-bo"),
        ),
        # new clerk: account created by the helpdesk, no groups yet; title in lower case
        Person("CB2008", "Ngô Kim Yến", "Văn phòng", "văn thư", groups=()),
        # account without employeeNumber, matched by e-mail
        Person(
            "CB2009",
            "Dương Hữu Nam",
            "Phòng Công nghệ thông tin",
            "Chuyên viên",
            employee_number=None,
        ),
        # position nobody mapped: reported, roles left alone
        Person("CB2010", "Lý Văn Long", "Văn phòng", "Lái xe", groups=("don-vi-van-phong",)),
        # locked by an administrator after a leaked password: syncbot must not unlock it
        Person("CB2011", "Huỳnh Thị Mai", "Thanh tra", "Chuyên viên", locked=True),
        # new staff with no account yet
        Person("CB2012", "Võ Minh Khánh", "Phòng Tổ chức cán bộ", "Chuyên viên", account=False),
        # an account of someone long gone, missing from the roster
        Person("CB0999", "Phan Văn Dũng", "Văn phòng", "Chuyên viên", in_roster=False),
    ]
    everyone = staff + drift
    for person in everyone:
        person.uid = _uid(person.full_name, taken)
    return everyone


def roster_csv(today: date) -> str:
    """The HR export as Excel's "CSV UTF-8" writes it: BOM, comma, dd/mm/yyyy."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for p in people(today):
        if p.in_roster:
            effective = p.effective.strftime("%d/%m/%Y") if p.effective else ""
            writer.writerow([p.employee_id, p.full_name, p.email if p.account else "", p.unit,
                             p.position, p.status, effective])  # fmt: skip
    return "\ufeff" + out.getvalue()


def groups_of(p: Person) -> tuple[str, ...]:
    if p.groups is not None:
        return p.groups
    role = POSITION_ROLE.get(p.position)
    return tuple(g for g in (ROLE_GROUPS.get(role or ""), UNITS[p.unit]) if g)


def directory_ldif(today: date, people_base: str, groups_base: str) -> str:
    """Accounts and groups as the directory has them: mostly right, with the drift above."""
    entries: list[str] = []
    members: dict[str, list[str]] = {g: [] for g in (*ROLE_GROUPS.values(), *UNITS.values())}
    specials = [("admin-sys", "Quản trị viên hệ thống", ("quan-tri",)),
                ("svc-qoffice", "Tài khoản dịch vụ Q-Office", ("chuyen-vien",)),
                ("breakglass", "Tài khoản khẩn cấp", ("quan-tri", "lanh-dao"))]  # fmt: skip
    for uid, name, groups in specials:
        dn = f"uid={uid},{people_base}"
        entries.append(_person_entry(dn, uid, name, None, None))
        for g in groups:
            members[g].append(dn)
    everyone = people(today)
    # A second account carrying a colleague's employee number: ambiguous, left for a human.
    twin = everyone[5]
    dn = f"uid={twin.uid}-2,{people_base}"
    entries.append(_person_entry(dn, f"{twin.uid}-2", twin.full_name, None, twin.employee_id))
    for p in everyone:
        if not p.account:
            continue
        dn = f"uid={p.uid},{people_base}"
        number = p.employee_id if p.employee_number == "same" else p.employee_number
        entries.append(_person_entry(dn, p.uid, p.full_name, p.email, number, p.locked))
        for g in groups_of(p):
            members[g].append(dn)
    for group, dns in members.items():
        lines = [f"dn: cn={group},{groups_base}", "objectClass: groupOfNames", f"cn: {group}"]
        # groupOfNames needs a member; an empty group gets the placeholder the target uses.
        lines += [f"member: {dn}" for dn in dns] or [
            f"member: cn=syncbot-empty-group-placeholder,{groups_base}"
        ]
        entries.append("\n".join(lines))
    return "\n\n".join(entries) + "\n"


def ldif_line(attribute: str, value: str) -> str:
    """One LDIF attribute line; non-ASCII values are base64 as RFC 2849 requires."""
    if value.isascii() and not value.startswith((" ", ":", "<")):
        return f"{attribute}: {value}"
    return f"{attribute}:: {base64.b64encode(value.encode()).decode()}"


def _person_entry(dn: str, uid: str, name: str, mail: str | None, number: str | None,
                  locked: bool = False) -> str:  # fmt: skip
    lines = [f"dn: {dn}", "objectClass: inetOrgPerson", f"uid: {uid}", ldif_line("cn", name),
             ldif_line("sn", name.split()[-1]), f"userPassword: {SAMPLE_PASSWORD}"]  # fmt: skip
    if mail:
        lines.append(f"mail: {mail}")
    if number:
        lines.append(f"employeeNumber: {number}")
    if locked:
        lines.append("pwdAccountLockedTime: 000001010000Z")
    return "\n".join(lines)
