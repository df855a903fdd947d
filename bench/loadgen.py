"""The load generator: N clients on asyncio, each with one keep-alive connection.

Two HTTP clients do the same job. `raw` writes HTTP/1.1 requests on asyncio streams and reads
the answer by its Content-Length (or chunks): a few microseconds of Python per request, so the
machine's cores stay with the server. `httpx` is the ordinary client (`httpx.AsyncClient`,
pool of N), kept to show what a convenient client costs: run.py reports the load generator's
CPU per request either way.
"""

import asyncio
import base64
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class Client(Protocol):
    async def post(self, path: str, body: bytes) -> tuple[int, bytes]: ...

    async def get(self, path: str) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


def basic_auth(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()


class RawClient:
    """One HTTP/1.1 keep-alive connection (a client does one request at a time)."""

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self.host, self.port = host, port
        self._head = (
            f"Host: {host}:{port}\r\nAuthorization: {authorization}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def _request(self, method: bytes, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return await self._exchange(method, path, body)
        except BaseException:
            await self.close()  # a half-read answer would poison the next request
            raise

    async def _exchange(self, method: bytes, path: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connection()
        writer.write(
            b"%s %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method, path.encode(), self._head, len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            payload = b"".join(parts)
        elif length >= 0:
            payload = await reader.readexactly(length)
        else:
            payload = await reader.read()
            close = True
        if close:
            await self.close()
        return status, payload

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self._request(b"POST", path, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self._request(b"GET", path, b"")

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


class HttpxClient:
    """The same through a shared httpx.AsyncClient (its pool is sized to the clients)."""

    def __init__(self, shared: httpx.AsyncClient) -> None:
        self._client = shared

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        response = await self._client.post(path, content=body)
        return response.status_code, response.content

    async def get(self, path: str) -> tuple[int, bytes]:
        response = await self._client.get(path)
        return response.status_code, response.content

    async def close(self) -> None:
        return None


class ClientFactory:
    def __init__(self, kind: str, host: str, port: int, api_key: str, clients: int) -> None:
        if kind not in ("raw", "httpx"):
            raise ValueError(f"unknown client {kind!r}")
        self.kind, self.host, self.port = kind, host, port
        self.authorization = basic_auth(api_key)
        self._shared: httpx.AsyncClient | None = None
        self.clients = clients

    def make(self) -> Client:
        if self.kind == "raw":
            return RawClient(self.host, self.port, self.authorization)
        if self._shared is None:
            self._shared = httpx.AsyncClient(
                base_url=f"http://{self.host}:{self.port}",
                headers={"Authorization": self.authorization, "Content-Type": "application/json"},
                limits=httpx.Limits(
                    max_connections=self.clients, max_keepalive_connections=self.clients
                ),
                timeout=60.0,
            )
        return HttpxClient(self._shared)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.aclose()
            self._shared = None


# -- the merchant's calls -----------------------------------------------------------------------


def payment_body(customer: str, amount: str = "10.00", currency: str = "EUR") -> bytes:
    return json.dumps(
        {
            "type": "PAYSAFECARD",
            "amount": amount,
            "currency": currency,
            "redirect": {
                "success_url": "https://shop.example/ok/{payment_id}",
                "failure_url": "https://shop.example/ko/{payment_id}",
            },
            "customer": {"id": customer},
        }
    ).encode()


def _expect(status: int, body: bytes, want_status: int, want: str | None = None) -> Any:
    if status != want_status:
        raise HttpError(status, body)
    data = json.loads(body)
    if want is not None and data.get("status") != want:
        raise HttpError(status, body)
    return data


async def create_payment(client: Client, body: bytes) -> str:
    status, answer = await client.post("/v1/payments", body)
    return str(_expect(status, answer, 201, "INITIATED")["id"])


async def assign_pin(client: Client, payment_id: str, pin: str) -> None:
    status, answer = await client.post(
        f"/v1/payments/{payment_id}/cards", b'{"pins":["%s"]}' % pin.encode()
    )
    _expect(status, answer, 200, "AUTHORIZED")


async def capture(client: Client, payment_id: str) -> None:
    status, answer = await client.post(f"/v1/payments/{payment_id}/capture", b"")
    _expect(status, answer, 200, "SUCCESS")


# -- PINs ---------------------------------------------------------------------------------------


class PinPool:
    """Hands out PINs: every fresh voucher first, then each again while its value left still
    covers a payment (`passes` = face value // payment amount)."""

    def __init__(self, passes: int) -> None:
        self._passes = passes
        self._fresh: deque[str] = deque()
        self._again: deque[tuple[str, int]] = deque()  # (pin, further uses it can cover)
        self._left = 0
        self.used = 0

    def add(self, pins: list[str]) -> None:
        self._fresh.extend(pins)
        self._left += len(pins) * self._passes

    def take(self) -> str:
        if self._fresh:
            pin, more = self._fresh.popleft(), self._passes - 1
        elif self._again:
            pin, more = self._again.popleft()
            more -= 1
        else:
            raise Exhausted("no voucher value left")
        if more > 0:
            self._again.append((pin, more))
        self._left -= 1
        self.used += 1
        return pin

    def left(self) -> int:
        return self._left


class Exhausted(Exception):
    """The pre-made material (payments, PINs) ran out before the time did."""


# -- phases -------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    clients: int
    seconds: float  # from the first request to the last completed one
    ok: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    steps_ms: dict[str, list[float]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    exhausted: bool = False

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted `values`."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


Operation = Callable[[Client, dict[str, list[float]]], Awaitable[None]]


async def run_phase(
    name: str,
    clients: list[Client],
    seconds: float,
    operation: Operation,
) -> PhaseResult:
    """Every client repeats `operation` until `seconds` have passed (or material runs out)."""
    result = PhaseResult(name, len(clients), 0.0)
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    finished = started

    async def one_client(client: Client) -> None:
        nonlocal finished
        steps: dict[str, list[float]] = {}
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                await operation(client, steps)
            except Exhausted:
                result.exhausted = True
                return
            except (HttpError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(error).__name__}: {error}")
                continue
            t1 = time.perf_counter()
            result.ok += 1
            result.latencies_ms.append((t1 - t0) * 1000)
            finished = max(finished, t1)
        for step, values in steps.items():
            result.steps_ms.setdefault(step, []).extend(values)

    await asyncio.gather(*(one_client(c) for c in clients))
    result.seconds = finished - started
    return result


async def timed(steps: dict[str, list[float]], step: str, call: Awaitable[Any]) -> Any:
    t0 = time.perf_counter()
    value = await call
    steps.setdefault(step, []).append((time.perf_counter() - t0) * 1000)
    return value


def assign_operation(payment_ids: deque[str], pins: PinPool) -> Operation:
    """One PIN that covers one pre-made payment: POST /v1/payments/{id}/cards."""

    async def operation(client: Client, _steps: dict[str, list[float]]) -> None:
        if not payment_ids:
            raise Exhausted("no pre-made payment left")
        await assign_pin(client, payment_ids.popleft(), pins.take())

    return operation


def health_operation() -> Operation:
    """GET /health: the HTTP stack and one database transaction, no API work. It bounds every
    API call from above, so it says how much of the machine the stack alone takes."""

    async def operation(client: Client, _steps: dict[str, list[float]]) -> None:
        status, body = await client.get("/health")
        _expect(status, body, 200)

    return operation


def payment_operation(pins: PinPool) -> Operation:
    """A whole payment: create, assign one PIN, capture."""

    bodies: dict[int, bytes] = {}

    async def operation(client: Client, steps: dict[str, list[float]]) -> None:
        pin = pins.take()
        body = bodies.get(id(client))
        if body is None:
            body = bodies[id(client)] = payment_body(f"bench-{len(bodies) + 1}")
        payment_id = await timed(steps, "create", create_payment(client, body))
        await timed(steps, "assign", assign_pin(client, payment_id, pin))
        await timed(steps, "capture", capture(client, payment_id))

    return operation


async def create_payments(
    clients: list[Client], count: int, deadline_seconds: float | None = None
) -> tuple[list[str], float]:
    """`count` new payments made by all clients at once; returns them and the seconds taken."""
    made: list[str] = []
    todo = count
    started = time.perf_counter()
    stop_at = started + deadline_seconds if deadline_seconds else None

    async def worker(client: Client, index: int) -> None:
        nonlocal todo
        body = payment_body(f"bench-{index}")
        while todo > 0 and (stop_at is None or time.perf_counter() < stop_at):
            todo -= 1
            made.append(await create_payment(client, body))

    await asyncio.gather(*(worker(c, i) for i, c in enumerate(clients)))
    return made, time.perf_counter() - started
