"""Distinguished names as comparable keys.

A DN reaches syncbot in several spellings of the same name: typed in a mapping file
(`cn=Nhóm A\\, B`), returned by the server in its own form (`cn=Nhóm A\\2C B`), stored in a
`member` value with whatever case the writer used. `normalise_dn` maps all of them to one
key: RDN types and values lower-cased, values unescaped then re-escaped with
`escape_rdn`, Unicode composed (NFC), no spaces around separators.
"""

from __future__ import annotations

import re
import unicodedata

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import escape_rdn, parse_dn

# One RDN whose value needs no escaping at all: no special character, no leading '#' or
# space, no trailing space. A DN made only of those is already in canonical form up to
# case and Unicode composition, which is how servers return nearly every DN; such DNs skip
# the ~20 µs parse.
_TYPE = r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)"
_PLAIN = r"[^\\,+\"<>;=\x00]"
_VALUE = rf"[^\\,+\"<>;=\x00#\s](?:{_PLAIN}*[^\\,+\"<>;=\x00\s])?"
SIMPLE_RDN = re.compile(rf"{_TYPE}={_VALUE}")
SIMPLE_DN = re.compile(rf"{_TYPE}={_VALUE}(?:,{_TYPE}={_VALUE})*")
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")


class InvalidDnError(ValueError):
    """The text is not a distinguished name syntax syncbot can compare."""


def normalise_dn(dn: str) -> str:
    """Return the comparison key of `dn`; raise `InvalidDnError` if it cannot be parsed."""
    text = unicodedata.normalize("NFC", dn.strip())
    if SIMPLE_DN.fullmatch(text):
        lowered = text.lower()
        # The very string when it is its own key (as servers return most DNs): a large
        # directory then holds one copy of each DN, not two.
        return text if lowered == text else lowered
    try:
        parts = parse_dn(text, escape=False, strip=True)
    except LDAPInvalidDnError as error:
        raise InvalidDnError(f"not a valid DN: {dn!r} ({error})") from None
    rdns: list[list[str]] = [[]]
    for attribute_type, value, separator in parts:
        rdns[-1].append(f"{attribute_type.lower()}={_canonical_value(value)}")
        if separator == ",":
            rdns.append([])
    # Multi-valued RDNs (a+b) are unordered sets: sort so both spellings give one key.
    return ",".join("+".join(sorted(avas)) for avas in rdns if avas)


def normalise_server_dn(dn: str) -> str:
    """Like `normalise_dn`, for text a server returned: never fails, at worst lower-cases."""
    try:
        return normalise_dn(dn)
    except InvalidDnError:
        return unicodedata.normalize("NFC", dn.strip()).lower()


def child_dn(attribute_type: str, value: str, parent: str) -> str:
    """The DN of `attribute_type=value` directly under `parent`, with the value escaped."""
    if not value:
        raise InvalidDnError("an RDN value cannot be empty")
    return f"{attribute_type}={escape_rdn(value)},{parent}"


def first_rdn_value(dn: str) -> str:
    """The unescaped value of the first RDN (e.g. the uid of `uid=x,ou=people,…`)."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPInvalidDnError:
        return dn.split(",", 1)[0].partition("=")[2]
    return unescape_value(parts[0][1]) if parts else ""


def unescape_value(value: str) -> str:
    """Undo RFC 4514 escaping: `\\,` and `\\2C` both become `,`; hex pairs are UTF-8 bytes."""
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = value[1:-1]  # RFC 1779 quoting, still produced by a few old servers
    if "\\" not in value:
        return value
    out = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        if char != "\\" or index + 1 >= len(value):
            out += char.encode("utf-8")
            index += 1
            continue
        pair = value[index + 1 : index + 3]
        if _HEX_PAIR.fullmatch(pair):
            out.append(int(pair, 16))
            index += 3
        else:
            out += value[index + 1].encode("utf-8")
            index += 2
    return out.decode("utf-8", "replace")


def _canonical_value(value: str) -> str:
    raw = unicodedata.normalize("NFC", unescape_value(value))
    return escape_rdn(raw).lower() if raw else ""
