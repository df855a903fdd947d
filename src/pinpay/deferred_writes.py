"""Writes that nothing in the request reads back (audit records, journal entries, outbox events,
card assignments, the locked payment's new state), queued on the session and sent together just
before its next statement or its commit: on PostgreSQL as one statement, each write a
data-modifying CTE.

Why: a round trip to PostgreSQL costs the server process a few tenths of a millisecond of CPU,
and a PIN assignment spent seven of its thirteen appending rows it never read. Order and
visibility are kept: the queue is sent before any other statement of the session runs, so every
read sees every write made before it, on both backends; a write that fails does so at that
statement or at the commit, and rolls the whole transaction back like any other.

The CTEs of one statement share one snapshot and must not touch a row twice, so an UPDATE is
queued only for a row that exists already (locked by the caller), and every change queued for
the same row is merged into one UPDATE. Each write has a shape (table and columns); the
statement for a sequence of shapes is built once and then only gets new parameters, because
building SQLAlchemy statements costs more CPU than the round trips saved.

No SAVEPOINTs: a rollback drops the whole queue, so a rolled-back savepoint would also drop the
writes queued before it. PinPay uses none; one that does must send the queue first.
"""

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import (
    BindParameter,
    Executable,
    Insert,
    Update,
    bindparam,
    event,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value

from pinpay import fastsql

_QUEUE = "pinpay.deferred_writes"
_UPDATES = "pinpay.deferred_updates"


class Deferred(Protocol):
    """One queued write: its shape, the statement for that shape (bind names start with
    `prefix`), and this write's parameters under the same names."""

    @property
    def shape(self) -> Hashable: ...

    def statement(self, prefix: str) -> Insert | Update: ...

    def params(self, prefix: str) -> dict[str, Any]: ...


@dataclass
class InsertRows:
    """Rows of one table with the same columns, inserted in the order they were queued (their
    ids follow that order: a payment's cards and audit records are read back by id)."""

    model: Any  # a mapped class
    columns: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shape(self) -> Hashable:
        return ("insert", self.model, self.columns, len(self.rows))

    def statement(self, prefix: str) -> Insert:
        table = self.model.__table__
        if len(self.rows) == 1:
            return sql_insert(table).values(_binds(self.model, self.columns, prefix + "0_"))
        # One SELECT per row, put in order by an ordinal: an INSERT ... SELECT takes its ids in
        # the order the rows come. (A multi-row VALUES of binds has no SQLAlchemy cache key.)
        each = [
            select(
                literal_column(str(n)).label("_ord"),
                *(b.label(k) for k, b in _binds(self.model, self.columns, f"{prefix}{n}_").items()),
            )
            for n in range(len(self.rows))
        ]
        rows = union_all(*each).subquery()
        ordered = select(*(rows.c[k] for k in self.columns)).order_by(rows.c._ord)
        return sql_insert(table).from_select(list(self.columns), ordered)

    def params(self, prefix: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for n, row in enumerate(self.rows):
            params.update(_prefixed(row, f"{prefix}{n}_"))
        return params


@dataclass
class UpdateRow:
    model: Any
    row_id: int
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> Hashable:
        return ("update", self.model, tuple(self.changes))

    def statement(self, prefix: str) -> Update:
        table = self.model.__table__
        where = table.c.id == bindparam(prefix + "id")
        return update(table).where(where).values(_binds(self.model, self.changes, prefix))

    def params(self, prefix: str) -> dict[str, Any]:
        return {prefix + "id": self.row_id, **_prefixed(self.changes, prefix)}


def _binds(model: Any, names: Iterable[str], prefix: str) -> dict[str, BindParameter[Any]]:
    # On the Table, not the mapped class: given parameters, an ORM INSERT turns bulk.
    columns = model.__table__.c
    return {name: bindparam(prefix + name, type_=columns[name].type) for name in names}


def _prefixed(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def defer(session: AsyncSession | Session, write: Deferred) -> None:
    """Queue `write` in `session`'s transaction (sent before its next statement or commit)."""
    _sync(session).info.setdefault(_QUEUE, []).append(write)


def defer_insert(session: AsyncSession | Session, model: Any, **values: Any) -> None:
    """Queue one row; rows of the same table and columns go out as one INSERT, in order."""
    queue = _sync(session).info.setdefault(_QUEUE, [])
    columns = tuple(values)
    for write in queue:
        if isinstance(write, InsertRows) and (write.model, write.columns) == (model, columns):
            write.rows.append(values)
            return
    queue.append(InsertRows(model, columns, [values]))


def defer_update(session: AsyncSession | Session, row: Any, **changes: Any) -> None:
    """Set `changes` on the ORM object `row` and queue its UPDATE (merged with any other queued
    for it). The row must exist already and be locked by the caller (SELECT ... FOR UPDATE)."""
    for name, value in changes.items():
        set_committed_value(row, name, value)  # the session need not flush it again
    updates = _sync(session).info.setdefault(_UPDATES, {})
    updates.setdefault((type(row), row.id), UpdateRow(type(row), row.id)).changes.update(changes)


def pending(session: AsyncSession | Session) -> int:
    info = _sync(session).info
    return len(info.get(_QUEUE, ())) + len(info.get(_UPDATES, ()))


_statements: dict[tuple[Hashable, ...], Executable] = {}


def _batch(writes: list[Deferred], combined: bool) -> Executable:
    key = (combined, *(w.shape for w in writes))
    statement = _statements.get(key)
    if statement is None:
        if combined:
            ctes = [w.statement(f"w{i}_").cte(f"w{i}") for i, w in enumerate(writes)]
            statement = select(literal_column("1")).add_cte(*ctes)
        else:
            statement = writes[0].statement("w0_")
        if len(_statements) < 1000:  # shapes come from code paths: a few dozen in practice
            _statements[key] = statement
    return statement


def _take(session: Session) -> list[Deferred]:
    writes: list[Deferred] = session.info.pop(_QUEUE, [])
    writes.extend(session.info.pop(_UPDATES, {}).values())
    return writes


def _outgoing(writes: list[Deferred], postgresql: bool) -> list[tuple[Executable, dict[str, Any]]]:
    """How the queue goes out: on PostgreSQL several writes as one statement, else one each."""
    if len(writes) > 1 and postgresql:
        params: dict[str, Any] = {}
        for i, write in enumerate(writes):
            params.update(write.params(f"w{i}_"))
        return [(_batch(writes, combined=True), params)]
    return [(_batch([write], combined=False), write.params("w0_")) for write in writes]


def _send(session: Session) -> None:
    postgresql = session.get_bind().dialect.name == fastsql.POSTGRESQL
    for statement, params in _outgoing(_take(session), postgresql):
        session.execute(statement, params)


async def send_pending(session: AsyncSession) -> None:
    """Send the queue now, on PostgreSQL the short way (pinpay.fastsql): called before a
    fastsql statement and before the commit, where it is the request's largest statement."""
    writes = _take(session.sync_session)
    if not writes:
        return
    if not fastsql.is_postgresql(session):
        for statement, params in _outgoing(writes, postgresql=False):
            await session.execute(statement, params)
        return
    connection = await session.connection()
    for statement, params in _outgoing(writes, postgresql=True):
        await fastsql.run_compiled(connection, statement, params)


# The listeners run inside SQLAlchemy's greenlet (AsyncSession drives the sync Session there),
# so the sync `Session.execute` they call is awaited on the event loop like any other.
@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    _send(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()  # ORM changes first: a queued row may refer to one of them
    _send(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_QUEUE, None)
    session.info.pop(_UPDATES, None)
