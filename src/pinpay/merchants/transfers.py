"""Value leaving what PinPay owes a merchant (refunds, payouts; API.md 5): the request fields
both share, the customer account the value goes to, and the payable checked against the journal.

A merchant's payable is a shared account derived from the journal, never a row (DESIGN.md), so
"is there enough?" is a sum. Refunds and payouts of one merchant take the merchant row's lock
first and so run one at a time; payments never take that lock and are not slowed by it.
"""

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers import service as customers
from pinpay.customers.models import ACTIVE, CustomerAccount
from pinpay.errors import (
    CurrencyNotSupported,
    InvalidAmount,
    InvalidRequestParameter,
    MerchantBalanceInsufficient,
    PinPayError,
)
from pinpay.kit.crypto import Keyring
from pinpay.kit.money import SUPPORTED_CURRENCIES, to_minor
from pinpay.ledger import service as ledger
from pinpay.merchants.models import Merchant
from pinpay.payments.validation import customer_id as parse_customer_id

EMAIL, PSC_ID = "email", "psc_id"
_PSC_ID = re.compile(r"^psc_[A-Za-z0-9]{1,40}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_COMMENT = 255


@dataclass(frozen=True)
class CustomerRef:
    """The merchant's customer id and, when the value goes to an account, how it is named."""

    id: str
    email: str | None = None
    psc_id: str | None = None

    @property
    def lookup(self) -> str | None:
        return PSC_ID if self.psc_id else EMAIL if self.email else None


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: object, param: str, max_length: int) -> str | None:
    if blank(value):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidRequestParameter(f"{param} must be text", param=param)
    cleaned = str(value).strip()
    if len(cleaned) > max_length or not cleaned.isprintable():
        raise InvalidRequestParameter(f"{param} is invalid", param=param)
    return cleaned


def paysafecard_type(value: object) -> None:
    if blank(value) or str(value).strip().upper() != "PAYSAFECARD":
        raise InvalidRequestParameter("type must be PAYSAFECARD", param="type")


def currency_code(value: object) -> str:
    if blank(value) or not isinstance(value, str):
        raise InvalidRequestParameter("currency is required", param="currency")
    currency = value.strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidRequestParameter("currency must be an ISO 4217 code", param="currency")
    return currency


def merchant_currency(value: object, merchant: Merchant) -> str:
    currency = currency_code(value)
    if currency not in SUPPORTED_CURRENCIES or currency not in merchant.currencies:
        raise CurrencyNotSupported(param="currency")
    return currency


def positive_amount(value: object, currency: str) -> int:
    if blank(value):
        raise InvalidRequestParameter("amount is required", param="amount")
    amount = to_minor(value, currency)
    if amount <= 0:
        raise InvalidAmount(param="amount")
    return amount


def customer_ref(customer: Any, *, account_needed: bool) -> CustomerRef:
    """customer.id (3017/3019) and, where an account is needed, customer.email or .psc_id."""
    customer_id = parse_customer_id(getattr(customer, "id", None))
    email = text(getattr(customer, "email", None), "customer.email", 254)
    psc_id = text(getattr(customer, "psc_id", None), "customer.psc_id", 44)
    if not account_needed:
        return CustomerRef(customer_id)
    if email is None and psc_id is None:
        raise InvalidRequestParameter(
            "customer.email or customer.psc_id is required", param="customer.email"
        )
    if email is not None:
        try:
            email = customers.normalize_email(email)
        except InvalidRequestParameter:
            raise InvalidRequestParameter(
                "customer.email is not an e-mail address", param="customer.email"
            ) from None
    return CustomerRef(customer_id, email, psc_id)


def birth_date(value: object, param: str) -> date:
    if blank(value) or not isinstance(value, str) or not _DATE.match(value.strip()):
        raise InvalidRequestParameter(f"{param} must be a date YYYY-MM-DD", param=param)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequestParameter(f"{param} is not a date", param=param) from None


def same_name(given: str, stored: str | None) -> bool:
    """Names compare as people write them: case, accents' encoding and spacing aside."""

    def folded(name: str) -> str:
        return " ".join(unicodedata.normalize("NFC", name).casefold().split())

    return stored is not None and folded(given) == folded(stored)


async def find_account(
    session: AsyncSession, keyring: Keyring, ref: CustomerRef
) -> CustomerAccount:
    """The active account the merchant named (by psc id, else by e-mail; both must agree), or
    3162: an unknown, unverified, locked or erased account is not one value can go to."""
    by_psc = (
        await customers.find_by_psc_id(session, ref.psc_id)
        if ref.psc_id and _PSC_ID.match(ref.psc_id)
        else None
    )
    by_email = await customers.find_by_email(session, keyring, ref.email) if ref.email else None
    account = by_psc or by_email
    if ref.psc_id and ref.email and (by_psc is None or by_email is None or by_psc != by_email):
        account = None
    if account is None or account.status != ACTIVE:
        raise customers.AccountNotFound()
    return account


async def account_by_id(session: AsyncSession, account_id: int) -> CustomerAccount:
    """The account a validated refund or payout named, if it can still receive value (3162)."""
    account = await session.scalar(select(CustomerAccount).where(CustomerAccount.id == account_id))
    if account is None or account.status != ACTIVE:
        raise customers.AccountNotFound()
    return account


async def lock_merchant(session: AsyncSession, merchant: Merchant) -> Merchant:
    """Serialize this merchant's refunds and payouts (see the module's docstring)."""
    locked = await session.scalar(
        select(Merchant)
        .where(Merchant.id == merchant.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    return locked


async def require_payable(
    session: AsyncSession, merchant: Merchant, amount: int, currency: str
) -> None:
    """Refuse to take more than PinPay owes the merchant: its payable never goes negative."""
    owed = await ledger.balance(session, ledger.MERCHANT, merchant.mid, currency)
    if owed < amount:
        raise MerchantBalanceInsufficient()


def from_payable(merchant: Merchant, currency: str, amount: int) -> ledger.Line:
    """The journal line that takes `amount` out of the merchant's payable."""
    return ledger.Line(ledger.MERCHANT, merchant.mid, currency, -amount)


@contextmanager
def refusals_audited(action: str, merchant: Merchant, **fields: Any) -> Iterator[None]:
    """A refusal raised inside the block gets its audit record (the merchant, the customer id,
    why), written after the request's transaction rolled back."""
    mid = merchant.mid  # read now: a failed flush expires the row and rolls the session back
    try:
        yield
    except PinPayError as error:
        if error.http_status < 500:
            error.after_rollback.append(
                audit.rejection(
                    action,
                    actor=f"merchant:{mid}",
                    merchant_mid=mid,
                    reason=error.code,
                    **fields,
                )
            )
        raise
