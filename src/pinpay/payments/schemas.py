"""The merchant API's shapes. Lenient on form (Paysafecard clients send numbers as strings,
booleans as strings, unknown keys), so the meaning is checked in the service, not here."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pinpay.kit.clock import unix_ms
from pinpay.kit.money import to_json_number
from pinpay.payments.models import CardAssignment, Payment

Loose = str | int | float | bool | None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RedirectIn(_Lenient):
    success_url: Any = None
    failure_url: Any = None


class CustomerIn(_Lenient):
    id: Any = None
    ip: Any = None
    min_age: Any = None
    kyc_level: Any = None
    country_restriction: Any = None


class CreatePaymentRequest(_Lenient):
    type: Any = Field(default=None, examples=["PAYSAFECARD"])
    amount: Any = Field(default=None, examples=[10.00])
    currency: Any = Field(default=None, examples=["EUR"])
    redirect: RedirectIn | None = None
    notification_url: Any = None
    customer: CustomerIn | None = None
    submerchant_id: Any = None
    shop_id: Any = None


class AssignCardsRequest(_Lenient):
    pins: list[Any] = Field(default_factory=list, examples=[["1234 5678 9012 3456"]])


class CheckVoucherRequest(_Lenient):
    pin: Any = Field(default=None, examples=["1234 5678 9012 3456"])


class RedirectOut(BaseModel):
    success_url: str
    failure_url: str
    auth_url: str


class CustomerOut(BaseModel):
    id: str
    ip: str | None = None


class CardDetail(BaseModel):
    serial: str
    currency: str
    amount: float
    type: str
    country: str | None = None


class PaymentObject(BaseModel):
    object: str = "PAYMENT"
    id: str
    created: int
    updated: int
    amount: float
    currency: str
    status: str
    status_before_expiration: str | None = None
    type: str
    redirect: RedirectOut
    notification_url: str | None = None
    customer: CustomerOut
    card_details: list[CardDetail] | None = None
    amount_missing: float | None = None
    submerchant_id: str | None = None
    shop_id: str | None = None


class PaymentList(BaseModel):
    object: str = "list"
    data: list[PaymentObject]
    has_more: bool


class VoucherCheck(BaseModel):
    serial: str
    currency: str
    remaining: float
    status: str
    expires: int


def auth_url(base_url: str, payment: Payment) -> str:
    return f"{base_url.rstrip('/')}/pay/{payment.page_token}"


def payment_object(
    payment: Payment, cards: list[CardAssignment], base_url: str, *, with_missing: bool = False
) -> dict[str, Any]:
    live_cards = [c for c in cards if c.status != "RELEASED"]
    body: dict[str, Any] = {
        "object": "PAYMENT",
        "id": payment.public_id,
        "created": unix_ms(payment.created_at),
        "updated": unix_ms(payment.updated_at),
        "amount": to_json_number(payment.amount, payment.currency),
        "currency": payment.currency,
        "status": payment.status,
        "status_before_expiration": payment.status_before_expiration,
        "type": payment.type,
        "redirect": {
            "success_url": payment.success_url,
            "failure_url": payment.failure_url,
            "auth_url": auth_url(base_url, payment),
        },
        "notification_url": payment.notification_url,
        "customer": {"id": payment.customer_id, "ip": payment.customer_ip},
        "submerchant_id": payment.submerchant_id,
        "shop_id": payment.shop_id,
    }
    if live_cards:
        body["card_details"] = [
            {
                "serial": c.serial,
                "currency": c.currency,
                "amount": to_json_number(c.amount, c.currency),
                "type": c.type_code,
                "country": c.country,
            }
            for c in live_cards
        ]
    if with_missing:
        body["amount_missing"] = to_json_number(payment.amount - payment.assigned, payment.currency)
    return body
