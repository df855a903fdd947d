"""One Settings class for the whole platform; every value comes from `PINPAY_*` variables."""

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINPAY_", env_file=None, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./pinpay.db"
    keys_file: Path = Path("./pinpay.keys")
    # Keys given inline (JSON of the keyring file) win over keys_file: for containers and CI.
    keys_json: str | None = None

    public_base_url: str = "http://127.0.0.1:8000"
    # The `aud` of OAuth access tokens (RFC 9068); default: public_base_url + "/v1".
    token_audience: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
    demo_mode: bool = False
    # Run the worker's duties inside the server process (the demo does; production runs
    # `pinpay worker` processes instead).
    embedded_worker: bool = False

    # Connections kept open per process, and how many more it may open for a burst. Overflow
    # connections are closed as soon as they are returned, so a pool smaller than the usual
    # concurrency reconnects (TCP, TLS, authentication) over and over: make bench saw it at 16
    # requests per process with 10. At most 30 per process either way.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    # How long a new payment waits for its PINs before it expires (API.md 2: 30 minutes).
    authorization_window_seconds: int = Field(default=30 * 60, ge=1)

    # Lockouts (API.md 3): wrong PINs per key within the window lock that key; each repeat
    # lockout lasts twice as long as the one before.
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_window_seconds: int = Field(default=15 * 60, ge=1)
    lockout_seconds: int = Field(default=30 * 60, ge=1)
    # A merchant's whole traffic is a much wider key than one customer's.
    merchant_lockout_threshold: int = Field(default=200, ge=1)
    # Global tripwire: wrong PINs per minute across all merchants before PIN entry pauses.
    global_wrong_pins_per_minute: int = Field(default=600, ge=1)
    global_pause_seconds: int = Field(default=60, ge=1)
    # Every refused PIN answer takes at least this long, so timing tells nothing.
    pin_refusal_floor_ms: int = Field(default=250, ge=0)
    # Shared counters in Redis (several servers); the database otherwise.
    redis_url: str | None = None
    redis_key_prefix: str = "pinpay:lockout:"

    # Notifications: attempts before an event is marked failed, the first retry delay (doubled
    # each time, with jitter), and whether private/loopback receivers are allowed (demo, tests).
    webhook_max_attempts: int = Field(default=8, ge=6)
    webhook_first_retry_seconds: float = Field(default=30.0, gt=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_allow_private: bool = False
    webhook_batch: int = Field(default=20, ge=1)

    # How many audit records the worker seals into the hash chain per transaction.
    audit_seal_batch: int = Field(default=1000, ge=1)
    worker_poll_seconds: float = Field(default=1.0, gt=0)

    # Customer accounts: how long a login and an e-mail confirmation link stay valid, and the
    # wrong passwords per e-mail address (and, wider, per IP) that lock logins for a while.
    customer_session_seconds: int = Field(default=8 * 3600, ge=60)
    email_verification_seconds: int = Field(default=24 * 3600, ge=60)
    login_lockout_threshold: int = Field(default=5, ge=1)
    login_ip_lockout_threshold: int = Field(default=20, ge=1)
    login_lockout_window_seconds: int = Field(default=15 * 60, ge=1)
    login_lockout_seconds: int = Field(default=15 * 60, ge=1)

    # Outgoing mail (e-mail confirmation): SMTP when a host is set, else the log.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "PinPay <no-reply@pinpay.invalid>"

    # Proxies whose X-Forwarded-For is believed (CIDRs, JSON list or comma-separated). Empty:
    # the header is never trusted and the client is the TCP peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Strict-Transport-Security max-age on every HTTPS response PinPay serves itself; 0: none.
    hsts_seconds: int = Field(default=63_072_000, ge=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            value = [str(ipaddress.ip_network(str(v).strip(), strict=False)) for v in value if v]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
