"""Batch issuance: PINs from `secrets`, stored only as keyed hash and seal, inserted in bulk."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.errors import InvalidRequestParameter
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import new_pin, new_serial
from pinpay.ledger import service as ledger
from pinpay.vouchers import signing
from pinpay.vouchers.models import ACTIVE, Voucher, VoucherBatch

CHUNK = 2000
MAX_BATCH = 1_000_000


@dataclass(frozen=True)
class IssuedVoucher:
    serial: str
    pin: str
    face_value: int
    currency: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedBatch:
    batch_id: int
    face_value: int
    currency: str
    country: str | None
    expires_at: datetime
    vouchers: list[IssuedVoucher]


async def _fresh_pairs(session: AsyncSession, keyring: Keyring, n: int) -> list[tuple[str, str]]:
    """`n` (serial, pin) pairs that collide with no voucher, issued or in this chunk."""
    pairs: dict[str, str] = {}
    lookups: set[bytes] = set()
    while len(pairs) < n:
        candidates = {new_serial(): new_pin() for _ in range(n - len(pairs))}
        digests = {serial: keyring.pin_lookup(pin)[1] for serial, pin in candidates.items()}
        taken_serials = set(
            await session.scalars(select(Voucher.serial).where(Voucher.serial.in_(candidates)))
        )
        taken_lookups = set(
            await session.scalars(
                select(Voucher.pin_lookup).where(Voucher.pin_lookup.in_(digests.values()))
            )
        )
        for serial, pin in candidates.items():
            digest = digests[serial]
            if serial in taken_serials or serial in pairs or digest in taken_lookups:
                continue
            if digest in lookups:
                continue
            pairs[serial] = pin
            lookups.add(digest)
    return list(pairs.items())


async def issue_batch(
    session: AsyncSession,
    keyring: Keyring,
    *,
    count: int,
    face_value: int,
    currency: str,
    country: str | None = None,
    expires_days: int = 365 * 3,
    seal_pins: bool = True,
    actor: str = "operator",
    on_progress: Callable[[int], None] | None = None,
    funded_by_merchant: str | None = None,
) -> IssuedBatch:
    """Issue `count` active vouchers of `face_value` in one transaction with one journal entry.

    The caller receives the PINs exactly once, to hand to a printer or a file; the database holds
    only their keyed hashes and seals. The value comes out of the currency's float, or, for a
    refund to a new voucher, out of what PinPay owes the merchant `funded_by_merchant`.
    """
    if not 1 <= count <= MAX_BATCH:
        raise InvalidRequestParameter(f"count must be 1 to {MAX_BATCH}", param="count")
    if face_value <= 0:
        raise InvalidRequestParameter("value must be above 0", param="value")
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise InvalidRequestParameter("country must be an ISO 3166 alpha-2 code", param="country")
    if expires_days <= 0:
        raise InvalidRequestParameter("expires-days must be above 0", param="expires_days")
    country = country.upper() if country else None
    now = clock.now()
    # Whole seconds: the signature covers expiry in seconds, and every backend keeps them exactly.
    expires_at = (now + timedelta(days=expires_days)).replace(microsecond=0)
    batch_id = (
        await session.execute(
            insert(VoucherBatch)
            .values(
                count=count,
                face_value=face_value,
                currency=currency,
                country=country,
                expires_at=expires_at,
                created_at=now,
                created_by=actor,
            )
            .returning(VoucherBatch.id)
        )
    ).scalar_one()

    issued: list[IssuedVoucher] = []
    while len(issued) < count:
        pairs = await _fresh_pairs(session, keyring, min(CHUNK, count - len(issued)))
        rows = []
        for serial, pin in pairs:
            pepper_kid, lookup = keyring.pin_lookup(pin)
            seal_kid, sealed = (
                keyring.seal(pin.encode(), serial.encode()) if seal_pins else (None, None)
            )
            sign_kid, signature = signing.sign(
                keyring, serial, face_value, currency, country, expires_at
            )
            rows.append(
                {
                    "serial": serial,
                    "pin_lookup": lookup,
                    "pepper_kid": pepper_kid,
                    "pin_sealed": sealed,
                    "seal_kid": seal_kid,
                    "face_value": face_value,
                    "remaining": face_value,
                    "held": 0,
                    "currency": currency,
                    "country": country,
                    "type_code": "00001",
                    "status": ACTIVE,
                    "issued_at": now,
                    "activated_at": now,
                    "expires_at": expires_at,
                    "updated_at": now,
                    "batch_id": batch_id,
                    "sign_kid": sign_kid,
                    "signature": signature,
                }
            )
            issued.append(IssuedVoucher(serial, pin, face_value, currency, expires_at))
        await session.execute(insert(Voucher), rows)
        if on_progress:
            on_progress(len(pairs))

    source = (
        ledger.Line(ledger.MERCHANT, funded_by_merchant, currency, -face_value * count)
        if funded_by_merchant
        else ledger.Line(ledger.ISSUANCE, currency, currency, -face_value * count)
    )
    await ledger.post(
        session,
        "voucher_issue",
        [
            source,
            *(ledger.Line(ledger.VOUCHER, v.serial, currency, face_value) for v in issued),
        ],
        reference=f"batch:{batch_id}",
        at=now,
    )
    await audit.record(
        session,
        "vouchers.issue",
        actor=actor,
        subject=f"batch:{batch_id}",
        details={
            "count": count,
            "face_value": face_value,
            "currency": currency,
            "country": country,
            "expires_at": expires_at.isoformat(),
            "funded_by": f"merchant:{funded_by_merchant}" if funded_by_merchant else "float",
        },
    )
    return IssuedBatch(int(batch_id), face_value, currency, country, expires_at, issued)
