"""An OAuth API client of the test shop (every scope), and a frozen clock."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.runtime import Runtime
from tests.api_client import Shop
from tests.oauth.helpers import Client, new_client


@pytest.fixture
async def client(runtime: Runtime, shop: Shop) -> Client:
    """A client with every scope; `shop.client` sends the shop's API key unless told otherwise."""
    return await new_client(runtime, shop.mid)


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)
