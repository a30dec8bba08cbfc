"""Operational logging: key=value on a terminal, JSON lines otherwise (journald, files).

Kept apart from the audit log on purpose: operational logs are for the administrator
today and may be rotated away; the audit log is evidence and is never configured here.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|credential", re.IGNORECASE)
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip


def redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask any value whose key looks like a secret, in case a caller ever logs one."""
    for key in event:
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = "***"
    return event


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        # Looked up on each call, not bound now: stderr may be replaced later (tests, daemons).
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def witness_logger(name: str) -> Any:
    """A logger whose events pass whatever level is configured: they must reach the journal.

    The audit log's seal heads (`audit_head`) are a witness kept outside the state folder,
    for `syncbot audit verify --heads`; quietening the logs to warnings must not silence it.
    """
    return structlog.wrap_logger(
        None,
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory_args=(name,),
    )
