"""The machine's rules on payments: each one asks the model what must happen, does it through
the API or the hosted page, and checks the answer. Any payment may be picked for an action, in
any state: an illegal transition must be refused with its documented error, never ignored."""

from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from tests.lifecycle import checks, observe
from tests.lifecycle.driver import Driver, csrf_of
from tests.lifecycle.model import AUTHORIZED, CURRENCY, LIVE, OPEN, Model, Payment, Refusal, Voucher

T = TypeVar("T")
AMOUNTS = (500, 1000, 2500, 4000)  # minor units
CUSTOMERS = ("cust-0001", "cust-0002")
MALFORMED = ("", "12345", "1234 5678 9012 345", "1234-5678-9012-345x", "12345678901234567")
unknown_pins = st.from_regex(r"[0-9]{16}", fullmatch=True)


def printed(pin: str, style: str) -> str:
    """A PIN as a customer types it: plain, or in the printed 4-4-4-4 groups."""
    groups = [pin[i : i + 4] for i in range(0, 16, 4)]
    return {"plain": pin, "spaces": " ".join(groups), "dashes": "-".join(groups)}[style]


class PaymentRules:
    driver: Driver
    model: Model

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError

    def _open(self) -> list[Payment]:
        return [p for p in self.model.payments.values() if p.status in OPEN]

    def _spendable(self) -> list[Voucher]:
        return [v for v in self.model.vouchers.values() if v.can_pay(CURRENCY)]

    def _pick(self, data: st.DataObject, likely: frozenset[str] = frozenset()) -> Payment:
        """Any payment, but half the time one whose status is in `likely` (where the action
        is legal): chance alone would mostly pick payments that ended long ago."""
        every = list(self.model.payments.values())
        apt = [p for p in every if p.status in likely]
        wanted = data.draw(st.booleans(), label=f"one in {sorted(likely)}") if apt else False
        return data.draw(st.sampled_from(apt if wanted else every), label="payment")

    @rule(amount=st.sampled_from(AMOUNTS), customer=st.sampled_from(CUSTOMERS))
    def create_payment(self, amount: int, customer: str) -> None:
        response = self.run(self.driver.create(amount, customer))
        assert response.status_code == 201, response.text
        body = response.json()
        page = httpx.URL(body["redirect"]["auth_url"]).path
        checks.payment_answer(body, self.model.add_payment(body["id"], amount, customer, page))

    @precondition(lambda self: self.model.payments)
    @rule(data=st.data())
    def customer_opens_the_page(self, data: st.DataObject) -> None:
        payment = self._pick(data, OPEN)
        self.model.page_opened(payment)
        response = self.run(self.driver.open_page(payment.page))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        csrf = csrf_of(response)
        assert (csrf is not None) == (payment.status in OPEN), (payment, response.text)
        payment.csrf = csrf or payment.csrf

    @precondition(lambda self: any(p.csrf for p in self.model.payments.values()))
    @rule(data=st.data())
    def customer_cancels_on_the_page(self, data: st.DataObject) -> None:
        seen = [p for p in self.model.payments.values() if p.csrf]
        payment = data.draw(st.sampled_from(seen), label="payment")
        assert payment.csrf is not None
        legal = self.model.customer_cancels(payment)
        response = self.run(self.driver.page_cancel(payment.page, payment.csrf))
        if legal:
            assert response.status_code == 303, response.text
            assert response.headers["location"].startswith("https://shop.example/fail")
        else:  # the page shows how the payment ended and nothing changes
            assert response.status_code == 200 and csrf_of(response) is None, response.text

    @precondition(lambda self: self._open() and self._spendable())
    @rule(data=st.data())
    def assign_good_pins(self, data: st.DataObject) -> None:
        """One to three vouchers with value left: partial use keeps the rest on a voucher."""
        payment = data.draw(st.sampled_from(self._open()), label="payment")
        vouchers = data.draw(
            st.lists(
                st.sampled_from(self._spendable()),
                min_size=1,
                max_size=3,
                unique_by=lambda v: v.serial,
            ),
            label="vouchers",
        )
        style = data.draw(st.sampled_from(["plain", "spaces", "dashes"]), label="typed as")
        self._assign(data, payment, [printed(v.pin, style) for v in vouchers])

    @precondition(lambda self: self.model.payments)
    @rule(data=st.data())
    def assign_a_bad_pin(self, data: st.DataObject) -> None:
        """Unknown, used up, of another currency, malformed, or a bad one beside a good one."""
        payment = self._pick(data, OPEN)
        unknown = data.draw(unknown_pins.filter(lambda pin: self.model.by_pin(pin) is None))
        used_up = [v.pin for v in self.model.vouchers.values() if v.remaining == 0]
        dollars = [v.pin for v in self.model.vouchers.values() if v.currency != CURRENCY]
        good = [v.pin for v in self._spendable()]
        choices = [[unknown], [data.draw(st.sampled_from(MALFORMED), label="malformed")]]
        choices += [[pin] for pin in used_up + dollars]
        choices += [[pin, unknown] for pin in good[:2]] + [[g, u] for g in good for u in used_up]
        self._assign(data, payment, data.draw(st.sampled_from(choices), label="pins"))

    def _assign(self, data: st.DataObject, payment: Payment, pins: list[str]) -> None:
        """Through the direct API, or for one PIN on a page the customer has open."""
        if payment.csrf and len(pins) == 1 and data.draw(st.booleans(), label="on the page"):
            self._assign_on_page(payment, pins[0])
            return
        before = self.run(self.driver.get(payment.id))
        entries = self.run(observe.journal_entries(self.driver.runtime))
        status = payment.status
        expected = self.model.assign(payment, pins)
        response = self.run(self.driver.assign(payment.id, pins))
        if expected is None:
            assert response.status_code == 200, response.text
            checks.payment_answer(response.json(), payment)
            return
        checks.refused(response, expected)
        if payment.status == status:  # refused and nothing moved: not a cent, not a field
            assert self.run(self.driver.get(payment.id)) == before
            assert self.run(observe.journal_entries(self.driver.runtime)) == entries
        else:
            checks.payment_answer(self.run(self.driver.get(payment.id)), payment)

    def _assign_on_page(self, payment: Payment, pin: str) -> None:
        assert payment.csrf is not None
        takes_pins = payment.status in OPEN and not self.model.lapsed(payment)
        expected = self.model.page_pin(payment, pin)
        response = self.run(self.driver.page_pin(payment.page, payment.csrf, pin))
        if not takes_pins:  # the page only shows how the payment ended
            assert response.status_code == 200 and csrf_of(response) is None, response.text
        elif expected is not None:
            assert response.status_code == 400, response.text
            assert checks.PIN_REFUSED_TEXT in response.text
        elif payment.status == AUTHORIZED:
            assert response.status_code == 303, response.text
            assert (
                response.headers["location"] == f"https://shop.example/ok?payment_id={payment.id}"
            )
        else:
            assert (response.status_code, response.headers["location"]) == (303, payment.page)

    @precondition(lambda self: self.model.payments)
    @rule(data=st.data())
    def merchant_captures(self, data: st.DataObject) -> None:
        payment = self._pick(data, frozenset({AUTHORIZED}))
        self._answered(payment, self.model.capture(payment), self.driver.capture(payment.id))

    @precondition(lambda self: self.model.payments)
    @rule(data=st.data())
    def merchant_cancels(self, data: st.DataObject) -> None:
        payment = self._pick(data, LIVE)
        self._answered(
            payment, self.model.merchant_cancels(payment), self.driver.cancel(payment.id)
        )

    def _answered(
        self, payment: Payment, expected: Refusal | None, call: Coroutine[Any, Any, httpx.Response]
    ) -> None:
        response = self.run(call)
        if expected is None:
            assert response.status_code == 200, response.text
            checks.payment_answer(response.json(), payment)
        else:
            checks.refused(response, expected)
            checks.payment_answer(self.run(self.driver.get(payment.id)), payment)
