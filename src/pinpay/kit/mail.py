"""Outgoing e-mail through a small pluggable sender: the log by default, SMTP when configured.

The mail server is a third party: tests inject a sender of their own (`Runtime.mail`).
"""

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from pinpay.config import Settings
from pinpay.kit.log import log


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class MailSender(Protocol):
    async def send(self, message: MailMessage) -> None: ...


def mask_address(address: str) -> str:
    """`j***@example.com`: enough to tell two test mails apart, not enough to know the person."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class LogMailSender:
    """For development and the demo: the message goes to the log (the link inside it is how a
    developer verifies an address), with the recipient masked."""

    async def send(self, message: MailMessage) -> None:
        log.info(
            "mail.logged",
            to=mask_address(message.to),
            subject=message.subject,
            body=message.body,
        )


class SmtpMailSender:
    """Plain smtplib in a worker thread: one connection per message, which is plenty for
    verification mails and needs no extra dependency."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpMailSender needs PINPAY_SMTP_HOST")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.implicit_tls = settings.smtp_ssl
        self.sender = settings.mail_from
        self.timeout = settings.smtp_timeout_seconds

    def _send_blocking(self, message: MailMessage) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.implicit_tls
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with smtp:
            if self.starttls and not self.implicit_tls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail)

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._send_blocking, message)
        log.info("mail.sent", to=mask_address(message.to), subject=message.subject)


def mail_sender_for(settings: Settings) -> MailSender:
    return SmtpMailSender(settings) if settings.smtp_host else LogMailSender()
