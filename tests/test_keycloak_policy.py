"""The realm password policy string as terms: parsing, writing back, merging (pure code)."""

from __future__ import annotations

import pytest

from syncbot.duty_settings import CharClass, PasswordPolicy
from syncbot.targets.keycloak.policy import PolicyError, merge, parse, serialise, wanted_terms


def test_parse_reads_keycloaks_own_form() -> None:
    text = (
        "length(8) and upperCase(1) and digits(1) and notUsername(undefined) and "
        "passwordHistory(3) and forceExpiredPasswordChange(180)"
    )
    assert parse(text) == {
        "length": "8",
        "upperCase": "1",
        "digits": "1",
        "notUsername": "",
        "passwordHistory": "3",
        "forceExpiredPasswordChange": "180",
    }
    assert list(parse(text)) == [
        "length",
        "upperCase",
        "digits",
        "notUsername",
        "passwordHistory",
        "forceExpiredPasswordChange",
    ]


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_policy_is_no_terms(text: str | None) -> None:
    assert parse(text) == {}


def test_order_spacing_and_empty_arguments_do_not_matter() -> None:
    a = parse("length(12) and notUsername(undefined) and digits(1)")
    b = parse("  digits( 1 )   and\tnotUsername(undefined)  and length(12) ")
    c = parse("notUsername and digits(1) and length(12)")
    d = parse("notUsername() and digits(1) and length(12)")
    assert a == b == c == d
    assert list(a) != list(c)  # order is kept, only comparison ignores it


def test_unknown_terms_and_arguments_with_and_or_parentheses_survive() -> None:
    text = "hashIterations(27500) and regexPattern(^(a|b) and (c)$) and passwordBlacklist(x.txt)"
    terms = parse(text)
    assert terms == {
        "hashIterations": "27500",
        "regexPattern": "^(a|b) and (c)$",
        "passwordBlacklist": "x.txt",
    }
    assert parse(serialise(terms)) == terms


def test_a_term_named_twice_keeps_its_last_argument_as_keycloak_does() -> None:
    assert parse("length(8) and length(10)") == {"length": "10"}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("length(8", "unclosed '('"),
        ("length(8))", "unbalanced ')'"),
        ("length(8) and", "stray 'and'"),
        ("and length(8)", "stray 'and'"),
        ("length(8) and  and digits(1)", "stray 'and'"),
        ("length(8)x", "text after ')'"),
        ("length(8)and digits(1)", "text after ')'"),
        ("(8)", "is not a policy term name"),
        ("le ngth(8)", "is not a policy term name"),
        ("độ-dài(8)", "is not a policy term name"),
    ],
)
def test_malformed_text_is_a_clear_error(text: str, complaint: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse(text)
    assert complaint in str(caught.value)
    assert repr(text) in str(caught.value)  # the whole policy, to find it in the console


def test_serialise_writes_undefined_for_terms_without_argument() -> None:
    assert serialise({"length": "12", "notUsername": ""}) == (
        "length(12) and notUsername(undefined)"
    )
    assert serialise({}) == ""


def test_merge_keeps_unmanaged_terms_and_their_places() -> None:
    current = parse("hashIterations(27500) and length(8) and passwordBlacklist(x.txt)")

    merged = merge(current, {"length": "12", "upperCase": "1", "notUsername": "undefined"})

    assert list(merged.items()) == [
        ("hashIterations", "27500"),
        ("length", "12"),
        ("passwordBlacklist", "x.txt"),
        ("upperCase", "1"),
        ("notUsername", ""),
    ]
    assert serialise(merged) == (
        "hashIterations(27500) and length(12) and passwordBlacklist(x.txt) and "
        "upperCase(1) and notUsername(undefined)"
    )
    assert current["length"] == "8"  # the input is not changed


def test_merge_removes_a_term_wanted_as_none_and_ignores_an_absent_one() -> None:
    current = parse("length(8) and passwordHistory(3)")
    assert merge(current, {"passwordHistory": None, "digits": None}) == {"length": "8"}
    assert merge(current, {}) == current


def test_wanted_terms_follow_the_rules() -> None:
    rules = PasswordPolicy(
        min_length=12,
        classes=frozenset(CharClass),
        not_username=True,
        history=5,
        max_age_days=90,
    )
    assert wanted_terms(rules) == {
        "length": "12",
        "upperCase": "1",
        "lowerCase": "1",
        "digits": "1",
        "specialChars": "1",
        "notUsername": "",
        "passwordHistory": "5",
        "forceExpiredPasswordChange": "90",
    }
    assert wanted_terms(PasswordPolicy()) == {}
    assert wanted_terms(PasswordPolicy(classes=frozenset({CharClass.DIGIT}))) == {"digits": "1"}
