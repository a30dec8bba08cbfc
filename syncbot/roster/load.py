"""Reading an HR export whole, validating every row, and returning it only if all are valid."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from syncbot.errors import ConfigError
from syncbot.model import Roster, Vocabulary
from syncbot.roster.csv_source import DELIMITERS, CsvShape, read_csv
from syncbot.roster.fields import header_names
from syncbot.roster.json_source import read_json
from syncbot.roster.limits import (
    DEFAULT_LIMITS,
    RosterLimits,
    read_bounded,
    row_limited,
    too_big,
)
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import Table
from syncbot.roster.reread import PlainLines
from syncbot.roster.validate import validate
from syncbot.roster.xlsx_source import read_xlsx
from syncbot.wording import roster as words

FORMATS = ("csv", "xlsx", "json")

#: File name endings and the format they mean when `format="auto"`.
EXTENSIONS: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
}


def load_roster(
    path: Path,
    vocabulary: Vocabulary,
    *,
    format: str = "auto",
    sheet: str | None = None,
    headers: Mapping[str, str | Sequence[str]] | None = None,
    delimiter: str = "auto",
    encoding: str = "auto",
    reuse: bool = False,
    limits: RosterLimits = DEFAULT_LIMITS,
) -> Roster:
    """The validated roster at `path`, or `RosterError` listing every problem in the file.

    The file is read once into memory, so the sha256 recorded with every planned action
    is the hash of exactly the bytes that were validated. With `reuse`, the roster last
    loaded with `reuse` is returned again while the bytes and options are the same, and
    only the changed lines of a new version of a CSV with a row a line are read.
    A file past `limits` is refused before it is parsed, or as soon as the rows pass them.
    """
    _check_options(format, delimiter, encoding)
    names = header_names(headers)
    file = str(path)
    kind = format if format != "auto" else _format_of(path)
    problems = ProblemList(file, records=kind == "json")
    if kind is None:
        raise problems.fail(None, None, _unknown_extension(path))
    data = _read_bytes(path, problems, limits)
    sha256 = hashlib.sha256(data).hexdigest()
    options = (file, kind, sheet, names, delimiter, encoding, vocabulary, limits)
    last = _last[0] if reuse and _last and _last[0].options == options else None
    if last is not None:
        if last.roster.sha256 == sha256:
            return last.roster
        if last.lines is not None:
            reread = last.lines.reread(data, vocabulary, limits, sniff=delimiter == "auto")
            if reread is not None:
                roster = Roster(path=file, sha256=sha256, rows=reread[0])
                _last[:] = [_Loaded(options, roster, reread[1])]
                return roster
    table: Table
    shape: CsvShape | None = None
    if kind == "csv":
        table, shape = read_csv(data, names, problems, delimiter=delimiter, encoding=encoding)
    elif kind == "xlsx":
        table = read_xlsx(data, names, problems, sheet=sheet, limits=limits)
    else:
        table = read_json(data, names, problems)
    rows = validate(row_limited(table, problems, limits), vocabulary, problems)
    problems.raise_if_any()
    roster = Roster(path=file, sha256=sha256, rows=rows)
    if reuse:
        lines = PlainLines.of(data, shape, rows) if shape is not None else None
        _last[:] = [_Loaded(options, roster, lines)]
    return roster


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A roster this process loaded, the options it was read with, and its lines when
    the next version of the file can be read from the lines that changed."""

    options: tuple[object, ...]
    roster: Roster
    lines: PlainLines | None


#: The last export loaded with `reuse`, kept while the options are the same. The worker
#: loads the export for every push and every file drop: at 100,000 rows parsing it is
#: most of their latency, hashing the bytes a twentieth of it. The same bytes give the
#: same roster; a new version of a CSV with a row a line is read from its changed lines
#: (`syncbot.roster.reread`). Pushed rows, validated through the same function, do not
#: take its place.
_last: list[_Loaded] = []


def _check_options(file_format: str, delimiter: str, encoding: str) -> None:
    """Wrong options are a configuration mistake, reported against the setting, not the file."""
    if file_format != "auto" and file_format not in FORMATS:
        raise ConfigError(
            f"unknown roster format {file_format!r}; use auto, {', '.join(FORMATS)}",
            key="format",
        )
    if delimiter != "auto" and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise ConfigError(
            f"the delimiter must be one character ({', '.join(map(repr, DELIMITERS))}) or auto",
            key="delimiter",
        )
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"unknown encoding {encoding!r}", key="encoding") from None


def _format_of(path: Path) -> str | None:
    return EXTENSIONS.get(path.suffix.lower())


def _unknown_extension(path: Path) -> str:
    if path.suffix.lower() == ".xls":
        return say(*words.XLS_UNSUPPORTED)
    return say(*words.unknown_file_type(path.suffix), sorted(EXTENSIONS))


def _read_bytes(path: Path, problems: ProblemList, limits: RosterLimits) -> bytes:
    try:
        with path.open("rb") as handle:
            data = read_bounded(handle, limits.max_bytes)
    except FileNotFoundError:
        raise problems.fail(None, None, say(*words.NO_FILE)) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise problems.fail(
            None,
            None,
            say(*words.unreadable(reason)),
        ) from None
    if data is None:
        raise too_big(problems, limits)
    return data
