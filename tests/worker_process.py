"""The worker as a real process, for the tests that drive it: start, read its JSON log,
wait for its runs, stop it; and the probes those tests share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from localdev import probes
from localdev.sample import SAMPLE_PASSWORD
from localdev.slapd import SlapdServer

REPO = Path(__file__).resolve().parent.parent


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class WorkerProcess:
    """`python -m syncbot --config … run`, its JSON log in a file."""

    def __init__(self, config: Path, name: str = "worker") -> None:
        self.config = config
        self.log_path = config.parent / f"{name}.log"
        env = {**os.environ, "SYNCBOT_LOG_FORMAT": "json", "SYNCBOT_LOG_LEVEL": "info"}
        env.pop("NOTIFY_SOCKET", None)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "syncbot", "--config", str(config), "run"],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text("utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if name is None or record.get("event") == name:
                records.append(record)
        return records

    def wait_runs(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The first `count` finished runs (run_finished, run_failed or run_refused)."""

        def finished() -> list[dict[str, Any]]:
            done = [
                e
                for e in self.events()
                if e.get("event") in ("run_finished", "run_failed", "run_refused")
            ]
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}: {self.log()}")
            return done if len(done) >= count else []

        return wait_for(f"{count} finished runs", finished, timeout)

    def log(self) -> str:
        return self.log_path.read_text("utf-8")[-3000:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(timeout=10)


def start(workers: list[WorkerProcess], config: Path, name: str = "worker") -> WorkerProcess:
    worker = WorkerProcess(config, name)
    workers.append(worker)
    return worker


def can_bind(server: SlapdServer, uid: str) -> bool:
    return probes.can_bind(server.url, f"uid={uid},{server.people_base}", SAMPLE_PASSWORD)


def audit(config: Path) -> list[dict[str, Any]]:
    """The records written so far; polled while the worker writes, so a batch of records
    half on disk (cut anywhere, even inside a character) is left for the next look."""
    path = config.parent / "audit" / "audit.jsonl"
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.decode("utf-8").splitlines()]


def departed(csv_text: str, employee_id: str, day: date) -> str:
    """The roster with one person's status set to "Nghỉ việc" from `day`."""
    lines = csv_text.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith(employee_id + ","):
            fields = line.split(",")
            fields[5], fields[6] = "Nghỉ việc", day.strftime("%d/%m/%Y")
            lines[i] = ",".join(fields)
            return "\r\n".join(lines)
    raise AssertionError(f"{employee_id} not in the sample roster")


def replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # rename(2), as HR tools do


def syncbot(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncbot", "--config", str(config), *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
