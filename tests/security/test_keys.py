"""`pinpay keys reseal` after a seal key rotation, and the refusal to start on unsafe keys."""

import json
from datetime import date
from pathlib import Path

from sqlalchemy import select

from pinpay.config import Settings
from pinpay.customers import service as customers
from pinpay.customers.models import CustomerAccount
from pinpay.keys.reseal import reseal_all
from pinpay.kit.crypto import Keyring, write_keyring
from pinpay.merchants import admin
from pinpay.merchants import service as merchants
from pinpay.merchants.models import WebhookSecret
from pinpay.runtime import Runtime, open_runtime
from pinpay.vouchers.models import Voucher
from tests.cli_support import Pinpay, cli
from tests.factories import create_merchant, issue_vouchers

PEOPLE = [
    customers.PersonalData(f"person{i}@example.org", f"First{i}", f"Last{i}", date(1980, 1, i + 1))
    for i in range(3)
]


async def _sealed_rows(runtime: Runtime) -> tuple[dict[str, str], list[str]]:
    """PINs by serial, and every account's and secret's data: what must survive a reseal."""
    created = await create_merchant(runtime)
    async with runtime.transaction() as session:
        await admin.rotate_webhook_secret(session, runtime.keyring, created.merchant.mid)
        for person in PEOPLE:
            await customers.open_account(session, runtime.keyring, person)
    batch = await issue_vouchers(runtime, count=5)
    return {v.serial: v.pin for v in batch.vouchers}, [created.merchant.mid]


async def _seal_kids(runtime: Runtime) -> set[str | None]:
    async with runtime.sessions() as session:
        kids = set((await session.scalars(select(Voucher.seal_kid))).all())
        kids |= set((await session.scalars(select(CustomerAccount.seal_kid))).all())
        return kids | set((await session.scalars(select(WebhookSecret.seal_kid))).all())


async def test_reseal_moves_every_row_to_the_newest_key(runtime: Runtime, keyring: Keyring) -> None:
    pins, _ = await _sealed_rows(runtime)
    async with runtime.sessions() as session:
        secrets_before = {
            m.mid: await merchants.webhook_secrets(session, keyring, m)
            for m in await session.scalars(select(admin.Merchant))
        }
    rotated = keyring.rotated(["seal"])
    async with open_runtime(runtime.settings, rotated) as after:
        counts = await reseal_all(after, batch=2)  # several batches per table
        assert counts == {
            "voucher.pin_sealed": 5,
            "customer_account": 3,
            "merchant_webhook_secret": 2,
        }
        assert await _seal_kids(after) == {rotated.newest("seal").kid}
        assert await reseal_all(after) == dict.fromkeys(counts, 0)  # nothing left to do
        # Everything still opens, now without the old key.
        newest_only = Keyring({**rotated.keys, "seal": [rotated.newest("seal")]})
        async with after.sessions() as session:
            for voucher in await session.scalars(select(Voucher)):
                assert voucher.pin_sealed is not None and voucher.seal_kid is not None
                opened = newest_only.open(
                    voucher.seal_kid, voucher.pin_sealed, voucher.serial.encode()
                )
                assert opened.decode() == pins[voucher.serial]
            accounts = list(
                await session.scalars(select(CustomerAccount).order_by(CustomerAccount.id))
            )
            assert [customers.personal_data(newest_only, a)["email"] for a in accounts] == [
                p.email for p in PEOPLE
            ]
            assert [customers.personal_data(newest_only, a)["birth_date"] for a in accounts] == [
                p.birth_date.isoformat() for p in PEOPLE
            ]
            for merchant in await session.scalars(select(admin.Merchant)):
                secrets = await merchants.webhook_secrets(session, newest_only, merchant)
                assert secrets == secrets_before[merchant.mid]


def test_reseal_from_the_cli(pinpay: Pinpay, keyring: Keyring, db_settings: Settings) -> None:
    assert pinpay("merchants create --name Acme --json").exit_code == 0
    rotated = cli(
        {
            "PINPAY_DATABASE_URL": db_settings.database_url,
            "PINPAY_KEYS_JSON": keyring.rotated(["seal"]).to_json(),
        }
    )
    done = rotated("keys reseal --json --batch 10")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["resealed"]["merchant_webhook_secret"] == 1
    assert json.loads(rotated("keys reseal --json").output)["resealed"] == {
        "voucher.pin_sealed": 0,
        "customer_account": 0,
        "merchant_webhook_secret": 0,
    }


def test_demo_keyrings_are_marked_and_keep_the_mark() -> None:
    demo = Keyring.generate(demo=True)
    assert json.loads(demo.to_json())["demo"] is True
    assert Keyring.from_json(demo.to_json()).demo
    assert demo.rotated(["seal"]).demo
    assert "demo" not in json.loads(Keyring.generate().to_json())
    assert not Keyring.from_json(Keyring.generate().to_json()).demo


def test_serve_and_worker_refuse_unsafe_keys(tmp_path: Path, db_settings: Settings) -> None:
    url = db_settings.database_url
    keys_file = tmp_path / "pinpay.keys"
    missing = cli({"PINPAY_DATABASE_URL": url, "PINPAY_KEYS_FILE": str(keys_file)})
    for command in ("serve", "worker --once"):
        refused = missing(command)
        assert refused.exit_code == 1 and "pinpay keys init" in refused.output, refused.output

    write_keyring(keys_file, Keyring.generate(demo=True))
    demo_keys = {"PINPAY_DATABASE_URL": url, "PINPAY_KEYS_FILE": str(keys_file)}
    for command in ("serve", "worker --once"):
        refused = cli(demo_keys)(command)
        assert refused.exit_code == 1 and "pinpay demo" in refused.output, refused.output
    # In demo mode the demo's keys are fine (the worker runs one round and exits).
    ran = cli(demo_keys | {"PINPAY_DEMO_MODE": "true"})("worker --once")
    assert ran.exit_code == 0, ran.output
    # A keyring from `pinpay keys init` is never marked.
    write_keyring(keys_file, Keyring.generate(), overwrite=True)
    assert cli(demo_keys)("worker --once").exit_code == 0
