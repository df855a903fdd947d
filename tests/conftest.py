"""Test databases: every test runs on SQLite and on a real PostgreSQL, both built by the same
Alembic migrations as production.

PostgreSQL comes from PINPAY_TEST_DATABASE_URL (an admin URL; a database of our own is created
in it and dropped at the end), else 127.0.0.1:5432 user postgres. With CI=true a missing
PostgreSQL fails the run instead of skipping.
"""

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pinpay.config import Settings
from pinpay.kit.crypto import Keyring
from pinpay.migrations import upgrade
from pinpay.models import Base
from pinpay.runtime import Runtime

pytest_plugins = ["tests.api_client", "tests.servers", "tests.cli_support"]

# `make soak` runs with HYPOTHESIS_PROFILE=soak: many more examples than a normal `make test`.
hypothesis_settings.register_profile("soak", max_examples=500, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked postgres_only (or sqlite_only) exists only for that backend: its other
    variant is deselected, not skipped, so that a skip always means a missing service."""
    keep, drop = [], []
    for item in items:
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("backend")
        wrong = (backend == "sqlite" and item.get_closest_marker("postgres_only")) or (
            backend == "postgresql" and item.get_closest_marker("sqlite_only")
        )
        (drop if wrong else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str, admin_url: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A migrated PostgreSQL database for this test session, or None where there is none."""
    admin_url = os.environ.get("PINPAY_TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    name = f"pinpay_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"', admin_url))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {admin_url}: {exc}")
        yield None
        return
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    if backend == "sqlite":
        path = tmp_path / "pinpay.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip("PostgreSQL is not reachable (set PINPAY_TEST_DATABASE_URL)")
    return str(url)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def settings(database_url: str, keyring: Keyring, tmp_path: Path) -> Settings:
    # No refusal floor: tests that measure it set it themselves.
    return Settings(
        database_url=database_url,
        keys_file=tmp_path / "pinpay.keys",
        keys_json=keyring.to_json(),
        log_json=True,
        pin_refusal_floor_ms=0,
    )


@pytest.fixture
async def runtime(settings: Settings, keyring: Keyring, backend: str) -> AsyncIterator[Runtime]:
    built = Runtime.build(settings, keyring)
    if backend == "postgresql":
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with built.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield built
    finally:
        await built.close()
