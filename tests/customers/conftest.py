"""Customer account fixtures: a mailbox injected as the mail sender (the mail server is the
third party), and a browser-like client of the real ASGI app with its own cookie jar."""

from collections.abc import AsyncIterator

import httpx
import pytest

from pinpay.app import create_app
from pinpay.runtime import Runtime
from tests.customers.helpers import Mailbox


@pytest.fixture
def mailbox(runtime: Runtime) -> Mailbox:
    box = Mailbox()
    runtime.mail = box
    return box


@pytest.fixture
async def web(runtime: Runtime, mailbox: Mailbox) -> AsyncIterator[httpx.AsyncClient]:
    """A customer's browser: cookies kept, no merchant credentials."""
    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://pinpay.test") as client:
        yield client
