"""`syncbot notify test`: send a test message through every configured channel, now.

Sent directly, not through the outbox, so the person who runs it sees each channel's answer
(or its error) before the worker depends on it.
"""

from __future__ import annotations

import sys

from syncbot.config import Config
from syncbot.errors import ConfigError
from syncbot.exit_codes import ExitCode
from syncbot.notify.channels import DeliveryError, deliver
from syncbot.notify.incidents import Notice
from syncbot.notify.messages import compose

#: Its own code: a script testing the channels must not read a mail server's silence as
#: a directory's.
CHANNEL_FAILED = ExitCode.NOTIFY_FAILED


def run(config: Config) -> int:
    settings = config.notify
    if not settings.enabled:
        raise ConfigError(
            "no channel to test: add [notify.email] or [[notify.webhook]]",
            source=str(config.path),
            key="notify",
        )
    message = compose(Notice("test", "test", "notice", {}), settings.language)
    failed = 0
    for channel in settings.channels:
        try:
            deliver(channel, message)
        except DeliveryError as exc:
            failed += 1
            print(f"{channel.label}: error: {exc}")
        else:
            print(f"{channel.label}: ok")
    sys.stdout.flush()
    return CHANNEL_FAILED if failed else ExitCode.OK
