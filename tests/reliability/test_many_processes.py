"""`pinpay serve --workers 2` and two `pinpay worker` processes under a load of payments: no
notification sent twice, no expiry lost, no voucher spent twice."""

import asyncio
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pinpay.audit.verify import verify_all
from pinpay.config import Settings
from pinpay.runtime import Runtime
from tests.api_client import basic, payment_body
from tests.factories import create_merchant, issue_vouchers
from tests.reliability.test_kill_server import PINPAY, Server
from tests.servers import ServerThread, free_port

WINDOW = 3  # seconds a payment waits for PINs here, so that expiry happens during the test


class Receiver:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.app = Starlette(routes=[Route("/notify", self.notify, methods=["POST"])])

    async def notify(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        self.events.append((form["mtid"][0], form["eventType"][0]))
        return Response(status_code=204)


@pytest.fixture
def processes(settings: Settings) -> Iterator[tuple[Server, Receiver, str]]:
    """A notification receiver, `pinpay serve --workers 2` and two `pinpay worker`."""
    receiver, port = Receiver(), free_port()
    server = Server(settings)
    server.env |= {
        "PINPAY_AUTHORIZATION_WINDOW_SECONDS": str(WINDOW),
        "PINPAY_WEBHOOK_ALLOW_PRIVATE": "true",
        "PINPAY_WORKER_POLL_SECONDS": "0.2",
    }
    workers: list[subprocess.Popen[bytes]] = []
    with ServerThread(receiver.app, port):
        server.process = subprocess.Popen(
            [PINPAY, "serve", "--port", str(server.port), "--workers", "2"],
            env=server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2):
            workers.append(
                subprocess.Popen(
                    [PINPAY, "worker"],
                    env=server.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        try:
            yield server, receiver, f"http://127.0.0.1:{port}/notify"
        finally:
            server.stop()
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=10)


async def _wait_healthy(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=1) as client:
        for _ in range(300):
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("pinpay serve --workers 2 did not come up")


@pytest.mark.postgres_only
async def test_two_servers_two_workers_no_double_anything(
    runtime: Runtime, processes: tuple[Server, Receiver, str]
) -> None:
    server, receiver, notify = processes
    merchant = await create_merchant(runtime)
    pins = [v.pin for v in (await issue_vouchers(runtime, count=40, face_value=1000)).vouchers]
    await _wait_healthy(server.url)
    expected: Counter[tuple[str, str]] = Counter()
    async with httpx.AsyncClient(
        base_url=server.url, headers=basic(merchant.api_key), timeout=10
    ) as client:

        async def customer(n: int) -> None:
            for k in range(8):
                body = payment_body(
                    "10.00", customer={"id": f"mp-{n}-{k}"}, notification_url=notify
                )
                payment_id = (await client.post("/v1/payments", json=body)).json()["id"]
                if k % 2:  # left alone: must expire, once
                    expected[(payment_id, "PAYMENT_EXPIRED")] += 1
                    continue
                paid = await client.post(
                    f"/v1/payments/{payment_id}/cards", json={"pins": [pins.pop()]}
                )
                assert paid.status_code == 200, paid.text
                expected[(payment_id, "ASSIGN_CARDS")] += 1
                captured = await client.post(f"/v1/payments/{payment_id}/capture")
                assert captured.status_code == 200, captured.text
                expected[(payment_id, "PAYMENT_CAPTURED")] += 1

        await asyncio.gather(*(customer(n) for n in range(4)))

    deadline = time.monotonic() + 60
    while Counter(receiver.events) != expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.25)
    await asyncio.sleep(1)  # a second delivery of anything would show up now
    assert Counter(receiver.events) == expected
    async with runtime.transaction() as session:
        report = await verify_all(session, runtime.keyring)
    assert report.ok, report.problems
