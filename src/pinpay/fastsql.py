"""The hot statements' short way to PostgreSQL: straight to asyncpg, in the session's transaction.

Why: SQLAlchemy's execution path (ORM execute hooks, cache key, execution context, result
objects) costs the server 0.15 to 0.4 ms of CPU per statement; asyncpg alone costs a few tens of
microseconds. A PIN assignment runs five statements, so on a two-core machine shared with
PostgreSQL that difference is most of the throughput (bench/README.md has the figures).

What stays the same: every statement is still written once, in SQLAlchemy Core, and compiled by
SQLAlchemy's own dialect (bind casts, type processors, paramstyle); it runs on the very
connection and transaction the session holds, after the session's pending writes; a failure
comes back as the SQLAlchemy exception the slow path would raise (IntegrityError, a
DBAPIError with `connection_invalidated` for a dead connection, which is invalidated as SQLAlchemy
would), so error handling and the 503 path do not change. On any other database the statement
runs through `session.execute`, so the whole suite exercises both ways on both backends.

Results are `Row`s (mapping and attribute access) with the driver's values: use it for Core
statements whose result columns need no type processing beyond what asyncpg does (integers,
text, bytes, timestamps with time zone, JSON). `load` makes a row into a persistent ORM object,
as a query through the session would, for the two rows every API call reads (the merchant
behind the key and the payment).

It reaches into SQLAlchemy's asyncpg adapter (`_execute_mutex`, `_transaction`,
`_start_transaction`, `_connection`, `_handle_exception`) and the compiled statement's
`_bind_processors`: pyproject.toml keeps SQLAlchemy below 2.2, and tests/test_fastsql.py
compares both ways for every hot statement, so an upgrade that changes them fails loudly.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql import ClauseElement, Executable

POSTGRESQL = "postgresql"
M = TypeVar("M")


class Row(dict[str, Any]):
    """One result row: `row["serial"]` or `row.serial`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...]
    processors: Mapping[str, Callable[[Any], Any]]
    # Values the statement carries itself (literals such as a status or a LIMIT).
    defaults: Mapping[str, Any]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        processors, defaults = self.processors, self.defaults
        values = []
        for name in self.positions:
            value = params[name] if name in params else defaults[name]
            values.append(processors[name](value) if name in processors else value)
        return values


# Keyed by the statement object itself: hot statements are built once and live as long as the
# process, so their ids are never reused.
_compiled: dict[int, tuple[Executable, _Compiled]] = {}


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    known = _compiled.get(id(statement))
    if known is not None and known[0] is statement:
        return known[1]
    compiled: Any = cast(ClauseElement, statement).compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("fastsql statements take no expanding (IN) parameters: use = ANY(...)")
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("fastsql statements must give every value: no Python-side defaults")
    positions = tuple(compiled.positiontup or ())
    binds = {name: compiled.binds[name] for name in positions}
    result = _Compiled(
        compiled.string,
        positions,
        dict(compiled._bind_processors),
        {name: bind.effective_value for name, bind in binds.items() if not bind.required},
    )
    if len(_compiled) < 2000:  # statements come from code paths: a few dozen in practice
        _compiled[id(statement)] = (statement, result)
    return result


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == POSTGRESQL


async def fetch(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> list[Row]:
    """Run `statement` (built once and kept: a module constant or cached) in `session`'s
    transaction; its rows. For statements that return rows (SELECT, ... RETURNING)."""
    if not is_postgresql(session):
        result = await session.execute(statement, params)
        return [Row(m) for m in result.mappings()]
    from pinpay import deferred_writes  # the queue goes first, as before any other statement

    await deferred_writes.send_pending(session)
    connection = await session.connection()
    compiled = _compile(statement, connection.dialect)
    return await _run(connection, compiled, compiled.arguments(params))


async def fetch_one(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> Row | None:
    rows = await fetch(session, statement, params)
    return rows[0] if rows else None


async def load(
    session: AsyncSession, model: type[M], statement: Executable, params: Mapping[str, Any]
) -> M | None:
    """The first row of `statement` (which selects every column of `model`'s table) as a
    persistent ORM object of `session`, as `session.scalar(select(model)...)` would give it;
    an object the session holds already is returned as it is, like the ORM does by default."""
    row = await fetch_one(session, statement, params)
    if row is None:
        return None
    held = session.identity_map.get(identity_key(model, row["id"]))
    if held is not None:
        return held
    instance = model(**row)
    make_transient_to_detached(instance)  # as if freshly loaded: no pending changes
    session.add(instance)
    return instance


async def run_compiled(
    connection: AsyncConnection, statement: Executable, params: Mapping[str, Any]
) -> None:
    """For deferred_writes: a statement whose queue was taken already, nothing read back."""
    compiled = _compile(statement, connection.dialect)
    await _run(connection, compiled, compiled.arguments(params))


async def _run(connection: AsyncConnection, compiled: _Compiled, args: Iterable[Any]) -> list[Row]:
    raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    try:
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()
            records = await adapter._connection.fetch(compiled.sql, *args)
    except Exception as error:
        raise await _translated(connection, adapter, compiled, error) from error
    return [Row(record.items()) for record in records]


async def _translated(
    connection: AsyncConnection, adapter: Any, compiled: _Compiled, error: Exception
) -> Exception:
    """The SQLAlchemy exception the slow path would have raised, the connection invalidated
    if it is dead (so the pool replaces it, as after a database restart)."""
    dialect = connection.dialect
    try:
        adapter._handle_exception(error)  # raises the DBAPI-level translation
        dbapi_error: Exception = error
    except Exception as translated:
        dbapi_error = translated
    dbapi_base = dialect.loaded_dbapi.Error
    if not isinstance(dbapi_error, dbapi_base):
        return error
    # asyncpg's own word counts too: a connection it knows closed is gone whatever the error
    # said (a statement that raced the server's FATAL message fails with an internal error).
    gone = bool(dialect.is_disconnect(dbapi_error, None, None)) or adapter._connection.is_closed()
    wrapped = exc.DBAPIError.instance(
        compiled.sql, None, dbapi_error, dbapi_base, connection_invalidated=gone, dialect=dialect
    )
    if gone:
        await connection.invalidate(wrapped)
    return wrapped
