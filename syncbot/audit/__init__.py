"""The tamper-evident audit log: every change syncbot attempts, in a sha256 hash chain.

`AuditLog` appends, `verify_chain` proves the file unedited, `iter_records` and
`render_records` back `syncbot audit show`. The format is documented in `record`.
"""

from __future__ import annotations

from syncbot.audit.errors import AuditError
from syncbot.audit.query import iter_records
from syncbot.audit.render import render_records
from syncbot.audit.verify import VerifyResult, verify_chain
from syncbot.audit.writer import AuditLog

__all__ = [
    "AuditError",
    "AuditLog",
    "VerifyResult",
    "iter_records",
    "render_records",
    "verify_chain",
]
