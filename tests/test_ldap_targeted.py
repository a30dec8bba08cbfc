"""Targeted reads of the LDAP target against a real OpenLDAP: only the wanted accounts,
each exactly as a full read gives it, found without reading the directory whole.

Every comparison reads the same directory twice, whole and targeted, through both search
libraries, and checks `read(lookup) == narrowed(read(), lookup)`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import ldap3
import pytest
from conftest import ROLE_GROUPS, SEED_USERS, UNIT_GROUPS, placeholder_dn
from plan_builders import row
from target_steps import apply_one

from localdev.slapd import SlapdServer
from syncbot.duty_settings import Observe
from syncbot.lookup import Lookup, narrowed
from syncbot.matching import Fallback
from syncbot.model import Account, Action, ActionKind, Reason, Snapshot
from syncbot.targets.base import ReadRequest
from syncbot.targets.ldap import LdapLocator, LdapSettings, LdapTarget
from syncbot.targets.ldap.dn import normalise_dn
from syncbot.targets.ldap.fast_search import ENVIRONMENT, LDAP3, PYTHON_LDAP, PagedSearcher
from syncbot.targets.ldap.targeted import BATCH, Pipeline

LIBRARIES = [LDAP3, PYTHON_LDAP]
OBSERVE_ALL = Observe(
    passwords=True, sign_ins_since=date(2020, 1, 1), failures_since=date(2020, 1, 1)
)
#: Groups the population adds; the seeded role and unit groups are there already.
NEW_MANAGED = ("nhom-a", "nhom-b", "Nhóm Văn thư, Lưu trữ + Đặc biệt", "nhom-trong")
UNMANAGED = ("bao-ve-he-thong", "ban-tin-rieng")
LOCKED = "000001010000Z"


@dataclass(frozen=True)
class Person:
    """One account the population adds: its uid (RDN value), id, mail and groups."""

    uid: str
    employee_id: str | None
    mail: str | None
    groups: tuple[str, ...] = ()
    locked: bool = False


def population(size: int, seed: int = 7) -> list[Person]:
    """Ordinary people with varied groups and locks, then the awkward cases by name."""
    chance = random.Random(seed)  # noqa: S311 - a reproducible sample, nothing secret
    groups = (*ROLE_GROUPS[:1], "nhom-a", "nhom-b", NEW_MANAGED[2], *UNMANAGED)
    people = [
        Person(
            uid=f"p{i:04d}",
            employee_id=f"E{i:04d}",
            mail=f"p{i:04d}@example.gov.vn",
            groups=tuple(g for g in groups if chance.random() < 0.3),
            locked=chance.random() < 0.15,
        )
        for i in range(size)
    ]
    people += [
        # One id on two accounts, spelt differently.
        Person("dup-a", "DUP-1", "dup-a@example.gov.vn", ("nhom-a",)),
        Person("dup-b", "dup-1", "dup-b@example.gov.vn", ("nhom-b",), locked=True),
        # No id: found by the fallback only.
        Person("noid-1", None, "NoId.One@Example.gov.vn", ("nhom-a", "bao-ve-he-thong")),
        Person("noid-2", None, "noid-two@example.gov.vn", ()),
        Person("noid-3", None, None, ("nhom-b",)),
        # An id-less account whose address is also an id-holding one's: never the fallback's.
        Person("has-id-same-mail", "E-MAIL-TWIN", "noid-two@example.gov.vn", ()),
        # Values a filter must escape, and non-ASCII ones.
        Person("sao*(ngoac)", "X*(1)", "sao@example.gov.vn", ("nhom-a", NEW_MANAGED[2])),
        Person("gach\\cheo", "B\\2", "gach@example.gov.vn", ("nhom-b",), locked=True),
        Person("dấu,phẩy+cộng", "Đ-Ư-03", "dau@example.gov.vn", ("bao-ve-he-thong", "nhom-a")),
        Person("nul-like", "N\\00", "nul@example.gov.vn", ("ban-tin-rieng",)),
        Person("star", "*", "star@example.gov.vn", ()),
    ]
    return people


def escaped_uid(uid: str) -> str:
    return ldap3.utils.dn.escape_rdn(uid)


def person_dn(server: SlapdServer, person: Person) -> str:
    return f"uid={escaped_uid(person.uid)},{server.people_base}"


def group_entry_dn(server: SlapdServer, cn: str) -> str:
    return f"cn={ldap3.utils.dn.escape_rdn(cn)},{server.groups_base}"


def load(server: SlapdServer, people: list[Person]) -> None:
    """People and their groups in one offline load (groups of no one hold the placeholder)."""
    blocks = []
    for person in people:
        lines = [
            f"dn: {person_dn(server, person)}",
            "objectClass: inetOrgPerson",
            f"uid: {person.uid}",
            f"cn: Người {person.uid}",
            "sn: N",
            f"displayName: Người {person.uid}",
        ]
        if person.employee_id is not None:
            lines.append(f"employeeNumber: {person.employee_id}")
        if person.mail is not None:
            lines.append(f"mail: {person.mail}")
        if person.locked:
            lines.append(f"pwdAccountLockedTime: {LOCKED}")
        blocks.append("\n".join(lines) + "\n")
    for cn in (*NEW_MANAGED, *UNMANAGED):
        members = [person_dn(server, p) for p in people if cn in p.groups]
        lines = [f"dn: {group_entry_dn(server, cn)}", "objectClass: groupOfNames", f"cn: {cn}"]
        lines += [f"member: {dn}" for dn in members or [placeholder_dn(server)]]
        blocks.append("\n".join(lines) + "\n")
    server.bulk_load("\n".join(blocks))


@pytest.fixture
def people(ldap_directory: SlapdServer) -> list[Person]:
    found = population(600)
    load(ldap_directory, found)
    return found


@pytest.fixture(params=LIBRARIES)
def library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENVIRONMENT, request.param)
    return str(request.param)


@pytest.fixture
def target(ldap_settings: LdapSettings, library: str) -> Iterator[LdapTarget]:
    ldap_target = LdapTarget(ldap_settings)
    assert ldap_target.search_library == library
    yield ldap_target
    ldap_target.close()


def managed(target: LdapTarget) -> frozenset[str]:
    names = (*ROLE_GROUPS, *UNIT_GROUPS, *NEW_MANAGED, "nhom-chua-tao")
    return frozenset(target.entitlement_key(name) for name in names)


def lookup_of(
    ids: list[str],
    contacts: Sequence[str] = (),
    fallback: Fallback = Fallback.NONE,
) -> Lookup:
    """As a run builds it: ids of people the roster dropped, rows of those it lists."""
    rows = [
        row(n, f"ROW-ONLY-{n}", email=value, username=value)
        for n, value in enumerate(contacts, start=1)
    ]
    return Lookup.build(ids, rows, fallback)


def ordered(accounts: tuple[Account, ...]) -> list[Account]:
    return sorted(accounts, key=lambda account: account.key)


def assert_targeted_equals_narrowed(
    target: LdapTarget, lookup: Lookup, observe: Observe = OBSERVE_ALL
) -> Snapshot:
    full = target.read(ReadRequest(managed(target), observe=observe))
    targeted = target.read(ReadRequest(managed(target), observe=observe, lookup=lookup))
    expected = narrowed(full, lookup)
    assert ordered(targeted.accounts) == ordered(expected.accounts)
    assert len(targeted.accounts) == len({a.key for a in targeted.accounts})
    assert targeted.entitlements == full.entitlements
    assert (targeted.settings, targeted.settings_key) == (None, "")
    assert targeted.target == full.target
    ours, theirs = targeted.locator, full.locator
    assert isinstance(ours, LdapLocator) and isinstance(theirs, LdapLocator)
    assert dict(ours.group_dns) == dict(theirs.group_dns)
    assert ours.groups_with_placeholder == theirs.groups_with_placeholder
    keys = {a.key for a in targeted.accounts}
    assert dict(ours.dns) == {k: v for k, v in theirs.dns.items() if k in keys}
    assert dict(ours.aliases) == {k: v for k, v in theirs.aliases.items() if k in keys}
    return targeted


# -- equal to the full read, narrowed ---------------------------------------------------------


@pytest.mark.slapd
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_lookup_reads_what_the_full_read_narrowed_gives(
    target: LdapTarget, people: list[Person], seed: int
) -> None:
    chance = random.Random(seed)  # noqa: S311 - a reproducible sample, nothing secret
    with_id = [p for p in people if p.employee_id]
    chosen = chance.sample(with_id, 25)
    # HR's spelling need not be the directory's: case and spaces differ, some ids are gone.
    ids = [p.employee_id or "" for p in chosen]
    ids = [value.lower() if i % 3 == 0 else f" {value} " for i, value in enumerate(ids)]
    ids += ["KHONG-CO-AI", "NV001", "nv003"]
    contacts = ["noid.one@example.gov.vn", "NOID-TWO@example.gov.vn", "khong-co@example.gov.vn"]
    snapshot = assert_targeted_equals_narrowed(target, lookup_of(ids, contacts, Fallback.EMAIL))
    found = {a.username for a in snapshot.accounts}
    assert {"nguyenvana", "levanc", "noid-1", "noid-2"} <= found
    # An account with an id of its own is never the fallback's, whatever its address.
    assert "has-id-same-mail" not in found
    assert len(found) == len(chosen) + 4


@pytest.mark.slapd
def test_awkward_values_are_escaped_and_found(target: LdapTarget, people: list[Person]) -> None:
    ids = ["DUP-1", "X*(1)", "B\\2", "Đ-Ư-03", "đ-ư-03", "N\\00", "*", "("]
    snapshot = assert_targeted_equals_narrowed(target, lookup_of(ids))
    assert {a.username for a in snapshot.accounts} == {
        "dup-a",
        "dup-b",
        "sao*(ngoac)",
        "gach\\cheo",
        "dấu,phẩy+cộng",
        "nul-like",
        "star",
    }
    by_name = {a.username: a for a in snapshot.accounts}
    assert by_name["dup-b"].enabled is False and by_name["dup-a"].enabled is True
    protected = normalise_dn(f"cn=bao-ve-he-thong,{target.settings.groups_base}")
    assert protected in by_name["dấu,phẩy+cộng"].groups
    assert protected not in by_name["dấu,phẩy+cộng"].entitlements


@pytest.mark.slapd
def test_a_lone_star_finds_only_its_own_account(target: LdapTarget, people: list[Person]) -> None:
    snapshot = assert_targeted_equals_narrowed(target, lookup_of(["*"]))
    assert [a.username for a in snapshot.accounts] == ["star"]


@pytest.mark.slapd
def test_username_fallback_and_no_fallback(target: LdapTarget, people: list[Person]) -> None:
    by_username = lookup_of(["E0001"], ["NOID-1", "noid-3", "p0002"], Fallback.USERNAME)
    snapshot = assert_targeted_equals_narrowed(target, by_username)
    # p0002 holds an id: its username does not pair it.
    assert {a.username for a in snapshot.accounts} == {"p0001", "noid-1", "noid-3"}
    without = Lookup(
        ids=by_username.ids, raw_ids=by_username.raw_ids, raw_contacts=by_username.raw_contacts
    )
    snapshot = assert_targeted_equals_narrowed(target, without)
    assert {a.username for a in snapshot.accounts} == {"p0001"}


@pytest.mark.slapd
def test_more_people_than_one_batch(target: LdapTarget, people: list[Person]) -> None:
    ids = [p.employee_id for p in people if p.employee_id][: BATCH * 2]
    snapshot = assert_targeted_equals_narrowed(target, lookup_of(ids), Observe())
    assert len(snapshot.accounts) >= BATCH * 2


@pytest.mark.slapd
def test_an_empty_lookup_reads_no_account_but_the_groups(
    target: LdapTarget, people: list[Person]
) -> None:
    snapshot = assert_targeted_equals_narrowed(target, lookup_of([]))
    assert snapshot.accounts == ()
    assert snapshot.entitlements


# -- cost -------------------------------------------------------------------------------------


@dataclass
class Searches:
    """What ldap3 sent and received: (base, filter, entries) per search or page."""

    sent: list[tuple[str, str, int]]

    @property
    def entries(self) -> int:
        return sum(entries for _, _, entries in self.sent)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Searches:
    found = Searches([])
    original = ldap3.Connection.search

    def counting(
        self: ldap3.Connection, base: str, search_filter: str, *args: Any, **kw: Any
    ) -> Any:
        answer = original(self, base, search_filter, *args, **kw)
        entries = [e for e in self.response or () if e.get("type") == "searchResEntry"]
        found.sent.append((base, search_filter, len(entries)))
        return answer

    monkeypatch.setattr(ldap3.Connection, "search", counting)
    return found


@pytest.mark.slapd
def test_a_few_people_cost_a_few_entries_never_the_directory(
    ldap_settings: LdapSettings,
    people: list[Person],
    counted: Searches,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENVIRONMENT, LDAP3)
    target = LdapTarget(ldap_settings)
    try:
        target.read(ReadRequest(managed(target)))
        full = counted.entries
        counted.sent.clear()
        lookup = lookup_of(["E0005", "E0100"], ["noid.one@example.gov.vn"], Fallback.EMAIL)
        snapshot = target.read(ReadRequest(managed(target), lookup=lookup))
    finally:
        target.close()
    assert len(snapshot.accounts) == 3
    people_base = ldap_settings.users_base
    user_searches = [s for s in counted.sent if s[0] == people_base]
    # One batch of values; every search under people names them.
    assert len(user_searches) == 1
    assert all("(|(" in search_filter for _, search_filter, _ in user_searches)
    assert user_searches[0][2] == 3
    # Group names, groups with the placeholder, one membership search per account.
    assert len(counted.sent) == 1 + 1 + 1 + 3
    assert counted.entries < full / 20, (counted.entries, full)


@pytest.mark.slapd
def test_python_ldap_reports_few_entries_too(
    ldap_settings: LdapSettings, people: list[Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENVIRONMENT, PYTHON_LDAP)
    target = LdapTarget(ldap_settings)
    seen: list[int] = []
    try:
        target.read(ReadRequest(managed(target), progress=lambda done, _: seen.append(done)))
        full = seen[-1]
        seen.clear()
        lookup = lookup_of(["E0005", "E0100", "E0200"])
        target.read(
            ReadRequest(managed(target), lookup=lookup, progress=lambda d, _: seen.append(d))
        )
    finally:
        target.close()
    # Every group's name (a few) and the accounts with their groups: far below everything.
    assert full > len(people)
    assert seen[-1] < full / 20


# -- writing from a targeted snapshot --------------------------------------------------------


def step(
    target: LdapTarget,
    account: Account,
    kind: ActionKind,
    *,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
) -> Action:
    return Action(
        target=target.name,
        kind=kind,
        account=account.key,
        username=account.username,
        employee_id=account.employee_id,
        reason=Reason(vi="Kiểm thử", en="test"),
        evidence=None,
        add=tuple(target.entitlement_key(g) for g in add),
        remove=tuple(target.entitlement_key(g) for g in remove),
    )


@pytest.mark.slapd
def test_steps_planned_from_a_targeted_snapshot_are_applied(
    target: LdapTarget, people: list[Person]
) -> None:
    lookup = lookup_of(["X*(1)", "Đ-Ư-03", "E0007"], ["noid.one@example.gov.vn"], Fallback.EMAIL)
    snapshot = target.read(ReadRequest(managed(target), lookup=lookup))
    by_name = {a.username: a for a in snapshot.accounts}
    star, accents, noid = by_name["sao*(ngoac)"], by_name["dấu,phẩy+cộng"], by_name["noid-1"]
    assert star.enabled and accents.enabled
    steps = [
        step(target, star, ActionKind.DISABLE),
        # Into a group holding only the placeholder, and one with members already.
        step(target, accents, ActionKind.GRANT, add=("nhom-trong", NEW_MANAGED[2])),
        step(target, noid, ActionKind.CHANGE_UNIT, add=("nhom-b",), remove=("nhom-a",)),
    ]
    assert target.apply(steps, snapshot) == [None, None, None]
    # A lone step, as the executor retries it: the same locator serves it.
    apply_one(target, step(target, accents, ActionKind.REVOKE, remove=("nhom-a",)), snapshot)

    after = {a.username: a for a in target.read(ReadRequest(managed(target))).accounts}
    assert after["sao*(ngoac)"].enabled is False
    key = target.entitlement_key
    assert after["dấu,phẩy+cộng"].entitlements == {key("nhom-trong"), key(NEW_MANAGED[2])}
    assert after["noid-1"].entitlements == {key("nhom-b")}
    full = target.read(ReadRequest(managed(target)))
    locator = full.locator
    assert isinstance(locator, LdapLocator)
    assert key("nhom-trong") not in locator.groups_with_placeholder
    # And a targeted read sees the same as the full one afterwards.
    assert_targeted_equals_narrowed(target, lookup)


@pytest.mark.slapd
def test_the_seeded_directory_reads_alike(target: LdapTarget, ldap_directory: SlapdServer) -> None:
    ids = [u.employee_number.strip() for u in SEED_USERS if u.employee_number]
    lookup = lookup_of(ids, ["phamthid@example.gov.vn"], Fallback.EMAIL)
    snapshot = assert_targeted_equals_narrowed(target, lookup)
    assert {a.username for a in snapshot.accounts} == {u.uid for u in SEED_USERS}


# -- connections --------------------------------------------------------------------------------


@pytest.mark.slapd
def test_a_targeted_read_reconnects_after_a_restart(
    target: LdapTarget, ldap_directory: SlapdServer
) -> None:
    lookup = lookup_of(["NV001", "NV002"])
    before = target.read(ReadRequest(managed(target), lookup=lookup))
    ldap_directory.stop()  # every open connection is cut, the member searches' one too
    ldap_directory.start()
    after = target.read(ReadRequest(managed(target), lookup=lookup))
    assert ordered(after.accounts) == ordered(before.accounts)
    assert len(after.accounts) == 2


@pytest.mark.slapd
def test_member_searches_cut_by_a_size_limit_are_named(
    ldap_directory: SlapdServer, people: list[Person]
) -> None:
    # An ordinary account gets at most 500 entries (slapd's default limit), as AD gives
    # 1000 to a search without paging: the pipeline says which search to page again.
    server = ldap_directory
    user = next(u for u in SEED_USERS if u.uid == "nguyenvana")
    settings = LdapSettings(
        name="ldap",
        flavour="openldap",
        url=server.url,
        bind_dn=f"uid={user.uid},{server.people_base}",
        bind_password=user.password,
        users_base=server.people_base,
        groups_base=server.groups_base,
    )
    searcher = PagedSearcher(settings)
    try:
        filters = ["(objectClass=groupOfNames)", "(objectClass=inetOrgPerson)", "(uid=p0001)"]
        found, too_many = Pipeline(searcher, settings).dns(
            server.people_base, filters, lambda _: None
        )
    finally:
        searcher.close()
    assert too_many == {1}
    assert found[0] == []
    assert [normalise_dn(dn) for dn in found[2]] == [f"uid=p0001,{server.people_base}"]


# -- what the member searches ask, per flavour (no server) ----------------------------------


def offline_target(flavour: str) -> LdapTarget:
    return LdapTarget(
        LdapSettings(
            name="ldap",
            flavour=flavour,
            url="ldap://127.0.0.1:1/",
            bind_dn="cn=syncbot,dc=t",
            bind_password="not-a-real-secret-5c1",
            users_base="ou=people,dc=t",
            groups_base="ou=groups,dc=t",
            search_library=LDAP3,
        )
    )


def account(key: str, username: str, email: str | None) -> Account:
    return Account(
        target="ldap", key=key, username=username, employee_id=None, email=email, enabled=True
    )


def test_zimbra_lists_are_asked_for_every_address_of_the_account() -> None:
    target = offline_target("zimbra")
    one = account("uid=a,ou=people,dc=t", "a", "a@x.vn")
    other = account("uid=b,ou=people,dc=t", "b", "b*(1)@x.vn")
    filters = target.targeted.member_filters(
        [({"dn": one.key}, one), ({"dn": other.key}, other)], {one.key: ("a@x.vn", "alias@x.vn")}
    )
    group = "(objectClass=zimbraDistributionList)"
    assert filters == {
        "a@x.vn": f"(&{group}(|(zimbraMailForwardingAddress=a@x.vn)))",
        "alias@x.vn": f"(&{group}(|(zimbraMailForwardingAddress=alias@x.vn)))",
        "b*(1)@x.vn": f"(&{group}(|(zimbraMailForwardingAddress=b\\2a\\281\\29@x.vn)))",
    }


def test_dn_members_are_asked_for_by_the_dn_as_the_server_spells_it() -> None:
    target = offline_target("ad")
    dn = "CN=Nguyễn\\, Văn (A)*,OU=People,DC=t"
    filters = target.targeted.member_filters(
        [({"dn": dn}, account(normalise_dn(dn), "a", None))], {}
    )
    assert filters == {
        normalise_dn(dn): "(&(objectClass=group)(|(member=CN=Nguyễn\\5c, Văn \\28A\\29\\2a,"
        "OU=People,DC=t)))"
    }
