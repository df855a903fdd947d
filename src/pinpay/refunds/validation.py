"""Meaning checks for a refund request (API.md 5), before any row is read."""

from dataclasses import dataclass

from pinpay.errors import InvalidRequestParameter
from pinpay.merchants import transfers
from pinpay.payments.validation import parse_bool
from pinpay.refunds.models import ACCOUNT, VOUCHER
from pinpay.refunds.schemas import CreateRefundRequest


@dataclass(frozen=True)
class NewRefund:
    amount: int
    currency: str
    capture: bool
    destination: str
    customer: transfers.CustomerRef
    comment: str | None


def new_refund(request: CreateRefundRequest) -> NewRefund:
    transfers.paysafecard_type(request.type)
    currency = transfers.currency_code(request.currency)
    amount = transfers.positive_amount(request.amount, currency)
    # Without `capture` a refund is only validated: nothing moves unless the merchant says so.
    capture = parse_bool(request.capture, "capture", default=False)
    destination = transfers.text(request.destination, "destination", 16) or ACCOUNT
    if destination.lower() not in (ACCOUNT, VOUCHER):
        raise InvalidRequestParameter("destination must be account or voucher", param="destination")
    destination = destination.lower()
    customer = transfers.customer_ref(request.customer, account_needed=destination == ACCOUNT)
    return NewRefund(
        amount=amount,
        currency=currency,
        capture=capture,
        destination=destination,
        customer=customer,
        comment=transfers.text(request.comment, "comment", transfers.MAX_COMMENT),
    )
