"""The payment state machine of API.md section 2. Every change goes through `next_status`."""

from pinpay.errors import PaymentInvalidState

INITIATED = "INITIATED"
REDIRECTED = "REDIRECTED"
AUTHORIZED = "AUTHORIZED"
SUCCESS = "SUCCESS"
CANCELED_MERCHANT = "CANCELED_MERCHANT"
CANCELED_CUSTOMER = "CANCELED_CUSTOMER"
EXPIRED = "EXPIRED"
STATUSES = (
    INITIATED,
    REDIRECTED,
    AUTHORIZED,
    SUCCESS,
    CANCELED_MERCHANT,
    CANCELED_CUSTOMER,
    EXPIRED,
)
FINAL = frozenset({SUCCESS, CANCELED_MERCHANT, CANCELED_CUSTOMER, EXPIRED})
# States in which PINs may still be assigned (server to server the customer never "opens" a page).
OPEN = frozenset({INITIATED, REDIRECTED})
# States with a deadline still to run: the expiry duty's (STATUSES less FINAL, in order).
UNFINISHED = (INITIATED, REDIRECTED, AUTHORIZED)

# event -> {from status: to status}
TRANSITIONS: dict[str, dict[str, str]] = {
    "redirect": {INITIATED: REDIRECTED},
    "authorize": {INITIATED: AUTHORIZED, REDIRECTED: AUTHORIZED},
    "capture": {AUTHORIZED: SUCCESS},
    "cancel_customer": {INITIATED: CANCELED_CUSTOMER, REDIRECTED: CANCELED_CUSTOMER},
    "cancel_merchant": {
        INITIATED: CANCELED_MERCHANT,
        REDIRECTED: CANCELED_MERCHANT,
        AUTHORIZED: CANCELED_MERCHANT,
    },
    "expire": {INITIATED: EXPIRED, REDIRECTED: EXPIRED, AUTHORIZED: EXPIRED},
}

# The notification event each new status is reported as.
EVENT_TYPES = {
    AUTHORIZED: "ASSIGN_CARDS",
    SUCCESS: "PAYMENT_CAPTURED",
    CANCELED_MERCHANT: "PAYMENT_CANCELED",
    CANCELED_CUSTOMER: "PAYMENT_CANCELED",
    EXPIRED: "PAYMENT_EXPIRED",
}


def next_status(current: str, event: str) -> str:
    """The status `event` leads to from `current`; an illegal transition is error 2017."""
    target = TRANSITIONS[event].get(current)
    if target is None:
        raise PaymentInvalidState(
            f"A payment in status {current} cannot {event.replace('_', ' ')}."
        )
    return target
