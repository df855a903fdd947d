"""Signing up, confirming the e-mail address, logging in and out.

What the browser holds (the confirmation link's token, the session cookie) is 256 bits from
`secrets`; the database keeps only its SHA-256, so a copy of the database confirms and logs in
nobody. Wrong passwords are counted like wrong PINs, per e-mail address and per IP address.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.config import Settings
from pinpay.customers.models import (
    ACTIVE,
    UNVERIFIED,
    CustomerAccount,
    CustomerSession,
    EmailVerification,
)
from pinpay.customers.passwords import hash_password, needs_rehash, verify_password
from pinpay.customers.service import PersonalData, find_by_email, normalize_email, open_account
from pinpay.errors import InvalidRequestParameter, PinPayError
from pinpay.fraud.models import Lockout, PinFailure
from pinpay.fraud.service import Guard, Key
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring


class LoginRefused(PinPayError):
    """The one answer for an unknown address, a wrong password or a closed account."""

    code = "login_refused"
    number = None
    http_status = 400
    default_message = "Wrong e-mail address or password."


class LoginLocked(LoginRefused):
    code = "login_locked"
    default_message = "Too many attempts. Please wait a while and try again."


class VerificationLinkInvalid(PinPayError):
    code = "verification_link_invalid"
    number = None
    http_status = 400
    default_message = "This confirmation link is not valid (any more)."


def digest(token: str) -> bytes:
    # Plain SHA-256 is enough: the tokens are 256-bit random, not guessable like a PIN.
    return hashlib.sha256(token.encode()).digest()


class LoginGuard:
    """Lockouts for wrong passwords: the PIN guard's counters (database or Redis), with keys of
    their own so that login failures never trip the PIN tripwire or lock a merchant."""

    def __init__(self, guard: Guard) -> None:
        self.counters = guard.counters
        self.keyring: Keyring = guard.keyring
        self.settings: Settings = guard.settings

    def _key(self, kind: str, value: str, threshold: int) -> Key:
        s = self.settings
        return Key(
            kind,
            self.keyring.keyed_hash(f"lockout|{kind}|{value}")[1].hex(),
            threshold,
            timedelta(seconds=s.login_lockout_window_seconds),
            timedelta(seconds=s.login_lockout_seconds),
        )

    def keys(self, email: str, ip: str | None) -> list[Key]:
        s = self.settings
        keys = [self._key("login_email", email.strip().lower(), s.login_lockout_threshold)]
        if ip:
            keys.append(self._key("login_ip", ip, s.login_ip_lockout_threshold))
        return keys

    async def locked(self, session: AsyncSession, keys: list[Key]) -> bool:
        return await self.counters.locked(session, keys, clock.now())

    async def count_failure(self, session: AsyncSession, keys: list[Key]) -> None:
        now = clock.now()
        for key in await self.counters.count_failure(session, keys, now):
            level, until = await self.counters.lock(session, key, now)
            await audit.record(
                session,
                "fraud.lockout",
                outcome="alert",
                actor="fraud",
                reason=f"{key.kind}_locked",
                details={"kind": key.kind, "level": level, "until": until.isoformat()},
            )

    async def forget(self, session: AsyncSession, email: str) -> None:
        """Drop the counters keyed by an erased address (Redis keys expire by themselves)."""
        hashes = [k.hash for k in self.keys(email, None)]
        await session.execute(delete(PinFailure).where(PinFailure.key_hash.in_(hashes)))
        await session.execute(delete(Lockout).where(Lockout.key_hash.in_(hashes)))


@dataclass(frozen=True)
class Registration:
    account: CustomerAccount | None  # None: the address has an account already
    verification_token: str | None


async def issue_verification(
    session: AsyncSession, settings: Settings, account: CustomerAccount
) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        EmailVerification(
            account_id=account.id,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.email_verification_seconds),
        )
    )
    await session.flush()
    return token


async def register(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    person: PersonalData,
    password: str,
) -> Registration:
    """Open an unverified account and a confirmation link for it. An address that has an
    account already gets the same answer (the page must not tell who is a customer)."""
    password_hash = await hash_password(password)  # first: both outcomes take as long
    normalize_email(person.email)
    if await find_by_email(session, keyring, person.email) is not None:
        await audit.record(
            session, "customer.register", outcome=audit.REJECTED, actor="customer", reason="taken"
        )
        return Registration(None, None)
    account = await open_account(
        session,
        keyring,
        person,
        password_hash=password_hash,
        status=UNVERIFIED,
        verified=False,
        actor="customer",
    )
    return Registration(account, await issue_verification(session, settings, account))


async def verify_email(session: AsyncSession, token: str) -> CustomerAccount:
    now = clock.now()
    found = (
        await session.execute(
            select(EmailVerification, CustomerAccount)
            .join(CustomerAccount, CustomerAccount.id == EmailVerification.account_id)
            .where(
                EmailVerification.token_hash == digest(token),
                EmailVerification.used_at.is_(None),
                EmailVerification.expires_at > now,
                CustomerAccount.status.in_([UNVERIFIED, ACTIVE]),
            )
            .with_for_update()
        )
    ).first()
    if found is None:
        raise VerificationLinkInvalid(
            after_rollback=[
                audit.rejection("customer.verify_email", actor="customer", reason="invalid_link")
            ]
        )
    verification, account = found
    verification.used_at = now
    if account.status == UNVERIFIED:
        account.status = ACTIVE
        account.email_verified_at = now
        account.updated_at = now
    await session.flush()
    await audit.record(session, "customer.verify_email", actor="customer", subject=account.psc_id)
    return account


@dataclass(frozen=True)
class LoggedIn:
    account: CustomerAccount
    # The new session's cookie value; None while the address is unconfirmed, and then
    # `verification_token` is a fresh confirmation link to send instead.
    session_token: str | None
    verification_token: str | None = None


async def log_in(
    session: AsyncSession,
    guard: LoginGuard,
    email: str,
    password: str,
    ip: str | None,
) -> LoggedIn:
    keys = guard.keys(email, ip)
    if await guard.locked(session, keys):
        raise LoginLocked(
            after_rollback=[audit.rejection("customer.login", actor="customer", reason="locked")]
        )
    try:
        account = await find_by_email(session, guard.keyring, email)
    except InvalidRequestParameter:
        account = None
    if not await verify_password(account.password_hash if account else None, password) or (
        account is None or account.status not in (ACTIVE, UNVERIFIED)
    ):

        async def count(follow_up: AsyncSession) -> None:
            await guard.count_failure(follow_up, keys)

        raise LoginRefused(
            after_rollback=[
                count,
                audit.rejection(
                    "customer.login",
                    actor="customer",
                    reason="unknown_email" if account is None else "wrong_password",
                    subject=account.psc_id if account else None,
                ),
            ]
        )
    if account.password_hash and needs_rehash(account.password_hash):
        account.password_hash = await hash_password(password, check=False)
    if account.status == UNVERIFIED:
        token = await issue_verification(session, guard.settings, account)
        return LoggedIn(account, None, token)
    await audit.record(session, "customer.login", actor="customer", subject=account.psc_id)
    return LoggedIn(account, await start_session(session, guard.settings, account))


async def start_session(session: AsyncSession, settings: Settings, account: CustomerAccount) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        CustomerSession(
            account_id=account.id,
            token_hash=digest(token),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.customer_session_seconds),
        )
    )
    await session.flush()
    return token


async def account_for_session(session: AsyncSession, token: str | None) -> CustomerAccount | None:
    """The active account logged in with this cookie value, if its session still runs."""
    if not token:
        return None
    return await session.scalar(
        select(CustomerAccount)
        .join(CustomerSession, CustomerSession.account_id == CustomerAccount.id)
        .where(
            CustomerSession.token_hash == digest(token),
            CustomerSession.revoked_at.is_(None),
            CustomerSession.expires_at > clock.now(),
            CustomerAccount.status == ACTIVE,
        )
    )


async def log_out(session: AsyncSession, token: str | None) -> None:
    if not token:
        return
    ended = await session.execute(
        update(CustomerSession)
        .where(CustomerSession.token_hash == digest(token), CustomerSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .returning(CustomerSession.account_id)
    )
    if ended.scalar_one_or_none() is not None:
        await audit.record(session, "customer.logout", actor="customer")
