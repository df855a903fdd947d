"""`pinpay merchants ...` as an operator runs it."""

import asyncio
import json

import httpx

from pinpay.app import create_app
from pinpay.config import Settings
from pinpay.kit.crypto import Keyring
from tests.cli_support import Pinpay


def test_create_update_and_rotate(pinpay: Pinpay) -> None:
    created = pinpay("merchants create --name Acme --currency EUR --currency USD --json")
    assert created.exit_code == 0, created.output
    merchant = json.loads(created.output)
    assert merchant["api_key"].startswith("pinpay_") and merchant["currencies"] == ["EUR", "USD"]
    updated = pinpay(
        f"merchants update {merchant['mid']} --no-direct-pins --disposition-seconds 120 "
        "--notification-format json --max-payment 250.00 --allow-ip 10.0.0.0/8 --json"
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output) == {
        "mid": merchant["mid"],
        "status": "ACTIVE",
        "direct_pins": False,
        "disposition_seconds": 120,
        "notification_format": "json",
        "max_payment": "250.00",
        "allowed_ips": ["10.0.0.0/8"],
        "basic_auth": True,
        "require_signatures": False,
    }
    rotated = pinpay(f"merchants rotate-webhook-secret {merchant['mid']} --json")
    assert rotated.exit_code == 0, rotated.output
    secret = json.loads(rotated.output)["webhook_secret"]
    assert secret.startswith("whsec_") and secret != merchant["webhook_secret"]


def test_refusals_exit_non_zero(pinpay: Pinpay) -> None:
    assert pinpay("merchants update 0000000000 --status INACTIVE").exit_code == 1
    mid = json.loads(pinpay("merchants create --name Acme --json").output)["mid"]
    assert pinpay(f"merchants update {mid} --disposition-seconds 5").exit_code == 1
    assert pinpay(f"merchants update {mid} --status GONE").exit_code == 1
    assert pinpay("merchants create --name Acme --allow-ip not-an-ip").exit_code == 1


def test_several_api_keys_and_revocation(
    pinpay: Pinpay, db_settings: Settings, keyring: Keyring
) -> None:
    created = json.loads(pinpay("merchants create --name Acme --json").output)
    mid, first = created["mid"], created["api_key"]
    second = json.loads(pinpay(f"merchants add-api-key {mid} --json").output)["api_key"]
    keys = json.loads(pinpay(f"merchants api-keys {mid} --json").output)
    assert [k["revoked"] for k in keys] == [None, None]
    assert all(first not in k["hint"] and second not in k["hint"] for k in keys)
    revoked = pinpay(f"merchants revoke-api-key {mid} {keys[0]['id']} --json")
    assert revoked.exit_code == 0, revoked.output
    assert pinpay(f"merchants revoke-api-key {mid} 999999").exit_code == 1

    async def status_with(key: str) -> int:
        settings = db_settings.model_copy(update={"keys_json": keyring.to_json()})
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/v1/payments", auth=(key, ""))).status_code

    assert asyncio.run(status_with(first)) == 401
    assert asyncio.run(status_with(second)) == 200
