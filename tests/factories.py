"""Plain factory functions for tests: real rows through the real services."""

from pinpay.kit.crypto import Keyring
from pinpay.merchants import service as merchants
from pinpay.runtime import Runtime
from pinpay.vouchers import issuance


async def issue_vouchers(
    runtime: Runtime,
    count: int = 1,
    face_value: int = 2500,
    currency: str = "EUR",
    country: str | None = "AT",
    keyring: Keyring | None = None,
) -> issuance.IssuedBatch:
    async with runtime.transaction() as session:
        return await issuance.issue_batch(
            session,
            keyring or runtime.keyring,
            count=count,
            face_value=face_value,
            currency=currency,
            country=country,
        )


async def create_merchant(runtime: Runtime, name: str = "Test Shop") -> merchants.NewMerchant:
    async with runtime.transaction() as session:
        return await merchants.create_merchant(session, runtime.keyring, name=name)
