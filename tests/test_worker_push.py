"""The HR push endpoint over real loopback HTTP: authentication, limits, validation, TLS."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from syncbot.match_keys import fold
from syncbot.model import Status, Vocabulary
from syncbot.worker.push import MAX_EMPLOYEE_IDS, PATH, PushRequest, PushServer
from syncbot.worker.settings import ListenerLimits, PushSettings

MAX_CONNECTIONS = ListenerLimits().max_connections

TOKEN = "t0ken-for-tests-9f2c-5d1e8a7b3c60"  # at least 32 bytes, as config requires
SECRET = "hmac-secret-for-tests-71ab"

VOCAB = Vocabulary(
    statuses={
        fold("Đang công tác"): Status.ACTIVE,
        fold("Nghỉ việc"): Status.DEPARTED,
    },
    roles={fold(r): r for r in ("Văn thư", "Chuyên viên", "Lãnh đạo", "Quản trị")},
)

ROW_DEPARTED = {
    "Mã cán bộ": "CB2001",
    "Họ và tên": "Trần Thị Bình",
    "Email": "binh@tinh.gov.vn",
    "Đơn vị": "Văn phòng",
    "Chức vụ": "Chuyên viên",
    "Trạng thái": "Nghỉ việc",
    "Ngày hiệu lực": "2026-01-05",
}
ROW_ACTIVE = {
    "Mã cán bộ": "CB2002",
    "Họ và tên": "Lê Văn Cường",
    "Email": "",
    "Đơn vị": "Thanh tra",
    "Chức vụ": "Văn thư",
    "Trạng thái": "Đang công tác",
    "Ngày hiệu lực": "",
}


@dataclass
class Received:
    requests: list[PushRequest] = field(default_factory=list)

    def __call__(self, request: PushRequest) -> None:
        self.requests.append(request)


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


def settings(**changes: Any) -> PushSettings:
    base = PushSettings(host="127.0.0.1", port=0, token=TOKEN, hmac_secret=None)
    return replace(base, **changes)


@pytest.fixture
def received() -> Received:
    return Received()


def serve(received: Received, **changes: Any) -> Iterator[PushServer]:
    server = PushServer(settings(**changes), received, lambda: VOCAB)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bearer_server(received: Received) -> Iterator[PushServer]:
    yield from serve(received)


@pytest.fixture
def hmac_server(received: Received) -> Iterator[PushServer]:
    yield from serve(received, token=None, hmac_secret=SECRET)


@pytest.fixture
def both_server(received: Received) -> Iterator[PushServer]:
    yield from serve(received, hmac_secret=SECRET)


def post(
    server: PushServer,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    connection: http.client.HTTPConnection | None = None,
) -> Reply:
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        response = conn.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if raw else None
        return Reply(response.status, dict(response.getheaders()), parsed)
    finally:
        conn.close()


def json_body(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Syncbot-Timestamp": stamp,
        "X-Syncbot-Signature": "sha256=" + digest.hexdigest(),
    }


IDS = json_body({"employee_ids": ["CB2001", " CB2002 ", "CB2001"]})


# --- bearer token ---------------------------------------------------------------------------


def test_valid_bearer_is_accepted_and_queued(bearer_server: PushServer, received: Received) -> None:
    reply = post(bearer_server, IDS, bearer())
    assert reply.status == 202
    assert reply.body == {"accepted": 2, "queued": True}
    [request] = received.requests
    assert request.employee_ids == frozenset({"CB2001", "CB2002"})
    assert request.rows is None
    assert request.peer == "127.0.0.1"


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        bearer("wrong-token"),
        {"Content-Type": "application/json", "Authorization": f"Basic {TOKEN}"},
        bearer(TOKEN + "x"),
    ],
    ids=["missing", "wrong", "other-scheme", "longer"],
)
def test_bad_or_missing_token_is_refused(
    bearer_server: PushServer, received: Received, headers: dict[str, str]
) -> None:
    with capture_logs() as logs:
        reply = post(bearer_server, IDS, headers)
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert received.requests == []
    rejected = [e for e in logs if e["event"] == "push_rejected"]
    assert rejected and rejected[0]["peer"] == "127.0.0.1"
    assert rejected[0]["reason"] in ("missing_token", "bad_token")
    assert TOKEN not in repr(logs)


def test_settings_repr_hides_secrets() -> None:
    text = repr(settings(hmac_secret=SECRET))
    assert TOKEN not in text
    assert SECRET not in text


def test_refuses_to_start_without_authentication(received: Received) -> None:
    with pytest.raises(ValueError, match="token or an HMAC secret"):
        PushServer(settings(token=None, hmac_secret=None), received, lambda: VOCAB)
    with pytest.raises(ValueError, match="token or an HMAC secret"):
        PushServer(settings(token="", hmac_secret=""), received, lambda: VOCAB)


# --- HMAC signature -------------------------------------------------------------------------


def test_valid_hmac_is_accepted(hmac_server: PushServer, received: Received) -> None:
    reply = post(hmac_server, IDS, signed(IDS))
    assert reply.status == 202
    assert received.requests[0].employee_ids == frozenset({"CB2001", "CB2002"})


@pytest.mark.parametrize(
    "headers",
    [
        signed(IDS, secret="another-secret"),
        signed(IDS + b" "),
        {k: v for k, v in signed(IDS).items() if k != "X-Syncbot-Signature"},
        {k: v for k, v in signed(IDS).items() if k != "X-Syncbot-Timestamp"},
    ],
    ids=["wrong-secret", "other-body", "no-signature", "no-timestamp"],
)
def test_invalid_hmac_is_refused(
    hmac_server: PushServer, received: Received, headers: dict[str, str]
) -> None:
    with capture_logs() as logs:
        reply = post(hmac_server, IDS, headers)
    assert reply.status == 401
    assert received.requests == []
    assert [e["event"] for e in logs] == ["push_rejected"]
    if "X-Syncbot-Signature" in headers:
        assert headers["X-Syncbot-Signature"] not in repr(logs)


def test_signature_does_not_cover_another_timestamp(
    hmac_server: PushServer, received: Received
) -> None:
    headers = signed(IDS)
    headers["X-Syncbot-Timestamp"] = str(int(headers["X-Syncbot-Timestamp"]) - 1)
    assert post(hmac_server, IDS, headers).status == 401
    assert received.requests == []


@pytest.mark.parametrize("offset", [-301, 400, -86400])
def test_stale_timestamp_is_refused(
    hmac_server: PushServer, received: Received, offset: int
) -> None:
    reply = post(hmac_server, IDS, signed(IDS, at=time.time() + offset))
    assert reply.status == 401
    assert reply.body["error"] == "stale_timestamp"
    assert received.requests == []


def test_timestamp_inside_the_window_is_accepted(
    hmac_server: PushServer, received: Received
) -> None:
    assert post(hmac_server, IDS, signed(IDS, at=time.time() - 200)).status == 202


def test_both_methods_required_when_both_configured(
    both_server: PushServer, received: Received
) -> None:
    only_token = bearer()
    only_signature = signed(IDS)
    assert post(both_server, IDS, only_token).status == 401
    assert post(both_server, IDS, only_signature).status == 401
    assert received.requests == []
    both = {**signed(IDS), "Authorization": f"Bearer {TOKEN}"}
    assert post(both_server, IDS, both).status == 202
    assert len(received.requests) == 1


# --- rows -----------------------------------------------------------------------------------


def test_rows_are_validated_into_the_request(bearer_server: PushServer, received: Received) -> None:
    body = json_body({"rows": [ROW_DEPARTED, ROW_ACTIVE], "employee_ids": ["CB3000"]})
    reply = post(bearer_server, body, bearer())
    assert reply.status == 202
    assert reply.body == {"accepted": 3, "queued": True}
    [request] = received.requests
    assert request.employee_ids == frozenset({"CB2001", "CB2002", "CB3000"})
    assert request.rows is not None
    departed, active = request.rows.rows
    assert departed.employee_id == "CB2001"
    assert departed.status is Status.DEPARTED
    assert departed.full_name == "Trần Thị Bình"
    assert active.status is Status.ACTIVE
    assert request.rows.sha256 == hashlib.sha256(body).hexdigest()
    assert "127.0.0.1" in request.rows.path


def test_bad_rows_are_422_with_row_and_column(
    bearer_server: PushServer, received: Received
) -> None:
    bad = {**ROW_ACTIVE, "Trạng thái": "Đã chết"}
    reply = post(bearer_server, json_body({"rows": [ROW_DEPARTED, bad]}), bearer())
    assert reply.status == 422
    assert reply.body["error"] == "invalid_rows"
    [problem] = reply.body["problems"]
    assert (problem["row"], problem["column"]) == (2, "Trạng thái")
    assert "record 2" in problem["message"]
    assert received.requests == []


def test_vocabulary_is_read_on_each_request(received: Received) -> None:
    words = {"current": VOCAB}
    server = PushServer(settings(), received, lambda: words["current"])
    server.start()
    try:
        body = json_body({"rows": [ROW_DEPARTED]})
        assert post(server, body, bearer()).status == 202
        words["current"] = replace(VOCAB, statuses={fold("Đang công tác"): Status.ACTIVE})
        assert post(server, body, bearer()).status == 422
    finally:
        server.stop()


# --- request shape and limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe\x00",
        json_body([]),
        json_body({}),
        json_body({"employee_ids": []}),
        json_body({"employee_ids": "CB2001"}),
        json_body({"employee_ids": ["CB2001", ""]}),
        json_body({"employee_ids": ["CB2001", 42]}),
        json_body({"employee_ids": ["CB2001"], "extra": 1}),
        json_body({"rows": {"a": 1}}),
        b'{"employee_ids": ["A"], "employee_ids": ["B"]}',
        json_body({"employee_ids": [f"CB{i}" for i in range(MAX_EMPLOYEE_IDS + 1)]}),
    ],
    ids=[
        "syntax",
        "not-utf8",
        "array",
        "empty",
        "no-ids",
        "ids-not-list",
        "blank-id",
        "number-id",
        "unknown-key",
        "rows-not-list",
        "repeated-key",
        "too-many-ids",
    ],
)
def test_invalid_requests_are_400(
    bearer_server: PushServer, received: Received, body: bytes
) -> None:
    reply = post(bearer_server, body, bearer())
    assert reply.status == 400, reply.body
    assert reply.body["error"] in ("invalid_json", "invalid_request")
    assert reply.body["message"]
    assert received.requests == []


def test_many_ids_up_to_the_limit_are_accepted(
    bearer_server: PushServer, received: Received
) -> None:
    body = json_body({"employee_ids": [f"CB{i}" for i in range(MAX_EMPLOYEE_IDS)]})
    reply = post(bearer_server, body, bearer())
    assert reply.status == 202
    assert reply.body["accepted"] == MAX_EMPLOYEE_IDS


def raw_exchange(port: int, request: bytes, *, wait: float = 10) -> tuple[bytes, float]:
    """Send bytes as they are and read until the server closes; returns answer and seconds."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def request_head(length: str | None, *, token: str = TOKEN, extra: str = "") -> bytes:
    lines = [
        f"POST {PATH} HTTP/1.1",
        "Host: localhost",
        "Content-Type: application/json",
        f"Authorization: Bearer {token}",
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def test_too_large_body_is_refused_before_reading(
    bearer_server: PushServer, received: Received
) -> None:
    answer, seconds = raw_exchange(bearer_server.port, request_head("1073741824") + b'{"a"')
    assert answer.startswith(b"HTTP/1.0 413 ")
    assert seconds < 3
    assert received.requests == []


def test_body_over_configured_limit_is_413(received: Received) -> None:
    for server in serve(received, max_body_bytes=64):
        reply = post(server, json_body({"employee_ids": ["X" * 100]}), bearer())
        assert reply.status == 413
        assert received.requests == []


@pytest.mark.parametrize(
    "head",
    [
        request_head(None),
        request_head(None, extra="Transfer-Encoding: chunked\r\n"),
        request_head("10", extra="Transfer-Encoding: chunked\r\n"),
    ],
    ids=["missing", "chunked", "chunked-with-length"],
)
def test_length_is_required(bearer_server: PushServer, received: Received, head: bytes) -> None:
    answer, _ = raw_exchange(bearer_server.port, head + b"5\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 411 ")
    assert received.requests == []


def test_unauthenticated_large_body_is_401_not_read(
    bearer_server: PushServer, received: Received
) -> None:
    answer, seconds = raw_exchange(
        bearer_server.port, request_head("1073741824", token="nope") + b"{"
    )
    assert answer.startswith(b"HTTP/1.0 401 ")
    assert seconds < 3


def test_slow_client_is_cut_off(received: Received) -> None:
    server = PushServer(settings(), received, lambda: VOCAB, request_timeout=0.5)
    server.start()
    try:
        # Headers dripped slower than the deadline allows: the server must hang up.
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\n")
            closed = False
            for _ in range(20):
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                    if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                        closed = True
                        break
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
                    break
                time.sleep(0.2)
        assert closed
        assert time.monotonic() - started < 3
        assert received.requests == []
    finally:
        server.stop()


def test_connections_past_the_cap_are_closed(received: Received) -> None:
    # One peer may hold every slot here, so this is the total cap, not the per-peer one.
    limits = ListenerLimits(
        max_connections=MAX_CONNECTIONS, max_connections_per_peer=MAX_CONNECTIONS
    )
    server = PushServer(settings(limits=limits), received, lambda: VOCAB, request_timeout=5)
    server.start()
    idle = [
        socket.create_connection(("127.0.0.1", server.port), timeout=5)
        for _ in range(MAX_CONNECTIONS)
    ]
    try:
        # Authenticated and waiting for their bodies: connections still sending their head
        # would be closed to make room for the newcomer instead (test_worker_listeners.py).
        for sock in idle:
            sock.sendall(request_head("100"))
        time.sleep(0.3)  # every idle one accepted and holding its slot
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as extra:
            assert extra.recv(1) == b""  # closed at once, not left waiting for a thread
        assert time.monotonic() - started < 2
        for sock in idle:
            sock.close()
        time.sleep(0.3)  # the freed handlers see the close and give their slots back
        assert post(server, IDS, bearer()).status == 202
    finally:
        for sock in idle:
            sock.close()
        server.stop()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""],
)
def test_wrong_content_type_is_415(
    bearer_server: PushServer, received: Received, content_type: str
) -> None:
    headers = {**bearer(), "Content-Type": content_type}
    assert post(bearer_server, IDS, headers).status == 415
    assert received.requests == []


def test_json_with_utf8_charset_is_accepted(bearer_server: PushServer) -> None:
    headers = {**bearer(), "Content-Type": "Application/JSON; charset=UTF-8"}
    assert post(bearer_server, IDS, headers).status == 202


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(bearer_server: PushServer, received: Received, method: str) -> None:
    reply = post(bearer_server, b"", bearer(), method=method)
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"
    assert received.requests == []


@pytest.mark.parametrize("path", ["/", "/v1/roster-change", "/v2/roster-changes", "/metrics"])
def test_unknown_path_is_404(bearer_server: PushServer, received: Received, path: str) -> None:
    assert post(bearer_server, IDS, bearer(), path=path).status == 404
    assert post(bearer_server, b"", bearer(), method="GET", path=path).status == 404
    assert received.requests == []


def test_failing_queue_is_503(received: Received) -> None:
    def refuse(_: PushRequest) -> None:
        raise RuntimeError("queue full")

    server = PushServer(settings(), refuse, lambda: VOCAB)
    server.start()
    try:
        assert post(server, IDS, bearer()).status == 503
    finally:
        server.stop()


def test_logs_never_hold_the_body_or_secrets(both_server: PushServer, received: Received) -> None:
    body = json_body({"rows": [ROW_DEPARTED]})
    headers = {**signed(body), "Authorization": f"Bearer {TOKEN}"}
    with capture_logs() as logs:
        assert post(both_server, body, headers).status == 202
    text = repr(logs)
    assert [e["event"] for e in logs] == ["push_received"]
    assert logs[0]["people"] == 1
    for secret in (TOKEN, SECRET, headers["X-Syncbot-Signature"], "Trần Thị Bình", "CB2001"):
        assert secret not in text


def test_stop_releases_the_port(received: Received) -> None:
    server = PushServer(settings(), received, lambda: VOCAB)
    server.start()
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "push.crt", tmp_path / "push.key"
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


def test_tls_with_a_verified_self_signed_certificate(
    received: Received, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    for server in serve(received, cert_file=cert, key_file=key):
        context = ssl.create_default_context(cafile=str(cert))
        assert context.verify_mode is ssl.CERT_REQUIRED
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        reply = post(server, IDS, bearer(), connection=conn)
        assert reply.status == 202
        assert received.requests[0].employee_ids == frozenset({"CB2001", "CB2002"})

        # Plain HTTP to the TLS port gets no answer and submits nothing.
        with pytest.raises((http.client.HTTPException, OSError)):
            post(server, IDS, bearer())
        assert len(received.requests) == 1

        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(cafile=str(cert))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # that is the point here
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, OSError)):
            post(
                server,
                IDS,
                bearer(),
                connection=http.client.HTTPSConnection("127.0.0.1", server.port, context=old),
            )


def test_tls_with_unreadable_certificate_refuses_to_start(
    received: Received, tmp_path: Path
) -> None:
    server = PushServer(
        settings(cert_file=tmp_path / "absent.crt", key_file=tmp_path / "absent.key"),
        received,
        lambda: VOCAB,
    )
    with pytest.raises(ValueError, match=r"absent\.crt"):
        server.start()


def test_key_without_certificate_is_refused(received: Received, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cert_file"):
        PushServer(settings(key_file=tmp_path / "k.pem"), received, lambda: VOCAB)
