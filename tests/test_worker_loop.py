"""The worker loop on its own: given settings and a run function, no config, no directory.

The run functions here are plain functions standing in for a reconcile; the loop's own
machinery (locks, status file, audit log, triggers) is real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncbot.errors import ConfigError, SafetyError
from syncbot.executor import ApplyReport
from syncbot.model import Plan, Vocabulary
from syncbot.worker.loop import Lock, RunFunction, Worker, WorkerSetup
from syncbot.worker.settings import WorkerSettings


class Calls:
    """A run function that records its calls and does what each test tells it to."""

    def __init__(self, then: Callable[[int], None]) -> None:
        self.then = then
        self.people: list[frozenset[str] | None] = []

    def __call__(
        self,
        run_id: str,
        people: frozenset[str] | None,
        *,
        export_changed: bool,
        on_plan: Callable[[Plan], None],
        should_stop: Callable[[], bool],
        lock: Lock,
    ) -> ApplyReport:
        with lock():
            self.people.append(people)
            self.then(len(self.people))
        return ApplyReport()


def setup_in(tmp_path: Path, run: RunFunction, state: str = "state") -> WorkerSetup:
    roster = tmp_path / "roster.csv"
    roster.write_text("", encoding="utf-8")
    return WorkerSetup(
        settings=WorkerSettings(interval_minutes=0),
        state_dir=tmp_path / state,
        audit_path=tmp_path / "audit.jsonl",
        watch=roster,
        source=str(tmp_path / "syncbot.toml"),
        actor="tester@host via syncbot run",
        run=run,
        vocabulary=Vocabulary,
    )


def run_ids() -> Callable[[], str]:
    numbers = iter(range(1, 100))
    return lambda: f"run-{next(numbers)}"


def last_run(setup: WorkerSetup) -> dict[str, Any]:
    written: dict[str, Any] = json.loads(setup.status_path.read_text(encoding="utf-8"))
    assert written["config"] == setup.source
    last: dict[str, Any] = written["last_run"]
    return last


def test_the_loop_runs_the_function_it_is_given_and_reports_it(tmp_path: Path) -> None:
    worker: Worker

    def stop(count: int) -> None:
        worker.stop_requested = True

    run = Calls(stop)
    setup = setup_in(tmp_path, run)
    worker = Worker(setup, reload=lambda: setup, new_run_id=run_ids())
    assert worker.serve() == 0
    assert run.people == [None]  # the start-up run is for everyone
    last = last_run(setup)
    assert (last["id"], last["result"], last["trigger"]) == ("run-1", "ok", "startup")
    assert setup.status_path == tmp_path / "state" / "worker.json"


def test_a_refused_run_is_audited_under_the_given_actor(tmp_path: Path) -> None:
    worker: Worker

    def refuse(count: int) -> None:
        worker.stop_requested = True
        raise SafetyError("too many", problems=["would disable 9 of 10"])

    setup = setup_in(tmp_path, Calls(refuse))
    worker = Worker(setup, reload=lambda: setup, new_run_id=run_ids())
    worker.serve()
    records = [json.loads(line) for line in setup.audit_path.read_text().splitlines()]
    finished = [r for r in records if r.get("details", {}).get("result") == "refused"]
    assert len(finished) == 1
    assert finished[0]["actor"] == setup.actor
    assert finished[0]["run_id"] == "run-1"
    assert "would disable 9 of 10" in finished[0]["details"]["error"]


def test_reload_takes_the_new_setup_and_runs_again(tmp_path: Path) -> None:
    worker: Worker
    second = Calls(lambda count: setattr(worker, "stop_requested", True))

    def ask_reload(count: int) -> None:
        worker.reload_requested = True

    setup = setup_in(tmp_path, Calls(ask_reload))
    reloaded = setup_in(tmp_path, second)
    worker = Worker(setup, reload=lambda: reloaded, new_run_id=run_ids())
    worker.serve()
    assert worker.setup is reloaded
    assert second.people == [None]
    assert last_run(reloaded)["trigger"] == "reload"


@pytest.mark.parametrize("change", ["invalid", "state dir"])
def test_a_reload_that_cannot_be_taken_keeps_the_running_setup(tmp_path: Path, change: str) -> None:
    worker: Worker

    def reload() -> WorkerSetup:
        worker.stop_requested = True  # the loop ends once this reload is dealt with
        if change == "invalid":
            raise ConfigError("must be a table", source="syncbot.toml", key="worker")
        return setup_in(tmp_path, run, state="elsewhere")

    run = Calls(lambda count: setattr(worker, "reload_requested", True))
    setup = setup_in(tmp_path, run)
    worker = Worker(setup, reload=reload, new_run_id=run_ids())
    worker.serve()
    assert worker.setup is setup
    assert run.people == [None]  # no run for a rejected reload


def test_the_status_path_is_the_configured_file_or_worker_json_in_the_state_folder(
    tmp_path: Path,
) -> None:
    assert (
        WorkerSettings(status_file=tmp_path / "w.json").status_path(tmp_path) == tmp_path / "w.json"
    )
    assert WorkerSettings().status_path(tmp_path) == tmp_path / "worker.json"
    assert WorkerSettings().watch_path(tmp_path / "r.csv") == tmp_path / "r.csv"
