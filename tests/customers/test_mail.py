"""The mail senders: the log one masks the address; the SMTP one speaks SMTP (to a small fake
mail server on a loopback port, the third party) with the settings' sender and server."""

import asyncio
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default

import pytest
import structlog

from pinpay.config import Settings
from pinpay.kit.log import configure_logging
from pinpay.kit.mail import (
    LogMailSender,
    MailMessage,
    SmtpMailSender,
    mail_sender_for,
    mask_address,
)

MESSAGE = MailMessage(
    "zenobia.quixotelli@example.org",
    "Confirm your PinPay account",
    "Open https://pay.example/account/verify/abc to confirm.",
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


async def test_the_log_sender_masks_the_address(
    capfd: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", json=True)
    await LogMailSender().send(MESSAGE)
    logged = capfd.readouterr().err
    assert "mail.logged" in logged and "z***@example.org" in logged
    assert "/account/verify/abc" in logged  # how a developer confirms an address
    assert "zenobia" not in logged.lower().replace("z***", "")
    assert mask_address("no-at-sign") == "***"


class FakeSmtpServer:
    """Just enough SMTP (RFC 5321) to receive one message per connection."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sender, recipients = "", []
        writer.write(b"220 fake.smtp ESMTP\r\n")
        while line := await reader.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                writer.write(b"250-fake.smtp\r\n250 8BITMIME\r\n")
            elif verb == "MAIL":
                sender = command.split(":", 1)[1].strip()
                writer.write(b"250 OK\r\n")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip())
                writer.write(b"250 OK\r\n")
            elif verb == "DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                self.received.append((sender, recipients, data[:-5]))
                writer.write(b"250 queued\r\n")
            elif verb == "QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()


async def test_the_smtp_sender_delivers_to_the_configured_server() -> None:
    fake = FakeSmtpServer()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        mail_from="PinPay <no-reply@pay.example>",
    )
    sender = mail_sender_for(settings)
    assert isinstance(sender, SmtpMailSender)
    async with server:
        await sender.send(MESSAGE)
    [(envelope_from, envelope_to, data)] = fake.received
    assert envelope_from == "<no-reply@pay.example>"
    assert envelope_to == ["<zenobia.quixotelli@example.org>"]
    mail = message_from_bytes(data, policy=default)
    assert mail["Subject"] == MESSAGE.subject and mail["To"] == MESSAGE.to
    assert "/account/verify/abc" in mail.get_content()


def test_without_a_host_the_log_sender_is_used() -> None:
    assert isinstance(mail_sender_for(Settings()), LogMailSender)
