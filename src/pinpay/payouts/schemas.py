"""Payout shapes, Paysafecard's (object "PAYOUT"); lenient on form like every merchant request."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pinpay.kit.clock import unix_ms
from pinpay.kit.money import to_json_number
from pinpay.payouts.models import Payout
from pinpay.refunds.schemas import TransferCustomerOut, customer_out


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PayoutCustomerIn(_Lenient):
    id: Any = Field(default=None, examples=["cust-0001"])
    email: Any = None
    psc_id: Any = None
    first_name: Any = None
    last_name: Any = None
    date_of_birth: Any = Field(default=None, examples=["1990-01-31"])


class CreatePayoutRequest(_Lenient):
    type: Any = Field(default=None, examples=["PAYSAFECARD"])
    capture: Any = Field(default=None, examples=[True])
    amount: Any = Field(default=None, examples=[10.00])
    currency: Any = Field(default=None, examples=["EUR"])
    customer: PayoutCustomerIn | None = None
    comment: Any = None
    notification_url: Any = None


class PayoutObject(BaseModel):
    object: str = "PAYOUT"
    id: str
    created: int
    updated: int
    currency: str
    amount: float
    customer: TransferCustomerOut
    status: str
    comment: str | None = None


class PayoutLimits(BaseModel):
    object: str = "PAYOUT_LIMITS"
    currency: str
    daily_limit: float
    paid_out_today: float
    left_today: float
    resets: int = Field(description="Unix ms of the next UTC midnight, when the day starts over")


def payout_object(
    payout: Payout, *, psc_id: str | None, email: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "PAYOUT",
        "id": payout.public_id,
        "created": unix_ms(payout.created_at),
        "updated": unix_ms(payout.updated_at),
        "currency": payout.currency,
        "amount": to_json_number(payout.amount, payout.currency),
        "customer": customer_out(payout.customer_id, payout.customer_lookup, psc_id, email),
        "status": payout.status,
    }
    if payout.comment:
        body["comment"] = payout.comment
    return body
