"""Active Directory's ranged retrieval: a large group's members come in windows.

AD returns at most MaxValRange (1,500 by default) values of one attribute per entry in a
search result. A group with more members comes back as `member;range=0-1499` and no
`member` at all; the rest must be asked for with base searches for `member;range=1500-*`,
window after window, until the server names a range ending in `*`. Read as plain `member`,
a role group of 2,000 people looks empty: nobody's role would ever be revoked, and every
grant would be planned again on every run.

So the `ad` flavour asks for the first window by name and this module follows the rest.
Samba hands a whole list over when no range is asked, but honours a range when one is: asking
for `member;range=0-1499` makes it take the same path as Windows, which is what the live
tests rely on. ldap3 follows ranges by itself (its `auto_range`) and files the values under
the plain name; both shapes are read here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from syncbot.targets.ldap.flavours import Attributes, LoweredAttributes, text_value

_RANGED = re.compile(r"^(?P<name>[^;]+);range=(?P<low>\d+)-(?P<high>\d+|\*)$", re.IGNORECASE)

#: (entry DN, attribute with its range option) -> that entry's attributes, as read.
WindowReader = Callable[[str, str], Attributes]


class RangeError(Exception):
    """The server's ranges do not add up (a window that does not move on)."""


def first_window(attribute: str, step: int) -> str:
    """The attribute as the first search asks for it: `member;range=0-1499`."""
    return f"{attribute};range=0-{step - 1}"


def collected(attributes: Attributes, attribute: str) -> tuple[list[str], int | None]:
    """The values of `attribute` in one answer, plain and ranged, and the index the next
    window starts at (None when the answer holds the last one, or no range at all)."""
    wanted = attribute.lower()
    found: list[str] = []
    following: int | None = None
    for name, raw in attributes.items():
        if name.lower() == wanted:
            found += _texts(raw)
            continue
        match = _RANGED.match(name)
        if match is None or match["name"].lower() != wanted:
            continue
        texts = _texts(raw)
        if not texts:  # ldap3 leaves the name asked for empty once it has followed it
            continue
        found += texts
        if match["high"] != "*":
            following = int(match["high"]) + 1
    return found, following


def completed(
    entries: Iterable[dict[str, Any]], attribute: str, read_window: WindowReader
) -> Iterator[dict[str, Any]]:
    """Each entry with every value of `attribute` under its plain name, the windows the
    first answer left out read with `read_window`."""
    for entry in entries:
        found, following = collected(entry["attributes"], attribute)
        while following is not None:
            more, after = collected(
                read_window(entry["dn"], f"{attribute};range={following}-*"), attribute
            )
            if after is not None and after <= following:
                raise RangeError(f"{entry['dn']}: {attribute} range does not advance")
            if not more:
                break  # the list shrank while it was read: what is there is all there is
            found += more
            following = after
        # Groups are read for their members only: nothing else of the entry is kept.
        entry["attributes"] = LoweredAttributes({attribute.lower(): found})
        yield entry


def _texts(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return [text_value(v) for v in raw]
    return [text_value(raw)]
