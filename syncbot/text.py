"""Word matching that treats the spellings people actually type as equal."""

from __future__ import annotations

import functools
import unicodedata


@functools.lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Normalise a word for comparison: NFC, case-folded, inner whitespace collapsed.

    HR exports mix composed and decomposed Vietnamese, stray double spaces and
    title case ("Phó giám đốc" / "Phó Giám Đốc"); all of them must match one mapping key.
    """
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def nfc(text: str) -> str:
    """Compose text to NFC and trim it, keeping its case for display."""
    return unicodedata.normalize("NFC", text).strip()
