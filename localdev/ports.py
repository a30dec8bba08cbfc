"""Loopback ports for the servers started here: tests, benchmarks and the local demo."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000
_TRIES = 64


def free_port() -> int:
    """A loopback port nobody holds now, chosen below the kernel's ephemeral range.

    A port from that range can be taken while its server is down by any outgoing
    connection, including a client retrying that very server: Linux then connects the
    client to itself and the server cannot come back on its own port. Below the range
    only an explicit bind can take it. Where the range leaves no room below, the kernel
    picks.
    """
    low = _ephemeral_low()
    if low - _LOWEST >= 1_000:
        for _ in range(_TRIES):
            port = random.randrange(_LOWEST, low)  # noqa: S311 - a port, not a secret
            if _bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(_RANGE_FILE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    # No SO_REUSEADDR: a port with connections still in TIME_WAIT counts as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
