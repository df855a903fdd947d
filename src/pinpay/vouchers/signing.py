"""The Ed25519 signature over a voucher's immutable facts.

A row whose face value, currency, country or expiry was edited behind the application's back no
longer verifies, and is refused when spent. Mutable state (remaining, held, status) is guarded by
the check constraints and by `pinpay audit verify`, which recomputes it from the journal.
"""

from datetime import datetime

from pinpay.fastsql import Row
from pinpay.kit.clock import as_utc
from pinpay.kit.crypto import Keyring
from pinpay.vouchers.models import Voucher


def canonical(
    serial: str,
    face_value: int,
    currency: str,
    country: str | None,
    expires_at: datetime,
    kid: str,
) -> bytes:
    expires = int(as_utc(expires_at).timestamp())
    return f"{serial}|{face_value}|{currency}|{country or ''}|{expires}|{kid}".encode()


def sign(
    keyring: Keyring,
    serial: str,
    face_value: int,
    currency: str,
    country: str | None,
    expires_at: datetime,
) -> tuple[str, bytes]:
    kid = keyring.newest("sign").kid
    message = canonical(serial, face_value, currency, country, expires_at, kid)
    signed_kid, signature = keyring.sign(message)
    assert signed_kid == kid
    return kid, signature


def is_genuine(keyring: Keyring, voucher: Voucher | Row) -> bool:
    """`voucher` as an ORM object or as the row a hold's UPDATE returned."""
    message = canonical(
        voucher.serial,
        voucher.face_value,
        voucher.currency,
        voucher.country,
        voucher.expires_at,
        voucher.sign_kid,
    )
    return (
        keyring.verify(voucher.sign_kid, message, voucher.signature)
        and 0 <= voucher.remaining
        and 0 <= voucher.held
        and voucher.remaining + voucher.held <= voucher.face_value
    )
