"""Restart PostgreSQL under a running server: while it is down requests fail with 503 and the
error object; once it is back the same server process answers again, nobody restarts it."""

import asyncio
import time

import httpx

from pinpay.config import Settings
from pinpay.kit.crypto import Keyring
from pinpay.migrations import upgrade
from pinpay.runtime import open_runtime
from tests.api_client import basic, payment_body
from tests.factories import create_merchant
from tests.reliability.private_postgres import Cluster
from tests.reliability.test_kill_server import Server


def test_requests_fail_with_503_while_down_and_recover(
    private_postgres: Cluster, keyring: Keyring
) -> None:
    upgrade(private_postgres.url)
    settings = Settings(database_url=private_postgres.url, keys_json=keyring.to_json())

    async def merchant_key() -> str:
        async with open_runtime(settings, keyring) as runtime:
            return (await create_merchant(runtime)).api_key

    api_key = asyncio.run(merchant_key())
    server = Server(settings)
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=basic(api_key), timeout=10) as client:
            assert client.post("/v1/payments", json=payment_body()).status_code == 201
            private_postgres.stop("fast")
            down = [client.post("/v1/payments", json=payment_body()) for _ in range(3)]
            assert {r.status_code for r in down} == {503}
            assert {r.json()["code"] for r in down} == {"service_unavailable"}
            assert client.get("/health").status_code == 503
            private_postgres.start()
            deadline, answers = time.monotonic() + 20, []
            while time.monotonic() < deadline:
                answers.append(client.post("/v1/payments", json=payment_body()).status_code)
                if answers[-1] == 201:
                    break
                time.sleep(0.2)
            assert answers[-1] == 201, answers
            assert set(answers) <= {201, 503}  # never a 500 on the way back
            assert client.get("/health").status_code == 200
    finally:
        server.stop()
