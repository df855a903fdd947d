"""What `pinpay demo` sets up: keys, schema, a demo merchant with a fresh key, demo vouchers."""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from pinpay.config import Settings
from pinpay.kit.crypto import Keyring, write_keyring
from pinpay.kit.ids import group_pin
from pinpay.kit.money import format_money
from pinpay.merchants import service as merchants
from pinpay.merchants.models import Merchant
from pinpay.migrations import upgrade
from pinpay.runtime import open_runtime
from pinpay.vouchers.issuance import issue_batch

DEMO_MERCHANT = "PinPay Demo Shop"
console = Console()


def prepare_keys_and_schema(settings: Settings) -> None:
    """Synchronous part: the keyring if there is none yet, and the schema."""
    keys_file = Path(settings.keys_file)
    if not settings.keys_json and not keys_file.expanduser().exists():
        write_keyring(keys_file, Keyring.generate(demo=True))
        console.print(f"Created keyring {keys_file} (mode 0600).")
    upgrade(settings.database_url)


@dataclass(frozen=True)
class DemoMerchant:
    mid: str
    api_key: str
    webhook_secrets: list[str]


async def prepare_demo(settings: Settings, voucher_count: int = 5) -> DemoMerchant:
    """The demo merchant (a fresh API key each run) and a few vouchers, printed once."""
    async with open_runtime(settings) as runtime, runtime.transaction() as session:
        merchant = await session.scalar(select(Merchant).where(Merchant.name == DEMO_MERCHANT))
        if merchant is None:
            created = await merchants.create_merchant(
                session, runtime.keyring, name=DEMO_MERCHANT, currencies=["EUR"]
            )
            merchant, api_key = created.merchant, created.api_key
        else:
            api_key = await merchants.add_api_key(session, merchant)
        small = await issue_batch(
            session,
            runtime.keyring,
            count=max(1, voucher_count - 2),
            face_value=1000,
            currency="EUR",
            country="AT",
            actor="demo",
        )
        large = await issue_batch(
            session,
            runtime.keyring,
            count=min(2, voucher_count - 1) or 1,
            face_value=2500,
            currency="EUR",
            country="AT",
            actor="demo",
        )
        secrets = await merchants.webhook_secrets(session, runtime.keyring, merchant)

    console.print(f"\nDemo merchant [bold]{merchant.name}[/bold]  mid {merchant.mid}")
    console.print(f"API key (new for this run): [bold]{api_key}[/bold]")
    table = Table(title="Demo vouchers (PINs shown once)")
    for column in ("serial", "PIN", "value"):
        table.add_column(column)
    for voucher in [*small.vouchers, *large.vouchers]:
        table.add_row(
            voucher.serial,
            group_pin(voucher.pin),
            format_money(voucher.face_value, voucher.currency),
        )
    console.print(table)
    return DemoMerchant(merchant.mid, api_key, secrets)


def load_demo_shop(api_base: str, merchant: DemoMerchant, shop_base: str) -> Any | None:
    """The demo shop from the checkout's examples/ (None when PinPay runs without a checkout)."""
    candidates = [
        Path.cwd() / "examples" / "demo_shop" / "app.py",
        Path(__file__).resolve().parents[2] / "examples" / "demo_shop" / "app.py",
    ]
    path = next((c for c in candidates if c.exists()), None)
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location("pinpay_demo_shop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_shop(api_base, merchant.api_key, merchant.webhook_secrets, shop_base)
