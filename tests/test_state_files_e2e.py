"""The files a real worker run writes, under umask 000 and with links planted beside them.

The attack review found `last-run.json` and `worker.json` made 0666 at umask 000, and the
status file's fixed `worker.json.tmp` followed when it was a link, overwriting its target.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from test_cli_e2e import sample_department
from worker_process import WorkerProcess, start, syncbot, wait_for

from localdev.slapd import SlapdServer

pytestmark = pytest.mark.slapd
WORKER_SETTINGS = "\n[worker]\ninterval_minutes = 0\ndebounce_seconds = 1.0\n"
VICTIM_TEXT = "root:x:0:0:a file the attacker wants overwritten\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_worker_run_under_umask_000_writes_private_state_and_follows_no_link(
    slapd_server: SlapdServer, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    config = sample_department(slapd_server, tmp_path, WORKER_SETTINGS)
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    victims = {}
    for name in ("worker.json.tmp", "last-run.json.tmp", "ledger.jsonl.tmp"):
        victim = tmp_path / f"victim-of-{name}"
        victim.write_text(VICTIM_TEXT, encoding="utf-8")
        (state / name).symlink_to(victim)  # the old fixed temporary names
        victims[name] = victim
    final_victim = tmp_path / "victim-of-worker.json"
    final_victim.write_text(VICTIM_TEXT, encoding="utf-8")
    (state / "worker.json").symlink_to(final_victim)  # and the final name itself

    old_umask = os.umask(0)
    try:
        worker = start(workers, config)  # the child inherits the umask
    finally:
        os.umask(old_umask)
    worker.wait_runs(1)
    status_file = state / "worker.json"
    data = wait_for(
        "status after the run",
        lambda: (
            not status_file.is_symlink()
            and (s := json.loads(status_file.read_text("utf-8")))["last_run"]
            and s
        ),
        timeout=10,
    )
    assert data["last_run"]["result"] == "ok" and data["last_run"]["actions"]["disable"] == 3
    assert worker.stop() == 0

    for name in ("worker.json", "last-run.json", "ledger.jsonl"):
        assert stat.S_ISREG((state / name).lstat().st_mode), name
        assert mode(state / name) == 0o600, name
    assert mode(tmp_path / "audit" / "audit.jsonl") == 0o640  # the log keeps its own modes
    for victim in (*victims.values(), final_victim):
        assert victim.read_text("utf-8") == VICTIM_TEXT, victim.name
    for name in victims:
        assert (state / name).is_symlink()  # left where they were, never written through
    assert not [p.name for p in state.iterdir() if p.name.startswith(".")]  # no temporaries
    assert syncbot(config, "status").returncode == 0
