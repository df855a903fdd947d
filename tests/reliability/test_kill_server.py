"""kill -9 the server in the middle of a load of payments, start it again: every payment that
was acknowledged with a 2xx is there with its status, no voucher gave more than it had, and the
ledger still proves itself (`pinpay audit verify`)."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from pinpay.audit.verify import verify_all
from pinpay.config import Settings
from pinpay.payments.models import CardAssignment
from pinpay.runtime import Runtime
from pinpay.vouchers.models import Voucher
from tests.api_client import basic, payment_body
from tests.factories import create_merchant, issue_vouchers
from tests.servers import free_port

PINPAY = str(Path(sys.executable).with_name("pinpay"))
CLIENTS = 8


class Server:
    """`pinpay serve` as a real process, so that it can be killed for real."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.env = os.environ | {
            "PINPAY_DATABASE_URL": settings.database_url,
            "PINPAY_KEYS_JSON": settings.keys_json or "",
            "PINPAY_PIN_REFUSAL_FLOOR_MS": "0",
            "PINPAY_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [PINPAY, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("pinpay serve did not come up")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    served = Server(settings)
    try:
        yield served
    finally:
        served.stop()


async def _customer(
    client: httpx.AsyncClient,
    pins: list[str],
    acknowledged: dict[str, str],
    in_flight: set[str],
    enough: asyncio.Event,
    n: int,
) -> None:
    """Create and pay payments until the server goes away; remember what it acknowledged and
    which payments had a request in flight (those may have moved on unacknowledged)."""
    while pins:
        try:
            body = payment_body("10.00", customer={"id": f"kill-{n}-{len(acknowledged)}"})
            created = await client.post("/v1/payments", json=body)
            if created.status_code != 201:
                continue
            payment_id = created.json()["id"]
            acknowledged[payment_id] = "INITIATED"
            if len(acknowledged) >= 40:
                enough.set()
            in_flight.add(payment_id)
            paid = await client.post(
                f"/v1/payments/{payment_id}/cards", json={"pins": [pins.pop()]}
            )
            in_flight.discard(payment_id)
            if paid.status_code == 200:
                acknowledged[payment_id] = paid.json()["status"]
        except (httpx.HTTPError, IndexError):
            return


@pytest.mark.postgres_only
async def test_acknowledged_payments_survive_kill_9(runtime: Runtime, server: Server) -> None:
    merchant = await create_merchant(runtime)
    # 25.00 vouchers paying 10.00 payments: most are used twice, partly and to the end.
    vouchers = (await issue_vouchers(runtime, count=300, face_value=2500)).vouchers
    pins = [v.pin for v in vouchers for _ in range(2)]
    server.start()
    acknowledged: dict[str, str] = {}
    in_flight: set[str] = set()
    enough = asyncio.Event()
    async with httpx.AsyncClient(
        base_url=server.url, headers=basic(merchant.api_key), timeout=5
    ) as client:
        load = [
            asyncio.create_task(_customer(client, pins, acknowledged, in_flight, enough, n))
            for n in range(CLIENTS)
        ]
        await enough.wait()  # well into the load, with requests in flight
        server.kill()
        await asyncio.gather(*load)
    assert len(acknowledged) >= 40

    server.start()  # the same database, a new process: nothing to recover by hand
    async with httpx.AsyncClient(
        base_url=server.url, headers=basic(merchant.api_key), timeout=5
    ) as client:
        for payment_id, status in acknowledged.items():
            response = await client.get(f"/v1/payments/{payment_id}")
            assert response.status_code == 200, payment_id
            # A request killed after its commit moved the payment on without an answer.
            possible = {status, "AUTHORIZED"} if payment_id in in_flight else {status}
            assert response.json()["status"] in possible, payment_id
            if response.json()["status"] == "AUTHORIZED":
                assert response.json()["card_details"]

    async with runtime.transaction() as session:
        given = dict(
            (
                await session.execute(
                    select(CardAssignment.voucher_id, func.sum(CardAssignment.amount)).group_by(
                        CardAssignment.voucher_id
                    )
                )
            ).all()
        )
        for voucher in await session.scalars(select(Voucher)):
            assert voucher.remaining >= 0 and voucher.held >= 0
            assert given.get(voucher.id, 0) + voucher.remaining == voucher.face_value
        report = await verify_all(session, runtime.keyring)
    assert report.ok, report.problems
