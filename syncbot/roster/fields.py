"""The roster's columns: canonical field names and the header texts HR exports use for them."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from syncbot.errors import ConfigError
from syncbot.match_keys import fold, nfc
from syncbot.roster.problems import ProblemList, say
from syncbot.wording import roster as words

CANONICAL_FIELDS: tuple[str, ...] = (
    "employee_id",
    "full_name",
    "email",
    "unit",
    "position",
    "status",
    "effective_date",
    "username",
    "role",
)

#: Columns a roster must have; `username` and `role` are optional.
REQUIRED_FIELDS: tuple[str, ...] = CANONICAL_FIELDS[:7]

#: Header texts of Vietnamese HR exports, first the one shown to users as the preferred name.
DEFAULT_HEADERS: Mapping[str, tuple[str, ...]] = {
    "employee_id": ("Mã cán bộ", "Mã CBCC", "Mã nhân viên", "Mã NV", "Số hiệu cán bộ"),
    "full_name": ("Họ và tên", "Họ tên"),
    "email": ("Email", "Thư điện tử", "E-mail"),
    "unit": ("Đơn vị", "Phòng ban", "Đơn vị công tác"),
    "position": ("Chức vụ", "Chức danh"),
    "status": ("Trạng thái",),
    "effective_date": ("Ngày hiệu lực", "Ngày có hiệu lực"),
    "username": ("Tên đăng nhập", "Tài khoản"),
    "role": ("Vai trò",),
}


@dataclass(frozen=True, slots=True)
class HeaderNames:
    """Which field a header text names, and every name accepted for each field."""

    by_folded: Mapping[str, str]  # folded header text -> canonical field
    accepted: Mapping[str, tuple[str, ...]]  # canonical field -> header texts, for messages

    def field_of(self, header: str) -> str | None:
        return self.by_folded.get(fold(header))


def header_names(extra: Mapping[str, str | Sequence[str]] | None = None) -> HeaderNames:
    """Defaults plus the configured names; a configured name wins over a default one.

    A site may reuse a default text for another field ("Tài khoản" holding the email,
    say), and its configuration must be able to say so.
    """
    configured = _configured_headers(extra or {})
    by_folded: dict[str, str] = {}
    accepted: dict[str, list[str]] = {name: [] for name in CANONICAL_FIELDS}
    for name in CANONICAL_FIELDS:
        for text in (*DEFAULT_HEADERS[name], name):
            key = fold(text)
            if key not in configured:
                by_folded.setdefault(key, name)
                accepted[name].append(text)
    for key, (name, text) in configured.items():
        by_folded[key] = name
        accepted[name].insert(0, text)
    return HeaderNames(by_folded, {k: tuple(v) for k, v in accepted.items()})


def _configured_headers(extra: Mapping[str, str | Sequence[str]]) -> dict[str, tuple[str, str]]:
    """Folded configured header -> (field, text as configured); rejects ambiguous settings."""
    configured: dict[str, tuple[str, str]] = {}
    for name, texts in extra.items():
        if name not in CANONICAL_FIELDS:
            raise ConfigError(
                f"unknown roster field {name!r}; known fields: {', '.join(CANONICAL_FIELDS)}",
                key=f"headers.{name}",
            )
        for text in (texts,) if isinstance(texts, str) else texts:
            if not isinstance(text, str) or not fold(text):
                raise ConfigError("header names must be non-empty text", key=f"headers.{name}")
            key = fold(text)
            other = configured.get(key)
            if other is not None and other[0] != name:
                raise ConfigError(
                    f"header {text!r} is configured for both {other[0]!r} and {name!r}",
                    key=f"headers.{name}",
                )
            configured[key] = (name, nfc(text))
    return configured


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each field sits in a header row, and how the file itself spells its column."""

    indices: tuple[int, ...]  # cell index of each found field ...
    fields: tuple[str, ...]  # ... and the field, in the same order
    columns: Mapping[str, str]  # field -> header text as written in the file
    missing: frozenset[str]  # required fields with no column
    width: int  # number of header cells, to spot rows with more cells than headers
    reach: int  # cells a row needs to hold every found field

    def values_of(self, cells: Sequence[object]) -> tuple[object, ...]:
        """The raw cell of each field of one row, in `fields` order; a short row's are None."""
        if len(cells) >= self.reach:
            return tuple(map(cells.__getitem__, self.indices))
        width = len(cells)
        return tuple(cells[index] if index < width else None for index in self.indices)


#: How far down a sheet the header may sit below title lines ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA
#: VIỆT NAM", "DANH SÁCH CÁN BỘ"), counted in non-empty rows.
HEADER_SEARCH_ROWS = 20

Row = tuple[int, Sequence[object]]


def locate_header(rows: Iterator[Row], names: HeaderNames) -> tuple[Row, Iterator[Row]] | None:
    """The header row and the rows after it, from numbered non-empty rows.

    The header is the first row naming at least two fields; government spreadsheets put
    title lines above it. When no row does, it is the first row, so the missing columns
    are reported against it.
    """
    seen: list[Row] = []
    for row in itertools.islice(rows, HEADER_SEARCH_ROWS):
        seen.append(row)
        if _named_fields(row[1], names) >= 2:
            return row, rows
    if not seen:
        return None
    return seen[0], itertools.chain(seen[1:], rows)


def _named_fields(cells: Sequence[object], names: HeaderNames) -> int:
    return len({names.field_of(header_text(c)) for c in cells if c is not None} - {None})


def header_text(cell: object) -> str:
    """A header cell as the user sees it; a stray BOM is invisible to them, so drop it."""
    if cell is None:
        return ""
    return nfc(str(cell).replace("\ufeff", ""))


def resolve_header(
    cells: Sequence[object], row: int, names: HeaderNames, problems: ProblemList
) -> Layout:
    """Map a header row to fields, reporting missing and doubled columns."""
    positions: list[tuple[int, str]] = []
    columns: dict[str, str] = {}
    for index, cell in enumerate(cells):
        text = header_text(cell)
        name = names.field_of(text) if text else None
        if name is None:
            continue
        if name in columns:
            problems.add(
                row,
                text,
                say(*words.duplicate_column(text, columns[name], name)),
            )
            continue
        columns[name] = text
        positions.append((index, name))
    missing = report_missing(columns.keys(), row, names, problems)
    return Layout(
        indices=tuple(index for index, _ in positions),
        fields=tuple(name for _, name in positions),
        columns=columns,
        missing=missing,
        width=len(cells),
        reach=max((index + 1 for index, _ in positions), default=0),
    )


def report_missing(
    found: Collection[str], row: int | None, names: HeaderNames, problems: ProblemList
) -> frozenset[str]:
    """Add one problem per required field with no column; return those fields."""
    missing = frozenset(name for name in REQUIRED_FIELDS if name not in found)
    for name in REQUIRED_FIELDS:
        if name in missing:
            problems.add(
                row,
                name,
                say(*words.missing_column(name), options=names.accepted[name]),
            )
    return missing
