"""The push and metrics listeners under slow-connection attacks, replays and unsafe configs.

Every attack here is on loopback only (127.0.0.1 or ::1), bounded in connections and time: a
fixed number of client sockets that drip bytes and reconnect when the server closes them.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from syncbot.config import Config, load_config
from syncbot.errors import ConfigError
from syncbot.match_keys import fold
from syncbot.model import Status, Vocabulary
from syncbot.worker import serving
from syncbot.worker.metrics import Metrics, MetricsServer
from syncbot.worker.push import PATH, PushRequest, PushServer
from syncbot.worker.serving import ConnectionGuard
from syncbot.worker.settings import ListenerLimits, MetricsSettings, PushSettings

LOOPBACK = ("127.0.0.1", "::1")  # the only addresses these tests ever connect to
TOKEN = "push-token-for-listener-tests-4b9e1c"
SECRET = "hmac-secret-for-listener-tests-d27a"
VOCAB = Vocabulary(
    statuses={fold("Đang công tác"): Status.ACTIVE, fold("Nghỉ việc"): Status.DEPARTED},
    roles={fold("Chuyên viên"): "Chuyên viên"},
)
IDS = json.dumps({"employee_ids": ["CB2001"]}).encode()
PUSHES = 13  # the count: 7 of these went unanswered before
ATTACKERS = 40

#: Bytes of an HTTP head that never ends: no blank line ever comes.
ENDLESS_HEAD = f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\n".encode() + b"X-Drip: 1\r\n" * 4000
#: A TLS record header announcing a 16 KiB handshake message that never arrives.
ENDLESS_HANDSHAKE = b"\x16\x03\x01\x40\x00" + b"\x00" * 40000


@dataclass
class SlowAttack:
    """`count` connections to a loopback port that each send `payload` one byte per `drip`
    seconds, reconnecting whenever the server closes them, for at most `seconds`."""

    port: int
    payload: bytes
    count: int = ATTACKERS
    drip: float = 0.2
    seconds: float = 60.0
    host: str = "127.0.0.1"
    connections: int = 0
    cut: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> SlowAttack:
        assert self.host in LOOPBACK
        self._until = time.monotonic() + self.seconds
        for number in range(self.count):
            thread = threading.Thread(target=self._one, name=f"slow-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + 10
        while self.connections < self.count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.connections >= self.count, "the attack could not connect"
        time.sleep(1.0)  # every slot the server gives is now held by a dripper
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._until

    def _one(self) -> None:
        while self._running():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError:
                self._stop.wait(0.05)
                continue
            with self._lock:
                self.connections += 1
            with sock:
                for position in range(len(self.payload)):
                    if not self._running():
                        return
                    if self._closed(sock, self.payload[position : position + 1]):
                        with self._lock:
                            self.cut += 1
                        break
                    self._stop.wait(self.drip)

    def summary(self) -> str:
        return (
            f"{self.count} loopback connections dripping one byte per {self.drip} s:"
            f" {self.connections} opened, {self.cut} closed by the server"
        )

    @staticmethod
    def _closed(sock: socket.socket, byte: bytes) -> bool:
        try:
            sock.sendall(byte)
            return sock.recv(1, socket.MSG_DONTWAIT) is not None  # any answer ends it too
        except BlockingIOError:
            return False  # nothing to read: still open, still waiting for the rest
        except OSError:
            return True


@dataclass
class Received:
    requests: list[PushRequest] = field(default_factory=list)

    def __call__(self, request: PushRequest) -> None:
        self.requests.append(request)


def push_settings(**changes: Any) -> PushSettings:
    return replace(PushSettings(host="127.0.0.1", port=0, token=TOKEN), **changes)


@pytest.fixture
def received() -> Received:
    return Received()


def started_push(received: Received, **changes: Any) -> PushServer:
    server = PushServer(push_settings(**changes), received, lambda: VOCAB)
    server.start()
    return server


def push_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}


def signed(body: bytes, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Syncbot-Timestamp": stamp,
        "X-Syncbot-Signature": "sha256=" + digest.hexdigest(),
    }


def exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def answered(attempt: Callable[[], int], expected: int) -> int:
    """How many of PUSHES attempts got the expected answer, a little apart, each within 5 s."""
    count = 0
    for _ in range(PUSHES):
        try:
            if attempt() == expected:
                count += 1
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return count


def plain(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=5)


# --- slow-connection attacks ------------------------------------------------------------------


def test_valid_pushes_are_served_while_40_connections_drip_their_headers(
    received: Received,
) -> None:
    server = started_push(received)
    try:
        with SlowAttack(server.port, ENDLESS_HEAD) as attack:
            served = answered(
                lambda: exchange(plain(server.port), "POST", PATH, IDS, push_headers())[0], 202
            )
        print(f"\nslow headers: {served}/{PUSHES} pushes answered 202; {attack.summary()}")
        assert served >= PUSHES - 1
        assert len(received.requests) == served
        assert attack.cut > 0, "the server never had to close a dripper: no attack happened"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "push.crt", folder / "push.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_valid_pushes_are_served_while_40_connections_never_finish_tls(
    received: Received, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = started_push(received, cert_file=cert, key_file=key)
    context = ssl.create_default_context(cafile=str(cert))

    def push() -> int:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=context, timeout=5
        )
        return exchange(connection, "POST", PATH, IDS, push_headers())[0]

    try:
        with SlowAttack(server.port, ENDLESS_HANDSHAKE) as attack:
            served = answered(push, 202)
        print(
            f"\nstalled TLS handshakes: {served}/{PUSHES} pushes answered 202; {attack.summary()}"
        )
        assert served >= PUSHES - 1
        assert attack.cut > 0
    finally:
        server.stop()


def test_valid_signed_pushes_are_served_while_connections_drip(received: Received) -> None:
    # Without a token a connection is only trusted once its signature is checked.
    server = started_push(received, token=None, hmac_secret=SECRET)
    try:
        with SlowAttack(server.port, ENDLESS_HEAD) as attack:
            bodies = iter(json.dumps({"employee_ids": [f"CB{n}"]}).encode() for n in range(99))

            def push() -> int:
                body = next(bodies)  # each push its own signature, as a replay is refused
                return exchange(plain(server.port), "POST", PATH, body, signed(body))[0]

            served = answered(push, 202)
        print(
            f"\nslow headers, HMAC only: {served}/{PUSHES} pushes answered 202; {attack.summary()}"
        )
        assert served >= PUSHES - 1
    finally:
        server.stop()


def test_metrics_answer_while_40_connections_drip_their_headers() -> None:
    limits = ListenerLimits(max_connections=8, max_connections_per_peer=4)
    server = MetricsServer(MetricsSettings("127.0.0.1", 0, limits), Metrics())
    server.start()
    try:
        head = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n" + b"X-Drip: 1\r\n" * 4000
        with SlowAttack(server.port, head) as attack:
            served = answered(lambda: exchange(plain(server.port), "GET", "/metrics")[0], 200)
        print(
            f"\nmetrics, slow headers: {served}/{PUSHES} scrapes answered 200; {attack.summary()}"
        )
        assert served >= PUSHES - 1
        assert attack.cut > 0
    finally:
        server.stop()


# --- caps and deadlines -----------------------------------------------------------------------


def closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def start_listener(kind: str, limits: ListenerLimits, received: Received) -> Any:
    if kind == "push":
        return started_push(received, limits=limits)
    server = MetricsServer(MetricsSettings("127.0.0.1", 0, limits), Metrics())
    server.start()
    return server


@pytest.mark.parametrize("kind", ["push", "metrics"])
@pytest.mark.parametrize(
    "limits",
    [
        ListenerLimits(max_connections=4, max_connections_per_peer=4, header_timeout_seconds=5),
        ListenerLimits(max_connections=10, max_connections_per_peer=4, header_timeout_seconds=5),
    ],
    ids=["total-cap", "per-peer-cap"],
)
def test_silent_connections_past_a_cap_close_the_oldest(
    received: Received, kind: str, limits: ListenerLimits
) -> None:
    server = start_listener(kind, limits, received)
    sockets = []
    try:
        for _ in range(6):
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(0.05)  # accepted in this order
        oldest, newest = sockets[:2], sockets[2:]
        assert all(closed_within(sock, 2) for sock in oldest)
        assert not any(closed_within(sock, 0.3) for sock in newest)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_a_peer_at_its_cap_does_not_take_other_peers_slots() -> None:
    guard = ConnectionGuard("test", ListenerLimits(4, 2, 5.0), 10.0)
    pairs = [socket.socketpair() for _ in range(5)]
    try:
        mine = [guard.admit(pairs[n][0], "10.0.0.1") for n in range(3)]
        theirs = [guard.admit(pairs[n][0], "10.0.0.2") for n in (3, 4)]
        assert all(mine) and all(theirs)
        assert [t.cut for t in mine if t] == ["evicted", None, None]  # its own oldest
        assert all(t is not None and t.cut is None for t in theirs)
        for ticket in theirs:
            assert ticket is not None
            guard.trust(ticket)
        extra = socket.socketpair()
        # Total cap reached: the newcomer takes an untrusted one's place, never a trusted one's.
        newcomer = guard.admit(extra[0], "10.0.0.3")
        assert newcomer is not None
        assert mine[1] is not None and mine[1].cut == "evicted"
        assert all(t is not None and t.cut is None for t in theirs)
        extra[0].close()
        extra[1].close()
    finally:
        for left, right in pairs:
            left.close()
            right.close()


def test_a_full_listener_of_trusted_connections_refuses_the_newcomer() -> None:
    guard = ConnectionGuard("test", ListenerLimits(2, 2, 5.0), 10.0)
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for left, _ in pairs[:2]:
            ticket = guard.admit(left, "10.0.0.1")
            assert ticket is not None
            guard.trust(ticket)
        assert guard.admit(pairs[2][0], "10.0.0.2") is None
    finally:
        for left, right in pairs:
            left.close()
            right.close()


def test_dripping_does_not_push_back_the_head_deadline(received: Received) -> None:
    server = started_push(received, limits=ListenerLimits(header_timeout_seconds=1.0))
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            closed = False
            for position in range(200):
                if SlowAttack._closed(sock, ENDLESS_HEAD[position : position + 1]):
                    closed = True
                    break
                time.sleep(0.05)  # far faster than any per-read timeout
        seconds = time.monotonic() - started
        assert closed and 0.9 < seconds < 2.5, seconds
        assert received.requests == []
    finally:
        server.stop()


def test_a_tls_handshake_has_the_head_deadline(
    received: Received, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = started_push(
        received, cert_file=cert, key_file=key, limits=ListenerLimits(header_timeout_seconds=1.0)
    )
    try:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(ENDLESS_HANDSHAKE[:5])
            assert closed_within(sock, 4)
        assert 0.9 < time.monotonic() - started < 2.5
    finally:
        server.stop()


def test_shed_connections_are_reported_together_not_one_line_each(
    received: Received, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "SHED_REPORT_SECONDS", 0.5)
    server = started_push(received, limits=ListenerLimits(4, 4, 5.0))
    sockets = []
    try:
        with capture_logs() as logs:
            for _ in range(12):
                sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(1.0)
        reports = [e for e in logs if e["event"] == "push_connections_shed"]
        assert 1 <= len(reports) <= 3  # the first at once, the rest gathered
        assert sum(r.get("evicted", 0) for r in reports) == 8
        assert all(set(r["peers"]) == {"127.0.0.1"} for r in reports)
        assert not [e for e in logs if e["event"] == "push_connection_failed"]
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


# --- replayed signatures ----------------------------------------------------------------------


def test_a_replayed_signed_request_is_refused(received: Received) -> None:
    server = started_push(received, token=None, hmac_secret=SECRET)
    try:
        headers = signed(IDS)
        assert exchange(plain(server.port), "POST", PATH, IDS, headers)[0] == 202
        with capture_logs() as logs:
            status, raw = exchange(plain(server.port), "POST", PATH, IDS, headers)
        assert status == 409
        answer = json.loads(raw)
        assert answer["error"] == "replayed_request"
        assert "đã được nhận" in answer["message"] and "already received" in answer["message"]
        [line] = [e for e in logs if e["event"] == "push_rejected"]
        assert line["reason"] == "replayed_request" and line["status"] == 409
        assert headers["X-Syncbot-Signature"] not in repr(logs)
        assert len(received.requests) == 1
        # The same people pushed again, signed again at another second: a new request.
        again = signed(IDS, at=int(headers["X-Syncbot-Timestamp"]) - 1)
        assert exchange(plain(server.port), "POST", PATH, IDS, again)[0] == 202
        assert len(received.requests) == 2
    finally:
        server.stop()


def test_a_replay_with_both_methods_is_refused(received: Received) -> None:
    server = started_push(received, hmac_secret=SECRET)
    try:
        headers = {**signed(IDS), **push_headers()}
        assert exchange(plain(server.port), "POST", PATH, IDS, headers)[0] == 202
        assert exchange(plain(server.port), "POST", PATH, IDS, headers)[0] == 409
    finally:
        server.stop()


def test_a_push_answered_503_may_be_resent_as_is() -> None:
    calls: list[PushRequest] = []

    def submit(request: PushRequest) -> None:
        calls.append(request)
        if len(calls) == 1:
            raise RuntimeError("queue full")

    server = PushServer(push_settings(token=None, hmac_secret=SECRET), submit, lambda: VOCAB)
    server.start()
    try:
        headers = signed(IDS)
        assert exchange(plain(server.port), "POST", PATH, IDS, headers)[0] == 503
        assert exchange(plain(server.port), "POST", PATH, IDS, headers)[0] == 202
        assert exchange(plain(server.port), "POST", PATH, IDS, headers)[0] == 409
    finally:
        server.stop()


def test_signatures_are_forgotten_once_out_of_the_window(received: Received) -> None:
    now = [time.time()]
    server = PushServer(
        push_settings(token=None, hmac_secret=SECRET), received, lambda: VOCAB, clock=lambda: now[0]
    )
    server.start()
    try:
        for _ in range(3):
            assert exchange(plain(server.port), "POST", PATH, IDS, signed(IDS, now[0]))[0] == 202
            now[0] += 400  # each old one is stale now, and no longer remembered
        assert len(server._seen._until) == 1
    finally:
        server.stop()


# --- unsafe settings refused at config load ---------------------------------------------------

BASE = """
[roster]
path = "nhan-su.csv"

[targets.ldap]
url = "ldap://127.0.0.1:3890"
bind_dn = "cn=syncbot,ou=system,dc=example"
bind_password_env = "SYNCBOT_TEST_PW"
users_base = "ou=people,dc=example"
groups_base = "ou=groups,dc=example"
"""


def load(tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SYNCBOT_TEST_PW", "pw")
    (tmp_path / "push-token").write_text(TOKEN + "\n", encoding="utf-8")
    (tmp_path / "short-token").write_text("x\n", encoding="utf-8")
    path = tmp_path / "syncbot.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return load_config(path)


def refused(tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra, monkeypatch)
    assert str(tmp_path / "syncbot.toml") in str(caught.value)
    return caught.value


@pytest.mark.parametrize("listen", ["0.0.0.0:8765", "10.1.2.3:8765", "[::]:8765", "hr-gw:8765"])
def test_plaintext_beyond_loopback_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listen: str
) -> None:
    error = refused(
        tmp_path, f'[worker.push]\nlisten = "{listen}"\ntoken_file = "push-token"\n', monkeypatch
    )
    assert error.key == "worker.push.listen"
    assert "allow_plaintext = true" in str(error) and "cert_file" in str(error)


def test_plaintext_beyond_loopback_is_accepted_when_allowed_or_with_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = load(
        tmp_path,
        '[worker.push]\nlisten = "0.0.0.0:8765"\ntoken_file = "push-token"\n'
        "allow_plaintext = true\n",
        monkeypatch,
    ).worker.push
    assert allowed is not None and allowed.allow_plaintext and allowed.host == "0.0.0.0"  # noqa: S104 (parsed, never bound)
    tls = load(
        tmp_path,
        '[worker.push]\nlisten = "0.0.0.0:8765"\ntoken_file = "push-token"\n'
        'cert_file = "push.crt"\nkey_file = "push.key"\n',
        monkeypatch,
    ).worker.push
    assert tls is not None and not tls.allow_plaintext and tls.cert_file is not None


@pytest.mark.parametrize("listen", ["127.0.0.1:8765", "[::1]:8765", "localhost:8765"])
def test_loopback_needs_no_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listen: str
) -> None:
    push = load(
        tmp_path, f'[worker.push]\nlisten = "{listen}"\ntoken_file = "push-token"\n', monkeypatch
    ).worker.push
    assert push is not None and push.limits == ListenerLimits()


def test_a_short_bearer_token_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = refused(
        tmp_path,
        '[worker.push]\nlisten = "127.0.0.1:8765"\ntoken_file = "short-token"\n',
        monkeypatch,
    )
    assert error.key == "worker.push.token_file"
    assert "at least 32 bytes" in str(error) and "got 1;" in str(error)


def test_a_short_token_is_refused_by_the_server_too(received: Received) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        PushServer(push_settings(token="t" * 31), received, lambda: VOCAB)


def test_listener_limits_are_read_for_push_and_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = load(
        tmp_path,
        """
[worker.push]
listen = "127.0.0.1:8765"
token_file = "push-token"
max_connections = 64
max_connections_per_peer = 16
header_timeout_seconds = 2.5
[worker.metrics]
listen = "127.0.0.1:9464"
max_connections = 4
max_connections_per_peer = 2
""",
        monkeypatch,
    ).worker
    assert worker.push is not None and worker.metrics is not None
    assert worker.push.limits == ListenerLimits(64, 16, 2.5)
    assert worker.metrics.limits == ListenerLimits(4, 2, ListenerLimits().header_timeout_seconds)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("max_connections = 0", "worker.metrics.max_connections"),
        ("max_connections_per_peer = -1", "worker.metrics.max_connections_per_peer"),
        (
            "max_connections = 4\nmax_connections_per_peer = 8",
            "worker.metrics.max_connections_per_peer",
        ),
        ("header_timeout_seconds = 0", "worker.metrics.header_timeout_seconds"),
        ("allow_plaintext = true", "worker.metrics.allow_plaintext"),
    ],
)
def test_listener_limit_mistakes_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, key: str
) -> None:
    error = refused(
        tmp_path, f'[worker.metrics]\nlisten = "127.0.0.1:9464"\n{extra}\n', monkeypatch
    )
    assert error.key == key


def test_the_guard_serves_ipv6_loopback_too(received: Received) -> None:
    server = started_push(received, host="::1", limits=ListenerLimits(2, 2, 1.0))
    try:
        silent = [socket.create_connection(("::1", server.port), timeout=5) for _ in range(3)]
        assert closed_within(silent[0], 2)  # past the cap of 2
        connection = http.client.HTTPConnection("::1", server.port, timeout=5)
        assert exchange(connection, "POST", PATH, IDS, push_headers())[0] == 202
        assert received.requests[0].peer == "::1"
        assert all(closed_within(sock, 3) for sock in silent[1:])  # the head deadline
        for sock in silent:
            sock.close()
    finally:
        server.stop()
