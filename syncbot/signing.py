"""The HMAC signature HR's pushes carry and syncbot's webhooks send: one scheme, one place.

The push endpoint (`syncbot.worker.push`) checks it and the notifications
(`syncbot.notify.channels`) sign with it, so a receiver that verifies HR pushes verifies
syncbot's own messages with the same code: `X-Syncbot-Timestamp` is the Unix time in seconds and
`X-Syncbot-Signature` is `sha256=` and the lowercase hex HMAC-SHA256, keyed with the shared
secret's UTF-8 bytes, of the ASCII timestamp, one `.` and the body bytes exactly as sent.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Syncbot-Timestamp"
SIGNATURE_HEADER = "X-Syncbot-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Syncbot-Signature` value for `body` sent at `timestamp` (Unix seconds, as text)."""
    signed = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    stamp = str(timestamp)
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature(secret, stamp, body)}
