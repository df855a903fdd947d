"""One Settings class for the whole platform; every value comes from `PINPAY_*` variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINPAY_", env_file=None, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./pinpay.db"
    keys_file: Path = Path("./pinpay.keys")
    # Keys given inline (JSON of the keyring file) win over keys_file: for containers and CI.
    keys_json: str | None = None

    public_base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True
    demo_mode: bool = False
    # Run the worker's duties inside the server process (the demo does; production runs
    # `pinpay worker` processes instead).
    embedded_worker: bool = False

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)

    # How many audit records the worker seals into the hash chain per transaction.
    audit_seal_batch: int = Field(default=1000, ge=1)
    worker_poll_seconds: float = Field(default=1.0, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
