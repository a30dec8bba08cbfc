"""A targeted run: the people concerned, the rows to plan them with, and what to read.

A push naming one person, or an export that changed ten rows, is planned without reading
every directory whole — and must come out exactly as the full plan would for those people
(`Plan.limited_to`), which a property test holds it to. Matching is what could make them
differ: a person is paired by employee id, and an account without an id by e-mail or
username, where two rows sharing that value make the pairing ambiguous. So the rows
planned are the people's own and every row sharing a fallback value with them, and the
accounts read are those any of these rows could be paired with (`syncbot.lookup`).

Thresholds judge a share of the people matched; a targeted plan matches only a few, so
it is judged against the population the last full reconcile matched (`Population`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from syncbot.lookup import Lookup
from syncbot.match_keys import contact_key, id_key
from syncbot.matching import Fallback, fallback_value
from syncbot.model import Plan, Roster, RosterRow


@dataclass(frozen=True, slots=True)
class Population:
    """What the last full reconcile matched: accounts per target and people in all."""

    matched: Mapping[str, int]
    matched_people: int

    @classmethod
    def of(cls, computed: Plan) -> Population:
        return cls(dict(computed.matched), computed.matched_people)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Population | None:
        """From `last-run.json`; None when no full reconcile has recorded one."""
        population = record.get("population")
        if not isinstance(population, dict):
            return None
        matched, people = population.get("matched"), population.get("matched_people")
        if not isinstance(matched, dict) or not isinstance(people, int):
            return None
        return cls({str(k): int(v) for k, v in matched.items()}, people)

    def as_record(self) -> dict[str, Any]:
        return {"matched": dict(self.matched), "matched_people": self.matched_people}


@dataclass(frozen=True, slots=True)
class Focus:
    """The people (employee ids) a narrowed run is about, and how it reads and plans them.

    Targeted (`of`): only the accounts `lookup` wants are read and only `rows` planned,
    judged against the last full reconcile's `population`. After a full read
    (`after_full_read`): everyone is read and planned, and the plan kept for the people.
    """

    people: frozenset[str]
    lookup: Lookup | None = None  # None: every account is read
    rows: tuple[RosterRow, ...] | None = None  # None: every row is planned
    population: Population | None = None  # None: the plan's own counts are everyone's

    @classmethod
    def of(
        cls,
        people: Iterable[str],
        roster: Roster,
        fallback: Fallback,
        population: Population,
    ) -> Focus:
        """A targeted focus on `people`: ids the roster may list or no longer list."""
        named = frozenset(people)
        keys = {id_key(person) for person in named}
        rows = [row for row in roster.rows if id_key(row.employee_id) in keys]
        if fallback is not Fallback.NONE:
            # Rows sharing a fallback value claim the same id-less accounts: planned
            # together, or a pairing the full plan calls ambiguous would look unique.
            contacts = {contact_key(fallback_value(row, fallback)) for row in rows} - {""}
            if contacts:
                rows = [
                    row
                    for row in roster.rows
                    if id_key(row.employee_id) in keys
                    or contact_key(fallback_value(row, fallback)) in contacts
                ]
        return cls(named, Lookup.build(named, rows, fallback), tuple(rows), population)

    @classmethod
    def after_full_read(cls, people: Iterable[str]) -> Focus:
        return cls(frozenset(people))

    def roster(self, whole: Roster) -> Roster:
        """The roster planned: the focused rows, under the whole roster's name and sha256."""
        if self.rows is None:
            return whole
        keys = {id_key(row.employee_id) for row in self.rows}
        sources = {key: source for key, source in whole.sources.items() if key in keys}
        return replace(whole, rows=self.rows, sources=sources)

    def finish(self, computed: Plan, whole: Roster) -> Plan:
        """The plan for the people, sized like the whole roster for the thresholds."""
        limited = computed.limited_to(set(self.people))
        if self.population is None:
            return limited
        return replace(
            limited,
            roster_rows=len(whole.rows),
            matched=dict(self.population.matched),
            matched_people=self.population.matched_people,
        )
