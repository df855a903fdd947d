"""The machine's refund rules (API.md 5): to the customer's account or (ext) onto a new voucher,
captured at once or validated first and captured later. A refund voucher joins the pool and
can pay the next payment."""

from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from tests.lifecycle import checks
from tests.lifecycle.driver import Driver, minor
from tests.lifecycle.model import (
    CURRENCY,
    REFUND_INVALID_STATE,
    SUCCESS,
    Model,
    Payment,
    Refund,
    Voucher,
)
from tests.lifecycle.rules import CUSTOMERS

T = TypeVar("T")


class RefundRules:
    driver: Driver
    model: Model

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError

    def _pick(self, data: st.DataObject, likely: frozenset[str] = frozenset()) -> Payment:
        raise NotImplementedError

    @precondition(lambda self: self.model.payments)
    @rule(data=st.data())
    def merchant_refunds(self, data: st.DataObject) -> None:
        payment = self._pick(data, frozenset({SUCCESS}))
        left = payment.amount - payment.refunded
        amounts = sorted({100, 500, left, left + 100} - {0})  # all that is left, and one more
        amount = data.draw(st.sampled_from(amounts), label="amount")
        customer = payment.customer
        if data.draw(st.booleans(), label="another customer id"):
            customer = next(c for c in CUSTOMERS if c != payment.customer)
        to_voucher = data.draw(st.booleans(), label="onto a new voucher")
        capture = data.draw(st.booleans(), label="capture")

        expected = self.model.refund_refusal(payment, amount, customer)
        response = self.run(
            self.driver.refund(payment.id, amount, customer, to_voucher=to_voucher, capture=capture)
        )
        if expected is not None:
            checks.refused(response, expected)
            return
        assert response.status_code == 201, response.text
        body = response.json()
        assert minor(body["amount"]) == amount and body["payment_id"] == payment.id, body
        refund = Refund(body["id"], payment, amount, to_voucher)
        self.model.refunds[refund.id] = refund
        if capture:
            self._settled(refund, body)
        else:  # validated only: nothing moves, nothing is reserved
            assert body["status"] == "VALIDATION_SUCCESSFUL", body

    @precondition(lambda self: self.model.refunds)
    @rule(data=st.data())
    def merchant_captures_a_refund(self, data: st.DataObject) -> None:
        refund = data.draw(st.sampled_from(list(self.model.refunds.values())), label="refund")
        payment = refund.payment
        expected = (
            REFUND_INVALID_STATE
            if refund.captured
            # Everything is checked again: what was left at validation may be gone by now.
            else self.model.refund_refusal(payment, refund.amount, payment.customer)
        )
        response = self.run(self.driver.capture_refund(payment.id, refund.id))
        if expected is not None:
            checks.refused(response, expected)
            return
        assert response.status_code == 200, response.text
        self._settled(refund, response.json())

    def _settled(self, refund: Refund, body: dict[str, Any]) -> None:
        assert body["status"] == "SUCCESS", body
        self.model.settle(refund)
        if refund.to_voucher:
            issued = body["voucher"]
            assert minor(issued["amount"]) == refund.amount, body
            key = self.run(self.driver.key_of(issued["serial"]))
            voucher = Voucher(
                issued["serial"], issued["pin"], key, refund.amount, CURRENCY, refund.amount
            )
            self.model.add_voucher(voucher, sold=False)
