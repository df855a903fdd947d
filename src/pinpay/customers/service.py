"""Customer accounts: opening one (sealed personal data), finding it, moving wallet value.

Wallet value moves like voucher value: a conditional UPDATE of the one balance row, in the
caller's transaction together with its journal entry (account `wallet:<psc_id>`).
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers.models import ACTIVE, CustomerAccount, WalletBalance
from pinpay.db import dialect_name
from pinpay.errors import InvalidRequestParameter, PinPayError
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import random_alnum
from pinpay.ledger import service as ledger

WALLET = "wallet"  # ledger account kind; ref is the psc id
# Wallet value held for an authorized payment until capture (to the merchant) or release (back
# to the wallet); mirrored by the HELD rows of payment_wallet, as voucher_held is by voucher.held.
WALLET_HELD = "wallet_held"
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class AccountNotFound(PinPayError):
    code = "customer_account_not_found"
    number = 3162
    http_status = 400
    default_message = "No customer account matches."


class AccountNotActive(PinPayError):
    code = "customer_account_not_active"
    number = None
    http_status = 400
    default_message = "This customer account cannot be used."


class InsufficientWalletBalance(PinPayError):
    code = "insufficient_balance"
    number = None
    http_status = 400
    default_message = "The wallet does not hold that much."


@dataclass(frozen=True)
class PersonalData:
    email: str
    first_name: str
    last_name: str
    birth_date: date


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidRequestParameter("not an e-mail address", param="email")
    return email


def email_lookup(keyring: Keyring, email: str) -> list[bytes]:
    """The keyed hash of an e-mail under every pepper, newest first (rotation keeps finding)."""
    normalized = normalize_email(email)
    return [
        keyring.keyed_hash(f"email|{normalized}", kid)[1]
        for kid in reversed(keyring.kids("pepper"))
    ]


def _seal(keyring: Keyring, psc_id: str, field: str, value: str) -> bytes:
    return keyring.seal(value.encode(), f"customer|{psc_id}|{field}".encode())[1]


def open_field(keyring: Keyring, account: CustomerAccount, field: str) -> str | None:
    sealed = getattr(account, f"{field}_sealed")
    if sealed is None or account.seal_kid is None:
        return None
    return keyring.open(
        account.seal_kid, sealed, f"customer|{account.psc_id}|{field}".encode()
    ).decode()


def personal_data(keyring: Keyring, account: CustomerAccount) -> dict[str, str | None]:
    return {
        field: open_field(keyring, account, field)
        for field in ("email", "first_name", "last_name", "birth_date")
    }


async def open_account(
    session: AsyncSession,
    keyring: Keyring,
    person: PersonalData,
    *,
    password_hash: str | None = None,
    status: str = ACTIVE,
    verified: bool = True,
    actor: str = "operator",
) -> CustomerAccount:
    lookups = email_lookup(keyring, person.email)
    if await session.scalar(
        select(CustomerAccount.id).where(CustomerAccount.email_lookup.in_(lookups))
    ):
        raise InvalidRequestParameter("an account with this e-mail exists", param="email")
    for name, value in (("first_name", person.first_name), ("last_name", person.last_name)):
        if not value.strip() or len(value) > 100:
            raise InvalidRequestParameter(f"{name} must be 1 to 100 characters", param=name)
    now = clock.now()
    if not EARLIEST_BIRTH_DATE <= person.birth_date < now.date():
        raise InvalidRequestParameter("birth_date must be a past date", param="birth_date")
    psc_id = "psc_" + random_alnum(20)
    kid = keyring.newest("seal").kid
    account = CustomerAccount(
        psc_id=psc_id,
        email_lookup=lookups[0],
        seal_kid=kid,
        email_sealed=_seal(keyring, psc_id, "email", normalize_email(person.email)),
        first_name_sealed=_seal(keyring, psc_id, "first_name", person.first_name.strip()),
        last_name_sealed=_seal(keyring, psc_id, "last_name", person.last_name.strip()),
        birth_date_sealed=_seal(keyring, psc_id, "birth_date", person.birth_date.isoformat()),
        password_hash=password_hash,
        status=status,
        email_verified_at=now if verified else None,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    try:
        await session.flush()
    except IntegrityError:
        # Two registrations of one address at the same instant: the loser gets the answer
        # the check above gives, not a 500.
        raise InvalidRequestParameter("an account with this e-mail exists", param="email") from None
    await audit.record(session, "customer.open", actor=actor, subject=psc_id)
    return account


async def find_by_email(
    session: AsyncSession, keyring: Keyring, email: str
) -> CustomerAccount | None:
    return await session.scalar(
        select(CustomerAccount).where(
            CustomerAccount.email_lookup.in_(email_lookup(keyring, email))
        )
    )


async def find_by_psc_id(session: AsyncSession, psc_id: str) -> CustomerAccount | None:
    return await session.scalar(select(CustomerAccount).where(CustomerAccount.psc_id == psc_id))


async def balances(session: AsyncSession, account: CustomerAccount) -> dict[str, int]:
    rows = await session.execute(
        select(WalletBalance.currency, WalletBalance.balance)
        .where(WalletBalance.account_id == account.id)
        .order_by(WalletBalance.currency)
    )
    return {currency: int(balance) for currency, balance in rows}


async def add_to_balance(
    session: AsyncSession, account: CustomerAccount, amount: int, currency: str
) -> None:
    """The balance column's half of a credit; the caller posts the journal entry with it."""
    now = clock.now()
    upsert = (pg_insert if dialect_name(session) == "postgresql" else sqlite_insert)(WalletBalance)
    await session.execute(
        upsert.values(
            account_id=account.id, currency=currency, balance=amount, updated_at=now
        ).on_conflict_do_update(
            index_elements=["account_id", "currency"],
            set_={"balance": WalletBalance.balance + amount, "updated_at": now},
        )
    )


async def credit(
    session: AsyncSession,
    account: CustomerAccount,
    amount: int,
    currency: str,
    *,
    source: ledger.Line,
    kind: str,
    reference: str,
) -> None:
    """Add value to the wallet; `source` is the journal line the value comes from (-amount)."""
    await add_to_balance(session, account, amount, currency)
    await ledger.post(
        session,
        kind,
        [source, ledger.Line(WALLET, account.psc_id, currency, amount)],
        reference=reference,
    )


async def debit(
    session: AsyncSession,
    account: CustomerAccount,
    amount: int,
    currency: str,
    *,
    destination: ledger.Line,
    kind: str,
    reference: str,
) -> None:
    """Take value from the wallet: one conditional UPDATE, refused if the balance is short."""
    now = clock.now()
    taken = await session.execute(
        update(WalletBalance)
        .where(
            WalletBalance.account_id == account.id,
            WalletBalance.currency == currency,
            WalletBalance.balance >= amount,
        )
        .values(balance=WalletBalance.balance - amount, updated_at=now)
        .returning(WalletBalance.id)
    )
    if amount <= 0 or taken.scalar_one_or_none() is None:
        raise InsufficientWalletBalance()
    await ledger.post(
        session,
        kind,
        [ledger.Line(WALLET, account.psc_id, currency, -amount), destination],
        reference=reference,
        at=now,
    )
