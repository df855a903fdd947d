"""No PIN in clear anywhere: not in any column of any table, not in a log line.

Every value of every row of every table is scanned (text, JSON, numbers and binary alike), in the
forms a PIN can take: 16 digits, or grouped 4-4-4-4 with spaces or dashes. The unkeyed SHA-256 of
a PIN is looked for too: 10^16 PINs hash in hours, so it is as good as the PIN (DESIGN.md).
"""

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator

import pytest
import structlog
from sqlalchemy import select

from pinpay.errors import PinNotAccepted
from pinpay.kit.ids import group_pin
from pinpay.kit.log import configure_logging, log
from pinpay.models import Base
from pinpay.runtime import Runtime
from pinpay.vouchers import service
from tests.factories import issue_vouchers

COUNT = 1000
_DIGIT_RUN = re.compile(r"\d{16,}")
_BYTES_DIGIT_RUN = re.compile(rb"\d{16,}")
_SEPARATORS = re.compile(r"[ \-\t]")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{64}")


def sixteen_digit_windows(text: str) -> set[str]:
    """Every 16-digit substring, once spaces and dashes are gone: plain and grouped PINs alike
    (a PIN inside a longer number is found too)."""
    windows: set[str] = set()
    for run in _DIGIT_RUN.findall(_SEPARATORS.sub("", text)):
        windows.update(run[i : i + 16] for i in range(len(run) - 15))
    return windows


def byte_windows(blob: bytes) -> set[str]:
    windows: set[str] = set()
    for run in _BYTES_DIGIT_RUN.findall(re.sub(rb"[ \-\t]", b"", blob)):
        windows.update(run[i : i + 16].decode() for i in range(len(run) - 15))
    return windows


def test_the_scanner_finds_a_pin_in_every_form() -> None:
    pin = "4929123456781234"
    dashed = group_pin(pin).replace(" ", "-")
    for form in (pin, group_pin(pin), dashed, f"x{pin}9", f'{{"p":{pin}}}'):
        assert pin in sixteen_digit_windows(form), form
    assert pin in byte_windows(b"\x00\xff" + group_pin(pin).encode() + b"\x01")
    assert sixteen_digit_windows("123456789012345") == set()


async def _dump_database(runtime: Runtime) -> tuple[list[str], list[bytes]]:
    """Every value of every row of every table: texts (JSON serialised) and binaries apart."""
    texts: list[str] = []
    blobs: list[bytes] = []
    async with runtime.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    if value is None:
                        continue
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        blobs.append(bytes(value))
                    elif isinstance(value, (dict, list)):
                        texts.append(json.dumps(value))
                    else:
                        texts.append(str(value))
    return texts, blobs


def _leaked(pins: set[str], texts: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found |= sixteen_digit_windows(text) & pins
    return found


async def test_a_thousand_vouchers_leave_no_pin_in_any_column(runtime: Runtime) -> None:
    batch = await issue_vouchers(runtime, count=COUNT, face_value=1000)
    pins = {v.pin for v in batch.vouchers}
    serials = {v.serial for v in batch.vouchers}
    assert len(pins) == COUNT
    # Spend one, so that hold, journal and audit rows of a spend are scanned too.
    spent = batch.vouchers[0]
    async with runtime.unit_of_work() as session:
        await service.hold(
            session,
            runtime.keyring,
            pin=spent.pin,
            amount=400,
            currency="EUR",
            reference="pay_scan",
        )

    texts, blobs = await _dump_database(runtime)

    # The scanner sees the columns: every serial (16 digits, public) is found in them.
    assert _leaked(serials, texts) == serials
    assert _leaked(pins, texts) == set()
    assert _leaked(pins, [group_pin(p) for p in pins]) == pins  # the same scan, on real PINs
    in_blobs: set[str] = set()
    for blob in blobs:
        in_blobs |= byte_windows(blob) & pins
    assert in_blobs == set()

    unkeyed_digests = {hashlib.sha256(p.encode()).digest() for p in pins}
    unkeyed_hex = {hashlib.sha256(p.encode()).hexdigest() for p in pins}
    assert not unkeyed_digests.intersection(blobs)
    assert not any(
        blob[i : i + 32] in unkeyed_digests for blob in blobs for i in range(len(blob) - 31)
    )
    hex_runs = {m.lower() for text in texts for m in _HEX_RUN.findall(text)}
    assert not hex_runs & unkeyed_hex


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """structlog keeps the stream it was configured with: give back the defaults afterwards."""
    yield
    structlog.reset_defaults()


async def test_no_pin_in_the_logs_of_issuing_and_spending(
    runtime: Runtime,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    restore_logging: None,
) -> None:
    # Configured here, not in a fixture: structlog binds the stderr capfd captures in the test.
    configure_logging("DEBUG", json=True)
    # DEBUG everywhere: SQLAlchemy (whose logger says WARN of its own) then logs every statement
    # with its parameters, the drivers log what they run.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    batch = await issue_vouchers(runtime, count=COUNT, face_value=1000)
    pins = {v.pin for v in batch.vouchers}
    first = batch.vouchers[0]
    async with runtime.unit_of_work() as session:
        await service.hold(
            session, runtime.keyring, pin=first.pin, amount=100, currency="EUR", reference="pay_log"
        )
    wrong = str(int(first.pin) + 1) if int(first.pin) < 10**16 - 1 else "1000000000000000"
    with pytest.raises(PinNotAccepted):
        async with runtime.unit_of_work() as session:
            await service.hold(
                session,
                runtime.keyring,
                pin=wrong,
                amount=100,
                currency="EUR",
                reference="pay_log_wrong",
            )
    log.info("no_clear_pins.marker", serial=first.serial)

    captured = capfd.readouterr()
    logged = [captured.err, captured.out, caplog.text]
    # The capture works: the marker line (and the serial, which is public) came through.
    assert "no_clear_pins.marker" in captured.err and first.serial in captured.err
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    assert _leaked(pins | {wrong}, logged) == set()
