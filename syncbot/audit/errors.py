"""The one error the audit package raises when the log on disk cannot be trusted or written."""

from __future__ import annotations

from syncbot.errors import SyncbotError
from syncbot.exit_codes import ExitCode


class AuditError(SyncbotError):
    """The audit log is damaged or could not be written; no change may go unrecorded.

    Raised before anything is appended, so the caller can stop the run with the chain
    intact and tell the administrator to run `syncbot audit verify`.
    """

    exit_code = ExitCode.AUDIT_LOG_FAILED
