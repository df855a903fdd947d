"""Issue 6: the whole payment life cycle as a Hypothesis state machine.

Create, open the hosted page, assign good and bad PINs (API and page), capture, cancel (merchant
and customer), let time pass on a FrozenClock, run the worker's expiry, refund (to the account or
onto a new voucher, at once or validated then captured). Every answer is checked against the
model in tests/lifecycle/model.py; after every step the database is checked against the model
and against `pinpay audit verify`. Each run gets an empty database, its own event loop and clock.
"""

import asyncio
import os
import shutil
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pinpay.config import Settings
from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.kit.crypto import Keyring
from tests.lifecycle import checks, observe
from tests.lifecycle.driver import Driver
from tests.lifecycle.model import LIVE, Model, Payment, Voucher
from tests.lifecycle.refund_rules import RefundRules
from tests.lifecycle.rules import PaymentRules

T = TypeVar("T")
AUTHORIZATION = timedelta(minutes=30)
FACES = (1000, 2500, 5000)  # minor units
SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
# Every step is a few requests against a real database: a normal run keeps to a small sample,
# fewer runs but long enough to reach refunds; the soak profile (`make soak`) keeps its own count.
RUNS = hypothesis_settings(
    max_examples=hypothesis_settings().max_examples if SOAK else 15,
    stateful_step_count=30,
    deadline=None,
    # No explain phase: tracing every line of a run against a live database takes many minutes,
    # and the shrunk steps already say what failed.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


@dataclass
class World:
    """What the pytest fixtures give every run: a database to start from, settings and keys."""

    settings: Settings
    keyring: Keyring
    sqlite_template: Path
    scratch: Path
    runs: "count[int]" = field(default_factory=count)

    def fresh_settings(self) -> Settings:
        # Lockouts would refuse good PINs after a few bad ones, for reasons the model does not
        # follow: they have their own tests (tests/fraud); here a bad PIN must change nothing.
        unlimited: dict[str, object] = {
            "lockout_threshold": 10**6,
            "merchant_lockout_threshold": 10**6,
            "global_wrong_pins_per_minute": 10**6,
            "authorization_window_seconds": int(AUTHORIZATION.total_seconds()),
        }
        if self.settings.database_url.startswith("sqlite"):
            path = self.scratch / f"run-{next(self.runs)}.db"
            shutil.copy(self.sqlite_template, path)
            unlimited["database_url"] = f"sqlite+aiosqlite:///{path}"
        return self.settings.model_copy(update=unlimited)


class PaymentLifeCycle(PaymentRules, RefundRules, RuleBasedStateMachine):
    world: World  # set by the test on a subclass: hypothesis builds machines from a class

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        self.runner = asyncio.Runner()
        self.settings = world.fresh_settings()
        self.clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
        self.previous_clock = use_clock(self.clock)
        try:
            self.driver = self.run(Driver.start(self.settings, world.keyring))
        except BaseException:
            self._release()
            raise
        self.model = Model(self.clock.now(), AUTHORIZATION, timedelta(seconds=600))

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(work)

    def teardown(self) -> None:
        try:
            self.run(self.driver.close())
        finally:
            self._release()

    def _release(self) -> None:
        self.runner.close()
        use_clock(self.previous_clock)
        url = self.settings.database_url
        if url.startswith("sqlite"):
            Path(url.split(":///", 1)[1]).unlink(missing_ok=True)

    def _issue(self, face: int, currency: str = "EUR") -> None:
        issued = self.run(self.driver.issue(face, currency))
        self.model.add_voucher(Voucher(issued.serial, issued.pin, issued.key, face, currency, face))

    # --- setting up and time -------------------------------------------------------------------

    @initialize(
        disposition=st.sampled_from([60, 600]),
        faces=st.lists(st.sampled_from(FACES), min_size=2, max_size=5),
    )
    def open_shop(self, disposition: int, faces: list[int]) -> None:
        """A merchant with a disposition window of one or ten minutes, a few vouchers sold,
        and one in US dollars that no euro payment may take."""
        self.run(self.driver.set_disposition(disposition))
        self.model.disposition = timedelta(seconds=disposition)
        for face in faces:
            self._issue(face)
        self._issue(2500, "USD")

    @precondition(lambda self: len(self._spendable()) < 3)
    @rule(face=st.sampled_from(FACES))
    def sell_voucher(self, face: int) -> None:
        """More vouchers once few with value are left (the pool drains as payments succeed)."""
        self._issue(face)

    @rule(seconds=st.sampled_from([1, 59, 600, 1800]), worker_runs=st.booleans())
    def time_passes(self, seconds: int, worker_runs: bool) -> None:
        """Past the disposition window (1 or 10 min) or the 30 minutes for PINs, or not quite;
        then the worker's expiry, or not yet: a late capture or PIN must expire by itself."""
        self._advance(timedelta(seconds=seconds), worker_runs)

    @precondition(lambda self: self._live())
    @rule(data=st.data(), worker_runs=st.booleans())
    def time_reaches_a_deadline(self, data: st.DataObject, worker_runs: bool) -> None:
        """To the second before a live payment's deadline, or onto it: the edges of <=."""
        payment = data.draw(st.sampled_from(self._live()), label="payment")
        before = data.draw(st.sampled_from([1, 0]), label="seconds before the deadline")
        target = payment.deadline - timedelta(seconds=before)
        self._advance(max(target - self.model.now, timedelta(0)), worker_runs)

    def _advance(self, step: timedelta, worker_runs: bool) -> None:
        self.clock.advance(step)
        self.model.now = self.clock.now()
        if worker_runs:
            assert self.run(self.driver.run_worker()) == self.model.expire_due()

    def _live(self) -> list[Payment]:
        return [p for p in self.model.payments.values() if p.status in LIVE]

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def audit_verify_finds_nothing(self) -> None:
        """Every journal entry balances; every voucher's remaining and held, and the wallet,
        equal the journal; no payable below zero; the sealed audit chain is intact."""
        assert self.run(observe.problems(self.driver.runtime)) == []

    @invariant()
    def vouchers_hold_what_the_model_says(self) -> None:
        rows = self.run(observe.vouchers(self.driver.runtime))
        assert set(rows) == set(self.model.vouchers)
        for serial, row in rows.items():
            assert 0 <= row.remaining <= row.face and 0 <= row.held <= row.face - row.remaining
            assert (row.status == "DEPLETED") == (row.remaining == row.held == 0), (serial, row)
            v = self.model.vouchers[serial]
            expected = observe.VoucherRow(v.face, v.currency, v.remaining, v.held, v.status)
            assert row == expected, serial

    @invariant()
    def payments_are_where_the_model_says(self) -> None:
        rows = self.run(observe.payments(self.driver.runtime))
        assert set(rows) == set(self.model.payments)
        for payment_id, row in rows.items():
            checks.possible(payment_id, row)
            p = self.model.payments[payment_id]
            cards = tuple((c.serial, c.amount, c.state) for c in p.cards)
            assert (row.status, row.before_expiration, row.cards) == (
                p.status,
                p.before_expiration,
                cards,
            ), payment_id

    @invariant()
    def no_value_is_created_or_lost(self) -> None:
        """Vouchers' remaining and held, plus the wallet and the payable, are what was sold."""
        money = self.run(observe.money(self.driver.runtime, self.driver.mid, self.driver.psc_id))
        assert (money.payable, money.wallet) == (self.model.payable, self.model.wallet)
        assert money.issued == self.model.issued
        for currency, sold in money.issued.items():
            kept = money.payable + money.wallet if currency == "EUR" else 0
            assert money.on_vouchers.get(currency, 0) + kept == sold, currency


def test_payment_life_cycle(
    settings: Settings, keyring: Keyring, sqlite_template: Path, tmp_path: Path
) -> None:
    class OnThisBackend(PaymentLifeCycle):
        world = World(settings, keyring, sqlite_template, tmp_path)

    run_state_machine_as_test(OnThisBackend, settings=RUNS)
