"""A realm's password policy string as terms: parsed, merged and written back.

Keycloak keeps the whole policy in one string, `length(12) and upperCase(1) and
notUsername(undefined)`. Comparing those strings would call a reordered or respaced policy
drift, and writing back a string of our own would drop terms syncbot does not manage
(`hashIterations`, `passwordBlacklist`, a `regexPattern` a security officer added). So the
string is read into an ordered name -> argument mapping, only the managed terms are
changed in it, and it is written back in Keycloak's own form.

Arguments are kept as text. A term without one (`notUsername`, `notUsername()`, the admin
console's `notUsername(undefined)`) has the argument "" whichever way it was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from syncbot.duty_settings import CharClass, PasswordPolicy

#: What the admin console writes for a term that takes no argument; Keycloak accepts it.
_NO_ARGUMENT = "undefined"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_AND = re.compile(r"\s+and(?=\s)")  # the text is padded with spaces

#: Keycloak's policy term for each character class, each asking for at least one.
CLASS_TERMS = {
    CharClass.UPPER: "upperCase",
    CharClass.LOWER: "lowerCase",
    CharClass.DIGIT: "digits",
    CharClass.SPECIAL: "specialChars",
}
LENGTH = "length"
NOT_USERNAME = "notUsername"
HISTORY = "passwordHistory"
MAX_AGE = "forceExpiredPasswordChange"


class PolicyError(ValueError):
    """The realm's policy string is not one Keycloak could have written."""


def parse(text: str | None) -> dict[str, str]:
    """`length(12) and notUsername(undefined)` -> {"length": "12", "notUsername": ""}.

    Terms keep their order; a term named twice keeps its last argument, as Keycloak does.
    Raises `PolicyError` naming the offending part.
    """
    terms: dict[str, str] = {}
    for raw in _split(text or ""):
        name, argument = _term(raw, text or "")
        terms[name] = argument
    return terms


def serialise(terms: Mapping[str, str]) -> str:
    """The policy string Keycloak stores, in the order of `terms`."""
    return " and ".join(f"{name}({argument or _NO_ARGUMENT})" for name, argument in terms.items())


def merge(current: Mapping[str, str], changes: Mapping[str, str | None]) -> dict[str, str]:
    """`current` with `changes` applied: a value sets a term, None removes it.

    Terms keep their place; new ones go at the end; terms not named in `changes` stay.
    """
    merged = dict(current)
    for name, argument in changes.items():
        if argument is None:
            merged.pop(name, None)
        else:
            merged[name] = normalise(argument)
    return merged


def normalise(argument: str) -> str:
    """An argument as compared and stored: trimmed, "undefined" meaning none."""
    text = argument.strip()
    return "" if text in (_NO_ARGUMENT, "null") else text


def wanted_terms(policy: PasswordPolicy) -> dict[str, str]:
    """The terms the configured password rules call for, in Keycloak's vocabulary."""
    terms: dict[str, str] = {}
    if policy.min_length is not None:
        terms[LENGTH] = str(policy.min_length)
    for char_class, term in CLASS_TERMS.items():
        if char_class in policy.classes:
            terms[term] = "1"
    if policy.not_username:
        terms[NOT_USERNAME] = ""
    if policy.history is not None:
        terms[HISTORY] = str(policy.history)
    if policy.max_age_days is not None:
        terms[MAX_AGE] = str(policy.max_age_days)
    return terms


def _split(text: str) -> list[str]:
    """Split on " and " outside parentheses, so a regexPattern argument may contain it."""
    padded = f" {text} "  # so a leading or trailing "and" is found, and named an error
    parts: list[str] = []
    depth = 0
    start = 0
    position = 0
    while position < len(padded):
        char = padded[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise PolicyError(f"unbalanced ')' at character {position} of {text!r}")
        elif depth == 0 and (found := _AND.match(padded, position)):
            parts.append(padded[start:position])
            start = position = found.end()
            continue
        position += 1
    if depth:
        raise PolicyError(f"unclosed '(' in {text!r}")
    parts.append(padded[start:])
    if len(parts) == 1 and not parts[0].strip():
        return []
    return parts


def _term(raw: str, text: str) -> tuple[str, str]:
    term = raw.strip()
    if not term:
        raise PolicyError(f"an empty term (a stray 'and') in {text!r}")
    opening = term.find("(")
    if opening == -1:
        name, argument = term, ""
    else:
        if _closing(term, opening) != len(term) - 1:
            raise PolicyError(f"text after ')' in term {term!r} of {text!r}")
        name, argument = term[:opening].strip(), term[opening + 1 : -1]
    if not _NAME.fullmatch(name):
        raise PolicyError(f"{name!r} is not a policy term name (in {text!r})")
    return name, normalise(argument)


def _closing(term: str, opening: int) -> int:
    """Where the parenthesis opened at `opening` closes (`_split` checked they balance)."""
    depth = 0
    for position in range(opening, len(term)):
        depth += {"(": 1, ")": -1}.get(term[position], 0)
        if depth == 0:
            return position
    return -1
