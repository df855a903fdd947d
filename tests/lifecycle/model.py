"""What a life-cycle run should have left behind: each payment's status and cards, each voucher's
value, the wallet and the merchant's payable.

Written from API.md alone, never from PinPay's code, so that when the two disagree the finding is
real and not a copy of the application's own mistake.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

INITIATED, REDIRECTED, AUTHORIZED, SUCCESS = "INITIATED", "REDIRECTED", "AUTHORIZED", "SUCCESS"
CANCELED_MERCHANT, CANCELED_CUSTOMER, EXPIRED = "CANCELED_MERCHANT", "CANCELED_CUSTOMER", "EXPIRED"
OPEN = frozenset({INITIATED, REDIRECTED})  # still waiting for PINs
LIVE = OPEN | {AUTHORIZED}  # not final: may still be canceled or expire
HELD, CAPTURED, RELEASED = "HELD", "CAPTURED", "RELEASED"
CURRENCY = "EUR"


@dataclass(frozen=True)
class Refusal:
    """An error answer the API must give: HTTP status, `code` and `number` (None: absent)."""

    http: int
    code: str
    number: int | None


PIN_REFUSED = Refusal(400, "pin_not_accepted", None)
INVALID_STATE = Refusal(400, "payment_invalid_state", 2017)
DISPOSITION_EXPIRED = Refusal(400, "disposition_expired", 3007)
REFUND_EXCEEDS = Refusal(400, "refund_exceeds_payment", 3179)
NOT_REFUNDABLE = Refusal(400, "payment_not_refundable", 3180)
CUSTOMER_MISMATCH = Refusal(400, "customer_id_mismatch", 3181)
REFUND_INVALID_STATE = Refusal(400, "transaction_invalid_state", 2017)


@dataclass
class Voucher:
    serial: str
    pin: str
    key: int  # the row's primary key: several PINs are spent in this order (DESIGN.md)
    face: int
    currency: str
    remaining: int
    held: int = 0
    depleted: bool = False

    @property
    def status(self) -> str:
        return "DEPLETED" if self.depleted else "ACTIVE"

    def can_pay(self, currency: str) -> bool:
        return not self.depleted and self.currency == currency and self.remaining > 0


@dataclass
class Card:
    serial: str
    amount: int
    state: str = HELD


@dataclass
class Payment:
    id: str
    amount: int
    customer: str
    page: str  # the hosted page's path
    deadline: datetime  # 30 minutes for PINs; once authorized, the disposition window
    status: str = INITIATED
    before_expiration: str | None = None
    cards: list[Card] = field(default_factory=list)
    refunded: int = 0
    csrf: str | None = None  # the page's form token, once the customer has seen the form

    @property
    def live_cards(self) -> list[Card]:
        return [c for c in self.cards if c.state != RELEASED]

    @property
    def missing(self) -> int:
        return self.amount - sum(c.amount for c in self.live_cards)


@dataclass
class Refund:
    id: str
    payment: Payment
    amount: int
    to_voucher: bool
    captured: bool = False


def is_pin(text: str) -> bool:
    """16 digits as printed: spaces and dashes between groups are allowed (API.md 3)."""
    digits = "".join(ch for ch in text if ch not in " -")
    return len(digits) == 16 and digits.isascii() and digits.isdigit()


class Model:
    def __init__(self, now: datetime, authorization: timedelta, disposition: timedelta) -> None:
        self.now = now
        self.authorization = authorization
        self.disposition = disposition
        self.vouchers: dict[str, Voucher] = {}  # by serial
        self.payments: dict[str, Payment] = {}  # by id
        self.refunds: dict[str, Refund] = {}
        # Value sold by the issuer per currency (refund vouchers come out of the payable).
        self.issued: dict[str, int] = {}
        self.wallet = 0
        self.payable = 0

    # --- what exists ----------------------------------------------------------------------

    def add_voucher(self, voucher: Voucher, *, sold: bool = True) -> None:
        self.vouchers[voucher.serial] = voucher
        if sold:
            self.issued[voucher.currency] = self.issued.get(voucher.currency, 0) + voucher.face

    def add_payment(self, payment_id: str, amount: int, customer: str, page: str) -> Payment:
        payment = Payment(payment_id, amount, customer, page, self.now + self.authorization)
        self.payments[payment_id] = payment
        return payment

    def by_pin(self, pin: str) -> Voucher | None:
        digits = "".join(ch for ch in pin if ch not in " -")
        return next((v for v in self.vouchers.values() if v.pin == digits), None)

    def lapsed(self, payment: Payment) -> bool:
        return payment.status in LIVE and payment.deadline <= self.now

    # --- value moves ------------------------------------------------------------------------

    def _release(self, payment: Payment) -> None:
        for card in payment.cards:
            if card.state == HELD:
                voucher = self.vouchers[card.serial]
                voucher.held -= card.amount
                voucher.remaining += card.amount
                card.state = RELEASED

    def _end(self, payment: Payment, status: str) -> None:
        """Into a final status other than SUCCESS: held value goes back."""
        self._release(payment)
        if status == EXPIRED:
            payment.before_expiration = payment.status
        payment.status = status

    # --- the merchant API and the worker ---------------------------------------------------

    def assign(self, payment: Payment, pins: list[str]) -> Refusal | None:
        """POST /cards: all or none (API.md 4). Malformed PINs are refused before anything."""
        if not all(is_pin(pin) for pin in pins):
            return PIN_REFUSED
        if payment.status not in OPEN:
            return INVALID_STATE
        if self.lapsed(payment):  # too late: refused, and the payment expires at once
            self._end(payment, EXPIRED)
            return INVALID_STATE
        return self._hold(payment, pins)

    def _hold(self, payment: Payment, pins: list[str]) -> Refusal | None:
        found = [self.by_pin(pin) for pin in pins]
        if any(v is None for v in found):
            return PIN_REFUSED
        vouchers = sorted((v for v in found if v is not None), key=lambda v: v.key)
        missing, plan = payment.missing, []
        for voucher in vouchers:
            if not voucher.can_pay(CURRENCY):
                return PIN_REFUSED  # even one that would not have been needed
            if missing > 0:
                take = min(voucher.remaining, missing)
                plan.append((voucher, take))
                missing -= take
        for voucher, take in plan:
            voucher.remaining -= take
            voucher.held += take
            payment.cards.append(Card(voucher.serial, take))
        if missing == 0:
            payment.status = AUTHORIZED
            payment.deadline = self.now + self.disposition
        return None

    def capture(self, payment: Payment) -> Refusal | None:
        if payment.status != AUTHORIZED:
            return INVALID_STATE
        if self.lapsed(payment):
            self._end(payment, EXPIRED)
            return DISPOSITION_EXPIRED
        for card in payment.cards:
            voucher = self.vouchers[card.serial]
            voucher.held -= card.amount
            # Used up only once nothing is left to spend nor held for another payment.
            voucher.depleted = voucher.remaining == 0 and voucher.held == 0
            card.state = CAPTURED
        payment.status = SUCCESS
        self.payable += payment.amount
        return None

    def merchant_cancels(self, payment: Payment) -> Refusal | None:
        if payment.status not in LIVE:
            return INVALID_STATE
        if self.lapsed(payment):  # past its deadline: it expires, the cancel is refused
            self._end(payment, EXPIRED)
            return INVALID_STATE
        self._end(payment, CANCELED_MERCHANT)
        return None

    def expire_due(self) -> int:
        due = [p for p in self.payments.values() if self.lapsed(p)]
        for payment in due:
            self._end(payment, EXPIRED)
        return len(due)

    # --- the hosted page --------------------------------------------------------------------

    def page_opened(self, payment: Payment) -> None:
        """GET auth_url: INITIATED becomes REDIRECTED; an open one past its time expires."""
        if payment.status in OPEN and self.lapsed(payment):
            self._end(payment, EXPIRED)
        elif payment.status == INITIATED:
            payment.status = REDIRECTED

    def page_pin(self, payment: Payment, pin: str) -> Refusal | None:
        """One PIN on the page. None also when the page only shows the outcome (not open)."""
        self.page_opened(payment)
        if payment.status not in OPEN:
            return None
        if not is_pin(pin):
            return PIN_REFUSED
        return self._hold(payment, [pin])

    def customer_cancels(self, payment: Payment) -> bool:
        if payment.status not in OPEN:
            return False
        if self.lapsed(payment):  # past its deadline: the page shows it expired
            self._end(payment, EXPIRED)
            return False
        self._end(payment, CANCELED_CUSTOMER)
        return True

    # --- refunds (API.md 5) ------------------------------------------------------------------

    def refund_refusal(self, payment: Payment, amount: int, customer: str) -> Refusal | None:
        if payment.status != SUCCESS:
            return NOT_REFUNDABLE
        if customer != payment.customer:
            return CUSTOMER_MISMATCH
        if amount > payment.amount - payment.refunded:
            return REFUND_EXCEEDS
        assert self.payable >= amount, "a refund within its payment is always covered"
        return None

    def settle(self, refund: Refund) -> None:
        """The refund's value leaves the payable for the wallet or a new voucher (added by the
        caller, who learns its PIN from the answer)."""
        refund.captured = True
        refund.payment.refunded += refund.amount
        self.payable -= refund.amount
        if not refund.to_voucher:
            self.wallet += refund.amount
