"""The planner's shortcuts agree with the long way round.

Planning 100k people relies on shortcuts: one regex for every protection pattern, matching
without a list per account, and skipping people with nothing to change. Each is checked
here against the plain rule it stands for, over generated inputs, so a shortcut can make
planning faster but never change a plan.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_builders import (
    ALL_MANAGED,
    CHUYEN_VIEN,
    LANH_DAO,
    ROLE_GROUPS,
    TODAY,
    UNIT_GROUPS,
    UNIT_TT,
    UNIT_VP,
    UNMANAGED,
    VAN_THU,
    account,
    group,
    ledger_entry,
    roster,
    row,
    shipped,
    target_state,
)
from test_planner_properties import (
    POSITIONS,
    STATUSES,
    UNITS,
    DutyCase,
    duty_scenario,
    scenario,
)

from syncbot.duty_settings import NO_DUTIES, Dormancy, Duties
from syncbot.match_keys import contact_key, fold, id_key
from syncbot.matching import Ambiguity, Fallback, MatchResult, match
from syncbot.model import (
    Account,
    ActionKind,
    LedgerEntry,
    Plan,
    RosterRow,
    Snapshot,
    TargetMapping,
)
from syncbot.planning import duty_rules, planner
from syncbot.planning.planner import TargetState, plan
from syncbot.protection import Protection

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- protection: one regex for every pattern ---------------------------------------------

#: Letters that fold in surprising ways: decomposed marks, ß → ss, the Kelvin sign → k,
#: the long s → s, dotless ı, Đ/đ, spaces and tabs that folding collapses.
NAME_CHARS = "aAbBiIkKsS019-._ ,=\tßẞKſıİĐđặẶ\u0323\u0306ưƯ[]!*?"
PATTERN_CHARS = "abiks019-._ ,=ßıđặư*?[]!"


def _slow_covers(protection_args: tuple[list[str], list[str]], acct: Account) -> bool:
    """What `Protection.covers` means, written the plain way: fold, then fnmatch each pattern."""
    usernames, patterns = protection_args
    username, key = fold(acct.username), fold(acct.key)
    if username in {fold(u) for u in usernames}:
        return True
    return any(fnmatchcase(username, fold(p)) or fnmatchcase(key, fold(p)) for p in patterns)


@FAST
@given(
    usernames=st.lists(st.text(NAME_CHARS, max_size=8), max_size=3),
    patterns=st.lists(st.text(PATTERN_CHARS, max_size=8), max_size=4),
    names=st.lists(st.text(NAME_CHARS, max_size=12), min_size=1, max_size=8),
)
def test_protection_agrees_with_fnmatchcase_pattern_by_pattern(
    usernames: list[str], patterns: list[str], names: list[str]
) -> None:
    protection = Protection.build(usernames, patterns, frozenset())
    accounts = [account(n) for n in names]
    expected = [_slow_covers((usernames, patterns), a) for a in accounts]
    assert [protection.covers(a) for a in accounts] == expected
    free, protected = protection.partition(accounts)
    assert free == [a for a, hit in zip(accounts, expected, strict=True) if not hit]
    assert protected == [a for a, hit in zip(accounts, expected, strict=True) if hit]


PATTERN_CASES = [
    # pattern, name, protected
    ("svc-*", "SVC-qoffice", True),
    ("svc-*", "a-svc-qoffice", False),
    ("u00001?", "u000017", True),
    ("u00001?", "u0000171", False),
    ("x[[]*", "x[y]", True),
    ("x[[]*", "xy", False),
    ("[!0-9]*9", "a19", True),
    ("[!0-9]*9", "119", False),
    ("a*b*c", "aXbYbZc", True),
    ("a*b*c", "aXbYcZ", False),
    ("[", "[", True),  # an unclosed bracket is a literal, as fnmatch reads it
    ("strasse*", "Straße", True),  # ß folds to ss
    ("đặng*", unicodedata.normalize("NFD", "ĐẶNG Văn"), True),  # decomposed, upper case
    ("k*", "\u212aelvin", True),  # the Kelvin sign folds to k
    ("ıt*", "it-admin", False),  # dotless ı is not i: no case-blind regex shortcut
    ("*,ou=system,*", "root", True),  # matched on the key: uid=root,OU=System,...
    ("nguyen van", "Nguyen \t Van", True),  # inner whitespace collapses to one space
]


def test_protection_pattern_cases_agree_with_fnmatchcase() -> None:
    for pattern, name, protected in PATTERN_CASES:
        acct = dataclasses.replace(account(name), key=f"uid={name},OU=System,dc=t")
        assert _slow_covers(([], [pattern]), acct) is protected, (pattern, name)
        assert Protection.build([], [pattern], frozenset()).covers(acct) is protected, (
            pattern,
            name,
        )
    # All of them at once: the alternatives of one regex must not leak into each other.
    every = Protection.build([], [p for p, _, _ in PATTERN_CASES], frozenset())
    assert every.covers(account("qoffice")) is False
    assert every.covers(account("svc-qoffice")) is True


def test_protection_by_group_needs_no_name() -> None:
    protection = Protection.build([], [], frozenset({"cn=admins,dc=t"}))
    admin = account("an", groups={"cn=admins,dc=t"})
    assert protection.covers(admin)
    assert protection.partition([account("binh"), admin]) == ([account("binh")], [admin])


def test_empty_protection_keeps_every_account_in_order() -> None:
    accounts = [account("b"), account("a"), account("svc-x")]
    assert Protection().partition(accounts) == (accounts, [])


# --- matching: the index keeps only the first account per key -----------------------------


def _slow_match(
    rows: Sequence[RosterRow], accounts: Sequence[Account], fallback: Fallback
) -> MatchResult:
    """Matching written the plain way: a list of accounts for every key, two passes."""

    def key(value: str | None) -> str:
        return (value or "").strip().casefold()

    by_id: dict[str, list[Account]] = defaultdict(list)
    by_fallback: dict[str, list[Account]] = defaultdict(list)
    for acct in accounts:
        if key(acct.employee_id):
            by_id[key(acct.employee_id)].append(acct)
        elif fallback is not Fallback.NONE:
            value = acct.email if fallback is Fallback.EMAIL else acct.username
            if key(value):
                by_fallback[key(value)].append(acct)
    claims: dict[str, list[RosterRow]] = defaultdict(list)
    candidates: list[tuple[RosterRow, Account]] = []
    ambiguous: list[Ambiguity] = []
    unmatched: list[RosterRow] = []
    touched: set[str] = set()
    for r in rows:
        found = by_id.get(key(r.employee_id), []) if key(r.employee_id) else []
        if not found and fallback is not Fallback.NONE:
            value = r.email if fallback is Fallback.EMAIL else r.username
            found = by_fallback.get(key(value), []) if key(value) else []
        if len(found) > 1:
            ambiguous.append(Ambiguity(rows=(r,), accounts=tuple(found)))
            touched.update(a.key for a in found)
        elif found:
            candidates.append((r, found[0]))
            claims[found[0].key].append(r)
        else:
            unmatched.append(r)
    pairs: list[tuple[RosterRow, Account]] = []
    for r, acct in candidates:
        claimants = claims[acct.key]
        if len(claimants) > 1:
            if claimants[0] is r:
                ambiguous.append(Ambiguity(rows=tuple(claimants), accounts=(acct,)))
        elif acct.key not in touched:
            pairs.append((r, acct))
        touched.add(acct.key)
    orphans = tuple(a for a in accounts if a.key not in touched)
    return MatchResult(
        tuple(r for r, _ in pairs),
        tuple(a for _, a in pairs),
        tuple(ambiguous),
        tuple(unmatched),
        orphans,
    )


# Letters whose case folds cross scripts or lengths: Kelvin sign and K, long s and s,
# sharp s and "ss", dotted capital I, Greek final sigma.
TRICKY = st.text(
    alphabet=st.sampled_from("kK\u212asS\u017f\u00dfI\u0130i\u03c3\u03c2\u03a3 0"), max_size=4
)


@FAST
@given(st.one_of(TRICKY, st.text(max_size=6)), st.one_of(TRICKY, st.text(max_size=6)))
def test_match_keys_are_equal_exactly_when_the_case_folds_are(a: str, b: str) -> None:
    def folded(value: str) -> str:
        return value.strip().casefold()

    assert (id_key(a) == id_key(b)) == (folded(a) == folded(b))
    assert (contact_key(a) == contact_key(b)) == (folded(a) == folded(b))


@FAST
@given(st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), st.text(max_size=8)))
def test_fold_takes_a_short_path_only_where_it_gives_the_same_word(text: str) -> None:
    slow = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    assert fold.__wrapped__(text) == slow  # type: ignore[attr-defined]


def test_an_id_already_in_key_form_is_its_own_key() -> None:
    for value in ("NV001", "CB-2024-17", "0042"):
        copy = "".join(list(value))
        assert id_key(copy) is copy
    address = "".join(list("an.nguyen@so.gov.vn"))
    assert contact_key(address) is address
    assert id_key(" nv001 ") == id_key("NV001") == "NV001"


IDS = st.sampled_from([None, "", "  ", "NV001", " nv001", "NV002", "NV003", "nv003 "])
CONTACTS = st.sampled_from([None, "", "an", "AN ", "binh", "chi"])


@st.composite
def match_case(draw: st.DrawFn) -> tuple[list[RosterRow], list[Account]]:
    """Rows and accounts sharing a few ids, e-mails and usernames: every collision occurs."""
    rows = [
        dataclasses.replace(
            row(i + 2),
            employee_id=draw(IDS) or "",
            email=draw(CONTACTS),
            username=draw(CONTACTS),
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    accounts = [
        dataclasses.replace(
            account(draw(st.sampled_from(["an", "binh", "chi", "dung"])) + str(i)),
            employee_id=draw(IDS),
            email=draw(CONTACTS),
            username=draw(CONTACTS) or f"user{i}",
        )
        for i in range(draw(st.integers(0, 8)))
    ]
    # Now and then two accounts with one key (a directory answering twice for one entry).
    if draw(st.booleans()) and accounts:
        twin = draw(st.sampled_from(accounts))
        accounts.append(dataclasses.replace(twin, employee_id=draw(IDS)))
    return rows, accounts


@FAST
@given(match_case(), st.sampled_from(list(Fallback)))
def test_match_agrees_with_the_plain_rule(
    case: tuple[list[RosterRow], list[Account]], fallback: Fallback
) -> None:
    rows, accounts = case
    assert match(rows, accounts, fallback) == _slow_match(rows, accounts, fallback)


def test_match_of_everyone_leaves_no_orphan_and_keeps_row_order() -> None:
    rows = [row(3, "NV002"), row(2, "NV001")]
    accounts = [account("an", "NV001"), account("binh", "NV002")]
    result = match(rows, accounts, Fallback.NONE)
    assert [(r.row, a.username) for r, a in result.pairs] == [(3, "binh"), (2, "an")]
    assert result.orphans == ()


# --- planning: people with nothing to change are not planned in full ---------------------


@contextmanager
def long_way() -> Iterator[None]:
    """Every person planned in full and every date weighed: the shortcuts switched off."""
    with (
        patch.object(planner._Steady, "settled", lambda *_: False),
        patch.object(duty_rules, "_recently_used", lambda *_: False),
    ):
        yield


def both_ways(
    targets: list[TargetState],
    rows: list[RosterRow],
    *,
    ledger: Mapping[tuple[str, str], LedgerEntry] | None = None,
    duties: Duties = NO_DUTIES,
) -> tuple[Plan, Plan]:
    """The plan with the shortcuts, and the plan without them."""

    def once() -> Plan:
        return plan(roster(*rows), shipped(), targets, ledger or {}, TODAY, Fallback.EMAIL, duties)

    fast = once()
    with long_way():
        slow = once()
    return fast, slow


def _state(
    accounts: Sequence[Account],
    *,
    mapping: TargetMapping | None = None,
    entitlements: frozenset[str] = ALL_MANAGED,
    federated_owned: frozenset[str] = frozenset(),
    has_sessions: bool = False,
) -> TargetState:
    return TargetState(
        snapshot=Snapshot("ldap", tuple(accounts), entitlements, has_sessions=has_sessions),
        mapping=mapping or shipped().for_target("ldap", group),
        protection=Protection.build(["admin"], ["svc-*"], frozenset()),
        federated_owned=federated_owned,
    )


def _overlapping_mapping() -> TargetMapping:
    """The Lãnh đạo group is also the Thanh tra unit group: one key, two meanings."""
    normal = shipped().for_target("ldap", group)
    return TargetMapping(
        roles={**normal.roles, "Lãnh đạo": frozenset({UNIT_TT})},
        units=dict(normal.units),
    )


@st.composite
def near_step(draw: st.DrawFn, mapping: TargetMapping) -> tuple[list, list, dict]:  # type: ignore[type-arg]
    """People whose accounts mostly hold just what HR justifies, with a group off now and
    then: the cases a shortcut could get wrong are one group away from being in step."""
    rows, accounts = [], []
    for i in range(draw(st.integers(1, 8))):
        r = row(
            i + 2,
            f"NV{i:03d}",
            position=draw(st.sampled_from(POSITIONS)),
            unit=draw(st.sampled_from(UNITS)),
            status=draw(st.sampled_from(["Đang công tác"] * 4 + STATUSES)),
            effective=draw(st.sampled_from([None, TODAY, TODAY - timedelta(days=5)])),
            role=draw(st.sampled_from([None, None, "Lãnh đạo"])),
        )
        role = r.role or shipped().role_for_position(r.position)
        held = set(mapping.roles.get(role, frozenset()) if role else ())
        unit = mapping.units.get(fold(r.unit))
        held |= {unit} if unit else set()
        if draw(st.booleans()):
            held ^= {draw(st.sampled_from(sorted(ALL_MANAGED)))}
        enabled = draw(st.sampled_from([True, True, True, False]))
        rows.append(r)
        accounts.append(account(f"u{i}", f"NV{i:03d}", holds=held, enabled=enabled))
    return rows, accounts, {}


@FAST
@given(
    st.data(),
    st.sampled_from(["normal", "overlap", "missing"]),
    st.sets(st.sampled_from(sorted(ROLE_GROUPS | UNIT_GROUPS)), max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_skipping_settled_people_changes_no_plan(
    data: st.DataObject, mapping: str, owned: set[str], federate: bool, has_sessions: bool
) -> None:
    target = _overlapping_mapping() if mapping == "overlap" else shipped().for_target("ldap", group)
    rows, accounts, ledger = data.draw(st.one_of(scenario(), near_step(target)))
    if federate:  # half the accounts imported from LDAP: only `owned` is this target's
        accounts = [dataclasses.replace(a, federated=i % 2 == 0) for i, a in enumerate(accounts)]
    state = _state(
        accounts,
        mapping=target,
        entitlements=ALL_MANAGED - {VAN_THU, UNIT_VP} if mapping == "missing" else ALL_MANAGED,
        federated_owned=frozenset(owned),
        has_sessions=has_sessions,
    )
    fast, slow = both_ways([state], rows, ledger=ledger)
    assert fast == slow


@settings(FAST, max_examples=150)
@given(duty_scenario())
def test_skipping_settled_people_and_recent_use_changes_no_plan_with_duties(
    case: DutyCase,
) -> None:
    state = _state(case.accounts, has_sessions=case.has_sessions)
    fast, slow = both_ways([state], case.rows, ledger=case.ledger, duties=case.duties)
    assert fast == slow


def test_the_long_way_really_plans_everyone_in_full() -> None:
    """Guards the comparisons above: a shortcut still on in `long_way` would make them pass."""
    in_step = account("an", "NV001", holds={CHUYEN_VIEN, UNIT_VP}, created=_days_ago(10))
    dormancy = Duties(dormancy=Dormancy(days=90, recorded_since=TODAY - timedelta(days=400)))

    def calls() -> tuple[int, int]:
        with (
            patch.object(planner, "_plan_person", wraps=planner._plan_person) as person,
            patch.object(duty_rules, "idle", wraps=duty_rules.idle) as idle,
        ):
            fast, slow = both_ways([_state([in_step])], [row(2, "NV001")], duties=dormancy)
        assert fast == slow
        return person.call_count, idle.call_count

    # both_ways plans once with the shortcuts and once without: only the second weighs all.
    assert calls() == (1, 1)


def _days_ago(days: int) -> datetime:
    return datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=days)


def _settled(acct: Account, r: RosterRow | None = None, **state_kw: object) -> bool:
    steady = planner._Steady(_state([], **state_kw), shipped(), {}, TODAY)  # type: ignore[arg-type]
    return steady.settled(r or row(2, "NV001"), acct)


def test_settled_only_when_the_full_rules_would_say_nothing() -> None:
    def holding(*held: str, **kw: object) -> Account:
        return account("an", "NV001", holds=held, **kw)  # type: ignore[arg-type]

    assert _settled(holding(CHUYEN_VIEN, UNIT_VP))
    assert _settled(account("an", "NV001", holds={CHUYEN_VIEN, UNIT_VP}, groups={UNMANAGED}))
    assert not _settled(holding(CHUYEN_VIEN))  # not in its unit group
    assert not _settled(holding(CHUYEN_VIEN, UNIT_VP, UNIT_TT))  # still in the old unit
    assert not _settled(holding(CHUYEN_VIEN, LANH_DAO, UNIT_VP))  # role drift
    assert not _settled(holding(CHUYEN_VIEN, UNIT_VP, enabled=False))
    # A group the mapping names but the target lacks is a finding, not silence.
    assert not _settled(holding(UNIT_VP), entitlements=ALL_MANAGED - {CHUYEN_VIEN})
    # HR names no role it knows: roles are left as they are, only the unit is compared.
    assert _settled(holding(LANH_DAO, UNIT_VP), row(2, "NV001", position="Lái xe"))
    # A change that takes effect later is a finding.
    later = row(2, "NV001", effective=TODAY + timedelta(days=3))
    assert not _settled(holding(CHUYEN_VIEN, UNIT_VP), later)
    # One key for a role and a unit: never vouched for, always planned in full.
    assert not _settled(holding(CHUYEN_VIEN, UNIT_VP), mapping=_overlapping_mapping())


def test_settled_departures_are_locked_stripped_and_signed_out() -> None:
    gone = row(2, "NV001", status="Nghỉ việc", effective=TODAY - timedelta(days=1))
    locked = account("an", "NV001", enabled=False, groups={UNMANAGED})
    assert _settled(locked, gone)
    assert not _settled(account("an", "NV001", groups={UNMANAGED}), gone)  # still open
    assert not _settled(account("an", "NV001", enabled=False, holds={UNIT_VP}), gone)
    # Where sessions outlive a lock, only a recorded sign-out settles it.
    assert not _settled(locked, gone, has_sessions=True)
    key, entry = ledger_entry("an", "NV001")
    signed_out = {key: dataclasses.replace(entry, signed_out=True)}
    steady = planner._Steady(_state([], has_sessions=True), shipped(), signed_out, TODAY)
    assert steady.settled(gone, locked)


def test_federated_accounts_are_compared_within_what_this_target_owns() -> None:
    owned = frozenset({CHUYEN_VIEN})
    imported = account("an", "NV001", holds={CHUYEN_VIEN, LANH_DAO}, federated=True)
    # Lãnh đạo and the unit groups are the LDAP side's: only Chuyên viên is looked at here.
    assert _settled(imported, federated_owned=owned)
    assert not _settled(dataclasses.replace(imported, entitlements=frozenset({LANH_DAO})),
                        federated_owned=owned)  # fmt: skip


def test_duty_shortcut_is_taken_only_with_a_recent_sign_of_use() -> None:
    dormancy = Dormancy(days=90, recorded_since=TODAY - timedelta(days=400))
    used = account("an", last_sign_in=_days_ago(89), created=_days_ago(500))
    assert duty_rules._recently_used(used, dormancy, TODAY)
    idle = account("an", last_sign_in=_days_ago(90), created=_days_ago(500))
    assert not duty_rules._recently_used(idle, dormancy, TODAY)
    assert duty_rules.idle(idle, None, dormancy, TODAY).days == 90  # dormant: no shortcut
    new = account("an", created=_days_ago(10))
    assert duty_rules._recently_used(new, dormancy, TODAY)
    recording_began = dataclasses.replace(dormancy, recorded_since=TODAY - timedelta(days=5))
    assert duty_rules._recently_used(account("an"), recording_began, TODAY)
    assert not duty_rules._recently_used(account("an"), dormancy, TODAY)


def test_people_leaving_on_one_day_share_their_reasons() -> None:
    """A mass departure's plan holds one sentence per day and status, not one per person."""
    day = TODAY - timedelta(days=1)
    rows = [row(n, f"NV{n:03}", status="Nghỉ việc", effective=day) for n in range(1, 4)]
    rows.append(row(4, "NV004", status="Nghỉ việc", effective=day - timedelta(days=1)))
    accounts = [account(f"u{n}", r.employee_id, holds={UNIT_VP}) for n, r in enumerate(rows)]
    result = plan(roster(*rows), shipped(), [target_state(accounts)], {}, TODAY)
    disables = [a for a in result.actions if a.kind is ActionKind.DISABLE]
    assert len(disables) == 4
    assert len({id(a.reason) for a in disables}) == 2  # two days, two sentences
    revokes = [a for a in result.actions if a.kind is ActionKind.REVOKE]
    assert len(revokes) == 4 and len({id(a.reason) for a in revokes}) == 2
    assert disables[0].reason is disables[1].reason is disables[2].reason
    assert disables[3].reason.vi != disables[0].reason.vi
    assert f"{day:%d/%m/%Y}" in disables[0].reason.vi
