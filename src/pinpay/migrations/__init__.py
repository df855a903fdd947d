"""Alembic migrations, shipped inside the package so that `pinpay migrate` needs no checkout."""

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "pinpay:migrations")
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` (blocking; call from sync code such as the CLI)."""
    command.upgrade(alembic_config(url), revision)


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Migrate through an open connection (from async code: `await conn.run_sync(...)`)."""
    config = alembic_config(str(connection.engine.url))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
