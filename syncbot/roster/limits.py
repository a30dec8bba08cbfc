"""How big a roster syncbot agrees to read, checked before the file can cost memory.

A roster comes from another office's export and, in the worker, from a folder others
write to: a file of millions of rows, or an .xlsx "bomb" (a few MB that inflate to GBs
of XML), would take the host's memory before validation said a word; a 1.5 MB bomb
measured 1.67 GB resident. The defaults leave room for the largest province: about
100,000 civil servants and public employees (teachers and health staff included) in one
export, so 200,000 rows and a 50 MB file, and XML of a few hundred bytes per row.

An .xlsx is a zip: its central directory states each member's unpacked size, and the zip
reader stops at that size (a member that inflates further fails its CRC), so summing the
stated sizes bounds what openpyxl can unpack, without unpacking anything.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from syncbot.errors import RosterError
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import Record, Table

_MB = 1024 * 1024

#: Members of a workbook: a sheet, its strings, styles and a few dozen parts of metadata.
MAX_MEMBERS = 1_000
#: Excel's own sheets pack 5-20 to one, repeated empty styling up to ~50: past this, a
#: member was built to inflate. Members unpacking to less than `_RATIO_FLOOR` are exempt.
MAX_RATIO = 100
_RATIO_FLOOR = 1 * _MB


@dataclass(frozen=True, slots=True)
class RosterLimits:
    """The `[roster]` limits: `max_bytes` of the file as stored, `max_rows` of non-blank
    rows, `max_unpacked_bytes` of an .xlsx's members unpacked."""

    max_bytes: int = 50 * _MB
    max_rows: int = 200_000
    max_unpacked_bytes: int = 512 * _MB


DEFAULT_LIMITS = RosterLimits()


def too_big(problems: ProblemList, limits: RosterLimits) -> RosterError:
    return problems.fail(
        None,
        None,
        say(
            f"tệp lớn hơn giới hạn {_mb(limits.max_bytes)} ([roster] max_bytes); nếu đúng "
            "là danh sách nhân sự, hãy tăng giới hạn",
            f"the file is larger than the limit of {_mb(limits.max_bytes)} ([roster] "
            "max_bytes); if it is a real roster, raise the limit",
        ),
    )


def read_bounded(handle: BinaryIO, limit: int) -> bytes | None:
    """The whole of an open file, or None once it passes `limit` bytes.

    The first read is sized to the file, so a roster costs its own bytes and no buffer of
    the limit's size; a file that grows while read (or has no size: a pipe) is read on in
    pieces and stopped one piece past the limit.
    """
    size = os.fstat(handle.fileno()).st_size
    if size > limit:
        return None
    chunks = [handle.read(size)] if size else []
    total = len(chunks[0]) if chunks else 0
    while total <= limit and (chunk := handle.read(_MB)):
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_workbook(data: bytes, problems: ProblemList, limits: RosterLimits) -> None:
    """Refuse a workbook whose members would unpack past the limits; a damaged zip is
    left to the workbook reader, which reports it as such."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    problem = _unpacking_problem(members, limits)
    if problem is not None:
        raise problems.fail(None, None, say(*problem))


def _unpacking_problem(
    members: Sequence[zipfile.ZipInfo], limits: RosterLimits
) -> tuple[str, str] | None:
    if len(members) > MAX_MEMBERS:
        return (
            f"tệp .xlsx có {len(members)} thành phần, quá giới hạn {MAX_MEMBERS}",
            f"the .xlsx holds {len(members)} parts, more than the limit of {MAX_MEMBERS}",
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_FLOOR and ratio > MAX_RATIO:
            return (
                f"thành phần {member.filename} của tệp .xlsx nén {ratio:.0f} lần (giới hạn "
                f"{MAX_RATIO}): tệp được tạo để bung ra chiếm bộ nhớ, không phải bảng tính "
                "xuất từ Excel",
                f"part {member.filename} of the .xlsx is compressed {ratio:.0f} to one "
                f"(limit {MAX_RATIO}): built to inflate, not a workbook an office exported",
            )
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_unpacked_bytes:
        return (
            f"tệp .xlsx giải nén ra {_mb(unpacked)}, quá giới hạn "
            f"{_mb(limits.max_unpacked_bytes)} ([roster] max_unpacked_bytes)",
            f"the .xlsx unpacks to {_mb(unpacked)}, more than the limit of "
            f"{_mb(limits.max_unpacked_bytes)} ([roster] max_unpacked_bytes)",
        )
    return None


def row_limited(table: Table, problems: ProblemList, limits: RosterLimits) -> Table:
    """`table` whose blocks stop the read, with a problem, past `limits.max_rows` rows."""
    return Table(_counted(table, problems, limits.max_rows), table.fields, table.missing)


def _counted(table: Table, problems: ProblemList, max_rows: int) -> Iterator[Sequence[Record]]:
    rows = 0
    for block in table.blocks:
        rows += len(block)
        if rows > max_rows:
            raise problems.fail(
                None,
                None,
                say(
                    f"tệp có hơn {max_rows:,} dòng (giới hạn [roster] max_rows); nếu đúng là "
                    "danh sách nhân sự, hãy tăng giới hạn",
                    f"the file has more than {max_rows:,} rows (the [roster] max_rows limit); "
                    "if it is a real roster, raise the limit",
                ),
            )
        yield block


def _mb(size: int) -> str:
    return f"{size / _MB:,.1f} MB"
