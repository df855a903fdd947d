"""Database engine, sessions and the declarative base shared by every domain's models.

The request (or the worker task) owns the transaction: `transaction()` opens one, services run
inside it and never commit. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE`, so concurrent
writers queue instead of failing half-way with SQLITE_BUSY.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from pinpay import deferred_writes  # also registers the session listeners
from pinpay.errors import PinPayError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned as aware UTC datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads and then writes can
        # fail with SQLITE_BUSY_SNAPSHOT under concurrency instead of waiting its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: with asyncpg it costs three round trips per checkout (a third of a PIN
    # assignment's). A connection found dead fails that one request with 503, and SQLAlchemy
    # then invalidates the whole pool, so the server recovers from a database restart by itself.
    return create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One database transaction: committed when the block ends, rolled back if it raises."""
    async with sessions() as session, session.begin():
        yield session
        # What the commit would send anyway, sent here the short way (deferred_writes): ORM
        # changes first, as a queued row may refer to one of them.
        if session.new or session.dirty or session.deleted:
            await session.flush()
        await deferred_writes.send_pending(session)


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """The request's transaction. If it fails with a PinPayError, the error's follow-ups (audit
    record of the rejection, lockout counters) are committed in a transaction of their own."""
    try:
        async with transaction(sessions) as session:
            yield session
    except PinPayError as error:
        if error.after_rollback:
            async with transaction(sessions) as session:
                for follow_up in error.after_rollback:
                    await follow_up(session)
        raise


def dialect_name(session: AsyncSession) -> str:
    """`postgresql` or `sqlite`: for the few statements whose best form differs."""
    return session.get_bind().dialect.name
