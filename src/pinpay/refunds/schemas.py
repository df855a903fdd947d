"""Refund shapes, Paysafecard's (object "REFUND") plus PinPay's refund to a new voucher (ext).
Lenient on form like every merchant request: the meaning is checked in refunds.validation."""

from typing import Any

from pydantic import BaseModel, Field

from pinpay.kit.clock import unix_ms
from pinpay.kit.money import to_json_number
from pinpay.merchants.transfers import MAX_COMMENT
from pinpay.payments.schemas import (
    AMOUNT,
    BOOLEAN,
    CURRENCY,
    CUSTOMER_ID,
    PAYSAFECARD,
    Lenient,
    doc,
    optional,
    requires,
    text,
)
from pinpay.refunds.models import Refund
from pinpay.vouchers.models import Voucher


class RefundCustomerIn(Lenient):
    model_config = requires("id")

    id: Any = doc(CUSTOMER_ID)
    email: Any = doc(text(254, None, "customer@example.com"))
    psc_id: Any = doc(text(44))


class CreateRefundRequest(Lenient):
    model_config = requires("type", "amount", "currency", "customer")

    type: Any = doc(PAYSAFECARD)
    amount: Any = doc(AMOUNT)
    currency: Any = doc({**CURRENCY, "description": "The payment's currency"})
    capture: Any = doc(BOOLEAN)
    customer: RefundCustomerIn | None = None
    comment: Any = doc(text(MAX_COMMENT, "^[ -~]*$"))
    destination: Any = doc(
        optional({"type": "string", "enum": ["account", "voucher"], "examples": ["voucher"]})
    )


class TransferCustomerOut(BaseModel):
    id: str
    email: str | None = None
    psc_id: str | None = None


class RefundVoucher(BaseModel):
    serial: str
    pin: str | None = Field(default=None, description="Shown once, in the response that issued it")
    currency: str
    amount: float
    expires: int


class RefundObject(BaseModel):
    object: str = "REFUND"
    id: str
    created: int
    updated: int
    currency: str
    amount: float
    customer: TransferCustomerOut
    status: str
    payment_id: str
    destination: str
    comment: str | None = None
    voucher: RefundVoucher | None = None


def customer_out(
    customer_id: str, lookup: str | None, psc_id: str | None, email: str | None
) -> dict[str, str]:
    """The customer as the merchant named it: the e-mail only in the answer to the request that
    carried it (it is personal data, kept sealed), the pseudonymous psc id whenever it was used."""
    out = {"id": customer_id}
    if lookup == "email" and email:
        out["email"] = email
    if lookup == "psc_id" and psc_id:
        out["psc_id"] = psc_id
    return out


def refund_object(
    refund: Refund,
    payment_public_id: str,
    *,
    psc_id: str | None = None,
    email: str | None = None,
    voucher: Voucher | None = None,
    pin: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "REFUND",
        "id": refund.public_id,
        "created": unix_ms(refund.created_at),
        "updated": unix_ms(refund.updated_at),
        "currency": refund.currency,
        "amount": to_json_number(refund.amount, refund.currency),
        "customer": customer_out(refund.customer_id, refund.customer_lookup, psc_id, email),
        "status": refund.status,
        "payment_id": payment_public_id,
        "destination": refund.destination,
    }
    if refund.comment:
        body["comment"] = refund.comment
    if voucher is not None:
        body["voucher"] = {
            "serial": voucher.serial,
            "currency": voucher.currency,
            "amount": to_json_number(voucher.face_value, voucher.currency),
            "expires": unix_ms(voucher.expires_at),
        }
        if pin is not None:
            body["voucher"]["pin"] = pin
    return body


def without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    """What an Idempotency-Key replay may show: no PIN (shown once, never stored in clear) and
    no e-mail address (personal data, stored only sealed)."""
    kept = dict(body)
    if isinstance(kept.get("customer"), dict):
        kept["customer"] = {k: v for k, v in kept["customer"].items() if k != "email"}
    if isinstance(kept.get("voucher"), dict):
        kept["voucher"] = {k: v for k, v in kept["voucher"].items() if k != "pin"}
    return kept
