"""Settings of the long-running worker (`[worker]` in the config), validated by config.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path


@dataclass(frozen=True, slots=True)
class PushSettings:
    """HTTP endpoint HR systems push to; secrets are kept out of reprs."""

    host: str
    port: int
    token: str | None = field(default=None, repr=False)
    hmac_secret: str | None = field(default=None, repr=False)
    max_body_bytes: int = 1_048_576
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Prometheus text endpoint."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How `syncbot run` is triggered; every field has a default so old configs stay valid.

    `watch` None means the roster file itself; `status_file` None means
    `<state dir>/worker.json`.
    """

    interval_minutes: float = 15.0
    daily_at: tuple[time, ...] = ()
    watch: Path | None = None
    debounce_seconds: float = 2.0
    status_file: Path | None = None
    push: PushSettings | None = None
    metrics: MetricsSettings | None = None
