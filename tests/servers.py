"""ASGI apps served for real on loopback ports, for tests that need a socket (browser, fuzzing)."""

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from pinpay.app import create_app
from pinpay.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """An ASGI app served by uvicorn in a thread of its own, with its own event loop."""

    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            threading.Event().wait(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def pinpay_server(settings: Settings) -> Iterator[str]:
    """PinPay with its embedded worker, on its own port and database connections."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served = settings.model_copy(
        update={
            "public_base_url": base,
            "embedded_worker": True,
            "webhook_allow_private": True,
            "worker_poll_seconds": 0.1,
            "webhook_first_retry_seconds": 0.5,
        }
    )
    with ServerThread(create_app(served), port):
        yield base
