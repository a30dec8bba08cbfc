"""One reconcile: read roster and targets, plan, and (when asked) apply and audit.

The roster is always the export with the pushed rows still in force laid over it
(`roster/overlay.py`). What differs between runs is the rule (`PlanRule`): the roster for
everyone, read whole from every target; the roster for the people a push names or a new
export changed, read from each target by lookup (`planning/focus.py`), which plans them
exactly as a full run would; or a leak list. `syncbot.sync` is the one sequence that
applies a plan; the `plan` command and the reports only read.
"""

from __future__ import annotations

import contextlib
import getpass
import secrets
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

import structlog

from syncbot.audit import AuditLog
from syncbot.config import Config
from syncbot.duty_settings import Observe
from syncbot.errors import SyncbotError, TargetError
from syncbot.executor import ApplyReport, apply_plan, recover_interrupted
from syncbot.lookup import Lookup
from syncbot.mappings import Mappings, load_mappings
from syncbot.memory import collector_paused
from syncbot.model import Plan, Roster, Snapshot
from syncbot.planning.focus import Focus, Population
from syncbot.planning.planner import TargetState, plan
from syncbot.protection import Protection
from syncbot.push_store import PushedState, PushStore
from syncbot.roster import load_roster
from syncbot.roster.overlay import Overlaid, lay_over
from syncbot.roster.prints import changed_people, prints_of
from syncbot.roster_strings import RosterStrings
from syncbot.safety import threshold_violations
from syncbot.state import StateDir
from syncbot.targets.base import Progress, ReadRequest, Target, no_progress
from syncbot.targets.registry import open_target

log = structlog.get_logger("syncbot.reconcile")

ProgressFactory = Callable[[str], contextlib.AbstractContextManager[Progress]]


@contextlib.contextmanager
def silent(_: str) -> Iterator[Progress]:
    yield no_progress


class Scope(StrEnum):
    """Whom a run judged, which decides what its success leaves behind."""

    FULL = "full"  # everyone: the thresholds' counts start again, the population is known
    EXPORT = "export"  # the people a new export changed (and any a push named)
    PUSH = "push"  # the people an HR push named: what it takes counts until a full run
    LIST = "list"  # the accounts of a leak list


class PlanRule(Protocol):
    """How a run turns what it read into a plan, and whom it reads for."""

    @property
    def reviewed(self) -> str:
        """What a person reviews before forcing a refused plan: "roster", "list"."""
        ...

    def focus(self, config: Config, roster: Roster) -> Focus | None:
        """The people the run is about, read by lookup where it can; None: everyone."""
        ...

    def scope(self, focus: Focus | None) -> Scope: ...

    def observe(self, config: Config, today: date) -> Observe: ...

    def plan(
        self,
        roster: Roster,
        mappings: Mappings,
        states: Sequence[TargetState],
        config: Config,
        today: date,
    ) -> Plan: ...


#: Beyond this many people a targeted run would ask more of a directory (a membership
#: search per account in LDAP) than one full read does: the run reads everyone instead.
#: A target may read whole sooner (Keycloak: `targets.keycloak.targeted.worth_searching`).
TARGETED_MAX_PEOPLE = 1_000


@dataclass(frozen=True, slots=True)
class RosterRule:
    """The roster's plan: for everyone, or for the people an HR push names (`only`) and
    those a new export changed (`export_changed`).

    A narrowed run reads only those people's accounts (`Focus`) once a full reconcile has
    recorded the population its thresholds judge against; before that, it reads and plans
    everyone and keeps their steps. Either way it is the full plan's steps for them.
    """

    only: frozenset[str] | None = None
    export_changed: bool = False
    reviewed: str = "roster"

    def focus(self, config: Config, roster: Roster) -> Focus | None:
        if self.only is None and not self.export_changed:
            return None
        state = StateDir(config.state_dir)
        people = set(self.only or ())
        applied = None
        if self.export_changed:
            applied = state.export_prints().load()
            if applied is None:
                return None  # nothing to compare the export with: a full reconcile
            if applied.sha256 != roster.sha256:
                # The roster as planned: a pushed row that a refusal left unapplied
                # differs from what was applied, and is judged again with the export.
                people |= changed_people(applied.prints, prints_of(roster.rows))
        population = Population.from_record(state.last_run())
        if (
            population is None
            or len(people) > TARGETED_MAX_PEOPLE
            or state.journal().pending().started is not None  # recovery judges by a full read
        ):
            return None if self.export_changed else Focus.after_full_read(people)
        return Focus.of(people, roster, config.fallback, population)

    def scope(self, focus: Focus | None) -> Scope:
        if focus is None:
            return Scope.FULL
        return Scope.EXPORT if self.export_changed else Scope.PUSH

    def observe(self, config: Config, today: date) -> Observe:
        return Observe.for_duties(config.duties, today)

    def plan(
        self,
        roster: Roster,
        mappings: Mappings,
        states: Sequence[TargetState],
        config: Config,
        today: date,
    ) -> Plan:
        ledger = StateDir(config.state_dir).ledger().entries
        return plan(roster, mappings, states, ledger, today, config.fallback, config.duties)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Inputs read and a plan computed: everything needed to show or apply it.

    Its targets are open: use it in a `with` block, which closes them.
    """

    config: Config
    mappings: Mappings
    roster: Roster
    targets: Mapping[str, Target]
    snapshots: Mapping[str, Snapshot]
    plan: Plan
    rule: PlanRule = field(default_factory=RosterRule)
    export_rows: int | None = None  # the export alone, for the shrink rule; None: the roster's
    overlaid: Overlaid | None = None  # what reading learnt about the pushed rows
    taken_by_pushes: frozenset[str] = frozenset()
    focus: Focus | None = None  # the people a narrowed run was about

    @property
    def scope(self) -> Scope:
        return self.rule.scope(self.focus)

    @property
    def export_row_count(self) -> int:
        return self.plan.roster_rows if self.export_rows is None else self.export_rows

    def __enter__(self) -> Prepared:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        close_targets(self.targets)


def new_run_id() -> str:
    """Random first, so the 8-character short form shown in reports tells runs apart."""
    return f"{secrets.token_hex(4)}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def actor(via: str) -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} via {via}"


def load_inputs(config: Config) -> tuple[Mappings, Roster]:
    """Mappings then roster: both are validated whole before any target is contacted."""
    mappings = load_mappings(config.mappings_dir, config.mapping_overrides)
    roster = load_roster(
        config.roster.path,
        mappings.vocabulary(),
        format=config.roster.format,
        sheet=config.roster.sheet,
        headers=config.roster.headers,
        delimiter=config.roster.delimiter,
        encoding=config.roster.encoding,
        reuse=True,
        limits=config.roster.limits,
    )
    return mappings, roster


def open_targets(config: Config) -> dict[str, Target]:
    return {name: open_target(settings) for name, settings in config.targets.items()}


@contextlib.contextmanager
def opened_targets(config: Config) -> Iterator[dict[str, Target]]:
    """Every configured target, closed when the block ends however it ends."""
    targets = open_targets(config)
    try:
        yield targets
    finally:
        close_targets(targets)


def close_targets(targets: Mapping[str, Target]) -> None:
    for target in targets.values():
        with contextlib.suppress(Exception):
            target.close()


def protection_for(config: Config, name: str, target: Target) -> Protection:
    """The accounts of one target syncbot must never touch, as the config names them."""
    groups = frozenset(target.entitlement_key(g) for g in config.protected.groups_for(name))
    return Protection.build(
        list(config.protected.usernames), list(config.protected.patterns), groups
    )


def _read_state(
    name: str,
    target: Target,
    config: Config,
    mappings: Mappings,
    progress: Progress,
    observe: Observe,
    known: RosterStrings,
    lookup: Lookup | None,
) -> TargetState:
    mapping = mappings.for_target(name, target.entitlement_key)
    protection = protection_for(config, name, target)
    protected_groups = protection.groups
    wanted = target.wanted_settings(config.duties)
    if lookup is not None:
        # Settings are no one person's: the next full reconcile compares them.
        observe = replace(observe, settings=False)
    elif wanted.values:
        # A setting is only compared with what was read: wanted means read, whatever else
        # the duties observe (Keycloak's event storage is wanted by the target's own config).
        observe = replace(observe, settings=True)
    try:
        # Protected groups are read too, so membership in them can shield an account.
        snapshot = target.read(
            ReadRequest(mapping.managed | protected_groups, observe, known, progress, lookup)
        )
    except SyncbotError:
        raise
    except Exception as exc:  # ldap3 raises its own hierarchy; callers want one kind
        raise TargetError(f"{name}: cannot read the directory: {exc}") from exc
    return TargetState(
        snapshot=snapshot,
        mapping=mapping,
        protection=protection,
        federated_owned=target.owned_for_federated(mapping.managed),
        wanted=wanted,
    )


def prepare(
    config: Config,
    today: date,
    *,
    progress: ProgressFactory = silent,
    rule: PlanRule | None = None,
) -> Prepared:
    """Read everything and compute the plan by `rule` (the roster's, for everyone); changes
    nothing anywhere."""
    with collector_paused():
        return _prepare(config, today, progress, rule or RosterRule())


def _prepare(config: Config, today: date, progress: ProgressFactory, rule: PlanRule) -> Prepared:
    mappings, export = load_inputs(config)
    pushed = read_pushed(config)
    overlaid = lay_over(export, pushed.rows)
    roster = overlaid.roster
    focus = rule.focus(config, roster)
    planned = focus.roster(roster) if focus is not None else roster
    lookup = focus.lookup if focus is not None else None
    targets = open_targets(config)
    try:
        states = []
        observe = rule.observe(config, today)
        known = RosterStrings(planned.rows)
        for name, target in targets.items():
            with progress(f"Đọc {name}") as bar:
                states.append(
                    _read_state(name, target, config, mappings, bar, observe, known, lookup)
                )
        del known  # freed before planning, where memory peaks
        computed = rule.plan(planned, mappings, states, config, today)
        if focus is not None:
            computed = focus.finish(computed, roster)
    except BaseException:
        close_targets(targets)
        raise
    log.info(
        "plan_computed",
        scope=rule.scope(focus).value,
        people=None if focus is None else len(focus.people),
        accounts_read=sum(len(state.snapshot.accounts) for state in states),
        roster_rows=len(roster.rows),
        pushed_rows=len(roster.sources),
        actions=len(computed.actions),
        findings=len(computed.findings),
    )
    snapshots = {state.name: state.snapshot for state in states}
    return Prepared(
        config,
        mappings,
        roster,
        targets,
        snapshots,
        computed,
        rule=rule,
        export_rows=overlaid.export_rows,
        overlaid=overlaid,
        taken_by_pushes=pushed.taken,
        focus=focus,
    )


def read_pushed(config: Config) -> PushedState:
    """The pushed rows in force and what pushes took; nothing when no push ever came."""
    return PushStore(config.state_dir).read()


def violations(prepared: Prepared) -> list[str]:
    """Every threshold the plan crosses, counting what pushes took since the last full run."""
    previous = StateDir(prepared.config.state_dir).last_run().get("roster_rows")
    return threshold_violations(
        prepared.plan,
        prepared.config.safety,
        previous,
        export_rows=prepared.export_row_count,
        taken_by_pushes=prepared.taken_by_pushes,
    )


def apply_prepared(
    prepared: Prepared,
    *,
    run_id: str,
    actor_name: str,
    forced: list[str],
    progress: Progress = no_progress,
    should_stop: Callable[[], bool] = lambda: False,
) -> ApplyReport:
    """Apply a computed plan; the caller holds the state lock and has checked thresholds."""
    config, computed = prepared.config, prepared.plan
    state = StateDir(config.state_dir)
    journal = state.journal()
    # A killed run's last step is audited before anything new happens, judged by the
    # snapshot this run just took.
    recover_interrupted(journal, config.audit_path, prepared.snapshots, run_id)
    # Closing it seals the run and moves the audit anchor, whatever the run's outcome.
    audit = AuditLog(
        config.audit_path, run_id=run_id, actor=actor_name, keeping=state.audit_keeping()
    )
    summary: dict[str, Any] = {
        "roster_file": computed.roster_path,
        "roster_sha256": computed.roster_sha256,
        "roster_rows": computed.roster_rows,
        "actions": len(computed.actions),
        "forced_past": forced,
    }
    report = ApplyReport()
    try:
        if computed.actions:
            audit.run_started(summary)
            journal.start({"run_id": run_id, "actor": actor_name})
            report = apply_plan(
                computed,
                prepared.targets,
                prepared.snapshots,
                audit,
                state.ledger(),
                run_id,
                journal=journal,
                progress=progress,
                should_stop=should_stop,
            )
            audit.run_finished(
                {
                    "succeeded": report.succeeded,
                    "failed": len(report.failed),
                    "interrupted": report.interrupted,
                }
            )
            journal.finish()
    finally:
        audit.close()
    if not report.failed and not report.interrupted:
        last = state.last_run()
        full = prepared.scope is Scope.FULL
        state.save_last_run(
            {
                "run_id": run_id,
                "finished": datetime.now(UTC).isoformat(),
                "scope": prepared.scope.value,
                "roster_sha256": computed.roster_sha256,
                # The export's rows, never pushed ones: the shrink rule compares exports.
                "roster_rows": prepared.export_row_count,
                "actions": len(computed.actions),
                # What targeted runs' thresholds judge against until the next full one.
                "population": (
                    Population.of(computed).as_record() if full else last.get("population")
                ),
            }
        )
    return report
