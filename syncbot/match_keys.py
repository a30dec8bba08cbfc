"""Comparing what people type: words, ids and addresses in the spellings that are equal."""

from __future__ import annotations

import functools
import unicodedata


@functools.lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Normalise a word for comparison: NFC, case-folded, inner whitespace collapsed.

    HR exports mix composed and decomposed Vietnamese, stray double spaces and
    title case ("Phó giám đốc" / "Phó Giám Đốc"); all of them must match one mapping key.
    """
    if text.isascii() and text.isprintable() and " " not in text:
        # Usernames and DNs, a whole directory of them: nothing to compose or collapse,
        # and ASCII's case fold is its lower case.
        return text.lower()
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def nfc(text: str) -> str:
    """Compose text to NFC and trim it, keeping its case for display."""
    return unicodedata.normalize("NFC", text).strip()


def id_key(value: str | None) -> str:
    """An employee id as matching compares it: trimmed, case-blind ("" when blank).

    Two ids match when their Unicode case folds are equal. The key is the fold, written
    in upper case when it is ASCII, so that an id already in that form (HR writes "NV001")
    is its own key: indexing 100k people then copies no string.
    """
    value = (value or "").strip()
    key = value.casefold()
    if key.isascii():
        key = key.upper()
    return value if key == value else key


def contact_key(value: str | None) -> str:
    """An e-mail address or username as the fallback compares it: trimmed, case-folded;
    a value already folded (addresses mostly are) is its own key."""
    value = (value or "").strip()
    key = value.casefold()
    return value if key == value else key
