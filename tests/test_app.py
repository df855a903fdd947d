"""The application shell: `/health`, the error object for every failure, the request id."""

import io
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI

from pinpay import __version__
from pinpay.app import create_app
from pinpay.config import Settings
from pinpay.kit.crypto import Keyring
from pinpay.kit.log import configure_logging
from pinpay.runtime import Runtime

ERROR_FIELDS = {"code", "message", "number", "param"}
CLOSED_PORT_URL = "postgresql+asyncpg://postgres@127.0.0.1:1/x"


def _client(app: FastAPI) -> httpx.AsyncClient:
    # raise_app_exceptions=False: Starlette re-raises an unhandled error after answering it
    # (so that servers log it); a real client only ever sees the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://pinpay.test")


@pytest.fixture
async def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime.settings, runtime)


@pytest.fixture
def log_stream(app: FastAPI) -> Iterator[io.StringIO]:
    """The app's real log lines (its processors, its JSON), written here instead of stderr."""
    stream = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))
    yield stream
    configure_logging()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as client:
        yield client


async def test_health_is_ok_with_the_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}


async def test_health_is_503_with_the_database_down(keyring: Keyring) -> None:
    settings = Settings(database_url=CLOSED_PORT_URL, keys_json=keyring.to_json())
    runtime = Runtime.build(settings, keyring)
    try:
        async with _client(create_app(settings, runtime)) as client:
            response = await client.get("/health")
    finally:
        await runtime.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}


async def test_unknown_route_is_404_in_the_error_object_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= ERROR_FIELDS


async def test_wrong_method_is_405_in_the_error_object_format(client: httpx.AsyncClient) -> None:
    response = await client.post("/health")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.json()) <= ERROR_FIELDS


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "req-abc_123"})
    assert response.headers["X-Request-ID"] == "req-abc_123"


@pytest.mark.parametrize("given", ["", "has space", "x" * 41, "semi;colon", "new\tline"], ids=repr)
async def test_unsafe_request_id_is_replaced_by_a_fresh_one(
    client: httpx.AsyncClient, given: str
) -> None:
    headers = {"X-Request-ID": given} if given else {}
    first = (await client.get("/health", headers=headers)).headers["X-Request-ID"]
    second = (await client.get("/health", headers=headers)).headers["X-Request-ID"]
    assert first.startswith("req_") and second.startswith("req_") and first != second
    assert given not in (first, second)


async def test_unexpected_exception_is_500_without_internals(
    app: FastAPI, client: httpx.AsyncClient, log_stream: io.StringIO
) -> None:
    secret = "db password is hunter2 at /srv/pinpay/secret.py"

    @app.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError(secret)

    response = await client.get("/test-only/boom", headers={"X-Request-ID": "req-boom"})
    assert response.status_code == 500
    assert response.json() == {
        "code": "general_technical_error",
        "message": "An internal error occurred.",
        "number": 10001,
    }
    for leak in (secret, "Traceback", "RuntimeError", "boom"):
        assert leak not in response.text
    # The operator can still find out what happened: the request id ties the answer to the log.
    assert response.headers.get("X-Request-ID") == "req-boom"
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    unhandled = [line for line in lines if line["event"] == "http.unhandled"]
    assert len(unhandled) == 1
    assert unhandled[0]["request_id"] == "req-boom"
    assert unhandled[0]["error"] == "RuntimeError"
    assert "Traceback" in unhandled[0]["exception"]
    requests = [line for line in lines if line["event"] == "http.request"]
    assert [(r["status"], r["path"], r["request_id"]) for r in requests] == [
        (500, "/test-only/boom", "req-boom")
    ]
