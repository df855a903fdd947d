"""What the database says, read behind the API's back for the machine's invariants."""

from dataclasses import dataclass

from sqlalchemy import func, select

from pinpay.audit.verify import verify_all
from pinpay.customers.models import CustomerAccount, WalletBalance
from pinpay.ledger import service as ledger
from pinpay.ledger.models import JournalEntry
from pinpay.payments.models import CardAssignment, Payment
from pinpay.runtime import Runtime
from pinpay.vouchers.models import Voucher


@dataclass(frozen=True)
class VoucherRow:
    face: int
    currency: str
    remaining: int
    held: int
    status: str


@dataclass(frozen=True)
class PaymentRow:
    amount: int
    status: str
    before_expiration: str | None
    cards: tuple[tuple[str, int, str], ...]  # (serial, amount, HELD/CAPTURED/RELEASED) in order


@dataclass(frozen=True)
class Money:
    payable: int  # the merchant's, from the journal
    wallet: int  # the customer account's column
    issued: dict[str, int]  # value sold per currency: minus the float's journal balance
    on_vouchers: dict[str, int]  # remaining plus held, per currency


async def problems(runtime: Runtime) -> list[str]:
    """`pinpay audit verify`: entries balance, voucher and wallet columns equal the journal,
    no payable below zero, the sealed audit chain intact."""
    async with runtime.transaction() as session:
        return list((await verify_all(session, runtime.keyring)).problems)


async def journal_entries(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(JournalEntry)) or 0)


async def vouchers(runtime: Runtime) -> dict[str, VoucherRow]:
    query = select(
        Voucher.serial,
        Voucher.face_value,
        Voucher.currency,
        Voucher.remaining,
        Voucher.held,
        Voucher.status,
    )
    async with runtime.transaction() as session:
        rows = (await session.execute(query)).all()
    return {
        serial: VoucherRow(int(face), str(currency), int(remaining), int(held), str(status))
        for serial, face, currency, remaining, held, status in rows
    }


async def payments(runtime: Runtime) -> dict[str, PaymentRow]:
    async with runtime.transaction() as session:
        found = list(await session.scalars(select(Payment).order_by(Payment.id)))
        cards = list(await session.scalars(select(CardAssignment).order_by(CardAssignment.id)))
    rows = {}
    for payment in found:
        mine = tuple((c.serial, c.amount, c.status) for c in cards if c.payment_id == payment.id)
        rows[payment.public_id] = PaymentRow(
            payment.amount, payment.status, payment.status_before_expiration, mine
        )
    return rows


async def money(runtime: Runtime, mid: str, psc_id: str) -> Money:
    async with runtime.transaction() as session:
        payable = await ledger.balance(session, ledger.MERCHANT, mid, "EUR")
        wallet = await session.scalar(
            select(WalletBalance.balance)
            .join(CustomerAccount, CustomerAccount.id == WalletBalance.account_id)
            .where(CustomerAccount.psc_id == psc_id, WalletBalance.currency == "EUR")
        )
        floats = await ledger.balances_of_kind(session, ledger.ISSUANCE)
        on_vouchers = (
            await session.execute(
                select(Voucher.currency, func.sum(Voucher.remaining + Voucher.held)).group_by(
                    Voucher.currency
                )
            )
        ).all()
    return Money(
        payable,
        int(wallet or 0),
        {currency: -total for (_kind, _ref, currency), total in floats.items() if total},
        {currency: int(total) for currency, total in on_vouchers},
    )
