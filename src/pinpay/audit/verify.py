"""`pinpay audit verify`: the hash chain re-walked and every balance recomputed from the journal."""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit.chain import verify_chain
from pinpay.customers.models import CustomerAccount, WalletBalance
from pinpay.customers.service import WALLET, WALLET_HELD
from pinpay.kit.crypto import Keyring
from pinpay.ledger import service as ledger
from pinpay.payments.models import WalletAssignment
from pinpay.vouchers.models import Voucher


@dataclass
class VerifyReport:
    sealed_records: int = 0
    unsealed_records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "sealed_records": self.sealed_records,
            "unsealed_records": self.unsealed_records,
            "problems": self.problems,
        }


async def verify_all(session: AsyncSession, keyring: Keyring) -> VerifyReport:
    chain = await verify_chain(session, keyring)
    report = VerifyReport(chain.sealed, chain.unsealed, list(chain.problems))
    report.problems.extend(
        f"journal entry {entry} does not balance in {currency} (off by {total})"
        for entry, currency, total in await ledger.unbalanced_entries(session)
    )
    # Refunds and payouts never take more than PinPay owes a merchant.
    report.problems.extend(
        f"{kind}:{ref} {currency}: payable is negative ({total})"
        for (kind, ref, currency), total in (
            await ledger.balances_of_kind(session, ledger.MERCHANT)
        ).items()
        if total < 0
    )
    report.problems.extend(
        await ledger.column_mismatches(
            session, ledger.VOUCHER, select(Voucher.serial, Voucher.currency, Voucher.remaining)
        )
    )
    report.problems.extend(
        await ledger.column_mismatches(
            session, ledger.VOUCHER_HELD, select(Voucher.serial, Voucher.currency, Voucher.held)
        )
    )
    report.problems.extend(
        await ledger.column_mismatches(
            session,
            WALLET,
            select(CustomerAccount.psc_id, WalletBalance.currency, WalletBalance.balance).join(
                CustomerAccount, CustomerAccount.id == WalletBalance.account_id
            ),
        )
    )
    # Wallet value held for payments: the HELD payment_wallet rows are its "column".
    report.problems.extend(
        await ledger.column_mismatches(
            session,
            WALLET_HELD,
            select(
                CustomerAccount.psc_id, WalletAssignment.currency, func.sum(WalletAssignment.amount)
            )
            .join(CustomerAccount, CustomerAccount.id == WalletAssignment.account_id)
            .where(WalletAssignment.status == "HELD")
            .group_by(CustomerAccount.psc_id, WalletAssignment.currency),
        )
    )
    return report
