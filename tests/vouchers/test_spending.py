import pytest
from sqlalchemy import select

from pinpay.audit.models import AuditRecord
from pinpay.errors import IllegalStateChange, PinNotAccepted
from pinpay.runtime import Runtime
from pinpay.vouchers import service
from pinpay.vouchers.models import DEPLETED, Voucher
from tests.factories import issue_vouchers


async def test_hold_capture_release_move_value_and_journal(runtime: Runtime) -> None:
    batch = await issue_vouchers(runtime, count=1, face_value=2500)
    pin = batch.vouchers[0].pin
    async with runtime.transaction() as session:
        held = await service.hold(
            session, runtime.keyring, pin=pin, amount=1000, currency="EUR", reference="pay_1"
        )
    assert held.amount == 1000 and held.remaining_after == 1500
    async with runtime.transaction() as session:
        await service.capture(
            session, held.voucher_id, 600, merchant_mid="1000000001", reference="pay_1"
        )
        await service.release(session, held.voucher_id, 400, reference="pay_1")
    async with runtime.transaction() as session:
        voucher = await service.get_by_serial(session, held.serial)
    assert (voucher.remaining, voucher.held) == (1900, 0)


async def test_spending_everything_depletes_the_voucher(runtime: Runtime) -> None:
    pin = (await issue_vouchers(runtime, face_value=1000)).vouchers[0].pin
    async with runtime.transaction() as session:
        held = await service.hold(
            session, runtime.keyring, pin=pin, amount=1000, currency="EUR", reference="pay_2"
        )
        await service.capture(
            session, held.voucher_id, 1000, merchant_mid="1000000001", reference="pay_2"
        )
    async with runtime.transaction() as session:
        assert (await service.get_by_serial(session, held.serial)).status == DEPLETED


@pytest.mark.parametrize("case", ["unknown", "too_much", "currency", "frozen"])
async def test_every_refusal_is_the_same_error_and_is_audited(runtime: Runtime, case: str) -> None:
    voucher = (await issue_vouchers(runtime, face_value=1000)).vouchers[0]
    pin, amount, currency = voucher.pin, 500, "EUR"
    if case == "unknown":
        pin = "1234567812345678" if pin != "1234567812345678" else "8765432187654321"
    elif case == "too_much":
        amount = 1001
    elif case == "currency":
        currency = "USD"
    elif case == "frozen":
        async with runtime.unit_of_work() as session:
            await service.change_status(session, voucher.serial, "freeze")
    with pytest.raises(PinNotAccepted) as refused:
        async with runtime.unit_of_work() as session:
            await service.hold(
                session,
                runtime.keyring,
                pin=pin,
                amount=amount,
                currency=currency,
                reference="pay_3",
            )
    assert refused.value.to_body()["code"] == "pin_not_accepted"
    assert refused.value.message == PinNotAccepted.default_message
    async with runtime.transaction() as session:
        rejected = (
            await session.scalars(select(AuditRecord).where(AuditRecord.action == "voucher.hold"))
        ).all()
        untouched = await service.get_by_serial(session, voucher.serial)
    assert [r.outcome for r in rejected] == ["rejected"]
    assert rejected[0].reason
    assert (untouched.remaining, untouched.held) == (1000, 0)


async def test_illegal_status_change_is_an_error(runtime: Runtime) -> None:
    serial = (await issue_vouchers(runtime)).vouchers[0].serial
    with pytest.raises(IllegalStateChange):
        async with runtime.unit_of_work() as session:
            await service.change_status(session, serial, "unfreeze")
    async with runtime.unit_of_work() as session:
        await service.change_status(session, serial, "void")
    with pytest.raises(IllegalStateChange):
        async with runtime.unit_of_work() as session:
            await service.change_status(session, serial, "freeze")
    async with runtime.transaction() as session:
        voucher = await session.scalar(select(Voucher).where(Voucher.serial == serial))
    assert voucher is not None and (voucher.status, voucher.remaining) == ("VOID", 0)
