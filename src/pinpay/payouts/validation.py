"""Meaning checks for a payout request (API.md 5), before any row is read."""

from dataclasses import dataclass
from datetime import date

from pinpay.errors import InvalidRequestParameter
from pinpay.merchants import transfers
from pinpay.merchants.models import Merchant
from pinpay.payments.validation import is_http_url, parse_bool
from pinpay.payouts.schemas import CreatePayoutRequest


@dataclass(frozen=True)
class Person:
    """Who the merchant says the customer is; compared with the account, never stored."""

    first_name: str
    last_name: str
    date_of_birth: date


@dataclass(frozen=True)
class NewPayout:
    amount: int
    currency: str
    capture: bool
    customer: transfers.CustomerRef
    person: Person
    comment: str | None
    notification_url: str | None


def _name(value: object, param: str) -> str:
    name = transfers.text(value, param, 100)
    if name is None:
        raise InvalidRequestParameter(f"{param} is required", param=param)
    return name


def _notification_url(value: object) -> str | None:
    url = transfers.text(value, "notification_url", 2048)
    if url is None:
        return None
    if not is_http_url(url):
        raise InvalidRequestParameter(
            "notification_url must be an http(s) URL", param="notification_url"
        )
    return url


def new_payout(request: CreatePayoutRequest, merchant: Merchant) -> NewPayout:
    transfers.paysafecard_type(request.type)
    currency = transfers.merchant_currency(request.currency, merchant)
    amount = transfers.positive_amount(request.amount, currency)
    customer = request.customer
    return NewPayout(
        amount=amount,
        currency=currency,
        # Without `capture` a payout is only validated: nothing moves unless the merchant says so.
        capture=parse_bool(request.capture, "capture", default=False),
        customer=transfers.customer_ref(customer, account_needed=True),
        person=Person(
            first_name=_name(getattr(customer, "first_name", None), "customer.first_name"),
            last_name=_name(getattr(customer, "last_name", None), "customer.last_name"),
            date_of_birth=transfers.birth_date(
                getattr(customer, "date_of_birth", None), "customer.date_of_birth"
            ),
        ),
        comment=transfers.text(request.comment, "comment", transfers.MAX_COMMENT),
        notification_url=_notification_url(request.notification_url),
    )
