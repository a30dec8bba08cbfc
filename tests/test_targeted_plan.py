"""A targeted plan equals the full plan limited to the people concerned (hypothesis).

Generated rosters and directories include what can make the two differ: id-less accounts
paired by e-mail or username, several rows sharing one address, one id on two accounts,
ids spelt in another case, accounts of people the roster no longer lists, protected
accounts and the circulars' duties. The targeted side sees only what a targeted read
returns (`syncbot.lookup.narrowed`) and plans only the focused rows.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_builders import ALL_MANAGED, TODAY, account, roster, row, shipped, target_state
from test_planner_properties import (
    POSITIONS,
    PROTECTION,
    STATUSES,
    UNITS,
    dated,
    some_duties,
)

from syncbot.duty_settings import NO_DUTIES, Duties
from syncbot.lookup import Lookup, narrowed
from syncbot.matching import Fallback
from syncbot.model import Account, Plan, RosterRow
from syncbot.planning.focus import Focus, Population
from syncbot.planning.planner import plan

ADDRESSES = [f"p{i}@t.vn" for i in range(6)]
NAMES = [f"p{i}" for i in range(6)]


@dataclasses.dataclass
class Case:
    rows: list[RosterRow]
    accounts: list[Account]
    fallback: Fallback
    duties: Duties
    people: frozenset[str]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A roster of up to 10 people, a directory that half knows them, and who changed."""
    n = draw(st.integers(0, 10))
    rows: list[RosterRow] = []
    accounts: list[Account] = []
    for i in range(1, n + 1):
        employee_id = f"NV{i:03d}"
        email = draw(st.sampled_from([*ADDRESSES, None]))  # shared addresses on purpose
        username = draw(st.sampled_from([*NAMES, None]))
        status = draw(st.sampled_from(STATUSES))
        rows.append(
            row(
                i + 1,
                employee_id,
                position=draw(st.sampled_from(POSITIONS)),
                unit=draw(st.sampled_from(UNITS)),
                status=status,
                effective=TODAY + timedelta(days=draw(st.integers(-30, 30))),
                email=email,
            )
        )
        if username is not None:
            rows[-1] = dataclasses.replace(rows[-1], username=username)
        for c in range(draw(st.integers(0, 2))):  # two: one id on two accounts
            spelt = draw(st.sampled_from([employee_id, employee_id.lower()]))
            accounts.append(_account(draw, f"a{i}x{c}", spelt))
    for j in range(draw(st.integers(0, 4))):  # id-less accounts, found only by a fallback
        legacy = _account(draw, draw(st.sampled_from(NAMES)), None)
        accounts.append(dataclasses.replace(legacy, key=f"uid=legacy{j},ou=people,dc=t"))
    for j in range(draw(st.integers(0, 3))):  # people the roster no longer lists
        accounts.append(_account(draw, f"gone{j}", f"NV9{j:02d}"))
    for name in draw(st.sets(st.sampled_from(["admin", "svc-qoffice"]))):
        accounts.append(account(name, draw(st.sampled_from([None, "NV001"]))))
    accounts = [draw(dated(a)) for a in accounts]
    ids = [r.employee_id for r in rows] + [f"NV9{j:02d}" for j in range(3)] + ["NV777"]
    people = frozenset(draw(st.sets(st.sampled_from(ids), max_size=4)))
    return Case(
        rows=rows,
        accounts=accounts,
        fallback=draw(st.sampled_from(list(Fallback))),
        duties=draw(st.just(NO_DUTIES) | some_duties()),
        people=people,
    )


def _account(draw: st.DrawFn, username: str, employee_id: str | None) -> Account:
    return account(
        username,
        employee_id,
        email=draw(st.sampled_from([*ADDRESSES, None])),
        enabled=draw(st.booleans()),
        holds=draw(st.sets(st.sampled_from(sorted(ALL_MANAGED)), max_size=3)),
    )


def _full(case: Case) -> Plan:
    state = target_state(case.accounts, protection=PROTECTION)
    whole = roster(*case.rows)
    return plan(whole, shipped(), [state], {}, TODAY, case.fallback, case.duties)


def _targeted(case: Case) -> Plan:
    whole = roster(*case.rows)
    full = _full(case)
    focus = Focus.of(case.people, whole, case.fallback, Population.of(full))
    state = target_state(case.accounts, protection=PROTECTION)
    read = dataclasses.replace(state, snapshot=narrowed(state.snapshot, focus.lookup))
    computed = plan(focus.roster(whole), shipped(), [read], {}, TODAY, case.fallback, case.duties)
    return focus.finish(computed, whole)


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_the_targeted_plan_is_the_full_plan_limited_to_the_people(case: Case) -> None:
    full = _full(case).limited_to(set(case.people))
    targeted = _targeted(case)
    assert targeted.actions == full.actions
    assert targeted.findings == full.findings


@SETTINGS
@given(cases())
def test_a_targeted_plan_is_judged_against_the_whole_population(case: Case) -> None:
    full = _full(case)
    targeted = _targeted(case)
    assert targeted.roster_rows == full.roster_rows == len(case.rows)
    assert targeted.matched_people == full.matched_people
    assert dict(targeted.matched) == dict(full.matched)


def test_the_lookup_reads_few_accounts() -> None:
    """The point of it all: a targeted read is about the people, not the directory."""
    rows = [row(i + 1, f"NV{i:05d}", email=f"u{i}@t.vn") for i in range(1, 2001)]
    accounts = [account(f"u{i}", f"NV{i:05d}", email=f"u{i}@t.vn") for i in range(1, 2001)]
    accounts.append(account("legacy", None, email="u7@t.vn"))  # claimed by NV00007's address
    focus = Focus.of({"NV00007", "NV00500"}, roster(*rows), Fallback.EMAIL, Population({}, 0))
    state = target_state(accounts)
    kept = narrowed(state.snapshot, focus.lookup).accounts
    assert sorted(a.username for a in kept) == ["legacy", "u500", "u7"]
    assert [r.employee_id for r in focus.rows] == ["NV00007", "NV00500"]


def test_rows_sharing_an_address_are_planned_together() -> None:
    """NV002 has no account of their own; with NV001 alone in focus, the id-less account
    carrying their shared address would look like NV001's, where the full plan sees two
    claims and leaves it alone."""
    rows = [row(2, "NV001", email="x@t.vn"), row(3, "NV002", email="x@t.vn")]
    accounts = [account("legacy", None, email="x@t.vn")]
    focus = Focus.of({"NV001"}, roster(*rows), Fallback.EMAIL, Population({}, 0))
    assert [r.employee_id for r in focus.rows] == ["NV001", "NV002"]
    assert focus.lookup == Lookup.build({"NV001"}, rows, Fallback.EMAIL)
    kept = narrowed(target_state(accounts).snapshot, focus.lookup).accounts
    assert [a.username for a in kept] == ["legacy"]
