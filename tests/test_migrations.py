"""The migrations build exactly the schema the models describe, and can be undone and redone."""

import asyncio
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url

from pinpay.db import create_engine
from pinpay.migrations import alembic_config, upgrade
from pinpay.models import Base
from pinpay.runtime import Runtime
from tests.audit.tampering import APPEND_ONLY


def _differences(connection: Connection) -> list[Any]:
    # The same comparison options as migrations/env.py uses for autogenerate.
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head
    return head


async def test_migrated_schema_matches_the_models(runtime: Runtime) -> None:
    async with runtime.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert differences == []
    assert [row[0] for row in version] == [_head_revision()]


_QUOTED = re.compile(r"'([^']*)'")


def _literals(where: object) -> set[str] | None:
    """The quoted values of an index's condition: PostgreSQL rewrites its text, not them."""
    return None if where is None else set(_QUOTED.findall(str(where)))


def _conditions_and_storage(connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    """(migrated, modelled): each partial index's condition, each table's storage parameters."""
    dialect = connection.dialect.name
    inspector = inspect(connection)
    migrated: dict[str, Any] = {}
    modelled: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        for found in inspector.get_indexes(table.name):
            where = found.get("dialect_options", {}).get(f"{dialect}_where")
            if where is not None:
                migrated[str(found["name"])] = _literals(where)
        for index in table.indexes:
            if index.dialect_options[dialect]["where"] is not None:
                modelled[str(index.name)] = _literals(index.dialect_options[dialect]["where"])
        if dialect == "postgresql":
            options = inspector.get_table_options(table.name).get("postgresql_with") or {}
            wanted = table.dialect_options["postgresql"]["with"] or {}
            migrated[table.name] = {key: str(value) for key, value in options.items()}
            modelled[table.name] = {key: str(value) for key, value in wanted.items()}
    return migrated, modelled


async def test_partial_indexes_and_storage_parameters_match_the_models(runtime: Runtime) -> None:
    """What Alembic's comparison does not look at: an index's WHERE, a table's fillfactor."""
    async with runtime.engine.connect() as connection:
        migrated, modelled = await connection.run_sync(_conditions_and_storage)
    assert migrated == modelled
    assert "ix_payment_open_deadline" in migrated


@dataclass(frozen=True)
class Schema:
    tables: set[str]
    triggers: set[str]
    functions: set[str]
    differences: list[Any]  # from the models; checked where the schema should be complete


_PG_TRIGGERS = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
_PG_FUNCTIONS = (
    "SELECT proname FROM pg_proc JOIN pg_namespace ON pg_namespace.oid = pronamespace "
    "WHERE nspname = 'public'"
)
_SQLITE_TRIGGERS = "SELECT name FROM sqlite_master WHERE type = 'trigger'"


def _schema(url: str) -> Schema:
    def read(connection: Connection) -> Schema:
        postgres = connection.dialect.name == "postgresql"
        names = lambda sql: {row[0] for row in connection.execute(text(sql))}  # noqa: E731
        return Schema(
            tables=set(inspect(connection).get_table_names()),
            triggers=names(_PG_TRIGGERS if postgres else _SQLITE_TRIGGERS),
            functions=names(_PG_FUNCTIONS) if postgres else set(),
            differences=_differences(connection),
        )

    async def run() -> Schema:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _admin(admin_url: str, sql: str) -> None:
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own (never the shared, migrated test database)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    admin_url = os.environ.get(
        "PINPAY_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"pinpay_scratch_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL is not reachable (set PINPAY_TEST_DATABASE_URL)")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_downgrade_to_base_and_upgrade_again(scratch_url: str) -> None:
    models = {table.name for table in Base.metadata.sorted_tables} | {"alembic_version"}
    postgres = scratch_url.startswith("postgresql")
    triggers = {
        f"{table}_{suffix}"
        for table in APPEND_ONLY
        for suffix in (("append_only",) if postgres else ("no_update", "no_delete"))
    }
    functions = {"pinpay_refuse_change"} if postgres else set()
    migrated = Schema(tables=models, triggers=triggers, functions=functions, differences=[])

    upgrade(scratch_url)
    assert _schema(scratch_url) == migrated

    command.downgrade(alembic_config(scratch_url), "base")
    # Nothing left behind but Alembic's own (empty) version table.
    at_base = _schema(scratch_url)
    assert (at_base.tables, at_base.triggers, at_base.functions) == (
        {"alembic_version"},
        set(),
        set(),
    )

    upgrade(scratch_url)
    assert _schema(scratch_url) == migrated
