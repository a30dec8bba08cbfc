"""The tamper-evident audit log: every change syncbot attempts, in a sha256 hash chain.

`AuditLog` appends, `Change` is what one step's record says (built once from its action,
journalled, then audited), `verify_chain` proves the file unedited, `iter_records` and
`render_records` back `syncbot audit show`. The format is documented in `record`; `tail`
reads the file from its end, for the writer and for recovery after a kill. With the state
folder's `keeping`, the writer also seals the log with a forward-secure key (`seal`) and
moves the anchor; `seal_check` and `heads` let `verify_chain` check the seals with the
inspector's verification key and the heads the journal witnessed.
"""

from __future__ import annotations

from syncbot.audit.change import Attempt, Change
from syncbot.audit.errors import AuditError
from syncbot.audit.query import iter_records
from syncbot.audit.render import render_records
from syncbot.audit.verify import VerifyResult, verify_chain
from syncbot.audit.writer import AuditLog

__all__ = [
    "Attempt",
    "AuditError",
    "AuditLog",
    "Change",
    "VerifyResult",
    "iter_records",
    "render_records",
    "verify_chain",
]
