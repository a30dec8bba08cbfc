"""Member DNs of large groups as comparison keys, without checking every DN whole.

`normalise_server_dn` decides whether a DN needs parsing by matching it whole against the
pattern of DNs that need no escaping; at 100,000 members that match was most of indexing
the groups. Members of one directory share their parent DN: it is matched once, and then
only each member's first RDN, mostly without a pattern. The key is always the one
`normalise_server_dn` gives.
"""

from __future__ import annotations

from collections.abc import Callable

from syncbot.targets.ldap.dn import SIMPLE_DN, SIMPLE_RDN, normalise_server_dn

# A DN is simple (`SIMPLE_DN`, needing no escaping) when its first RDN and its parent both
# are: no value of either may hold a comma, so the first comma is where they meet.


def member_keys() -> Callable[[str], str]:
    """`normalise_server_dn`, remembering which parent DNs are simple (one per call site)."""
    simple_parents: dict[str, bool] = {}

    def key(dn: str) -> str:
        if dn.isascii():  # then Unicode composition changes nothing
            rdn, comma, parent = dn.partition(",")
            simple = simple_parents.get(parent)
            if simple is None:
                simple = simple_parents[parent] = bool(comma) and (
                    SIMPLE_DN.fullmatch(parent) is not None
                )
            if simple:
                kind, equals, value = rdn.partition("=")
                # Letters and digits alone need no escaping: the pattern only for the rest.
                if (
                    equals and value.isalnum() and kind.isalnum() and kind[0].isalpha()
                ) or SIMPLE_RDN.fullmatch(rdn):
                    # Simple: no space to strip at either end, its own key up to case.
                    lowered = dn.lower()
                    return dn if lowered == dn else lowered
        return normalise_server_dn(dn)

    return key
