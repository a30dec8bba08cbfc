"""The audit record format: canonical JSON lines joined into a sha256 hash chain.

File format
-----------
The audit log is a UTF-8 text file of JSON lines, only ever appended to. Every line is
the canonical JSON of one object::

    json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

terminated by a single "\\n". Non-finite numbers (NaN, Infinity) are not allowed. Because
the form is canonical, re-serialising a parsed line must give back its exact bytes; any
other byte sequence (even extra whitespace) is an edit.

Keys present in every record:

``seq``
    int, the 1-based line number of the record in the file.
``time``
    when the record was written, UTC, ISO 8601 with microseconds and "Z",
    e.g. ``"2024-05-01T07:30:00.123456Z"``.
``run_id``
    str, the run that wrote the record.
``actor``
    str, who ran it, e.g. ``"root@host via syncbot apply"``.
``event``
    ``"run_started"``, ``"change"``, ``"run_finished"``, ``"audit_recovered"``,
    ``"audit_sealed"``, or one of the plan events below.
``prev``
    sha256 hex of the previous line's bytes without its "\\n"; 64 zeros on line 1.
``hash``
    sha256 hex of the canonical JSON of this object without the ``hash`` key.

Keys of a ``"change"`` record (one per change attempted in a target):

``target`` (str), ``account`` (str, the target's handle: a DN or user id),
``username`` (str or null: the login name, for people reading the record),
``employee_id`` (str or null), ``action`` (str: "configure", "disable",
"require_password_change", "sign_out", "enable", "grant", "revoke", "change_unit"),
``before`` and ``after`` (objects; for "configure", ``{"settings": [{"name": ...,
"value": ...}]}`` in the product's own setting names, which may contain "password"),
``reason`` (``{"vi": ..., "en": ...}``),
``evidence`` (object naming the roster file, its sha256 and row, or null),
``result`` (``"ok"`` or ``"failed"``), ``error`` (str or null).

Keys of ``"run_started"`` / ``"run_finished"``: ``details``, an object with the summary
the caller passed (roster sha256, counts, exit status...).

Records about saved plans (`syncbot.approval`) have a ``details`` object too:
``"plan_refused"`` (the saved plan's ``plan_id``, the thresholds crossed, who requested
it), ``"plan_approved"`` / ``"plan_rejected"`` (``plan_id``, ``user`` and ``uid`` of who
decided, ``time``, ``note``; an approval also the ``thresholds`` it approved past) and
``"step_skipped"`` (``plan_id``, the ``step`` as a change record would hold it, and the
``reason`` it was not applied). The records of a run applying an approved plan, its
changes included, also carry a top-level ``plan_id`` key.

``"audit_recovered"`` is written when a previous write was cut short (power loss): the
incomplete last line is moved to ``<log>.torn-<UTC time>`` and this record's ``details``
holds ``torn_bytes``, ``torn_sha256`` and ``saved_to``.

``"audit_sealed"`` closes an epoch and each run (`syncbot.audit.seal`): its ``details``
hold ``epoch`` and ``step`` (which key sealed it), ``covers_seq`` and ``covers_hash`` (the
record before it), ``prev_mac`` (the previous seal's MAC, 64 zeros for the first) and
``mac``, HMAC-SHA256 over those five with the epoch's key; the one written by
`syncbot audit setup-keys` also has ``setup`` (the epoch parameters). Readers that list
changes skip it like any run event.

No key anywhere in a record, however deeply nested, may look like a secret (contain
"password", "secret", "token", "credential"...): the writer refuses such records.

Checking the chain
------------------
Line *n* is intact when it is canonical, its ``hash`` matches its content, its ``seq`` is
*n* and its ``prev`` is the sha256 of line *n-1*'s bytes. Editing, removing, inserting or
reordering lines breaks the chain at the first affected line; removing lines at the end
is caught by comparing with the (seq, hash) syncbot last wrote (the anchor in the state
folder). Seals, checked with the inspector's verification key, catch a file re-chained
by someone who also rewrote the state folder (`syncbot audit verify --key`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_PREV = "0" * 64

RUN_STARTED = "run_started"
CHANGE = "change"
RUN_FINISHED = "run_finished"
AUDIT_RECOVERED = "audit_recovered"
AUDIT_SEALED = "audit_sealed"
PLAN_REFUSED = "plan_refused"
PLAN_APPROVED = "plan_approved"
PLAN_REJECTED = "plan_rejected"
STEP_SKIPPED = "step_skipped"
PLAN_EVENTS = frozenset({PLAN_REFUSED, PLAN_APPROVED, PLAN_REJECTED, STEP_SKIPPED})
EVENTS = frozenset({RUN_STARTED, CHANGE, RUN_FINISHED, AUDIT_RECOVERED, AUDIT_SEALED, *PLAN_EVENTS})
RUN_EVENTS = frozenset({RUN_STARTED, RUN_FINISHED, AUDIT_RECOVERED})

RESULT_OK = "ok"
RESULT_FAILED = "failed"
RESULTS = frozenset({RESULT_OK, RESULT_FAILED})

#: Key fragments that mark a value as a secret; matched case-insensitively anywhere in a key.
SECRET_KEY_MARKERS = (
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "api_key",
    "apikey",
    "private_key",
)

#: No record comes near this; a longer line is damage, and the bound keeps readers'
#: memory constant whatever the file holds.
MAX_LINE_BYTES = 16 * 1024 * 1024

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class DamagedRecord(ValueError):
    """One line of the log is not an intact record; the message says what is wrong."""


def canonical_json(obj: Mapping[str, Any]) -> str:
    """The one serialisation every record is written and checked in."""
    return json.dumps(
        obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    """sha256 of the record's canonical JSON without its own `hash` key."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def line_digest(line: bytes) -> str:
    """sha256 of one stored line without its newline: what the next record's `prev` holds."""
    return hashlib.sha256(line).hexdigest()


def format_time(moment: datetime) -> str:
    """UTC with microseconds and "Z", so records sort and compare as text too."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Read a record's `time` back as an aware UTC datetime."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def secret_key_paths(value: Any, path: str = "") -> Iterator[str]:
    """Dotted paths of every key, at any depth, whose name looks like it holds a secret."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            folded = str(key).casefold()
            if any(marker in folded for marker in SECRET_KEY_MARKERS):
                yield here
            yield from secret_key_paths(item, here)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secret_key_paths(item, f"{path}[{index}]")


@functools.lru_cache(maxsize=4096)
def _looks_secret(key: str) -> bool:
    """Records repeat the same few dozen keys: decide each name once."""
    folded = key.casefold()
    return any(marker in folded for marker in SECRET_KEY_MARKERS)


def has_secret_key(value: Any) -> bool:
    """`secret_key_paths` without building the paths: it runs for every record written."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, inner in item.items():
                if _looks_secret(str(key)):
                    return True
                if isinstance(inner, Mapping | list | tuple):
                    stack.append(inner)
        elif isinstance(item, list | tuple):
            stack.extend(inner for inner in item if isinstance(inner, Mapping | list | tuple))
    return False


def refused_secret_keys(record: Mapping[str, Any]) -> ValueError:
    """The error for a record with secret-looking keys: it names the keys, never the values."""
    found = list(secret_key_paths(record))
    return ValueError(f"audit record refused: secret-looking keys {', '.join(found)}")


def plain_json(value: Any) -> Any:
    """`value` as plain JSON (dicts, lists, strings, finite numbers, null), or ValueError.

    Any Mapping or sequence a caller holds becomes a dict or list, so it serialises; what
    JSON cannot hold exactly is refused rather than written in a form that cannot verify.
    """
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                # JSON would turn it into a string and sort it differently on re-reading,
                # so the record could never verify
                raise ValueError(f"audit record keys must be strings, not {type(key).__name__}")
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"audit record is not plain JSON: {value} is not a finite number")
    if value is None or isinstance(value, str | int | float):
        return value
    # the value itself is not shown: it might be a secret
    raise ValueError(f"audit record is not plain JSON: holds a {type(value).__name__}")


def parse_line(raw: bytes) -> dict[str, Any]:
    """Parse one stored line (without "\\n") and check it is intact on its own.

    Checks everything a single line can prove: UTF-8, a JSON object, canonical bytes,
    a well-formed `seq`/`prev`, and a `hash` that matches the content. Chaining to the
    previous line is the caller's job.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedRecord("not valid UTF-8") from None
    try:
        record = json.loads(text)
    except ValueError:
        raise DamagedRecord("not valid JSON") from None
    if not isinstance(record, dict):
        raise DamagedRecord("not a JSON object")
    try:
        canonical = canonical_json(record).encode("utf-8")
    except (ValueError, TypeError):
        canonical = b""
    if canonical != raw:
        raise DamagedRecord("not in canonical form (edited?)")
    stored_hash = record.get("hash")
    if not isinstance(stored_hash, str):
        raise DamagedRecord("has no hash")
    if record_hash(record) != stored_hash:
        raise DamagedRecord("hash does not match its content (edited?)")
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise DamagedRecord("has no valid seq")
    if not isinstance(record.get("prev"), str):
        raise DamagedRecord("has no prev hash")
    return record
