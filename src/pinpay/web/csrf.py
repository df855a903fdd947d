"""CSRF tokens without server state: an HMAC binding the form to the device cookie and payment.

A forged cross-site form cannot read the device cookie, so it cannot compute the token.
"""

import hmac
import secrets

from pinpay.kit.crypto import Keyring

DEVICE_COOKIE = "pinpay_device"


def new_device_id() -> str:
    return secrets.token_urlsafe(24)


def token(keyring: Keyring, device_id: str, page_token: str) -> str:
    return keyring.keyed_hash(f"csrf|{device_id}|{page_token}")[1].hex()


def valid(keyring: Keyring, device_id: str | None, page_token: str, given: str | None) -> bool:
    if not device_id or not given:
        return False
    return any(
        hmac.compare_digest(
            keyring.keyed_hash(f"csrf|{device_id}|{page_token}", kid)[1].hex(), given
        )
        for kid in keyring.kids("pepper")
    )
