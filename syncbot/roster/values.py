"""Turning raw cells (text, spreadsheet numbers, JSON numbers) into the text HR meant."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date

from syncbot.match_keys import nfc
from syncbot.wording import roster as words

# One @, something before it, a dot inside the domain, no spaces. ASCII only: the LDAP
# `mail` attribute is IA5String, and a diacritic in an address is always a typing slip.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+")
# A column of them, one a line, each line empty or one address (an address has no \n).
_EMAIL_LINES = re.compile(f"(?:(?:{_EMAIL.pattern})?\n)*")


#: What Excel shows in a cell whose formula failed; exported, it reads like ordinary text.
EXCEL_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
)


class ValueProblem(ValueError):
    """Why a cell cannot be read as text, in both languages of the problem report."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en


def cell_text(value: object) -> str:
    """A cell as NFC text without surrounding spaces; numbers as written, 1001.0 as "1001"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, bool):
        raise ValueProblem(*words.boolean_not_text(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return nfc(str(value))


def _number_text(value: float) -> str:
    if not math.isfinite(value):
        raise ValueProblem(*words.invalid_number(value))
    if value.is_integer():
        # Spreadsheets and JSON writers turn the text 1001 into the number 1001.0.
        return str(int(value))
    return repr(value)


def identifier_text(value: object) -> str:
    """An employee id: a fractional number is never one, whatever the cell shows."""
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        raise ValueProblem(*words.fractional_id(value))
    return cell_text(value)


def is_email(text: str) -> bool:
    return text.isascii() and _EMAIL.fullmatch(text) is not None


def all_emails(texts: Sequence[str]) -> bool:
    """`is_email` of every non-empty text of a column, in a few C calls for all of them."""
    lines = "\n".join((*texts, ""))  # each text ends with its line break
    return (
        lines.isascii()
        and lines.count("\n") == len(texts)  # no text holds a line break of its own
        and _EMAIL_LINES.fullmatch(lines) is not None
    )
