"""Sending one message through one channel: an SMTP server, or one incoming webhook.

Each send either returns (delivered) or raises `DeliveryError` with a message fit for a log:
it never repeats a password, a signing secret or the webhook URL, whose path is the token
of Slack- and Mattermost-style receivers.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Any

from syncbot.notify.messages import Message
from syncbot.notify.settings import EmailSettings, WebhookSettings
from syncbot.signing import signed_headers

TIMEOUT_SECONDS = 15.0

Channel = EmailSettings | WebhookSettings


class DeliveryError(Exception):
    """A channel did not take the message; the text is safe to log."""


def deliver(channel: Channel, message: Message, *, timeout: float = TIMEOUT_SECONDS) -> None:
    try:
        if isinstance(channel, EmailSettings):
            _send_email(channel, message, timeout)
        else:
            _post_webhook(channel, message, timeout)
    except DeliveryError:
        raise
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        raise DeliveryError(_redacted(channel, f"{type(exc).__name__}: {exc}")) from None


def _send_email(settings: EmailSettings, message: Message, timeout: float) -> None:
    mail = MIMEText(message.text, "plain", "utf-8")
    # The legacy Header, not EmailMessage's folding: that drops the space between two
    # encoded words of a long Vietnamese subject ("không còn" arrives as "khôngcòn").
    mail["Subject"] = Header(message.subject, "utf-8")  # type: ignore[assignment]
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    mail["X-Syncbot-Event"] = f"{message.event} {message.state}"
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.username and settings.password is not None:
            smtp.login(settings.username, settings.password)
        refused = smtp.send_message(mail)
    if refused:
        raise DeliveryError(f"the server refused recipients: {', '.join(sorted(refused))}")


def webhook_body(settings: WebhookSettings, message: Message) -> bytes:
    """JSON for a receiver that reads syncbot's fields, or `{"text": …}`, which Mattermost,
    Slack and Teams-style incoming webhooks post as it is."""
    payload: dict[str, Any]
    if settings.format == "text":
        payload = {"text": f"{message.subject}\n\n{message.text}"}
    else:
        payload = {
            "event": message.event,
            "incident": message.kind,
            "state": message.state,
            "subject": message.subject,
            "text": message.text,
            "details": dict(message.details),
            "created": message.created,
        }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would re-send the signed body elsewhere, or drop it (POST becomes GET):
    # either way the receiver that was configured did not take it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post_webhook(settings: WebhookSettings, message: Message, timeout: float) -> None:
    body = webhook_body(settings, message)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "syncbot"}
    if settings.secret is not None:
        headers |= signed_headers(settings.secret, int(time.time()), body)
    # The scheme is http or https: the config refuses any other (notify.settings).
    request = urllib.request.Request(settings.url, body, headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise DeliveryError(_redacted(settings, f"cannot connect: {error.reason}")) from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")


def _redacted(channel: Channel, text: str) -> str:
    secrets = (
        [channel.password] if isinstance(channel, EmailSettings) else [channel.url, channel.secret]
    )
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
