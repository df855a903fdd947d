"""Signing and verifying PinPay notifications. Merchants can import this module on its own:

    from pinpay.webhooks import verify
    verify(["whsec_..."], request.headers, raw_body)   # raises InvalidSignature, or returns

Header: `PinPay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, with
one `v1=` per secret valid during a rotation. A `t` older than `tolerance` seconds is refused, so
a captured notification cannot be replayed later.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

HEADER = "PinPay-Signature"


class InvalidSignature(Exception):
    """The notification was not signed by PinPay with one of your secrets, or is too old."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secrets: Iterable[str], body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body`, signed with every secret given."""
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}", *(f"v1={_mac(secret, t, body)}" for secret in secrets)])


def verify(
    secrets: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Check a received notification; raises InvalidSignature unless it is genuine and fresh."""
    wanted = [secrets] if isinstance(secrets, str) else list(secrets)
    header = next((v for k, v in headers.items() if k.lower() == HEADER.lower()), None)
    if not header:
        raise InvalidSignature(f"missing {HEADER} header")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("malformed signature header")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    for secret in wanted:
        expected = _mac(secret, timestamp, body)
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return
    raise InvalidSignature("no signature matches")
