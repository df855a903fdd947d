"""The journal under random postings: every entry balances and every balance matches a model.

Each hypothesis example shares the test's database with the examples before it (journal rows are
append-only, so nothing can be cleaned up), so each example works in accounts of its own.
"""

import itertools
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pinpay.errors import UnbalancedEntry
from pinpay.ledger import service as ledger
from pinpay.ledger.models import JournalEntry, JournalLine
from pinpay.runtime import Runtime

KINDS = (ledger.ISSUANCE, ledger.VOUCHER, ledger.VOUCHER_HELD, ledger.MERCHANT)
REFS = ("a", "b", "c")
CURRENCIES = ("EUR", "USD", "CHF")
AMOUNTS = st.integers(min_value=-(10**12), max_value=10**12)
RawLine = tuple[str, str, str, int]  # (kind, ref, currency, amount) before namespacing
_examples = itertools.count()
# Every example touches a real database, shared with the examples before it.
DB_EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

raw_lines = st.tuples(
    st.sampled_from(KINDS), st.sampled_from(REFS), st.sampled_from(CURRENCIES), AMOUNTS
)


@st.composite
def balanced_entries(draw: st.DrawFn) -> list[RawLine]:
    """Some arbitrary lines, then one line per currency that brings it back to zero."""
    lines = draw(st.lists(raw_lines, min_size=1, max_size=5))
    totals: dict[str, int] = defaultdict(int)
    for _kind, _ref, currency, amount in lines:
        totals[currency] += amount
    for currency, total in sorted(totals.items()):
        if total:
            kind, ref = draw(st.sampled_from(KINDS)), draw(st.sampled_from(REFS))
            lines.append((kind, ref, currency, -total))
    return draw(st.permutations(lines))


@st.composite
def unbalanced_entries(draw: st.DrawFn) -> list[RawLine]:
    lines = draw(st.lists(raw_lines, min_size=1, max_size=5))
    totals: dict[str, int] = defaultdict(int)
    for _kind, _ref, currency, amount in lines:
        totals[currency] += amount
    if not any(totals.values()):
        kind, ref, currency, amount = lines[0]
        lines[0] = (kind, ref, currency, amount + draw(st.sampled_from((-1, 1))))
    return lines


def _namespaced(space: str, lines: list[RawLine]) -> list[ledger.Line]:
    return [ledger.Line(kind, f"{space}-{ref}", cur, amount) for kind, ref, cur, amount in lines]


async def _row_counts(runtime: Runtime) -> tuple[int, int]:
    async with runtime.transaction() as session:
        entries = await session.scalar(select(func.count()).select_from(JournalEntry))
        lines = await session.scalar(select(func.count()).select_from(JournalLine))
    return int(entries or 0), int(lines or 0)


@DB_EXAMPLES
@given(data=st.data())
async def test_balanced_postings_keep_the_journal_balanced_and_equal_to_a_model(
    runtime: Runtime, data: st.DataObject
) -> None:
    space = f"x{next(_examples)}"
    postings = data.draw(st.lists(balanced_entries(), min_size=1, max_size=8), label="postings")
    model: dict[ledger.AccountKey, int] = defaultdict(int)
    for number, raw in enumerate(postings):
        lines = _namespaced(space, raw)
        async with runtime.transaction() as session:
            await ledger.post(session, "test", lines, reference=f"{space}/{number}")
        for line in lines:
            model[(line.account_kind, line.account_ref, line.currency)] += line.amount

    references = [f"{space}/{number}" for number in range(len(postings))]
    async with runtime.transaction() as session:
        entry_ids = list(
            await session.scalars(
                select(JournalEntry.id)
                .where(JournalEntry.reference.in_(references))
                .order_by(JournalEntry.id)
            )
        )
        assert len(entry_ids) == len(postings)  # one entry per posting, each committed
        assert await ledger.unbalanced_entries(session) == []
        for kind in KINDS:
            stored = await ledger.balances_of_kind(session, kind)
            mine = {key: total for key, total in stored.items() if key[1].startswith(f"{space}-")}
            assert mine == {key: total for key, total in model.items() if key[0] == kind}
        for kind, ref, currency in itertools.product(KINDS, REFS, CURRENCIES):
            key = (kind, f"{space}-{ref}", currency)
            assert await ledger.balance(session, *key) == model.get(key, 0)
        written = await session.scalar(
            select(func.count()).select_from(JournalLine).where(JournalLine.entry_id.in_(entry_ids))
        )
    assert written == sum(len(raw) for raw in postings)


@DB_EXAMPLES
@given(raw=unbalanced_entries())
async def test_unbalanced_postings_are_refused_and_write_nothing(
    runtime: Runtime, raw: list[RawLine]
) -> None:
    before = await _row_counts(runtime)
    # Even a caller that swallows the error and commits must find nothing written.
    async with runtime.transaction() as session:
        with pytest.raises(UnbalancedEntry):
            await ledger.post(session, "test", _namespaced("bad", raw))
    assert await _row_counts(runtime) == before


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([], id="empty"),
        pytest.param(
            [ledger.Line("voucher", "a", "EUR", 100), ledger.Line("issuance", "EUR", "USD", -100)],
            id="sums-to-zero-across-currencies",
        ),
        pytest.param(
            [ledger.Line("voucher", "a", "EUR", 1.5), ledger.Line("issuance", "EUR", "EUR", -1.5)],
            id="float",
        ),
        pytest.param(
            [ledger.Line("voucher", "a", "EUR", 1.0), ledger.Line("issuance", "EUR", "EUR", -1)],
            id="integral-float",
        ),
        pytest.param(
            [ledger.Line("voucher", "a", "EUR", True), ledger.Line("issuance", "EUR", "EUR", -1)],
            id="bool",
        ),
        pytest.param(
            [
                ledger.Line("voucher", "a", "EUR", Decimal(5)),
                ledger.Line("issuance", "EUR", "EUR", Decimal(-5)),
            ],
            id="decimal",
        ),
        pytest.param(
            [
                ledger.Line("voucher", "a", "EUR", Fraction(5)),
                ledger.Line("issuance", "EUR", "EUR", -5),
            ],
            id="fraction",
        ),
        pytest.param(
            [ledger.Line("voucher", "a", "EUR", "5"), ledger.Line("issuance", "EUR", "EUR", -5)],
            id="string",
        ),
    ],
)
async def test_malformed_entries_are_refused_and_write_nothing(
    runtime: Runtime, lines: list[ledger.Line]
) -> None:
    before = await _row_counts(runtime)
    async with runtime.transaction() as session:
        with pytest.raises(UnbalancedEntry):
            await ledger.post(session, "test", lines)
    assert await _row_counts(runtime) == before
