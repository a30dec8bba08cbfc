"""A (Vietnamese, English) pair, and how the language setting shows it.

Every bilingual message is one of these pairs, so "vi / en" is written the same way in every
place that shows both languages.
"""

from __future__ import annotations

#: (Vietnamese, English): Vietnamese first, as the users read it.
Pair = tuple[str, str]


def both(pair: Pair) -> str:
    """Both languages on one line, Vietnamese first."""
    return f"{pair[0]} / {pair[1]}"


def choose(pair: Pair, lang: str) -> str:
    """The side `lang` asks for: "en", "both", anything else Vietnamese (the default)."""
    if lang == "en":
        return pair[1]
    if lang == "both":
        return both(pair)
    return pair[0]
