"""Outgoing mail over SMTP, with the SMTP_* settings (STARTTLS, TLS from the start, or plain)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from config import Settings

TIMEOUT_SECONDS = 20


class MailError(RuntimeError):
    """The mail could not be handed to the SMTP server; the message says why."""


def send_mail(settings: Settings, recipients: list[str], subject: str, text: str) -> None:
    """Hand one plain-text message to the SMTP server for every recipient."""
    if not settings.smtp_host:
        raise MailError("No SMTP server is set up (SMTP_HOST).")
    if not recipients:
        raise MailError("The message has no recipient.")
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_sender.rpartition("@")[2] or None)
    message.set_content(text)
    try:
        if settings.smtp_tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
        with client:
            if settings.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}") from error
