"""Running the `pinpay` command as an operator does, against the test database.

Sync tests: the CLI runs its own event loop with asyncio.run, so checks on the database do too.
"""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from pinpay.cli import _register_subcommands, app
from pinpay.config import Settings, get_settings
from pinpay.kit.crypto import Keyring
from pinpay.kit.log import configure_logging
from pinpay.models import Base
from pinpay.runtime import open_runtime

Pinpay = Callable[..., Result]

if not any(group.name == "vouchers" for group in app.registered_groups):
    _register_subcommands()


@pytest.fixture
def _fresh_settings_and_logging() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    # The CLI pointed the logs at the runner's (now closed) stream: point them back.
    configure_logging()


@pytest.fixture
def db_settings(database_url: str, backend: str, keyring: Keyring, tmp_path: Path) -> Settings:
    """The test database, emptied on PostgreSQL (the SQLite one is a fresh copy already)."""
    if backend == "postgresql":

        async def truncate() -> None:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with open_runtime(Settings(database_url=database_url), keyring) as runtime:
                async with runtime.engine.begin() as connection:
                    await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

        asyncio.run(truncate())
    return Settings(database_url=database_url, keys_file=tmp_path / "absent.keys")


def cli(env: dict[str, str]) -> Pinpay:
    """`pinpay COMMAND EXTRA...` with `env`; the command is split on spaces, extras are not."""

    def invoke(command: str, *extra: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, [*command.split(), *extra], env=env)
        finally:
            get_settings.cache_clear()

    return invoke


@pytest.fixture
def pinpay(_fresh_settings_and_logging: None, db_settings: Settings, keyring: Keyring) -> Pinpay:
    return cli(
        {"PINPAY_DATABASE_URL": db_settings.database_url, "PINPAY_KEYS_JSON": keyring.to_json()}
    )
