"""What one roster load remembers of the few words and dates every row repeats.

Both ways of checking rows (a block at a time in `validate_block`, one row at a time in
`validate_row`) read words through the same `Lookups`, so they agree on every meaning, and every row
holds the one object of a repeated value rather than a copy of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from syncbot.match_keys import fold
from syncbot.model import Status, Vocabulary
from syncbot.roster.dates import DateProblem, parse_date

_T = TypeVar("_T")


class Words(Generic[_T]):
    """`lookup` of each distinct word, remembered; an empty word means nothing (None)."""

    __slots__ = ("_lookup", "_unknown", "known")

    def __init__(self, lookup: Callable[[str], _T | None]) -> None:
        self._lookup = lookup
        self.known: dict[str, _T | None] = {"": None}
        self._unknown: set[str] = set()  # non-empty words with no meaning

    def __call__(self, word: str) -> _T | None:
        try:
            return self.known[word]
        except KeyError:
            meaning = self.known[word] = self._lookup(word)
            if meaning is None:
                self._unknown.add(word)
            return meaning

    def each(self, words: Sequence[str]) -> tuple[_T | None, ...] | None:
        """The meaning of every word (None for an empty one); None if one is unknown."""
        for word in set(words).difference(self.known):
            self(word)
        if not self._unknown.isdisjoint(words):
            return None
        return tuple(map(self.known.__getitem__, words))


class Dates:
    """Effective dates by their text, each parsed once; an empty text is no date (None)."""

    __slots__ = ("_bad", "known")

    def __init__(self) -> None:
        self.known: dict[str, date | None] = {"": None}
        self._bad: set[str] = set()  # texts that are not dates; reported by `validate_row`

    def each(self, texts: Sequence[str]) -> tuple[date | None, ...] | None:
        """The date of every text; None if one is not a date."""
        for text in set(texts).difference(self.known, self._bad):
            try:
                self.known[text] = parse_date(text)
            except DateProblem:
                self._bad.add(text)
        if not self._bad.isdisjoint(texts):
            return None
        return tuple(map(self.known.__getitem__, texts))


@dataclass(slots=True)
class Lookups:
    """Per-load memory of a roster's repeated words; dropped with the load."""

    vocabulary: Vocabulary
    statuses: Words[Status]
    roles: Words[str]  # -> canonical role name
    dates: Dates = field(default_factory=Dates)
    # Units, positions and status words: 100k copies of "Phòng Kế hoạch - Tài chính"
    # would be a third of the memory a roster keeps.
    shared: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> Lookups:
        statuses, roles = vocabulary.statuses, vocabulary.roles
        # HR spells a word a handful of ways; each distinct spelling is folded once.
        return cls(
            vocabulary,
            Words(lambda word: statuses.get(fold(word))),
            Words(lambda word: roles.get(fold(word))),
        )

    def share(self, text: str) -> str:
        """The one string of this value held by every row."""
        return self.shared.setdefault(text, text)
