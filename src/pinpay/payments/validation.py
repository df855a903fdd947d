"""Meaning checks for a new payment, each failing with the number Paysafecard clients expect."""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pinpay.errors import (
    AmountLimitExceeded,
    CurrencyNotSupported,
    CustomerIdInvalid,
    CustomerIdMissing,
    InvalidAmount,
    InvalidRequestParameter,
)
from pinpay.kit.money import SUPPORTED_CURRENCIES, to_minor
from pinpay.merchants.models import Merchant
from pinpay.payments.schemas import CreatePaymentRequest

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,80}$")
_EMAIL_LIKE = re.compile(r"@|%40")
_SUBMERCHANT = re.compile(r"^[A-Za-z0-9]{1,8}$")
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,41}$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class NewPayment:
    amount: int
    currency: str
    success_url: str
    failure_url: str
    notification_url: str | None
    customer_id: str
    customer_ip: str | None
    min_age: int | None
    kyc_level: str | None
    country_restriction: str | None
    submerchant_id: str | None
    shop_id: str | None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _url(value: object, param: str, *, required: bool) -> str | None:
    if _blank(value):
        if required:
            raise InvalidRequestParameter(f"{param} is required", param=param)
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise InvalidRequestParameter(f"{param} must be a URL", param=param)
    if not is_http_url(value.strip()):
        raise InvalidRequestParameter(f"{param} must be an http(s) URL", param=param)
    return value.strip()


def is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:  # "https://[x": an unclosed IPv6 bracket, or a port such as ":x"
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and text.isprintable()


def parse_bool(value: object, param: str, default: bool) -> bool:
    if _blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidRequestParameter(f"{param} must be true or false", param=param)


def correlation_id(header: str | None) -> str | None:
    if _blank(header):
        return None
    assert header is not None
    if not _CORRELATION_ID.match(header.strip()):
        raise InvalidRequestParameter(
            "Correlation-ID must be 1 to 41 of [A-Za-z0-9_-]", param="Correlation-ID"
        )
    return header.strip()


def customer_id(value: object) -> str:
    if _blank(value):
        raise CustomerIdMissing(param="customer.id")
    text = str(value).strip() if isinstance(value, (str, int)) else None
    if text is None or not _CUSTOMER_ID.match(text) or _EMAIL_LIKE.search(text) or _is_ip(text):
        raise CustomerIdInvalid(param="customer.id")
    return text


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _optional_text(
    value: object, param: str, pattern: re.Pattern[str] | None, max_length: int
) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else None
    # Not printable (a NUL, say) is refused here: PostgreSQL cannot store a NUL in text at all.
    if (
        text is None
        or len(text) > max_length
        or not text.isprintable()
        or (pattern and not pattern.match(text))
    ):
        raise InvalidRequestParameter(f"{param} is invalid", param=param)
    return text


def new_payment(request: CreatePaymentRequest, merchant: Merchant) -> NewPayment:
    if _blank(request.type) or str(request.type).upper() != "PAYSAFECARD":
        raise InvalidRequestParameter("type must be PAYSAFECARD", param="type")
    if _blank(request.currency) or not isinstance(request.currency, str):
        raise InvalidRequestParameter("currency is required", param="currency")
    currency = request.currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidRequestParameter("currency must be an ISO 4217 code", param="currency")
    if currency not in SUPPORTED_CURRENCIES or currency not in merchant.currencies:
        raise CurrencyNotSupported(param="currency")
    if _blank(request.amount):
        raise InvalidRequestParameter("amount is required", param="amount")
    amount = to_minor(request.amount, currency)
    if amount <= 0:
        raise InvalidAmount(param="amount")
    if amount > merchant.max_payment_minor:
        raise AmountLimitExceeded(param="amount")
    redirect = request.redirect
    customer = request.customer
    if customer is None:
        raise CustomerIdMissing(param="customer.id")
    customer_ip = _optional_text(customer.ip, "customer.ip", None, 45)
    if customer_ip is not None and not _is_ip(customer_ip):
        raise InvalidRequestParameter("customer.ip must be an IP address", param="customer.ip")
    min_age = None
    if not _blank(customer.min_age):
        try:
            raw = customer.min_age
            # 18.0 is the JSON number 18 (JSON Schema counts it as an integer too).
            min_age = int(raw) if isinstance(raw, float) and raw.is_integer() else int(str(raw))
        except ValueError:
            raise InvalidRequestParameter(
                "customer.min_age must be a whole number", param="customer.min_age"
            ) from None
        if not 0 <= min_age <= 120:
            raise InvalidRequestParameter(
                "customer.min_age is out of range", param="customer.min_age"
            )
    country = _optional_text(
        customer.country_restriction,
        "customer.country_restriction",
        re.compile(r"^[A-Za-z]{2}$"),
        2,
    )
    return NewPayment(
        amount=amount,
        currency=currency,
        success_url=_url(
            redirect.success_url if redirect else None, "redirect.success_url", required=True
        )
        or "",
        failure_url=_url(
            redirect.failure_url if redirect else None, "redirect.failure_url", required=True
        )
        or "",
        notification_url=_url(request.notification_url, "notification_url", required=False),
        customer_id=customer_id(customer.id),
        customer_ip=customer_ip,
        min_age=min_age,
        kyc_level=_optional_text(
            customer.kyc_level, "customer.kyc_level", re.compile(r"^[A-Za-z_]{1,16}$"), 16
        ),
        country_restriction=country.upper() if country else None,
        submerchant_id=_optional_text(request.submerchant_id, "submerchant_id", _SUBMERCHANT, 8),
        shop_id=_optional_text(request.shop_id, "shop_id", None, 60),
    )
