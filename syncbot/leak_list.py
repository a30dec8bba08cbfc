"""Leaked-credentials lists as the police or the CERT hand them over: read, never trusted.

A list names accounts (usernames or e-mails) seen for sale, one a line or as a CSV whose
header names the columns. Only the identifier columns are read: a list often carries the
leaked passwords too, and those must never be echoed back. What is done about the names
is `syncbot.planning.quarantine`'s.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from syncbot.errors import ConfigError
from syncbot.match_keys import fold, nfc

#: Header cells (folded) that mark a CSV list's identifier columns; other columns (a
#: leaked password, say) are never read.
ID_COLUMNS = frozenset(
    {
        "username",
        "user",
        "login",
        "uid",
        "account",
        "tài khoản",
        "tai khoan",
        "tên đăng nhập",
        "ten dang nhap",
        "email",
        "e-mail",
        "mail",
        "thư điện tử",
    }
)
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class ListedName:
    """One entry of a leak list: its line and the spellings it gives (username, e-mail)."""

    line: int
    names: tuple[str, ...]

    @property
    def shown(self) -> str:
        return " / ".join(self.names)


@dataclass(frozen=True, slots=True)
class LeakList:
    """A whole list as read; its sha256 ties every planned step to the exact file."""

    path: str
    sha256: str
    entries: tuple[ListedName, ...]


# -- reading the list -----------------------------------------------------------------------


def read_leak_list(path: Path) -> LeakList:
    """Read and parse a list file; ConfigError (exit 3) names the file when it is unusable."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the list: {error.strerror}", source=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"not UTF-8 (byte {error.start}); save the list as UTF-8", source=str(path)
        ) from None
    leaks = parse_leak_list(text, path=str(path), sha256=hashlib.sha256(data).hexdigest())
    if not leaks.entries:
        raise ConfigError("the list names no account", source=str(path))
    return leaks


def parse_leak_list(text: str, *, path: str, sha256: str) -> LeakList:
    """Entries of a plain list (one name a line) or of a CSV whose header names the columns.

    `#` lines and blank lines are skipped; a name listed twice counts once, at its first line.
    """
    lines = list(_content_lines(text))
    entries = _csv_entries(lines) if lines and _is_header(lines[0][1]) else _plain_entries(lines)
    return LeakList(path=path, sha256=sha256, entries=tuple(_dedupe(entries)))


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = nfc(raw)
        if line and not line.startswith("#"):
            yield number, line


def _delimiter(line: str) -> str:
    return max(_DELIMITERS, key=line.count)


def _cells(line: str, delimiter: str) -> list[str]:
    return [nfc(cell) for cell in next(csv.reader([line], delimiter=delimiter), [])]


def _is_header(line: str) -> bool:
    delimiter = _delimiter(line)
    return any(fold(cell) in ID_COLUMNS for cell in _cells(line, delimiter))


def _csv_entries(lines: list[tuple[int, str]]) -> Iterator[ListedName]:
    header = lines[0][1]
    delimiter = _delimiter(header)
    wanted = [i for i, cell in enumerate(_cells(header, delimiter)) if fold(cell) in ID_COLUMNS]
    for number, line in lines[1:]:
        cells = _cells(line, delimiter)
        names = tuple(cells[i] for i in wanted if i < len(cells) and cells[i])
        if names:
            yield ListedName(number, names)


def _plain_entries(lines: list[tuple[int, str]]) -> Iterator[ListedName]:
    # Only the first word: lists often carry "name<TAB>password" and a password must never
    # be echoed back as a name that was not found.
    for number, line in lines:
        first = line.replace(",", " ").replace(";", " ").split(maxsplit=1)[0]
        yield ListedName(number, (first,))


def _dedupe(entries: Iterable[ListedName]) -> Iterator[ListedName]:
    seen: set[str] = set()
    for entry in entries:
        fresh = tuple(n for n in entry.names if fold(n) not in seen)
        seen.update(fold(n) for n in fresh)
        if fresh:
            yield ListedName(entry.line, fresh)
