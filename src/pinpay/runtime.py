"""What a running PinPay process holds: settings, the engine, the session factory and the keys.

Built once per process (server, worker, CLI command) and handed down; nothing reads globals.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pinpay.config import Settings
from pinpay.db import create_engine, session_factory, transaction, unit_of_work
from pinpay.fraud.service import Guard
from pinpay.kit.crypto import Keyring, load_keyring
from pinpay.kit.mail import MailSender, mail_sender_for


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    guard: Guard = field(init=False)
    # Outbound HTTP (notifications) goes through this transport when set: tests inject a fake
    # merchant server here.
    http_transport: httpx.AsyncBaseTransport | None = None
    # Outgoing mail (SMTP or the log, from the settings); tests replace it with a fake mailbox.
    mail: MailSender = field(init=False)

    def __post_init__(self) -> None:
        counters = None
        if self.settings.redis_url:
            from redis.asyncio import Redis

            from pinpay.fraud.redis_counters import RedisCounters

            counters = RedisCounters(
                Redis.from_url(self.settings.redis_url), self.settings.redis_key_prefix
            )
        self.guard = Guard(self.settings, self.keyring, counters)
        self.mail = mail_sender_for(self.settings)

    @classmethod
    def build(cls, settings: Settings, keyring: Keyring | None = None) -> "Runtime":
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        return cls(
            settings,
            engine,
            session_factory(engine),
            keyring or load_keyring(settings.keys_file, settings.keys_json),
        )

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return transaction(self.sessions)

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The transaction of a request that may be refused (see `db.unit_of_work`)."""
        return unit_of_work(self.sessions)

    async def close(self) -> None:
        await self.guard.counters.close()
        await self.engine.dispose()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    keyring: Keyring | None = None,
) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings, keyring)
    try:
        yield runtime
    finally:
        await runtime.close()
