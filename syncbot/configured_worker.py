"""`syncbot run` for one config file: the worker loop, fed from the Config.

The worker (`syncbot.worker`) knows only its own settings and a function that runs once;
the config reads `[worker]` through `syncbot.worker.settings`. This is the one place that
knows both, so neither imports the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from syncbot.approval.apply import apply_approved, decisions_waiting
from syncbot.approval.store import PlanStore
from syncbot.config import Config, load_config
from syncbot.executor import ApplyReport
from syncbot.mappings import load_mappings
from syncbot.model import Plan
from syncbot.notify.alerts import Alerting
from syncbot.notify.hooks import SILENT
from syncbot.reconcile import RosterRule, actor, new_run_id
from syncbot.sync import Lock, sync
from syncbot.worker.loop import Worker, WorkerSetup
from syncbot.worker.watch import newest_export

VIA = "syncbot run"


def run_worker(config: Config) -> int:
    """Entry point of `syncbot run`; returns the exit code. SIGHUP reads `config.path` anew."""
    # One notifier for the process: a reload keeps its open incidents and waiting messages.
    alerting = Alerting(config.state_dir)
    return Worker(
        worker_setup(config, alerting),
        reload=lambda: worker_setup(load_config(config.path), alerting),
        new_run_id=new_run_id,
    ).serve()


def worker_setup(config: Config, alerting: Alerting | None = None) -> WorkerSetup:
    """What the worker takes from `config`; the mappings are read (and checked) now."""
    mappings = load_mappings(config.mappings_dir, config.mapping_overrides)
    store = PlanStore(config.state_dir, config.approval)

    def run(
        run_id: str,
        people: frozenset[str] | None,
        *,
        export_changed: bool,
        on_plan: Callable[[Plan], None],
        should_stop: Callable[[], bool],
        lock: Lock,
    ) -> ApplyReport:
        # What people approved goes first, whatever woke the worker: a retry after a
        # failure or a kill finishes an approved plan as well.
        only_decisions = people is not None and not people and not export_changed
        approved = apply_approved(
            roster_config(config),
            via=VIA,
            lock=lock,
            should_stop=should_stop,
            run_id=run_id if only_decisions else None,
        )
        reports = [a.report for a in approved if a.report is not None]
        if only_decisions:
            return _merged(reports)
        synced = sync(
            roster_config(config),
            RosterRule(people, export_changed),
            via=VIA,
            run_id=run_id,
            show=lambda prepared: on_plan(prepared.plan),
            should_stop=should_stop,
            lock=lock,
        )
        assert synced.report is not None  # the worker confirms every plan
        return _merged([*reports, synced.report])

    return WorkerSetup(
        settings=config.worker,
        state_dir=config.state_dir,
        audit_path=config.audit_path,
        watch=config.worker.watch_path(config.roster.path),
        source=str(config.path),
        actor=actor(VIA),
        run=run,
        vocabulary=mappings.vocabulary,
        decisions_waiting=decisions_waiting(store),
        alerts=SILENT if alerting is None else alerting.for_config(config),
    )


def _merged(reports: list[ApplyReport]) -> ApplyReport:
    """One report for the runs of one worker run: approved plans', then the roster's."""
    if len(reports) == 1:
        return reports[0]
    return ApplyReport(
        [result for report in reports for result in report.results],
        any(report.interrupted for report in reports),
    )


def roster_config(config: Config) -> Config:
    """The config a run uses: for a watched folder, its newest complete export is the roster.

    A folder drop (HR writes `nhan-su-2026-11-23.xlsx`, then `…-24.xlsx`) keeps every file
    for the record; the newest one is the truth. With a file watch (the default) the
    roster path is used as configured.
    """
    watch = config.worker.watch
    if watch is None or not watch.is_dir():
        return config
    newest = newest_export(watch)
    if newest is None:
        return config
    return dataclasses.replace(config, roster=dataclasses.replace(config.roster, path=newest))
