"""JSON exports of HR systems: an array of staff objects, bare or under one well-known key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from syncbot.match_keys import fold
from syncbot.roster.fields import CANONICAL_FIELDS, HeaderNames, header_text, report_missing
from syncbot.roster.problems import ProblemList, say
from syncbot.roster.records import Record, Table, all_blank, blocks_of
from syncbot.wording import roster as words

#: Keys under which HR systems wrap the staff array ("nhân sự" is "staff").
ARRAY_KEYS = ("rows", "staff", "nhan_su")

_ARRAY_KEYS_FOLDED = frozenset(fold(k) for k in ARRAY_KEYS)


#: A record before the fields of the whole file are known: values by field.
_Keyed = tuple[int, dict[str, object], dict[str, str]]


class _Object(list[tuple[str, Any]]):
    """A JSON object with keys in file order and repeats kept, so none is silently lost."""


def read_json(data: bytes, names: HeaderNames, problems: ProblemList) -> Table:
    """Read every record; object keys are matched to fields like spreadsheet headers."""
    document = _parse(data, problems)
    array = _staff_array(document, problems)
    fields_seen: set[str] = set()
    records: list[_Keyed] = []
    keys = _KeyFields(names)
    for index, item in enumerate(array, start=1):
        record = _record(index, item, keys, problems)
        if record is not None:
            _, _, columns = record
            fields_seen.update(columns)
            records.append(record)
    # Which fields no record has is known only at the end, so records are read first here;
    # the document is in memory whole anyway.
    missing = report_missing(fields_seen, None, names, problems) if records else frozenset()
    fields = tuple(name for name in CANONICAL_FIELDS if name in fields_seen)
    return Table(blocks_of(_in_order(records, fields)), fields, missing)


def _in_order(records: list[_Keyed], fields: tuple[str, ...]) -> Iterator[Record]:
    """Each record's values in `fields` order; a key the record lacks reads as null."""
    for index, values, columns in records:
        yield index, tuple(map(values.get, fields)), columns


def _parse(data: bytes, problems: ProblemList) -> Any:
    try:
        # bytes in: json finds UTF-8 (with or without BOM), UTF-16 or UTF-32 by itself.
        return json.loads(data, object_pairs_hook=_Object)
    except json.JSONDecodeError as error:
        raise problems.fail(
            None,
            None,
            say(*words.invalid_json(error.lineno, error.colno, error.msg)),
        ) from None
    except UnicodeDecodeError:
        raise problems.fail(
            None,
            None,
            say(*words.JSON_NOT_UTF8),
        ) from None
    except RecursionError:
        raise problems.fail(None, None, say(*words.JSON_TOO_DEEP)) from None


def _staff_array(document: Any, problems: ProblemList) -> list[Any]:
    if _is_array(document):
        return list(document)
    if isinstance(document, _Object):
        arrays = [value for key, value in document if fold(key) in _ARRAY_KEYS_FOLDED]
        if len(arrays) == 1 and _is_array(arrays[0]):
            return list(arrays[0])
    raise problems.fail(
        None,
        None,
        say(*words.JSON_NO_ARRAY, ARRAY_KEYS),
    )


def _is_array(value: Any) -> bool:
    return isinstance(value, list) and not isinstance(value, _Object)


class _KeyFields:
    """Key as written -> (column text, field); records repeat the same few keys."""

    __slots__ = ("_known", "_names")

    def __init__(self, names: HeaderNames) -> None:
        self._names = names
        self._known: dict[str, tuple[str, str | None]] = {}

    def __call__(self, key: str) -> tuple[str, str | None]:
        found = self._known.get(key)
        if found is None:
            column = header_text(key)
            found = self._known[key] = (column, self._names.field_of(column))
        return found


def _record(index: int, item: Any, keys: _KeyFields, problems: ProblemList) -> _Keyed | None:
    if not isinstance(item, _Object):
        problems.add(
            index,
            None,
            say(*words.NOT_AN_OBJECT),
        )
        return None
    if all_blank(value for _, value in item):
        return None
    values: dict[str, object] = {}
    columns: dict[str, str] = {}
    valid = True
    for key, value in item:
        column, name = keys(key)
        if name is None:
            continue
        if name in columns:
            problems.add(
                index,
                column,
                say(*words.duplicate_key(column, columns[name], name)),
            )
            valid = False
            continue
        if isinstance(value, list):
            problems.add(
                index,
                column,
                say(*words.NOT_A_SCALAR),
            )
            valid = False
        columns[name] = column
        values[name] = value
    return (index, values, columns) if valid else None
