"""The items of a JSON array decoded as its bytes arrive, never the whole answer at once.

A role's member list in a 20,000-user realm is one answer of some 5 MB (see
`read.read_members` for why it is not paged); held whole, as bytes and then as the text
`json.loads` decodes (two or four bytes a character once a Vietnamese name is in it), it
took 11 MiB at the top of a run that otherwise needs 20. Decoded item by item, each
member is its id as soon as its object ends, and what is held is one chunk of the answer.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_BLANK = re.compile(r"[ \t\n\r]*")
_AFTER_ITEM = frozenset(" \t\n\r,]")


class NotAList(ValueError):
    """The answer is not a JSON array, or is cut off or broken inside one."""


def array_items(
    chunks: Iterable[bytes], hook: Callable[[dict[str, Any]], Any] | None = None
) -> Iterator[Any]:
    """Each item of the UTF-8 JSON array that `chunks` spell, as `json.loads` with
    `object_hook=hook` would give it; `NotAList` if they spell something else."""
    decoder = json.JSONDecoder(object_hook=hook)
    source = _Text(chunks)
    char = source.next_char()
    if char != "[":
        raise NotAList(f"the answer is not a list (it starts with {char!r})")
    source.at += 1
    if source.next_char() == "]":
        source.at += 1
    else:
        while True:
            yield source.item(decoder)
            char = source.next_char()
            source.at += 1
            if char == "]":
                break
            if char != ",":
                raise NotAList(f"{char!r} where a comma or the list's end belongs")
    if source.next_char() is not None:
        raise NotAList("more follows the list")


class _Text:
    """The part of the answer not read yet, decoded, one chunk ahead at most."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._stream = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.at = 0
        self.ended = False

    def more(self) -> bool:
        """Read the next chunk (and drop what was read before `at`); False at the end."""
        if self.ended:
            return False
        chunk = next(self._stream, None)
        self.ended = chunk is None
        self.text = self.text[self.at :] + self._utf8.decode(chunk or b"", final=self.ended)
        self.at = 0
        return True

    def next_char(self) -> str | None:
        """The next character that is not blank, left unread; None at the end."""
        while True:
            found = _BLANK.match(self.text, self.at)
            self.at = found.end() if found else self.at
            if self.at < len(self.text):
                return self.text[self.at]
            if not self.more():
                return None

    def item(self, decoder: json.JSONDecoder) -> Any:
        """The item starting here. Unless a blank, a comma or the list's end follows it,
        it may go on in the next chunk (an object cut in two, `1` of `1.5`): it is then
        decoded again with that chunk."""
        while True:
            self.next_char()
            try:
                item, end = decoder.raw_decode(self.text, self.at)
            except json.JSONDecodeError as error:
                if self.more():
                    continue
                raise NotAList(f"a broken or unfinished item: {error}") from None
            if self.text[end : end + 1] in _AFTER_ITEM or not self.more():
                self.at = end
                return item
