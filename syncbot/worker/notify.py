"""systemd `Type=notify` without libsystemd: a datagram to `$NOTIFY_SOCKET`.

READY=1 is sent once the start-up run has been attempted (success or not), so
`systemctl start` returns when the first reconcile is done and its result is in the
status file. Everything here is a no-op when systemd did not set the variables.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import structlog

log = structlog.get_logger("syncbot.worker")


def socket_address(value: str) -> str | bytes:
    """`@name` is an abstract socket: a leading NUL byte on the wire."""
    return b"\0" + value[1:].encode() if value.startswith("@") else value


def status_line(
    last_run: Mapping[str, object] | None, next_run: datetime | None, due: Sequence[date]
) -> str:
    """The one line `systemctl status` shows under the unit."""
    if last_run:
        last = f"last run {last_run.get('result')} at {last_run.get('finished')}"
    else:
        last = "no run yet"
    upcoming = f"next run {next_run:%Y-%m-%d %H:%M}" if next_run else "no run scheduled"
    pending = ", ".join(d.isoformat() for d in due[:3]) + (" …" if len(due) > 3 else "")
    return f"{last}; {upcoming}; pending due dates: {pending or 'none'}"


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET")
        self.address = socket_address(address) if address else None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID")
        mine = pid is None or pid == str(os.getpid())
        self.watchdog_seconds = int(usec) / 1e6 if usec.isdigit() and mine else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> None:
        if self.address is None:
            return
        message = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:  # systemd gone or socket misconfigured: keep working
            log.warning("notify_failed", error=str(exc))

    def ready(self) -> None:
        self.send("READY=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def start_watchdog(self) -> None:
        """Ping at half the watchdog interval from a thread: a dead or frozen process is
        restarted; a run is never killed just for taking long."""
        if self.address is None or not self.watchdog_seconds or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._pings, name="syncbot-watchdog", daemon=True)
        self._thread.start()

    def stop_watchdog(self) -> None:
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.join(timeout=2)

    def _pings(self) -> None:
        assert self.watchdog_seconds is not None
        while not self._stop.wait(self.watchdog_seconds / 2):
            self.send("WATCHDOG=1")
