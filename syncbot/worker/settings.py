"""Settings of the long-running worker (`[worker]` in the config) and their parser.

Imports nothing of the worker's machinery: the config reads this table, and the worker
is given the result, so neither side imports the other.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from syncbot.config_table import Table
from syncbot.secrets import secret_keys
from syncbot.worker.timing import parse_clock

#: A shorter bearer token can be guessed online; 32 bytes is what `openssl rand -hex 16` gives.
MIN_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """How many connections a listener holds, and how long a client may take to ask.

    The head deadline covers the TLS handshake, the request line and the headers together,
    counted from accept, so dripping bytes cannot stretch it; the whole request's deadline
    (10 s) bounds it too.
    """

    max_connections: int = 32
    max_connections_per_peer: int = 16
    header_timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class PushSettings:
    """HTTP endpoint HR systems push to; secrets are kept out of reprs.

    `allow_plaintext` is the explicit opt-in to listen beyond loopback without TLS, for a
    network where the token and bodies may travel in clear.
    """

    host: str
    port: int
    token: str | None = field(default=None, repr=False)
    hmac_secret: str | None = field(default=None, repr=False)
    max_body_bytes: int = 1_048_576
    cert_file: Path | None = None
    key_file: Path | None = None
    allow_plaintext: bool = False
    limits: ListenerLimits = ListenerLimits()


class SettingsProblem(ValueError):
    """A rule a setting breaks; `setting` is its name in the config table (`token`, `listen`)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting
        self.message = message


def check_push_settings(settings: PushSettings) -> None:
    """The rules config load and the push server both hold a push endpoint to."""
    if settings.token is not None and len(settings.token.encode()) < MIN_TOKEN_BYTES:
        raise SettingsProblem(
            "token",
            f"the push bearer token must be at least {MIN_TOKEN_BYTES} bytes, got"
            f" {len(settings.token.encode())}; make one with `openssl rand -hex 32`",
        )
    if (
        settings.cert_file is None
        and not settings.allow_plaintext
        and not is_loopback(settings.host)
    ):
        raise SettingsProblem(
            "listen",
            f"{settings.host} is not a loopback address and there is no TLS: tokens and"
            " signed bodies would cross the network in clear; set cert_file and key_file,"
            " listen on 127.0.0.1 behind a TLS proxy, or set allow_plaintext = true",
        )


def is_loopback(host: str) -> bool:
    """Whether a listen host only takes connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere, or "" for every address


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Prometheus text endpoint."""

    host: str
    port: int
    limits: ListenerLimits = ListenerLimits()


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

    def status_path(self, state_dir: Path) -> Path:
        """Where the worker says what it did last, which `syncbot status` reads."""
        return self.status_file or state_dir / "worker.json"

    def watch_path(self, roster: Path) -> Path:
        """The file, or folder of exports, whose change starts a run."""
        return self.watch or roster


def parse_worker_settings(table: Table) -> WorkerSettings:
    """`[worker]`, with `[worker.push]` and `[worker.metrics]` when given."""
    defaults = WorkerSettings()
    interval = table.get("interval_minutes", float, defaults.interval_minutes)
    if interval < 0:
        raise table.error("interval_minutes", "must not be negative (0 turns the interval off)")
    daily = []
    for text in table.strings("daily_at"):
        try:
            daily.append(parse_clock(text))
        except ValueError as exc:
            raise table.error("daily_at", str(exc)) from None
    watch = table.get("watch", str)
    status_file = table.get("status_file", str)
    debounce = table.get("debounce_seconds", float, defaults.debounce_seconds)
    if debounce < 0:
        raise table.error("debounce_seconds", "must not be negative")
    settings = WorkerSettings(
        interval_minutes=interval,
        daily_at=tuple(daily),
        watch=table.path(watch) if watch else None,
        debounce_seconds=debounce,
        status_file=table.path(status_file) if status_file else None,
        push=_push(table.table("push")) if "push" in table else None,
        metrics=_metrics(table.table("metrics")) if "metrics" in table else None,
    )
    table.done()
    return settings


def _listen(table: Table) -> tuple[str, int]:
    text: str = table.require("listen", str)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise table.error("listen", f"must be HOST:PORT, e.g. 127.0.0.1:8765, got {text!r}")
    return host.strip("[]"), int(port)


def _push(table: Table) -> PushSettings:
    host, port = _listen(table)
    token = table.optional_secret("token")
    hmac_secret = table.optional_secret("hmac_secret")
    if token is None and hmac_secret is None:
        raise table.error("token_file", "a push endpoint needs a token or an hmac_secret")
    cert, key = table.get("cert_file", str), table.get("key_file", str)
    if bool(cert) != bool(key):
        raise table.error(
            "cert_file" if key else "key_file", "TLS needs both cert_file and key_file"
        )
    settings = PushSettings(
        host=host,
        port=port,
        token=token,
        hmac_secret=hmac_secret,
        max_body_bytes=table.positive("max_body_bytes", int, 1_048_576),
        cert_file=table.path(cert) if cert else None,
        key_file=table.path(key) if key else None,
        allow_plaintext=table.get("allow_plaintext", bool, False),
        limits=_listener_limits(table),
    )
    try:
        check_push_settings(settings)
    except SettingsProblem as problem:
        # The token's rule is reported on the key it was given by (token_file, token_env...).
        given = sorted(secret_keys(problem.setting) & set(table.data)) or [problem.setting]
        raise table.error(given[0], problem.message) from None
    table.done()
    return settings


def _metrics(table: Table) -> MetricsSettings:
    host, port = _listen(table)
    settings = MetricsSettings(host=host, port=port, limits=_listener_limits(table))
    table.done()
    return settings


def _listener_limits(table: Table) -> ListenerLimits:
    defaults = ListenerLimits()
    total = table.positive("max_connections", int, defaults.max_connections)
    per_peer = table.positive("max_connections_per_peer", int, defaults.max_connections_per_peer)
    if per_peer > total:
        raise table.error("max_connections_per_peer", f"must not exceed max_connections ({total})")
    return ListenerLimits(
        max_connections=total,
        max_connections_per_peer=per_peer,
        header_timeout_seconds=table.positive(
            "header_timeout_seconds", float, defaults.header_timeout_seconds
        ),
    )
