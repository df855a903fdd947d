"""A voucher row edited behind the application's back is refused, frozen, audited and reported.

The edit is made with raw SQL, as someone with database access would, never through a service.
"""

import pytest
from sqlalchemy import select, text

from pinpay.audit.models import AuditRecord
from pinpay.audit.verify import verify_all
from pinpay.errors import PinNotAccepted, VoucherTampered
from pinpay.ledger import service as ledger
from pinpay.runtime import Runtime
from pinpay.vouchers import service, signing
from pinpay.vouchers.models import ACTIVE, FROZEN
from tests.factories import issue_vouchers

FACE = 2500


async def _inflate_tenfold(runtime: Runtime, serial: str) -> None:
    async with runtime.transaction() as session:
        result = await session.execute(
            text(
                "UPDATE voucher SET face_value = face_value * 10, remaining = remaining * 10 "
                "WHERE serial = :serial"
            ),
            {"serial": serial},
        )
    assert result.rowcount == 1  # type: ignore[attr-defined]


async def _hold(runtime: Runtime, pin: str, amount: int, reference: str) -> service.Hold:
    async with runtime.unit_of_work() as session:
        return await service.hold(
            session, runtime.keyring, pin=pin, amount=amount, currency="EUR", reference=reference
        )


async def test_inflated_voucher_is_refused_frozen_and_audited(runtime: Runtime) -> None:
    tampered, honest = (await issue_vouchers(runtime, count=2, face_value=FACE)).vouchers
    await _inflate_tenfold(runtime, tampered.serial)

    # More than the real face value, so only the forged columns could pay for it.
    with pytest.raises(PinNotAccepted) as refused:
        await _hold(runtime, tampered.pin, 20_000, "pay_tampered")
    assert isinstance(refused.value, VoucherTampered)  # the signature check refused it
    generic = PinNotAccepted()
    assert refused.value.to_body() == generic.to_body()
    assert refused.value.http_status == generic.http_status
    assert refused.value.param is None

    async with runtime.transaction() as session:
        voucher = await service.get_by_serial(session, tampered.serial)
        alarms = (
            await session.scalars(
                select(AuditRecord).where(AuditRecord.action == "voucher.tamper_detected")
            )
        ).all()
        journal_value = await ledger.balance(session, ledger.VOUCHER, tampered.serial, "EUR")
        held_in_journal = await ledger.balance(session, ledger.VOUCHER_HELD, tampered.serial, "EUR")
    # The hold was rolled back with its transaction; only the freeze was committed after it.
    assert voucher.status == FROZEN
    assert (voucher.face_value, voucher.remaining, voucher.held) == (FACE * 10, FACE * 10, 0)
    assert not signing.is_genuine(runtime.keyring, voucher)
    assert (journal_value, held_in_journal) == (FACE, 0)
    assert len(alarms) == 1
    alarm = alarms[0]
    assert (alarm.serial, alarm.outcome, alarm.reason) == (
        tampered.serial,
        "rejected",
        "signature_mismatch",
    )
    assert alarm.subject == "pay_tampered"

    # Frozen now: even an amount the real value would cover is refused, with the same body.
    with pytest.raises(PinNotAccepted) as again:
        await _hold(runtime, tampered.pin, 100, "pay_again")
    assert again.value.to_body() == generic.to_body()

    # The voucher nobody touched is still genuine, active and spendable to its face value.
    async with runtime.transaction() as session:
        untouched = await service.get_by_serial(session, honest.serial)
    assert untouched.status == ACTIVE and signing.is_genuine(runtime.keyring, untouched)
    held = await _hold(runtime, honest.pin, FACE, "pay_honest")
    assert (held.serial, held.amount, held.remaining_after) == (honest.serial, FACE, 0)


async def test_verify_all_reports_the_columns_that_disagree_with_the_journal(
    runtime: Runtime,
) -> None:
    tampered, honest = (await issue_vouchers(runtime, count=2, face_value=FACE)).vouchers
    async with runtime.transaction() as session:
        clean = await verify_all(session, runtime.keyring)
    assert clean.ok, clean.problems

    await _inflate_tenfold(runtime, tampered.serial)
    async with runtime.transaction() as session:
        report = await verify_all(session, runtime.keyring)
    assert not report.ok
    assert report.problems == [
        f"voucher:{tampered.serial} EUR: column says {FACE * 10}, journal says {FACE}"
    ]
    assert not any(honest.serial in problem for problem in report.problems)


async def test_remaining_restored_after_a_spend_is_caught_by_verify_not_by_signature(
    runtime: Runtime,
) -> None:
    """Remaining and held are mutable and not signed: the journal is what catches a refill."""
    voucher = (await issue_vouchers(runtime, face_value=FACE)).vouchers[0]
    held = await _hold(runtime, voucher.pin, 1000, "pay_refill")
    async with runtime.transaction() as session:
        await service.capture(
            session, held.voucher_id, 1000, merchant_mid="1000000001", reference="pay_refill"
        )
        await session.execute(
            text("UPDATE voucher SET remaining = face_value WHERE serial = :serial"),
            {"serial": voucher.serial},
        )
    async with runtime.transaction() as session:
        report = await verify_all(session, runtime.keyring)
    assert report.problems == [
        f"voucher:{voucher.serial} EUR: column says {FACE}, journal says {FACE - 1000}"
    ]
