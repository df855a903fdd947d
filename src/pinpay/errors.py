"""Domain errors. Each carries the Paysafecard error object's fields; one handler renders them.

Services raise these and never HTTPException, so the same rule reads the same from the API, the
CLI and the worker.
"""

from collections.abc import Awaitable, Callable
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

AfterRollback = Callable[[AsyncSession], Awaitable[None]]


class PinPayError(Exception):
    code: ClassVar[str] = "general_technical_error"
    number: ClassVar[int | None] = 10001
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        after_rollback: list[AfterRollback] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        # Work that must outlive the refused request (its audit record, a lockout counter, a
        # freeze): run by the edge in a fresh transaction once the request's one rolled back.
        self.after_rollback = after_rollback or []
        # Response headers the error needs (WWW-Authenticate on a refused Bearer token).
        self.headers: dict[str, str] = {}
        super().__init__(self.message)

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.number is not None:
            body["number"] = self.number
        if self.param is not None:
            body["param"] = self.param
        return body


class InvalidRequestParameter(PinPayError):
    code = "invalid_request_parameter"
    number = 10028
    http_status = 400
    default_message = "A request parameter is invalid."


class InvalidApiKey(PinPayError):
    code = "invalid_api_key"
    number = 10008
    http_status = 401
    default_message = "Authentication failed due to missing or invalid API key."


class NotFound(PinPayError):
    code = "not_found"
    number = None
    http_status = 404
    default_message = "The requested resource was not found."


class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    default_message = "No voucher with that serial."


class IllegalStateChange(PinPayError):
    code = "invalid_state"
    number = None
    http_status = 409
    default_message = "That change is not allowed in the current state."


class PinNotAccepted(PinPayError):
    """The one answer for every refused PIN: never says whether it exists, is used or frozen."""

    code = "pin_not_accepted"
    number = None
    http_status = 400
    default_message = "This PIN cannot be used. Please check it and try again."


class VoucherTampered(PinNotAccepted):
    """A voucher row no longer matches its signature: someone edited it behind our back.

    A PinNotAccepted to every caller (same code, message and status), so that whoever handles
    refused PINs handles this one too and the customer cannot tell it apart.
    """


class UnbalancedEntry(PinPayError):
    code = "general_technical_error"
    default_message = "A journal entry does not balance."


class KeysMissing(PinPayError):
    code = "keys_missing"
    number = None
    default_message = "No keyring found. Create one with `pinpay keys init`."


class ServiceUnavailable(PinPayError):
    code = "service_unavailable"
    number = None
    http_status = 503
    default_message = "The service is temporarily unavailable. Please retry."


# -- merchant API (Paysafecard numbers, so that existing integrations handle them) ---------------


def bearer_challenge(error: str, description: str, **extra: str) -> dict[str, str]:
    """The RFC 6750 section 3 challenge for a refused Bearer token."""
    fields = {"realm": "pinpay", "error": error, "error_description": description, **extra}
    return {"WWW-Authenticate": "Bearer " + ", ".join(f'{k}="{v}"' for k, v in fields.items())}


class InvalidToken(InvalidApiKey):
    """A Bearer token that is malformed, forged, expired, for another audience or of a revoked
    client: 401 10008 like a wrong API key, so that Paysafecard clients handle it as they do."""

    def __init__(self, description: str) -> None:
        super().__init__(f"The access token is not valid: {description}.")
        self.headers = bearer_challenge("invalid_token", description)


class InsufficientScope(PinPayError):
    code = "insufficient_scope"
    number = None
    http_status = 403
    default_message = "The access token does not carry the scope this call needs."

    def __init__(self, required: str) -> None:
        super().__init__(f"This call needs the scope {required}.")
        self.headers = bearer_challenge("insufficient_scope", self.message, scope=required)


class IpNotAllowed(PinPayError):
    code = "ip_not_allowed"
    number = None
    http_status = 403
    default_message = "Requests from this IP address are not allowed for this merchant."


class DirectPinsDisabled(PinPayError):
    code = "direct_pins_disabled"
    number = None
    http_status = 403
    default_message = "This merchant may not submit PINs server to server."


class DuplicateTransactionId(PinPayError):
    code = "duplicate_transaction_id"
    number = 2001
    http_status = 400
    default_message = "A payment with this Correlation-ID exists already."


class PaymentNotFound(PinPayError):
    code = "payment_not_found"
    number = 2002
    http_status = 404
    default_message = "No payment with this id."


class CurrencyNotSupported(PinPayError):
    code = "currency_not_supported"
    number = 2010
    http_status = 400
    default_message = "The currency is not supported for this merchant."


class PaymentInvalidState(PinPayError):
    code = "payment_invalid_state"
    number = 2017
    http_status = 400
    default_message = "The payment is not in a state that allows this."


class InvalidAmount(PinPayError):
    code = "invalid_amount"
    number = 2029
    http_status = 400
    default_message = "The amount must be above 0."


class MerchantInactive(PinPayError):
    code = "merchant_not_active"
    number = 3001
    http_status = 400
    default_message = "The merchant account is not active."


class DispositionExpired(PinPayError):
    code = "disposition_expired"
    number = 3007
    http_status = 400
    default_message = "The authorization expired before it was captured."


class CustomerIdMissing(PinPayError):
    code = "customer_id_missing"
    number = 3017
    http_status = 400
    default_message = "customer.id is required."


class CustomerIdInvalid(PinPayError):
    code = "invalid_customer_id"
    number = 3019
    http_status = 400
    default_message = "customer.id must be a pseudonymous id, not personal data."


class AmountLimitExceeded(PinPayError):
    code = "amount_limit_exceeded"
    number = 4003
    http_status = 400
    default_message = "The amount is above the maximum for one payment."


class IdempotencyKeyReused(PinPayError):
    code = "idempotency_key_reused"
    number = None
    http_status = 409
    default_message = "This Idempotency-Key was used with a different request."


class IdempotencyKeyInUse(PinPayError):
    code = "idempotency_key_in_use"
    number = None
    http_status = 409
    default_message = "A request with this Idempotency-Key is still being processed."


# -- refunds and payouts (API.md 5) ------------------------------------------------------------


class TransferNotFound(PinPayError):
    code = "not_found"
    number = None
    http_status = 404
    default_message = "No refund or payout with this id."


class TransferInvalidState(PinPayError):
    code = "transaction_invalid_state"
    number = 2017
    http_status = 400
    default_message = "The refund or payout is not in a state that allows this."


class MerchantLimitExceeded(PinPayError):
    code = "merchant_limit_exceeded"
    number = 3166
    http_status = 400
    default_message = "The merchant's daily payout limit would be exceeded."


class RefundExceedsPayment(PinPayError):
    code = "refund_exceeds_payment"
    number = 3179
    http_status = 400
    default_message = "The refunds would exceed the amount of the payment."


class RefundPaymentInvalidState(PinPayError):
    code = "payment_not_refundable"
    number = 3180
    http_status = 400
    default_message = "Only a successful payment can be refunded."


class RefundPeriodExpired(RefundPaymentInvalidState):
    """3180 too, so that a client handling "not refundable" handles this; the code tells why."""

    code = "refund_period_expired"
    default_message = "A payment can be refunded up to 45 days after it was made."


class RefundCustomerMismatch(PinPayError):
    code = "customer_id_mismatch"
    number = 3181
    http_status = 400
    default_message = "customer.id is not the customer of the payment."


class CustomerDetailsMismatch(PinPayError):
    code = "customer_details_mismatch"
    number = 3195
    http_status = 400
    default_message = "The customer's details do not match the customer account."


class PayoutAccountBound(PinPayError):
    code = "account_bound_to_other_customer_id"
    number = 3197
    http_status = 400
    default_message = "This customer account takes payouts from you under another customer.id."


class PayoutCustomerBound(PinPayError):
    code = "customer_id_bound_to_other_account"
    number = 3198
    http_status = 400
    default_message = "This customer.id takes payouts into another customer account."


class MerchantBalanceInsufficient(PinPayError):
    code = "merchant_balance_insufficient"
    number = None
    http_status = 400
    default_message = "PinPay does not hold that much for this merchant in this currency."
