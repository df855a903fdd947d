"""Rotating the keyring: vouchers made under the old keys stay findable, genuine and re-printable;
new vouchers use the new keys; both are spendable from a process that loaded the rotated ring."""

from collections.abc import AsyncIterator

import pytest

from pinpay.audit.chain import seal_pending
from pinpay.audit.verify import verify_all
from pinpay.config import Settings
from pinpay.errors import PinNotAccepted
from pinpay.kit.crypto import Keyring
from pinpay.runtime import Runtime
from pinpay.vouchers import service, signing
from pinpay.vouchers.models import Voucher
from tests.factories import issue_vouchers


@pytest.fixture
async def rotated_runtime(runtime: Runtime, settings: Settings) -> AsyncIterator[Runtime]:
    """A second process on the same database, started after `pinpay keys rotate`: it reads the
    rotated keyring from its settings, as every process does."""
    rotated_json = runtime.keyring.rotated().to_json()
    later = Runtime.build(settings.model_copy(update={"keys_json": rotated_json}))
    try:
        yield later
    finally:
        await later.close()


async def _voucher(runtime: Runtime, serial: str) -> Voucher:
    async with runtime.transaction() as session:
        return await service.get_by_serial(session, serial)


async def _hold(runtime: Runtime, pin: str, amount: int, reference: str) -> service.Hold:
    async with runtime.unit_of_work() as session:
        return await service.hold(
            session, runtime.keyring, pin=pin, amount=amount, currency="EUR", reference=reference
        )


def _kids(keyring: Keyring) -> tuple[str, str, str]:
    return keyring.newest("pepper").kid, keyring.newest("seal").kid, keyring.newest("sign").kid


async def test_old_vouchers_work_under_the_rotated_keyring(
    runtime: Runtime, rotated_runtime: Runtime
) -> None:
    old_ring, new_ring = runtime.keyring, rotated_runtime.keyring
    old_kids, new_kids = _kids(old_ring), _kids(new_ring)
    assert set(old_kids).isdisjoint(new_kids)
    for purpose in ("pepper", "seal", "sign"):
        assert new_ring.kids(purpose) == [*old_ring.kids(purpose), new_ring.newest(purpose).kid]

    old = (await issue_vouchers(runtime, count=2, face_value=2500)).vouchers
    row = await _voucher(rotated_runtime, old[0].serial)
    assert (row.pepper_kid, row.seal_kid, row.sign_kid) == old_kids

    # Found only through the old pepper: the newest one hashes the PIN to something else.
    assert new_ring.pin_lookup(old[0].pin)[1] != row.pin_lookup
    assert new_ring.keyed_hash(old[0].pin, row.pepper_kid)[1] == row.pin_lookup
    async with rotated_runtime.transaction() as session:
        found = await service.find_by_pin(session, new_ring, old[0].pin)
    assert found is not None and found.serial == old[0].serial
    # Verified with the old sign key id, re-printed with the old seal key id.
    assert signing.is_genuine(new_ring, row)
    assert row.pin_sealed is not None and row.seal_kid is not None
    assert new_ring.open(row.seal_kid, row.pin_sealed, row.serial.encode()).decode() == old[0].pin

    held = await _hold(rotated_runtime, old[0].pin, 1000, "pay_old_after_rotation")
    assert (held.serial, held.remaining_after) == (old[0].serial, 1500)
    # The old process, still running with the old ring, keeps working on old vouchers too.
    held = await _hold(runtime, old[1].pin, 2500, "pay_old_in_old_process")
    assert held.remaining_after == 0


async def test_new_vouchers_use_the_new_keys_and_both_generations_spend(
    runtime: Runtime, rotated_runtime: Runtime
) -> None:
    old_ring, new_ring = runtime.keyring, rotated_runtime.keyring
    old = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    new = (await issue_vouchers(rotated_runtime, face_value=4000)).vouchers[0]

    row = await _voucher(rotated_runtime, new.serial)
    assert (row.pepper_kid, row.seal_kid, row.sign_kid) == _kids(new_ring)
    assert new_ring.pin_lookup(new.pin) == (row.pepper_kid, row.pin_lookup)
    assert row.pin_sealed is not None and row.seal_kid is not None
    assert new_ring.open(row.seal_kid, row.pin_sealed, row.serial.encode()).decode() == new.pin
    assert signing.is_genuine(new_ring, row)
    # A process still on the old ring cannot vouch for what the new keys made.
    assert not signing.is_genuine(old_ring, row)
    async with runtime.transaction() as session:
        assert await service.find_by_pin(session, old_ring, new.pin) is None

    assert (await _hold(rotated_runtime, old.pin, 500, "pay_old")).remaining_after == 2000
    assert (await _hold(rotated_runtime, new.pin, 500, "pay_new")).remaining_after == 3500

    # Audit chain sealed under both signing keys, then verified with the rotated ring alone.
    async with runtime.transaction() as session:
        assert await seal_pending(session, old_ring) > 0
    await _hold(rotated_runtime, new.pin, 100, "pay_new_2")
    async with rotated_runtime.transaction() as session:
        assert await seal_pending(session, new_ring) > 0
    async with rotated_runtime.transaction() as session:
        report = await verify_all(session, new_ring)
    assert report.ok, report.problems
    assert report.unsealed_records == 0


async def test_a_replaced_keyring_instead_of_a_rotated_one_loses_the_old_vouchers(
    runtime: Runtime, settings: Settings
) -> None:
    """Why rotation appends: a fresh keyring finds no old voucher (the control case)."""
    old = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    replaced = Runtime.build(settings, Keyring.generate())
    try:
        with pytest.raises(PinNotAccepted):
            await _hold(replaced, old.pin, 100, "pay_lost")
        assert not signing.is_genuine(replaced.keyring, await _voucher(replaced, old.serial))
    finally:
        await replaced.close()


async def test_rotating_only_the_pepper_keeps_signing_and_sealing_keys(
    runtime: Runtime, settings: Settings
) -> None:
    ring = runtime.keyring.rotated(["pepper"])
    assert ring.newest("pepper").kid != runtime.keyring.newest("pepper").kid
    assert ring.kids("seal") == runtime.keyring.kids("seal")
    assert ring.kids("sign") == runtime.keyring.kids("sign")
    later = Runtime.build(settings, ring)
    try:
        old = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
        new = (await issue_vouchers(later, face_value=2500)).vouchers[0]
        row = await _voucher(later, new.serial)
        assert (row.pepper_kid, row.sign_kid) == (
            ring.newest("pepper").kid,
            runtime.keyring.newest("sign").kid,
        )
        assert (await _hold(later, old.pin, 2500, "pay_a")).remaining_after == 0
        assert (await _hold(later, new.pin, 2500, "pay_b")).remaining_after == 0
    finally:
        await later.close()
