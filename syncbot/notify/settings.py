"""Settings of operator notifications (`[notify]` in the config) and their parser.

Imports nothing of the delivery machinery: the config reads this table and the worker and
`syncbot notify test` are given the result. Secrets (the SMTP password, webhook signing
secrets) are read by reference, as everywhere in the config, and kept out of reprs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import time
from urllib.parse import urlsplit

from syncbot.config_table import Table
from syncbot.worker.settings import is_loopback
from syncbot.worker.timing import parse_clock

#: Every event an operator can be told about, in the order the README lists them.
EVENTS = (
    "run_refused",
    "run_failed",
    "steps_failed",
    "audit_broken",
    "worker_recovered",
    "departures_due",
)
SECURITY_PORTS = {"none": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    port: int
    security: str  # none | starttls | tls
    sender: str
    to: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How logs and `syncbot notify test` name this channel."""
        return f"email smtp://{self.host}:{self.port}"

    @property
    def key(self) -> str:
        """Which channel a message waiting in the outbox is for."""
        return "email"


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """One incoming webhook. The URL is kept out of reprs and logs: Slack- and
    Mattermost-style URLs carry their token in the path."""

    url: str = field(repr=False)
    index: int = 0
    secret: str | None = field(default=None, repr=False)
    format: str = "json"  # json | text
    events: tuple[str, ...] = EVENTS

    @property
    def label(self) -> str:
        parts = urlsplit(self.url)
        return f"webhook[{self.index}] {parts.scheme}://{parts.hostname}"

    @property
    def key(self) -> str:
        # By the URL's hash, not its position: a reload that reorders the list must not
        # send a waiting message to another receiver.
        return "webhook:" + hashlib.sha256(self.url.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """No channel (the default) means nothing is sent and no notification state is kept."""

    events: tuple[str, ...] = EVENTS
    language: str = "vi"
    target_down_minutes: float = 30.0
    departures_due_digest: bool = False
    digest_at: time = time(7, 30)
    email: EmailSettings | None = None
    webhooks: tuple[WebhookSettings, ...] = ()

    @property
    def channels(self) -> tuple[EmailSettings | WebhookSettings, ...]:
        return ((self.email,) if self.email is not None else ()) + self.webhooks

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def channel_events(self, channel: EmailSettings | WebhookSettings) -> frozenset[str]:
        """The events that go to `channel`: the global list, narrowed by a webhook's own."""
        wanted = set(self.events)
        if isinstance(channel, WebhookSettings):
            wanted &= set(channel.events)
        if not self.departures_due_digest:
            wanted.discard("departures_due")
        return frozenset(wanted)


def parse_notify_settings(table: Table) -> NotifySettings:
    """`[notify]`, with `[notify.email]` and `[[notify.webhook]]` when given."""
    defaults = NotifySettings()
    minutes = table.get("target_down_minutes", float, defaults.target_down_minutes)
    if minutes < 0:
        raise table.error("target_down_minutes", "must not be negative (0 tells at once)")
    digest_at = defaults.digest_at
    text = table.get("digest_at", str)
    if text is not None:
        try:
            digest_at = parse_clock(text)
        except ValueError as exc:
            raise table.error("digest_at", str(exc)) from None
    settings = NotifySettings(
        events=_events(table, "events"),
        language=table.choice("language", ("vi", "en"), defaults.language),
        target_down_minutes=minutes,
        departures_due_digest=table.get("departures_due_digest", bool, False),
        digest_at=digest_at,
        email=_email(table.table("email")) if "email" in table else None,
        webhooks=_webhooks(table),
    )
    table.done()
    return settings


def _events(table: Table, key: str) -> tuple[str, ...]:
    if key not in table:
        return EVENTS
    events = table.strings(key)
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise table.error(key, f"unknown event {unknown[0]!r}; events: {', '.join(EVENTS)}")
    return events


def _email(table: Table) -> EmailSettings:
    security = table.choice("security", tuple(SECURITY_PORTS), "starttls")
    port = table.get("port", int, SECURITY_PORTS[security])
    if not 0 < port < 65536:
        raise table.error("port", f"must be a port number (1-65535), got {port}")
    to = table.strings("to")
    if not to:
        raise table.error("to", "is required: a list of at least one address")
    for address in to:
        if "@" not in address:
            raise table.error("to", f"not an e-mail address: {address!r}")
    sender: str = table.require("from", str)
    if "@" not in sender:
        raise table.error("from", f"not an e-mail address: {sender!r}")
    username = table.get("username", str)
    password = table.optional_secret("password")
    if password is not None and not username:
        raise table.error("username", "is required when a password is given")
    if username and password is None:
        raise table.error(
            "password_file",
            "a username needs a password (password_file, password_env or password_credential)",
        )
    host: str = table.require("host", str)
    if password is not None and security == "none" and not is_loopback(host):
        raise table.error(
            "security",
            f'"none" would send the password to {host} in clear; use "starttls" or "tls"',
        )
    settings = EmailSettings(
        host=host,
        port=port,
        security=security,
        sender=sender,
        to=to,
        username=username or None,
        password=password,
    )
    table.done()
    return settings


def _webhooks(table: Table) -> tuple[WebhookSettings, ...]:
    if isinstance(table.data.get("webhook"), dict):
        raise table.error("webhook", "must be an array of tables: write [[notify.webhook]]")
    entries = table.get("webhook", list, [])
    hooks = []
    for index, data in enumerate(entries):
        hook = Table(data, f"{table.key('webhook')}[{index}]", table.source, table.base)
        url: str = hook.require("url", str)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL itself is not repeated: it may carry the receiver's token.
            raise hook.error("url", "must be an http:// or https:// URL with a host")
        hooks.append(
            WebhookSettings(
                url=url,
                index=index,
                secret=hook.optional_secret("secret"),
                format=hook.choice("format", ("json", "text"), "json"),
                events=_events(hook, "events"),
            )
        )
        hook.done()
    return tuple(hooks)
