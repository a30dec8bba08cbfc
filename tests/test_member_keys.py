"""Member DN keys by the shortcut give exactly `normalise_server_dn`'s key (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncbot.targets.ldap.dn import normalise_server_dn
from syncbot.targets.ldap.member_keys import member_keys

PARENT = "ou=people,dc=example,dc=gov,dc=vn"

ODD = [
    f"UID=U1,{PARENT}",  # upper case: lowered
    f"uid=u2, OU=People,{PARENT}",  # spaces around a separator: parsed
    f" uid=u3,{PARENT}",  # a leading space
    f"uid=u4 ,{PARENT}",  # a trailing space in a value
    f"uid=u5,{PARENT} ",
    f"uid=#u6,{PARENT}",  # a value starting with '#'
    f"uid=u7=x,{PARENT}",  # '=' inside a value
    f"uid=a\\2Cb,{PARENT}",  # escaped comma
    f"cn=Nhóm A\\, B,{PARENT}",  # not ASCII, escaped comma
    f"cn=Nho\u0301m,{PARENT}",  # decomposed Unicode: composed in the key
    f"uid=a.b-c_d,{PARENT}",  # punctuation: the pattern decides
    f"1.2.3=x,{PARENT}",  # a numeric attribute type
    f"uid=,{PARENT}",  # an empty value
    f"=x,{PARENT}",
    f"uid=x,{PARENT},",  # an empty last RDN
    "uid=alone",  # no parent
    "uid=a,",
    "not a dn",
    "",
]


def test_odd_spellings_get_the_same_key_as_normalise_server_dn() -> None:
    key = member_keys()
    for dn in [*ODD, *ODD]:  # twice: the second time with the parents remembered
        assert key(dn) == normalise_server_dn(dn), dn


def test_a_dn_already_in_canonical_form_is_its_own_key() -> None:
    key = member_keys()
    dn = "".join(f"uid=u1,{PARENT}")  # a string of its own, as a search decodes it
    assert key(dn) is dn


_TEXT = st.text(alphabet=st.sampled_from('aZ09 .-_#=,+\\"<>;\x00óÓ\u0301'), max_size=8)


@given(st.lists(st.tuples(_TEXT, st.sampled_from(["", ",", f",{PARENT}", ", ou=X"]))))
def test_any_text_gets_the_same_key_as_normalise_server_dn(parts: list[tuple[str, str]]) -> None:
    key = member_keys()
    for first, rest in parts:
        for dn in (f"uid={first}{rest}", f"{first}{rest}", f"cn={first},uid={first}{rest}"):
            assert key(dn) == normalise_server_dn(dn), dn
