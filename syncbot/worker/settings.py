"""Settings of the long-running worker (`[worker]` in the config), validated by config.py."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

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
