"""The merchant API's shapes. Lenient on form (Paysafecard clients send numbers as strings,
booleans as strings, unknown keys), so the meaning is checked in the service, not here.

The request fields stay `Any` for parsing; what the OpenAPI document shows for each (`doc`) is
the forms a client should send, every lenient form of API.md 1 included, so that a request
built from the document alone (a generated SDK, schemathesis) is one the API accepts.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pinpay.kit.clock import unix_ms
from pinpay.kit.money import SUPPORTED_CURRENCIES, to_json_number
from pinpay.payments.models import CardAssignment, Payment

Loose = str | int | float | bool | None
Schema = dict[str, Any]


def doc(schema: Schema) -> Any:
    """An optional field: `Any` on the wire, `schema` in the OpenAPI document."""
    return Field(default=None, json_schema_extra=schema)


def optional(schema: Schema) -> Schema:
    """Also left out, null or "" (Paysafecard clients send all three for an absent field)."""
    return {"anyOf": [schema, {"const": ""}, {"type": "null"}]}


def requires(*names: str, examples: list[Schema] | None = None) -> ConfigDict:
    """Lists the fields the API refuses to go without (400), and shows them non-null."""

    def extra(schema: Schema) -> None:
        schema["required"] = list(names)
        for name in names:
            field = schema["properties"][name]
            if "anyOf" in field and {"type": "null"} in field["anyOf"]:
                kept = [branch for branch in field.pop("anyOf") if branch != {"type": "null"}]
                field.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
        if examples:
            schema["examples"] = examples

    return ConfigDict(extra="ignore", json_schema_extra=extra)


def text(max_length: int, pattern: str | None = None, *examples: str) -> Schema:
    shape: Schema = {"type": "string", "maxLength": max_length}
    if pattern:
        shape["pattern"] = pattern
    if examples:
        shape["examples"] = list(examples)
    return optional(shape)


PAYSAFECARD: Schema = {
    "type": "string",
    "pattern": "^[Pp][Aa][Yy][Ss][Aa][Ff][Ee][Cc][Aa][Rr][Dd]$",
    "description": "PAYSAFECARD (any letter case)",
    "examples": ["PAYSAFECARD"],
}
AMOUNT: Schema = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1e13, "multipleOf": 0.01},
        {
            "type": "string",
            "pattern": "^(0*[1-9][0-9]{0,12}(\\.[0-9]{1,2})?|0+\\.(0[1-9]|[1-9][0-9]?))$",
        },
    ],
    "description": "Above 0 (else 2029), with at most as many decimals as the currency has (2 "
    "for most, 0 for JPY; else 10028), as a JSON number or a string; a payment at most the "
    "merchant's maximum (default 1,000.00, else 4003)",
    "examples": [10.0, "10.00"],
}
CURRENCY: Schema = {
    "type": "string",
    "enum": sorted(SUPPORTED_CURRENCIES),
    "description": "ISO 4217, upper case; one of the merchant's currencies (else 2010)",
    "examples": ["EUR"],
}
BOOLEAN: Schema = optional(
    {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false", "1", "0"]}]}
)
CUSTOMER_ID: Schema = {
    "type": "string",
    "pattern": "^[A-Za-z0-9._:-]{1,80}$",
    "description": "The merchant's pseudonymous id of the customer, required (3017): no e-mail "
    "address, no IP address (3019)",
    "examples": ["cust-0001"],
}
# http(s), a host name, an optional port, then printable ASCII.
URL: Schema = {
    "type": "string",
    "pattern": "^https?://[A-Za-z0-9][A-Za-z0-9.-]{0,200}(:[1-9][0-9]{0,3})?([/?#][!-~]*)?$",
    "maxLength": 2048,
    "description": "An http(s) URL; {payment_id} in it is replaced by the payment's id",
}
PIN: Schema = {
    "type": "string",
    "pattern": "^[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}$",
    "description": "16 digits, as printed (4-4-4-4 with spaces or dashes) or not",
    "examples": ["1234 5678 9012 3456"],
}


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RedirectIn(Lenient):
    model_config = requires("success_url", "failure_url")

    success_url: Any = doc({**URL, "examples": ["https://shop.example/paid?id={payment_id}"]})
    failure_url: Any = doc({**URL, "examples": ["https://shop.example/failed?id={payment_id}"]})


class CustomerIn(Lenient):
    model_config = requires("id")

    id: Any = doc(CUSTOMER_ID)
    ip: Any = doc(optional({"anyOf": [{"type": "string", "format": f} for f in ("ipv4", "ipv6")]}))
    min_age: Any = doc(
        optional(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": 120},
                    {"type": "string", "pattern": "^([0-9]{1,2}|1[01][0-9]|120)$"},
                ]
            }
        )
    )
    kyc_level: Any = doc(text(16, "^[A-Za-z_]{1,16}$", "SIMPLE", "FULL"))
    country_restriction: Any = doc(text(2, "^[A-Za-z]{2}$", "AT"))


_PAYMENT_EXAMPLE: Schema = {
    "type": "PAYSAFECARD",
    "amount": 10.0,
    "currency": "EUR",
    "redirect": {
        "success_url": "https://shop.example/paid?id={payment_id}",
        "failure_url": "https://shop.example/failed?id={payment_id}",
    },
    "notification_url": "https://shop.example/notify?id={payment_id}",
    "customer": {"id": "cust-0001", "ip": "203.0.113.7"},
}


class CreatePaymentRequest(Lenient):
    model_config = requires(
        "type",
        "amount",
        "currency",
        "redirect",
        "customer",
        examples=[
            _PAYMENT_EXAMPLE,
            # The loose forms real clients send (API.md 1).
            {**_PAYMENT_EXAMPLE, "amount": "0.01", "shop_id": "", "submerchant_id": ""},
        ],
    )

    type: Any = doc(PAYSAFECARD)
    amount: Any = doc(AMOUNT)
    currency: Any = doc(CURRENCY)
    redirect: RedirectIn | None = None
    notification_url: Any = doc(optional(URL))
    customer: CustomerIn | None = None
    submerchant_id: Any = doc(text(8, "^[A-Za-z0-9]{1,8}$", "sub1"))
    shop_id: Any = doc(text(60, None, "shop-1"))


class AssignCardsRequest(Lenient):
    model_config = requires("pins")

    pins: list[Any] = Field(
        default_factory=list,
        json_schema_extra={"items": PIN, "minItems": 1, "maxItems": 10, "uniqueItems": True},
    )


class CheckVoucherRequest(Lenient):
    model_config = requires("pin")

    pin: Any = doc(PIN)


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
