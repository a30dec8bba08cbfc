"""`syncbot run` for one config file: the worker loop, fed from the Config.

The worker (`syncbot.worker`) knows only its own settings and a function that runs once;
the config reads `[worker]` through `syncbot.worker.settings`. This is the one place that
knows both, so neither imports the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from syncbot.config import Config, load_config
from syncbot.executor import ApplyReport
from syncbot.mappings import load_mappings
from syncbot.model import Plan
from syncbot.reconcile import RosterRule, actor, new_run_id
from syncbot.sync import Lock, sync
from syncbot.worker.loop import Worker, WorkerSetup
from syncbot.worker.watch import newest_export

VIA = "syncbot run"


def run_worker(config: Config) -> int:
    """Entry point of `syncbot run`; returns the exit code. SIGHUP reads `config.path` anew."""
    return Worker(
        worker_setup(config),
        reload=lambda: worker_setup(load_config(config.path)),
        new_run_id=new_run_id,
    ).serve()


def worker_setup(config: Config) -> WorkerSetup:
    """What the worker takes from `config`; the mappings are read (and checked) now."""
    mappings = load_mappings(config.mappings_dir, config.mapping_overrides)

    def run(
        run_id: str,
        people: frozenset[str] | None,
        *,
        export_changed: bool,
        on_plan: Callable[[Plan], None],
        should_stop: Callable[[], bool],
        lock: Lock,
    ) -> ApplyReport:
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
        return synced.report

    return WorkerSetup(
        settings=config.worker,
        state_dir=config.state_dir,
        audit_path=config.audit_path,
        watch=config.worker.watch_path(config.roster.path),
        source=str(config.path),
        actor=actor(VIA),
        run=run,
        vocabulary=mappings.vocabulary,
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
